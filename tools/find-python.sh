#!/usr/bin/env bash
# Print the full path of a working Python interpreter of version X.Y.
#
#   tools/find-python.sh 2.7     ->  /root/.pyenv/versions/2.7.18/bin/python2.7
#
# Each candidate is actually run: pyenv's shims (python2.7 on PATH) exist
# but fail unless that version is selected.  Candidates, in order:
# pythonX.Y on PATH, $(pyenv root)/versions/X.Y*/bin/pythonX.Y (newest
# first), /usr/local/bin and /usr/bin.  Exits 1 with a message if none fits.
set -u
want=${1:?usage: $0 X.Y}
major=${want%%.*}
minor=${want#*.}

candidates=("python$want")
root=$(pyenv root 2>/dev/null) || root=${PYENV_ROOT:-$HOME/.pyenv}
if [ -d "$root/versions" ]; then
    while IFS= read -r dir; do
        candidates+=("$dir/bin/python$want")
    done < <(ls -d "$root/versions/$want"* 2>/dev/null | sort -r -V)
fi
candidates+=("/usr/local/bin/python$want" "/usr/bin/python$want")

# Also required: the C headers (Theano compiles against Python.h) and, for
# Python 3, venv with ensurepip (Debian splits them into python3.X-venv).
check="import os, sys, sysconfig
assert sys.version_info[:2] == ($major, $minor)
assert os.path.isfile(os.path.join(sysconfig.get_paths()['include'], 'Python.h')), 'no Python.h'
if sys.version_info[0] >= 3:
    import ensurepip, venv
print(sys.executable)"
for py in "${candidates[@]}"; do
    exe=$("$py" -c "$check" 2>/dev/null) || continue
    if [ -n "$exe" ]; then
        echo "$exe"
        exit 0
    fi
done
needs="its C headers"
[ "$major" -ge 3 ] && needs="$needs and venv"
echo "error: no working Python $want with $needs found (tried: ${candidates[*]});" \
     "install it, e.g. 'pyenv install $want', or pass PYTHON${major}${minor}=/path/to/python$want to make" >&2
exit 1
