# `scripts/dev test`: unit tests, then pytest against a throwaway stack.
# Sourced by scripts/dev, never run.

TEST_PASSED=0
TEST_FAILED=0

# Reads one "# NAME: N" line of automake's test summary.
test_summary_count() {
    local name=$1
    local log=$2

    sed -n "s/^# $name: *\([0-9]*\)$/\1/p" "$log" | tail -n 1
}

# Runs make check and adds its programs to the totals. A build that
# does not get as far as a summary counts as one failure.
test_make_check() {
    local build_dir=$1
    local log=$build_dir/check.log
    local pass fail xpass error

    log_step "test: make check in $build_dir"
    make -C "$build_dir" -j "$(nproc)" check >"$log" 2>&1 || true
    grep -E '^(PASS|FAIL|XPASS|ERROR|SKIP):' "$log" || true
    pass=$(test_summary_count PASS "$log")
    if [[ -z $pass ]]; then
        tail -n 40 "$log"
        log_warn "make check gave no summary; see $log"
        TEST_FAILED=$((TEST_FAILED + 1))
        return 0
    fi
    fail=$(test_summary_count FAIL "$log")
    xpass=$(test_summary_count XPASS "$log")
    error=$(test_summary_count ERROR "$log")
    TEST_PASSED=$((TEST_PASSED + pass))
    TEST_FAILED=$((TEST_FAILED + ${fail:-0} + ${xpass:-0} + ${error:-0}))
}

# Runs a check script whose last line is "LABEL: N passed, N failed" and
# adds its counts. A script that ends without that line counts as one
# failure.
test_counted_script() {
    local label=$1
    shift
    local log
    local summary

    log=$(mktemp /tmp/fleetreg-$label.XXXXXX)
    log_step "test: $label: ${*#"$ROOT_DIR/"}"
    "$@" >"$log" 2>&1 || true
    summary=$(sed -n "s/^$label: \([0-9]* passed, [0-9]* failed\)$/\1/p" \
        "$log" | tail -n 1)
    if [[ -z $summary ]]; then
        tail -n 40 "$log"
        log_warn "$label ended without a summary; see $log"
        TEST_FAILED=$((TEST_FAILED + 1))
        return 0
    fi
    grep -E '^(PASS|FAIL)' "$log" || true
    log_step "test: $label: $summary"
    TEST_PASSED=$((TEST_PASSED + ${summary%% passed*}))
    summary=${summary#*, }
    TEST_FAILED=$((TEST_FAILED + ${summary%% failed*}))
    rm -f "$log"
}

# Finds a free port on 127.0.0.1, starting at the given one, so a test
# run works next to `scripts/dev up` and next to another test run.
test_free_port() {
    local port=$1
    local last=$((port + 50))

    while (( port <= last )); do
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
        port=$((port + 1))
    done
    die "no free port from $1 to $last on 127.0.0.1; set FLEETREG_TEST_PORT"
}

# Stops the throwaway stack and deletes its folder; runs on every exit.
test_cleanup() {
    local status=$?

    if [[ -n ${TEST_STATE_DIR:-} && -d $TEST_STATE_DIR ]]; then
        stack_down >/dev/null 2>&1 || true
        if [[ -n ${FLEETREG_KEEP_TEST_DIR:-} ]]; then
            log_info "kept $TEST_STATE_DIR" >&2
        else
            rm -rf "$TEST_STATE_DIR"
        fi
    fi
    return "$status"
}

# Runs pytest with the stack's settings and adds its results to the
# totals, read from the JUnit XML file that pytest writes.
test_pytest() {
    local junit=$STATE_DIR/junit.xml
    local python=${FLEETREG_PYTHON:-/usr/bin/python3}
    local dirs=() dir counts status=0

    for dir in tests/integration tests/schema tests/faults; do
        if [[ -d $ROOT_DIR/$dir ]]; then
            dirs+=("$ROOT_DIR/$dir")
        fi
    done
    log_step "test: pytest ${dirs[*]#"$ROOT_DIR/"}"
    eval "$(stack_env)"
    (cd "$ROOT_DIR" && "$python" -m pytest -q -p no:cacheprovider \
        --junitxml="$junit" "${dirs[@]}") || status=$?
    if [[ ! -s $junit ]]; then
        log_warn "pytest wrote no results (exit status $status)"
        TEST_FAILED=$((TEST_FAILED + 1))
        return 0
    fi
    counts=$("$python" - "$junit" <<'PY'
import sys
import xml.etree.ElementTree as ET

root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
total = failed = skipped = 0
for suite in suites:
    total += int(suite.get("tests", 0))
    failed += int(suite.get("failures", 0)) + int(suite.get("errors", 0))
    skipped += int(suite.get("skipped", 0))
print(total - failed - skipped, failed)
PY
)
    TEST_PASSED=$((TEST_PASSED + ${counts% *}))
    TEST_FAILED=$((TEST_FAILED + ${counts#* }))
    if (( status != 0 && ${counts#* } == 0 )); then
        log_warn "pytest exited with status $status"
        TEST_FAILED=$((TEST_FAILED + 1))
    fi
}

# Counts sanitizer reports that the service wrote to its logs (the
# second instance's too) as one failure, since they may not fail any
# single request.
test_sanitizer_reports() {
    local pattern='ERROR: (Address|Leak)Sanitizer|runtime error:'
    local logs=("$LOG_DIR"/fleetreg*.log)

    if grep -Eq "$pattern" "${logs[@]}"; then
        log_warn "sanitizer reports in ${logs[*]}:"
        grep -E -A 20 "$pattern" "${logs[@]}" | head -n 80 >&2
        TEST_FAILED=$((TEST_FAILED + 1))
    else
        log_step "test: no sanitizer reports in the fleetreg logs"
    fi
}

test_main() {
    local build_dir=$1
    local sanitizers=$2
    shift 2

    packages_ensure
    build_make "$build_dir" "$@"
    test_make_check "$build_dir"
    if [[ $sanitizers == no ]]; then
        # valgrind cannot run a sanitizer build, and the fuzzers carry
        # their own sanitizers, so both run in the plain pass only.
        test_counted_script valgrind \
            "$ROOT_DIR/tests/unit/valgrind.sh" "$build_dir"
        test_counted_script fuzz "$ROOT_DIR/tests/fuzz/run.sh" \
            --seconds "${FLEETREG_FUZZ_SECONDS:-60}" \
            --build-dir "$build_dir/fuzz"
    fi

    TEST_STATE_DIR=$(mktemp -d /tmp/fleetreg-test.XXXXXX)
    trap test_cleanup EXIT
    paths_init "$TEST_STATE_DIR" \
        "$(test_free_port "${FLEETREG_TEST_PORT:-18443}")"
    log_step "test: stack in $STATE_DIR on $HTTPS_URL"
    if [[ $sanitizers == yes ]]; then
        # Reports land in the fleetreg log, which the run checks after.
        export ASAN_OPTIONS=detect_leaks=1
        export UBSAN_OPTIONS=print_stacktrace=1
    fi
    if ( stack_up "$build_dir" \
            "${FLEETREG_DEV_SQITCH_DIR:-$ROOT_DIR/sqitch}" ); then
        test_pytest
        stack_down
        if [[ $sanitizers == yes ]]; then
            test_sanitizer_reports
        fi
    else
        log_warn "the test stack did not start; logs: $LOG_DIR"
        tail -n 30 "$LOG_DIR"/*.log 2>/dev/null || true
        TEST_FAILED=$((TEST_FAILED + 1))
    fi

    printf '%d passed, %d failed\n' "$TEST_PASSED" "$TEST_FAILED"
    (( TEST_FAILED == 0 ))
}
