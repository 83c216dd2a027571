#!/usr/bin/env bash
# Pack `make venv-gpu` into one archive that runs on another x86-64 Linux box
# with an NVIDIA driver and CUDA but without this project's setup: the Python
# 3.11 interpreter the env was made from, the env (Theano, Lasagne, NumPy,
# SciPy, Matplotlib), Debian's pygpu and libgpuarray with its headers (Theano
# compiles its GPU ops against them).  tools/gpu_cifar10.sh unpacks it.
#
#   bash tools/gpu_bundle.sh OUT.tar.xz
#
# Test folders, caches and pip are left out to keep it small (about 55 MB).
set -euo pipefail
out=${1:?usage: tools/gpu_bundle.sh OUT.tar.xz}
cd "$(dirname "$0")/.."
venv=.venv-gpu
[ -x "$venv/bin/python" ] || { echo "error: $venv missing: run make venv-gpu first" >&2; exit 2; }
home=$(sed -n 's/^home = //p' "$venv/pyvenv.cfg")
prefix=$(cd "$home/.." && pwd -P)
pygpu=$(readlink -f "$venv/debian-pygpu/pygpu")
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

# The interpreter at its own absolute path (the env's python links to it).
mkdir -p "$stage/root$prefix"
tar -C "$prefix" --exclude='*/test' --exclude='*/tests' --exclude='*/idlelib' \
    --exclude='*/tkinter' --exclude='*/ensurepip' --exclude='*/site-packages/*' \
    --exclude='*/lib2to3' --exclude='*/pydoc_data' --exclude='*/turtledemo' \
    --exclude='__pycache__' --exclude='*.a' -cf - . | tar -C "$stage/root$prefix" -xf -
# The env, relocatable: its pygpu link becomes a copy of Debian's package.
mkdir -p "$stage/venv"
tar -C "$venv" --exclude='__pycache__' --exclude='*/site-packages/scipy/*/tests' --exclude='*/site-packages/numpy/*/tests' \
    --exclude='*/site-packages/matplotlib/tests' --exclude='debian-pygpu' \
    --exclude='*/site-packages/pip' --exclude='*/site-packages/setuptools' \
    --exclude='*/site-packages/pygments' --exclude='*/site-packages/_pytest' \
    --exclude='*/site-packages/pytest' -cf - . | tar -C "$stage/venv" -xf -
mkdir -p "$stage/venv/debian-pygpu"
cp -r "$pygpu" "$stage/venv/debian-pygpu/pygpu"
find "$stage/venv/debian-pygpu" -name __pycache__ -prune -exec rm -rf {} +
# libgpuarray and its headers.
mkdir -p "$stage/gpuarray/lib" "$stage/gpuarray/include"
cp -a /usr/lib/libgpuarray.so /usr/lib/libgpuarray.so.3* "$stage/gpuarray/lib/"
cp -r /usr/include/gpuarray "$stage/gpuarray/include/"
echo "$prefix" > "$stage/PYTHON_PREFIX"
tar -C "$stage" -cf - . | xz -T2 -6 > "$out.part"
mv "$out.part" "$out"
echo "gpu_bundle: $out, $(du -m "$out" | cut -f1) MB (Python at $prefix)"
