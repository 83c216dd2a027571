#!/usr/bin/env bash
# .ci/run as on a new machine, to time it: a fresh clone of this checkout's HEAD in
# an empty folder, ../shared beside it as CI has it, and a new empty HOME, so that
# every cache starts empty (Theano's compile folder ~/.theano, POCL's kernels
# ~/.cache/pocl, the engine's kernels ~/.cache/gxnor, matplotlib's fonts, pip's
# wheels).  What it cannot empty: the Debian packages the Makefile installs (the
# first `make test` on a new machine also spends a minute or two on apt-get).
#
#   tools/fresh-ci.sh [FOLDER [RESULTS.json]]   # default: a new /tmp/gxnor-fresh-ci.XXXXXX
#
# Prints .ci/run's output and its time; the log and per-test timings stay in
# FOLDER (ci.log, home/.cache/gxnor/ci/).  Run it again with the same FOLDER for
# the warm time (caches kept, a new clone).  With RESULTS.json, the run is added
# to that file (a list): commit, date, cold or warm, seconds, exit status, the
# suites' summary lines, the machine.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$(mktemp -d /tmp/gxnor-fresh-ci.XXXXXX)}
results=${2:-}
[ -z "$results" ] || results=$(cd "$(dirname "$results")" && pwd)/$(basename "$results")
caches=warm
[ -d "$work/home/.theano" ] || caches=cold
mkdir -p "$work/home"
rm -rf "$work/main"
git clone -q "$src" "$work/main"
[ -e "$work/shared" ] || ln -s "$(cd "$src/../shared" && pwd)" "$work/shared"
pyenv_root=${PYENV_ROOT:-$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")}
cd "$work/main"
echo "fresh-ci: $(git rev-parse --short HEAD) in $work/main, HOME=$work/home, $(date -u +%FT%TZ)"
start=$SECONDS
status=0
env HOME="$work/home" PYENV_ROOT="$pyenv_root" CI=true \
    bash .ci/run < /dev/null 2>&1 | tee -a "$work/ci.log" || status=${PIPESTATUS[0]}
seconds=$((SECONDS - start))
echo "fresh-ci: .ci/run exited $status after $seconds s ($work)" | tee -a "$work/ci.log"
if [ -n "$results" ]; then
    python3 "$src/tools/record_ci_time.py" "$results" "$work/ci.log" "$caches" "$seconds" \
        "$status" "$(git rev-parse --short HEAD)"
fi
exit "$status"
