# GXNOR-Net reproduction: environments, tests and the main MNIST job.
# Run `make help` for the targets.  Everything is set up on demand: on a
# fresh Debian machine with Python 2.7 and 3.11 (e.g. from pyenv), `make test`
# and `make mnist` need no manual step.

SHELL := /bin/bash
.DEFAULT_GOAL := help

# Interpreters: found by running them (pyenv shims on PATH fail unless that
# version is selected), falling back to $(pyenv root)/versions/X.Y*/.
# Override with e.g. `make PYTHON27=/opt/python2.7/bin/python2.7`.
PYTHON27 ?=
PYTHON311 ?=

VENV27 := .venv27
VENV311 := .venv311
# Python 3.11 with NumPy 2: the inference engine's np.bitwise_count path.
VENV_NP2 := .venv-numpy2
# Python 3.11 with Debian's pygpu: Theano's gpuarray backend (CUDA, or OpenCL
# through POCL on a machine without a GPU).
VENV_GPU := .venv-gpu
# Python 3.11 with ONNX and ONNX Runtime: the engine against a real float runtime
# (bench/speed/bench_engine_vs_onnxruntime.py); bench only.
VENV_BENCH := .venv-bench
# Debian packages of the gpuarray backend: pygpu and libgpuarray (with its
# headers, which Theano compiles its GPU ops against), OpenCL with POCL and
# CLBlast (GEMM on OpenCL).
GPU_DEBS := python3-pygpu libgpuarray-dev ocl-icd-opencl-dev pocl-opencl-icd libclblast-dev
PYGPU_PARENT ?= /usr/lib/python3/dist-packages
# Python 3.11 env holding virtualenv, which creates the Python 2.7 env
# (Python 2.7 has no venv module); virtualenv 20.22 dropped Python 2.7.
VENV_TOOLS := .venv-tools
VIRTUALENV_SPEC := virtualenv>=20.15,<20.22
# Written in each env once requirements.txt is installed; older than
# requirements.txt means reinstall.
STAMP := .requirements-installed

# The real MNIST: $GXNOR_MNIST_DIR, else ../shared/data/mnist when present,
# else empty (mnist.py then downloads into ./data/mnist; tests skip).
MNIST_DIR ?= $(or $(GXNOR_MNIST_DIR),$(if $(wildcard ../shared/data/mnist/.),../shared/data/mnist))
# CIFAR-10: $GXNOR_CIFAR10_DIR, else ./data/cifar10 (where cifar10.py looks by
# default), which `make cifar10-data` fills from the JPEG copy in
# ../shared/data/cifar10-jpeg when there is one (else cifar10.py downloads the
# official archive there).
CIFAR10_JPEG ?= ../shared/data/cifar10-jpeg
CIFAR10_DIR ?= $(or $(GXNOR_CIFAR10_DIR),data/cifar10)
# The CPU protocol: a quarter of the paper's widths, a = 1 and no augmentation (stated
# departures; the authors' code trains unaugmented in effect), 26 epochs of batch 500
# (README, CIFAR-10 on the CPU; docs/results.md says how it was chosen).
CIFAR10_FLAGS ?= --widths 32,64,128,256 --epochs 26 --batch-size 500 --lr-start 0.03 --lr-end 0.003 --a 1 --no-augment
# The CPU protocol (the authors' defaults are batch 10000, 4000 epochs), with one
# departure from the paper's method: a = 1 (README, MNIST on the CPU).
MNIST_FLAGS ?= --batch-size 1000 --epochs 120 --lr-start 0.1 --lr-end 0.0001 --a 1
BENCH_FLAGS ?= --json bench/results/training.json
COMPARE_FLAGS ?= --json bench/results/compare_methods.json
# DST's increment rules with int8 weights (the authors' Adam, and those with no float per weight).
DST_ROWS := gxnor int8,gxnor int8 SGD-DST,gxnor int8 layer-RMS-DST,gxnor int8 unit-RMS-DST,gxnor int8 momentum-DST
COMPARE_DST_FLAGS ?= --json bench/results/dst_updates.json --out results/compare-dst
SENSITIVITY_FLAGS ?= --json bench/results/sensitivity.json --png bench/results/sensitivity.png

PYTEST_FLAGS ?= -p no:cacheprovider -ra -q
# Empty: pytest.ini's testpaths (tests/ and the modules' docstring examples).
TESTS ?=

.PHONY: cifar10 cifar10-data figures help test test27 test311 test-numpy2 test-gpu test-bench mnist bench bench-step compare compare-dst sensitivity venv27 venv311 venv-numpy2 venv-gpu venv-bench sysdeps gpu-sysdeps slurm-sysdeps clean-venvs

help:
	@echo 'Targets:'
	@echo '  make test         builds what is missing (apt-get g++, OpenBLAS and the GPU backend'"'"'s'
	@echo '                    Debian packages when root; six envs: $(VENV27), $(VENV311),'
	@echo '                    $(VENV_NP2), $(VENV_GPU), $(VENV_BENCH) and $(VENV_TOOLS); the real CIFAR-10:'
	@echo '                    make cifar10-data), then five suites,'
	@echo '                    $$(TEST_JOBS) = $(TEST_JOBS) at a time: `python -m pytest` on Python 2.7 and'
	@echo '                    on 3.11, the engine tests with NumPy 2, make test-gpu, make test-bench.'
	@echo '                    All always run; each prints its report when it ends; fails at the end if any'
	@echo '                    failed (pytest exit 5, no test collected, is a failure).'
	@echo '  make test27       the same on Python 2.7 only;  make test311: on 3.11 only'
	@echo '                    (both also make cifar10-data)'
	@echo '  make test-numpy2  the inference engine tests with NumPy 2 only'
	@echo '  make test-bench   the ONNX export and its bench in $(VENV_BENCH) (make venv-bench):'
	@echo '                    $(BENCH_TESTS)'
	@echo '  make test-gpu     tests/test_gpu_backend.py in $(VENV_GPU): every script'"'"'s training step'
	@echo '                    on Theano'"'"'s GPU backend (device $$(GPU_DEVICE)), against the CPU'
	@echo '  make mnist        the main job on Python 3.11:'
	@echo '                    python mnist.py --data-dir $$(MNIST_DIR) $$(MNIST_FLAGS)'
	@echo '  make cifar10      CIFAR-10 (JPEG copy) on Python 3.11, make cifar10-data first:'
	@echo '                    python cifar10.py --data-dir $$(CIFAR10_DIR) --download $$(CIFAR10_FLAGS)'
	@echo '  make cifar10-data the official Python-format batches in $$(CIFAR10_DIR), written once'
	@echo '                    from the JPEG copy in $$(CIFAR10_JPEG) (nothing to do when they are there)'
	@echo '  make bench        python bench/speed/bench_training.py $$(BENCH_FLAGS) on Python 3.11'
	@echo '  make bench-step   where the time of the MNIST training step goes, images/s with and'
	@echo '                    without OpenMP (python bench/speed/bench_cpu_step.py --out bench/results/cpu-step.json)'
	@echo '  make compare      every --method on MNIST, LR chosen on validation per method, 2 seeds:'
	@echo '                    python bench/studies/compare_methods.py --data-dir $$(MNIST_DIR) $$(COMPARE_FLAGS)'
	@echo '                    (11 methods x (5 LRs + 1 more seed) = 66 runs; resumable: run it again)'
	@echo '  make compare-dst  the same protocol for DST'"'"'s increment rules with int8 weights (Adam,'
	@echo '                    SGD, layer-RMS, unit-RMS, int8-momentum; 30 runs):'
	@echo '                    python bench/studies/compare_methods.py --data-dir $$(MNIST_DIR) --only '"'"'$$(DST_ROWS)'"'"' $$(COMPARE_DST_FLAGS)'
	@echo '  make sensitivity  GXNOR-Net error and sparsity against r, a, m, N, act-N on MNIST:'
	@echo '                    python bench/studies/sensitivity.py --data-dir $$(MNIST_DIR) $$(SENSITIVITY_FLAGS)'
	@echo '  make figures       every committed figure drawn again from its result file: the runs'"'"' curves'
	@echo '                    in weights/, bench/results/sensitivity.png, the sweeps'"'"' tables'"'"' figures'
	@echo '  make venv27       $(VENV27): Python 2.7 env from requirements.txt (via virtualenv in $(VENV_TOOLS))'
	@echo '  make venv311      $(VENV311): Python 3.11 env from requirements.txt'
	@echo '                    (both reinstall when requirements.txt changes)'
	@echo '  make venv-numpy2  $(VENV_NP2): Python 3.11 with NumPy 2 (the inference engine only)'
	@echo '  make venv-bench   $(VENV_BENCH): Python 3.11, requirements-bench.txt (NumPy, onnx, onnxruntime):'
	@echo '                    bench/speed/bench_engine_vs_onnxruntime.py, the engine against ONNX Runtime'
	@echo '  make venv-gpu     $(VENV_GPU): Python 3.11, requirements-gpu.txt and Debian'"'"'s pygpu:'
	@echo '                    Theano'"'"'s GPU backend (see GPU in README.md)'
	@echo '  make sysdeps      check g++; install OpenBLAS (libopenblas-dev) with apt-get when root'
	@echo '  make gpu-sysdeps  the Debian packages of the GPU backend ($(GPU_DEBS)) with apt-get when root'
	@echo '  make slurm-sysdeps  Slurm and munge ($(SLURM_DEBS)) for the sweep'"'"'s tests, with apt-get when root'
	@echo '  make clean-venvs  remove the six envs ($(VENV27), $(VENV311), $(VENV_NP2), $(VENV_GPU), $(VENV_BENCH), $(VENV_TOOLS))'
	@echo 'Variables (make VAR=value):'
	@echo '  MNIST_DIR=$(MNIST_DIR)'
	@echo '      empty: mnist.py downloads into ./data/mnist, tests needing MNIST skip'
	@echo '      (fail with GXNOR_REQUIRE_DATA=1, as in CI)'
	@echo '  CIFAR10_DIR=$(CIFAR10_DIR)'
	@echo '      the tests'"'"' CIFAR-10 (their GXNOR_CIFAR10_DIR); make cifar10-data fills it from'
	@echo '      the JPEG copy in CIFAR10_JPEG=$(CIFAR10_JPEG); without its batches,'
	@echo '      tests needing CIFAR-10 skip (fail with GXNOR_REQUIRE_DATA=1, as in CI)'
	@echo '  MNIST_FLAGS=$(MNIST_FLAGS)'
	@echo '  TESTS=$(TESTS)  PYTEST_FLAGS=$(PYTEST_FLAGS)'
	@echo '  PYTHON27=, PYTHON311=  interpreters (default: found with tools/find-python.sh)'

# ---------------------------------------------------------------- system

# Never two apt-gets at once: `make test` installs the packages of several targets in
# parallel (-j2), and apt-get fails at once when another one holds its lists' lock
# (DPkg::Lock::Timeout waits for dpkg's lock only): each call waits for APT_LOCK.
# Two `make` commands started together (say two trainings) wait the same way.
APT = apt-get -o DPkg::Lock::Timeout=600
APT_LOCK = /tmp/gxnor-apt-get.lock
APT_GET = flock $(APT_LOCK) $(APT)

sysdeps:
	@if ! command -v g++ >/dev/null 2>&1; then \
	    if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	        echo 'sysdeps: g++ missing: apt-get install g++'; \
	        $(APT_GET) update -q && DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y -q g++ || exit 1; \
	    else \
	        echo 'error: g++ not found: Theano compiles its ops with it; install g++ (Debian: apt-get install g++)' >&2; \
	        exit 1; \
	    fi; \
	fi
	@have_openblas() { \
	    for d in /usr/lib/*-linux-gnu /usr/lib64 /usr/lib /usr/local/lib; do \
	        [ -e "$$d/libopenblas.so" ] && return 0; \
	    done; return 1; }; \
	if have_openblas; then \
	    echo 'sysdeps: g++ and OpenBLAS (libopenblas.so) present'; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo 'sysdeps: OpenBLAS missing: apt-get install libopenblas-dev'; \
	    $(APT_GET) update -q && DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y -q libopenblas-dev || exit 1; \
	else \
	    echo 'sysdeps: note: OpenBLAS (Debian: libopenblas-dev) is recommended; without it Theano uses its slower NumPy BLAS path'; \
	fi

# ---------------------------------------------------------------- envs

venv27: $(VENV27)/$(STAMP)
venv311: $(VENV311)/$(STAMP)

$(VENV311)/.created:
	@py='$(PYTHON311)'; [ -n "$$py" ] || py=$$(bash tools/find-python.sh 3.11) || exit 1; \
	set -x; rm -rf $(VENV311) && "$$py" -m venv $(VENV311)
	@touch $@

$(VENV_TOOLS)/.created:
	@py='$(PYTHON311)'; [ -n "$$py" ] || py=$$(bash tools/find-python.sh 3.11) || exit 1; \
	set -x; rm -rf $(VENV_TOOLS) && "$$py" -m venv $(VENV_TOOLS) && \
	$(VENV_TOOLS)/bin/python -m pip install -q '$(VIRTUALENV_SPEC)'
	@touch $@

$(VENV27)/.created: | $(VENV_TOOLS)/.created
	@py='$(PYTHON27)'; [ -n "$$py" ] || py=$$(bash tools/find-python.sh 2.7) || exit 1; \
	set -x; rm -rf $(VENV27) && \
	$(VENV_TOOLS)/bin/virtualenv --no-download --no-periodic-update -p "$$py" $(VENV27)
	@touch $@

$(VENV27)/$(STAMP) $(VENV311)/$(STAMP): %/$(STAMP): requirements.txt | %/.created
	$*/bin/python -m pip install --progress-bar off -r requirements.txt
	@touch $@

venv-numpy2: $(VENV_NP2)/$(STAMP)

$(VENV_NP2)/$(STAMP): requirements-numpy2.txt
	@py='$(PYTHON311)'; [ -n "$$py" ] || py=$$(bash tools/find-python.sh 3.11) || exit 1; \
	set -x; rm -rf $(VENV_NP2) && "$$py" -m venv $(VENV_NP2) && \
	$(VENV_NP2)/bin/python -m pip install --progress-bar off -r requirements-numpy2.txt
	@touch $@

venv-bench: $(VENV_BENCH)/$(STAMP)

$(VENV_BENCH)/$(STAMP): requirements-bench.txt
	@py='$(PYTHON311)'; [ -n "$$py" ] || py=$$(bash tools/find-python.sh 3.11) || exit 1; \
	set -x; rm -rf $(VENV_BENCH) && "$$py" -m venv $(VENV_BENCH) && \
	$(VENV_BENCH)/bin/python -m pip install --progress-bar off -r requirements-bench.txt
	@touch $@

# The GPU environment.  Debian's pygpu is linked in through a .pth file that
# names a folder holding only a link to the package: pointing at all of
# dist-packages would bring in Debian's NumPy too.  The .pth path is relative
# (site resolves it against site-packages), so the environment can be moved.
# $(call debs,TARGET,PACKAGES,WITHOUT ROOT): install the Debian PACKAGES missing with
# apt-get when root; otherwise run the shell command WITHOUT ROOT ($$missing names them).
define debs
	@missing=$$(for p in $(2); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; \
	done); \
	if [ -z "$$missing" ]; then \
	    echo '$(1): $(2) present'; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "$(1): apt-get install" $$missing; \
	    $(APT_GET) update -q && DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y -q $$missing || exit 1; \
	else \
	    $(3); \
	fi
endef

gpu-sysdeps: sysdeps
	$(call debs,gpu-sysdeps,$(GPU_DEBS),echo "error: the GPU backend needs the Debian packages:" $$missing "(apt-get install them as root)" >&2; exit 1)

# A single-node Slurm for the sweep's tests (tests/slurm_cluster.py starts it as root in a
# folder of its own): Debian's daemons, clients and munge.  Without root, a note; the
# Slurm tests then skip (CI, as root, installs them and requires them).
SLURM_DEBS := slurmctld slurmd slurm-client munge
slurm-sysdeps:
	$(call debs,slurm-sysdeps,$(SLURM_DEBS),echo "slurm-sysdeps: note: the sweep's Slurm tests need the Debian packages" $$missing "(as root: apt-get install them); they skip without")

venv-gpu: $(VENV_GPU)/$(STAMP)

$(VENV_GPU)/$(STAMP): requirements.txt requirements-gpu.txt | gpu-sysdeps
	@py='$(PYTHON311)'; [ -n "$$py" ] || py=$$(bash tools/find-python.sh 3.11) || exit 1; \
	set -x; rm -rf $(VENV_GPU) && "$$py" -m venv $(VENV_GPU) && \
	$(VENV_GPU)/bin/python -m pip install --progress-bar off -r requirements-gpu.txt
	mkdir -p $(VENV_GPU)/debian-pygpu
	ln -sfn $(PYGPU_PARENT)/pygpu $(VENV_GPU)/debian-pygpu/pygpu
	$(VENV_GPU)/bin/python -c 'import os, site; d = site.getsitepackages()[0]; \
	    open(os.path.join(d, "debian-pygpu.pth"), "w").write( \
	        os.path.relpath("$(VENV_GPU)/debian-pygpu", d) + "\n")'
	$(VENV_GPU)/bin/python -c 'import pygpu; print("pygpu %s from %s" % (pygpu.__version__, pygpu.__file__))'
	@touch $@

clean-venvs:
	rm -rf $(VENV27) $(VENV311) $(VENV_NP2) $(VENV_GPU) $(VENV_BENCH) $(VENV_TOOLS)

# ---------------------------------------------------------------- jobs

# Runs both interpreters even if the first fails, then fails at the end.
export_mnist = $(if $(MNIST_DIR),GXNOR_MNIST_DIR='$(abspath $(MNIST_DIR))')
export_cifar10 = GXNOR_CIFAR10_DIR='$(abspath $(CIFAR10_DIR))'
run_tests = $(export_mnist) $(export_cifar10) PYTEST_ARGS='$(PYTEST_FLAGS)' TESTS='$(TESTS)' bash tools/run-tests.sh

# The GPU backend's check: on OpenCL (POCL) unless GPU_DEVICE names another.  Its
# device runs get their own Theano compile folder: Theano locks its folder while it
# compiles a module, and this suite runs beside the Python 3.11 one, which would
# otherwise wait for its long device compilations.  Its CPU-backend runs (the numbers
# the device must give) use the usual folder, where the Python 3.11 suite compiles
# the same graphs (the same Python, Theano and NumPy).
GPU_DEVICE ?= opencl0:0
GPU_COMPILEDIR_FORMAT := compiledir_%(short_platform)s-%(processor)s-%(python_version)s-%(python_bitwidth)s-gpu-suite
run_gpu_tests = GXNOR_REQUIRE_GPU_BACKEND=1 GXNOR_GPU_DEVICE='$(GPU_DEVICE)' \
	GXNOR_GPU_THEANO_FLAGS='compiledir_format=$(GPU_COMPILEDIR_FORMAT)' \
	PYTEST_ARGS='$(PYTEST_FLAGS)' TESTS=tests/test_gpu_backend.py bash tools/run-tests.sh $(VENV_GPU)

# The five suites of `make test`, TEST_JOBS at a time: each is mostly one core's
# work (pytest runs one test at a time, Theano compiles with one g++), so on two
# cores two at a time take about half as long.  The longest (Python 2.7's) starts
# first, each as soon as its environment is built; each suite's report is printed
# whole when it ends.  TEST_JOBS=1: one after another.
# Each suite computes with the cores / TEST_JOBS threads (OMP_NUM_THREADS and
# OPENBLAS_NUM_THREADS, unless set): with two suites of two threads each on two
# cores, OpenMP's and OpenBLAS's threads wait on each other, and two MNIST training
# tests, one per Python, took 135-148 s instead of 83-92 s.
TEST_JOBS ?= 2
# Where tools/run-tests.sh keeps each suite's per-test timings (pytest's junit xml,
# <env>.xml; the summary lists the 15 slowest); TIMINGS_DIR= keeps none.
TIMINGS_DIR ?= .test-timings
export TIMINGS_DIR
TEST_SUITES := test-suite-27 test-suite-311 test-suite-gpu test-suite-numpy2 test-suite-bench
# The inference engine with NumPy 2: the test file of each engine module (named one
# by one: tests/test_engine_vs_theano.py and the other *_vs_theano.py need Theano,
# which .venv-numpy2 lacks), the facade's, the kernels', the engine bench's, and the
# modules' docstring examples.
NUMPY2_TESTS := tests/test_engine_popcount.py tests/test_engine_packing.py \
    tests/test_engine_products.py tests/test_engine_thresholds.py \
    tests/test_engine_activations.py tests/test_engine_spec.py tests/test_engine_builder.py \
    tests/test_engine_model.py tests/test_engine_command.py tests/test_gated_xnor.py \
    tests/test_engine_kernels.py tests/test_bench_gated_xnor.py gated_xnor.py gxnor_engine
# The ONNX export against the engine, and its bench (a few seconds).
BENCH_TESTS := tests/test_onnx_export.py tests/test_bench_engine_vs_onnxruntime.py

# What each suite needs is a prerequisite of the suite, built in the same run, so a
# suite starts as soon as its own environment is ready while the others' are still
# being installed (pip's downloads and unpacking overlap the first suites'
# compilations; apt-get waits for dpkg's lock).

test:
	@summary=$$(mktemp); rm -f "$$summary.counts"; start=$$(date +%s); \
	echo "make test: $(words $(TEST_SUITES)) suites ($(TEST_SUITES:test-suite-%=%)), $(TEST_JOBS) at a time," \
	    "each once its environment is ready; each one's report appears when it ends"; \
	threads=$$(( $$(nproc) / $(TEST_JOBS) )); [ "$$threads" -ge 1 ] || threads=1; \
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-$$threads} OPENBLAS_NUM_THREADS=$${OPENBLAS_NUM_THREADS:-$$threads} \
	SUMMARY_FILE="$$summary" $(MAKE) --no-print-directory -k -j$(TEST_JOBS) --output-sync=target \
	    $(TEST_SUITES); status=$$?; \
	echo; echo "==== make test: $$(( $$(date +%s) - start )) s ===="; cat "$$summary"; \
	awk '{p += $$1; f += $$2; s += $$3} END {printf "total: %d passed, %d failed, %d skipped\n", p, f, s}' \
	    "$$summary.counts" 2>/dev/null; \
	runs=$$(grep -c . "$$summary" || true); rm -f "$$summary" "$$summary.counts"; \
	if [ "$$runs" -ne $(words $(TEST_SUITES)) ]; then \
	    echo "make test: $$runs of $(words $(TEST_SUITES)) suites reported"; status=1; fi; \
	exit $$status

.PHONY: $(TEST_SUITES)
test-suite-27: sysdeps slurm-sysdeps venv27 cifar10-data
	@$(run_tests) $(VENV27)
test-suite-311: sysdeps slurm-sysdeps venv311 cifar10-data
	@$(run_tests) $(VENV311)
test-suite-numpy2: venv-numpy2
	@PYTEST_ARGS='$(PYTEST_FLAGS)' TESTS='$(NUMPY2_TESTS)' bash tools/run-tests.sh $(VENV_NP2)
test-suite-gpu: venv-gpu
	@$(run_gpu_tests)
test-suite-bench: venv-bench
	@PYTEST_ARGS='$(PYTEST_FLAGS)' TESTS='$(BENCH_TESTS)' bash tools/run-tests.sh $(VENV_BENCH)

test-gpu: venv-gpu
	$(run_gpu_tests)

test-numpy2: venv-numpy2
	PYTEST_ARGS='$(PYTEST_FLAGS)' TESTS='$(NUMPY2_TESTS)' bash tools/run-tests.sh $(VENV_NP2)

test-bench: venv-bench
	PYTEST_ARGS='$(PYTEST_FLAGS)' TESTS='$(BENCH_TESTS)' bash tools/run-tests.sh $(VENV_BENCH)

test27: sysdeps venv27 cifar10-data
	$(run_tests) $(VENV27)

test311: sysdeps venv311 cifar10-data
	$(run_tests) $(VENV311)

mnist: sysdeps venv311
	$(VENV311)/bin/python mnist.py $(if $(MNIST_DIR),--data-dir '$(MNIST_DIR)') $(MNIST_FLAGS)

# The official Python-format batches, written once from the JPEG copy (the
# decoded pixels checked against the SHA-256 its script records).  Nothing to do
# when the batches are there (the official ones, or an earlier build).
cifar10-data: venv311
	@if [ -f '$(CIFAR10_DIR)/cifar-10-batches-py/test_batch' ] || [ -f '$(CIFAR10_DIR)/test_batch' ]; then \
	    echo 'cifar10-data: CIFAR-10 batches present in $(CIFAR10_DIR)'; \
	elif [ -f '$(CIFAR10_JPEG)/make_cifar10.py' ]; then \
	    echo 'cifar10-data: CIFAR-10 (JPEG copy) from $(CIFAR10_JPEG) into $(CIFAR10_DIR)'; \
	    $(VENV311)/bin/python '$(CIFAR10_JPEG)/make_cifar10.py' --check '$(CIFAR10_DIR)'; \
	else \
	    echo 'cifar10-data: no JPEG copy in $(CIFAR10_JPEG); cifar10.py downloads the official archive'; \
	fi

cifar10: sysdeps venv311 cifar10-data
	$(VENV311)/bin/python cifar10.py --data-dir '$(CIFAR10_DIR)' --download $(CIFAR10_FLAGS)

bench: sysdeps venv311
	$(VENV311)/bin/python bench/speed/bench_training.py $(BENCH_FLAGS)

bench-step: sysdeps venv311
	$(VENV311)/bin/python bench/speed/bench_cpu_step.py --out bench/results/cpu-step.json

compare: sysdeps venv311
	$(VENV311)/bin/python bench/studies/compare_methods.py $(if $(MNIST_DIR),--data-dir '$(MNIST_DIR)') $(COMPARE_FLAGS)

compare-dst: sysdeps venv311
	$(VENV311)/bin/python bench/studies/compare_methods.py $(if $(MNIST_DIR),--data-dir '$(MNIST_DIR)') --only '$(DST_ROWS)' $(COMPARE_DST_FLAGS)

sensitivity: sysdeps venv311
	$(VENV311)/bin/python bench/studies/sensitivity.py $(if $(MNIST_DIR),--data-dir '$(MNIST_DIR)') $(SENSITIVITY_FLAGS)

# Every committed figure, drawn again from its result file (nothing trains).
figures: venv311
	$(VENV311)/bin/python run_plots.py weights/*.results.json
	$(VENV311)/bin/python bench/studies/sensitivity.py --plot bench/results/sensitivity.json --png bench/results/sensitivity.png
	$(VENV311)/bin/python sweep_figure.py bench/results/paper-mnist-lr.json
