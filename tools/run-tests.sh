#!/usr/bin/env bash
# Run the test suite once per virtual env given, all of them even when one
# fails, then print one line per interpreter and a total; exit 1 if any run
# failed.  pytest's exit code 5 (no test collected) counts as a failure.
#
#   tools/run-tests.sh .venv27 .venv311
#
# Environment: PYTEST_ARGS (pytest options), TESTS (what to test; empty: the
# testpaths of pytest.ini), SUMMARY_FILE (if set, each summary line and the
# counts are appended to it and to SUMMARY_FILE.counts, for `make test`'s total),
# TIMINGS_DIR (if set, each run's per-test timings, pytest's junit xml, are kept
# there as <env name>.xml; `make` sets .test-timings).  The summary lists each
# interpreter's slowest tests (SLOWEST of them, 15 unless set).
set -u
pytest_args=${PYTEST_ARGS--p no:cacheprovider -ra -q}
tests=${TESTS-}
slowest=${SLOWEST:-15}
timings_dir=${TIMINGS_DIR:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

status=0
lines=()
slow_reports=()
for venv in "$@"; do
    py=$venv/bin/python
    version=$("$py" -c 'import platform; print(platform.python_version())') || {
        lines+=("$venv: FAILED (its python does not run; try 'make clean-venvs')")
        echo '0 1 0' >> "$tmp/counts"
        status=1
        continue
    }
    xml=$tmp/$(basename "$venv").xml
    echo
    echo "==== Python $version ($venv): python -m pytest $pytest_args $tests ===="
    "$py" -c 'import sys; print("Python " + sys.version.replace("\n", " "))'
    start=$SECONDS
    # Its own temporary folder: make test runs suites side by side.
    # shellcheck disable=SC2086  # word splitting of the options is wanted
    "$py" -m pytest $pytest_args --junitxml="$xml" --basetemp="$tmp/$(basename "$venv").tmp" $tests
    rc=$?
    counts=$("$py" - "$xml" <<'PY' 2>/dev/null
import sys
import xml.etree.ElementTree as ET
n = dict(tests=0, failures=0, errors=0, skipped=0)
for suite in ET.parse(sys.argv[1]).getroot().iter('testsuite'):
    for key in n:
        n[key] += int(suite.get(key, 0))
print('%d %d %d' % (n['tests'] - n['failures'] - n['errors'] - n['skipped'],
                    n['failures'] + n['errors'], n['skipped']))
PY
    ) || counts=''
    if [ "$rc" -ne 0 ] && { [ -z "$counts" ] || [ "${counts#* }" = "0 ${counts##* }" ]; }; then
        # No report (a crash), or no failed test (a usage error, nothing
        # collected): count the run as one failure so that the total shows it.
        counts="${counts:-0 0 0}"
        counts="${counts%% *} 1 ${counts##* }"
    fi
    echo "$counts" >> "$tmp/counts"
    # The slowest tests, from the junit xml's times, for the summary.
    "$py" - "$xml" "$slowest" > "$tmp/$(basename "$venv").slowest" <<'PY' 2>/dev/null
import sys
import xml.etree.ElementTree as ET
cases = [(float(c.get('time') or 0), '%s::%s' % (c.get('classname'), c.get('name')))
         for c in ET.parse(sys.argv[1]).getroot().iter('testcase')]
for seconds, name in sorted(cases, key=lambda c: -c[0])[:int(sys.argv[2])]:
    print('%8.2f s  %s' % (seconds, name))
PY
    if [ -n "$timings_dir" ] && [ -f "$xml" ]; then
        mkdir -p "$timings_dir" && cp "$xml" "$timings_dir/$(basename "$venv").xml"
    fi
    case $rc in
        0) verdict=ok ;;
        5) verdict="FAILED (pytest exit 5: no test collected)"; status=1 ;;
        *) verdict="FAILED (pytest exit $rc)"; status=1 ;;
    esac
    read -r passed failed skipped <<< "$counts"
    lines+=("Python $version ($venv): $verdict; ${passed:-?} passed, ${failed:-?} failed, ${skipped:-?} skipped in $((SECONDS - start)) s")
    slow_reports+=("$venv|$version")
done

echo
echo "==== Summary ===="
for line in "${lines[@]}"; do
    echo "$line"
    if [ -n "${SUMMARY_FILE:-}" ]; then echo "$line" >> "$SUMMARY_FILE"; fi
done
if [ -n "${SUMMARY_FILE:-}" ] && [ -s "$tmp/counts" ]; then
    cat "$tmp/counts" >> "$SUMMARY_FILE.counts"
fi
if [ -s "$tmp/counts" ]; then
    awk '{p += $1; f += $2; s += $3} END {printf "total: %d passed, %d failed, %d skipped\n", p, f, s}' "$tmp/counts"
fi
for report in ${slow_reports[@]+"${slow_reports[@]}"}; do
    venv=${report%%|*}
    if [ -s "$tmp/$(basename "$venv").slowest" ]; then
        echo
        echo "Slowest tests, Python ${report#*|} ($venv)$(
            [ -n "$timings_dir" ] && echo ", all in $timings_dir/$(basename "$venv").xml"):"
        cat "$tmp/$(basename "$venv").slowest"
    fi
done
exit $status
