#!/usr/bin/env bash
# CIFAR-10 on a GPU box lent for a few minutes, in two steps that share one
# working folder (.gpu-run/, ignored by git):
#
#   bash tools/gpu_cifar10.sh setup BUNDLE.tar.xz OUT     (OUT/gpu-setup.log)
#       unpack tools/gpu_bundle.sh's archive, link the CUDA libraries that
#       libgpuarray opens by name, check that Theano starts on the GPU, then
#       start, in the background, `profile`: one training step of the paper's
#       network per op (Theano's profiler, CUDA_LAUNCH_BLOCKING=1; GXNOR-Net at
#       batch 1000 and 100, full precision at 1000), which also fills Theano's
#       cache of compiled ops for the runs of the next step.  Its log,
#       .gpu-run/gpu-profile.log, goes to the train step's OUT.
#   bash tools/gpu_cifar10.sh train CIFAR10-JPEG-FOLDER OUT SECONDS
#       build CIFAR-10 (JPEG copy) with its make_cifar10.py --check, then train
#       at once, each stopped like Ctrl-C after SECONDS (results.json is
#       written after every epoch): the paper's network with cifar10.py's
#       defaults (the authors' protocol), GXNOR-Net and full precision; and
#       the CPU protocol (make cifar10's flags), GXNOR-Net and full precision,
#       seeds 1234 and 1.  Writes OUT/gpu-cifar10.tar.gz (every run's
#       results.json, log, curves and the CPU protocol's models), OUT/gpu-paper-models.tar.gz
#       and OUT/runs.log.
#
# Environment: PAPER_FLAGS and CPU_PROTOCOL_FLAGS add to or override the flags
# of the two protocols; DEVICE (default cuda), PROFILE_BATCHES (default
# PROFILE_RUNS (default "gxnor:1000 gxnor:100 fp:1000") and PROFILE_FLAGS allow
# a dry run of both steps on a CPU:
#   DEVICE=cpu PROFILE_RUNS=gxnor:8 PROFILE_FLAGS='--widths 8,8,8,8' \
#       bash tools/gpu_cifar10.sh setup BUNDLE /tmp/out
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=$root/.gpu-run
step=${1:?usage: tools/gpu_cifar10.sh setup BUNDLE OUT | train JPEG-FOLDER OUT SECONDS | profile}
t0=$SECONDS
say() { echo "[$((SECONDS - t0)) s] $*"; }

environment() {
    py=$work/venv/bin/python
    export LD_LIBRARY_PATH=$work/cudalibs:$work/gpuarray/lib:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    export CPATH=$work/gpuarray/include${CPATH:+:$CPATH}
    export LIBRARY_PATH=$work/gpuarray/lib${LIBRARY_PATH:+:$LIBRARY_PATH}
    export PATH=/usr/local/cuda/bin:$PATH
    export PYTHONUNBUFFERED=1
    export THEANO_FLAGS=device=${DEVICE:-cuda},dnn.enabled=False,floatX=float32,base_compiledir=$work/theano
}

case $step in
setup)
    bundle=${2:?bundle}; out=${3:?out}
    mkdir -p "$work" "$out"
    exec > >(tee "$out/gpu-setup.log") 2>&1
    say "start on $(hostname): $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1), $(nproc) cores"
    rm -rf "$work/venv" "$work/gpuarray" "$work/root"
    xz -dc "$bundle" | tar -C "$work" -xf - || { say 'error: cannot unpack the bundle'; exit 1; }
    prefix=$(cat "$work/PYTHON_PREFIX")
    if [ -x "$prefix/bin/python3.11" ]; then
        echo "Python already at $prefix"
    else
        mkdir -p "$prefix" && cp -a "$work/root$prefix/." "$prefix/"
    fi
    rm -rf "$work/root"
    mkdir -p "$work/cudalibs"
    for lib in libcuda libnvrtc libcublas; do
        found=$(ls /usr/local/nvidia/lib64/$lib.so* /usr/local/cuda/lib64/$lib.so* \
                   /usr/lib/x86_64-linux-gnu/$lib.so* 2>/dev/null | head -1)
        [ -n "$found" ] && ln -sfn "$found" "$work/cudalibs/$lib.so"
        echo "$lib.so -> ${found:-MISSING}"
    done
    environment
    say unpacked
    "$py" -c 'import gxnor_compat, numpy, pygpu, theano; print("numpy", numpy.__version__, "pygpu", pygpu.__version__, "theano", theano.__version__, theano.config.device)' || exit 1
    # In the background (a process session of its own outlives this call), so
    # that the next step can start at once; the train step collects its log.
    # PROFILE_FOREGROUND=1: the profile alone, in this call, to OUT.
    if [ "${PROFILE_FOREGROUND:-0}" = 1 ]; then
        bash tools/gpu_cifar10.sh profile 2>&1 | tee "$out/gpu-profile-alone.log" | grep -E '^\[|images/s|Class name|^ +[0-9.]+% +[0-9.]+% .*theano' | head -40
    else
        setsid bash tools/gpu_cifar10.sh profile > "$work/gpu-profile.log" 2>&1 < /dev/null &
        say "profile started in the background: $work/gpu-profile.log"
    fi
    ;;
profile)
    environment
    for run in ${PROFILE_RUNS:-gxnor:1000 gxnor:100 fp:1000}; do
        method=${run%%:*}; batch=${run##*:}
        say "profile: cifar10 --method $method, batch $batch ${PROFILE_FLAGS:-(paper widths)}"
        CUDA_LAUNCH_BLOCKING=1 THEANO_FLAGS=$THEANO_FLAGS,profile=True,profiling.n_ops=40,profiling.n_apply=15 \
            "$py" tools/gpu_step.py $([ "${DEVICE:-cuda}" = cpu ] || echo --require-gpu) \
            --batch-size "$batch" --steps 5 cifar10 --method "$method" ${PROFILE_FLAGS-} 2>&1 | grep -v '^ *$'
        say "profile done: exit ${PIPESTATUS[0]}"
    done
    say "all profiles done"
    ;;
train)
    jpeg=${2:?jpeg folder}; out=${3:?out}; seconds=${4:?seconds}
    mkdir -p "$out"
    environment
    say "build CIFAR-10 (JPEG copy)"
    "$py" "$jpeg/make_cifar10.py" --check "$work/data" || exit 1
    data=$work/data
    runs=$work/runs
    mkdir -p "$runs"
    paper=${PAPER_FLAGS-}
    cpu=${CPU_PROTOCOL_FLAGS:---widths 32,64,128,256 --epochs 15 --batch-size 100 --lr-start 0.01 --lr-end 0.0001 --a 1}
    left=$((seconds - (SECONDS - t0) - 25))
    say "training for $left s"
    start() {  # name, flags...
        local name=$1; shift
        timeout --signal=INT --kill-after=20 "$left" "$py" cifar10.py --data-dir "$data" \
            --results-dir "$runs" "$@" > "$runs/$name.log" 2>&1 &
    }
    # shellcheck disable=SC2086  # the flag strings are split on purpose
    {
        start paper-gxnor $paper
        start paper-fp $paper --method fp
        start cpu-protocol-gxnor-s1234 $cpu
        start cpu-protocol-gxnor-s1 $cpu --seed 1
        start cpu-protocol-fp-s1234 $cpu --method fp
        start cpu-protocol-fp-s1 $cpu --method fp --seed 1
    }
    wait
    say "runs ended"
    for f in "$runs"/*.log; do echo "== $f"; grep -E 'Epoch [0-9]+ of|best validation|interrupted|error' "$f" | tail -6; done \
        > "$out/runs.log"
    # The paper network's models in a file of their own: over the 16 MB a
    # returned file may have, they alone stay behind.
    (cd "$runs" && tar -czf "$out/gpu-cifar10.tar.gz" --exclude='checkpoint.npz' \
        --exclude='*.mat' --exclude='*-b1000-*.npz' .)
    (cd "$runs" && tar -czf "$out/gpu-paper-models.tar.gz" ./*-b1000-*.npz 2>/dev/null)
    for i in $(seq 30); do grep -q 'all profiles done' "$work/gpu-profile.log" 2>/dev/null && break; sleep 1; done
    cp "$work/gpu-profile.log" "$out/" 2>/dev/null
    ls -la "$out"
    say done
    ;;
*)
    echo "error: unknown step $step (setup or train)" >&2; exit 2 ;;
esac
