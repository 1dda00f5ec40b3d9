#!/usr/bin/env bash
# Runs every unit test program under valgrind memcheck. A program fails
# when its own checks fail or when memcheck reports any error or a
# definite, indirect or possible leak.
set -euo pipefail

ROOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

usage() {
    cat <<EOF
Usage: tests/unit/valgrind.sh [BUILD_DIR]

BUILD_DIR is a configured build folder without sanitizers (default:
$ROOT_DIR/build, as scripts/dev uses). The script builds the unit test
programs there with 'make check TESTS=', runs each under valgrind, and
keeps each report in BUILD_DIR/tests/unit/NAME.valgrind. It ends with
the line "valgrind: N passed, N failed". Needs valgrind (Debian:
valgrind).
EOF
}

die() {
    printf 'error: %s\n' "$*" >&2
    exit 2
}

# Prints the unit test programs that Makefile.am lists.
valgrind_programs() {
    sed -n '/^check_PROGRAMS *=/,/^[^\t]/p' "$ROOT_DIR/Makefile.am" |
        grep -o 'tests/unit/test_[a-z0-9_]*'
}

# Runs one program from the build folder, as make check does.
valgrind_run() {
    local build_dir=$1
    local program=$2
    local report=$build_dir/$program.valgrind

    (cd "$build_dir" && valgrind --quiet --error-exitcode=99 \
        --leak-check=full --show-leak-kinds=definite,indirect,possible \
        --errors-for-leak-kinds=definite,indirect,possible \
        --track-origins=yes --log-file="$report" \
        "./$program" >"$report.out" 2>&1)
}

main() {
    local build_dir=${1:-$ROOT_DIR/build}
    local passed=0 failed=0 status program

    case $build_dir in
        -h|--help) usage; return 0 ;;
    esac
    command -v valgrind >/dev/null ||
        die "valgrind is not installed; run: apt-get install valgrind"
    [[ -f $build_dir/Makefile ]] ||
        die "$build_dir has no Makefile; configure it first, e.g." \
            "mkdir -p $build_dir && cd $build_dir && $ROOT_DIR/configure"
    if grep -q '^SANITIZER_FLAGS = -fsanitize' "$build_dir/Makefile"; then
        die "$build_dir is a sanitizer build, which cannot run under" \
            "valgrind; give a folder configured without --enable-sanitizers"
    fi

    make -C "$build_dir" -j "$(nproc)" check TESTS= >/dev/null ||
        die "building the unit tests in $build_dir failed"

    for program in $(valgrind_programs); do
        status=0
        valgrind_run "$build_dir" "$program" || status=$?
        if (( status == 0 )); then
            passed=$((passed + 1))
            echo "PASS: $program"
            continue
        fi
        failed=$((failed + 1))
        if (( status == 99 )); then
            echo "FAIL: $program (memcheck errors)"
        else
            echo "FAIL: $program (exit status $status)"
        fi
        cat "$build_dir/$program.valgrind" "$build_dir/$program.valgrind.out"
    done

    echo "valgrind: $passed passed, $failed failed"
    (( failed == 0 ))
}

main "$@"
