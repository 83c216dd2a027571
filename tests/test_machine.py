"""machine: glibc's malloc, thread counts, the compiler check, a network too big for memory."""
import numpy as np
import pytest

import machine


def test_keep_freed_memory_leaves_a_tuned_malloc_alone():
    assert machine.keep_freed_memory({'MALLOC_ARENA_MAX': '2'}) is False
    assert machine.keep_freed_memory({'GLIBC_TUNABLES': 'glibc.malloc.trim_threshold=1'}) \
        is False
    # (it returns True on glibc: checked in the bench's own process below, not in this one)


def test_thread_counts_follow_the_environment_else_one_per_core():
    import multiprocessing
    assert machine.thread_counts({'OMP_NUM_THREADS': '3'}) == [3, 3]
    assert machine.thread_counts({'OMP_NUM_THREADS': '3', 'OPENBLAS_NUM_THREADS': '1'}) == [3, 1]
    cores = multiprocessing.cpu_count()
    assert machine.thread_counts({'OMP_NUM_THREADS': 'many'}) == [cores, cores]
    assert machine.thread_counts({'OMP_NUM_THREADS': '0'}) == [1, 1]


def test_a_network_too_big_names_the_array_and_the_machine_memory(monkeypatch):
    err = MemoryError()
    err.shape, err.dtype = (100000, 100000, 3, 3), np.dtype('float32')
    monkeypatch.setattr(machine, 'memory_bytes', lambda: 16 * 2 ** 30)
    assert str(machine.network_too_big(err)) == (
        'the network does not fit in memory: it needs 335 GiB for one weight array of shape '
        '(100000, 100000, 3, 3) alone, and this machine has 16 GiB in all; choose a smaller '
        'network (--widths)')
    monkeypatch.setattr(machine, 'memory_bytes', lambda: None)
    assert isinstance(machine.network_too_big(MemoryError()), machine.UsageError)
    assert 'more memory than NumPy could allocate, and this machine has less in all' in \
        str(machine.network_too_big(MemoryError()))


def test_the_compiler_this_process_uses_passes_the_check():
    machine.check_compiler()   # the test machines have g++; the refusals: test_script_faults


@pytest.mark.parametrize('saved, current, changed', [([1, 1], [1, 1], False),
                                                      ([1, 1], [2, 1], True)])
def test_a_thread_change_is_one_warning(saved, current, changed):
    note = machine.thread_change(saved, current, 4)
    assert (note is not None) == changed
    if changed:
        assert note.startswith('epochs up to 4 ran with 1 OpenMP and 1 BLAS threads, and these '
                               'run with 2 and 1: float sums are added in another order')
