#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (fuzzer, AddressSanitizer and
# UndefinedBehaviorSanitizer) and runs them for a bounded time, starting
# from the seed corpus in tests/fuzz/corpus/. Exits 1 when a target
# crashes, leaks or times out, and prints the input that did it.
set -euo pipefail

ROOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FUZZ_DIR=$ROOT_DIR/tests/fuzz
TARGETS=(request auth)

usage() {
    cat <<EOF
Usage: tests/fuzz/run.sh [--seconds N] [--build-dir DIR] [--target NAME]

  --seconds N      total fuzzing time in seconds, split evenly between
                   the targets (default 60); 0 only replays the seeds
  --build-dir DIR  folder for the binaries, the working corpus and any
                   crashing input (default: a new folder under /tmp)
  --target NAME    run one target: request or auth (default: both)

The checked-in seeds are read, never written: new inputs go to the
working corpus in the build folder. Needs clang with libFuzzer (Debian:
clang), pkg-config, libcjson-dev, libjwt-dev and libssl-dev.
EOF
}

die() {
    printf 'error: %s\n' "$*" >&2
    exit 2
}

# Compiles one target from its harness and the library sources it uses.
fuzz_build() {
    local name=$1
    local output=$BUILD_DIR/fuzz_$name
    local sources=("$ROOT_DIR/src/auth.c" "$ROOT_DIR/src/auth_key.c"
                   "$ROOT_DIR/src/api_error.c" "$ROOT_DIR/src/json_check.c")

    if [[ $name == request ]]; then
        sources+=("$ROOT_DIR/src/request.c" "$ROOT_DIR/src/request_params.c"
                  "$ROOT_DIR/src/route.c")
    fi

    # shellcheck disable=SC2046 # pkg-config prints several words.
    clang -std=gnu11 -g -O1 -Wall -Wextra \
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
        -I "$ROOT_DIR/src" $(pkg-config --cflags libcjson libjwt) \
        -o "$output" "$FUZZ_DIR/fuzz_$name.c" "${sources[@]}" \
        $(pkg-config --libs libcjson libjwt) -lcrypto ||
        die "building fuzz_$name failed; is clang installed?"
}

# Runs one target for the given seconds. Returns its exit status.
fuzz_run() {
    local name=$1
    local seconds=$2
    local corpus=$BUILD_DIR/corpus-$name
    local log=$BUILD_DIR/fuzz_$name.log
    local options=(-max_len=4096 -timeout=10 -rss_limit_mb=2048
                   -print_final_stats=1 "-artifact_prefix=$BUILD_DIR/$name-")
    local status=0

    mkdir -p "$corpus"
    if (( seconds == 0 )); then
        options+=(-runs=0)
    else
        options+=("-max_total_time=$seconds")
    fi

    echo "==> fuzz_$name: ${seconds}s from $FUZZ_DIR/corpus/$name"
    "$BUILD_DIR/fuzz_$name" "${options[@]}" "$corpus" \
        "$FUZZ_DIR/corpus/$name" >"$log" 2>&1 || status=$?
    grep -E '^stat::(number_of_executed_units|new_units_added)' "$log" |
        sed 's/^/    /' || true
    if (( status != 0 )); then
        tail -n 60 "$log" >&2
        printf 'fuzz_%s failed (exit status %d); input: %s\n' "$name" \
            "$status" "$(ls "$BUILD_DIR/$name-"* 2>/dev/null | head -n 1)" >&2
    fi
    return "$status"
}

main() {
    local seconds=60
    local selected=("${TARGETS[@]}")
    local share failed=0 name

    BUILD_DIR=
    while (( $# > 0 )); do
        case $1 in
            --seconds) seconds=${2:?--seconds needs a number}; shift ;;
            --build-dir) BUILD_DIR=${2:?--build-dir needs a folder}; shift ;;
            --target) selected=("${2:?--target needs request or auth}")
                      shift ;;
            -h|--help) usage; return 0 ;;
            *) die "unknown option '$1'; see: tests/fuzz/run.sh --help" ;;
        esac
        shift
    done
    [[ $seconds =~ ^[0-9]+$ ]] ||
        die "--seconds '$seconds' is not a whole number of seconds"
    for name in "${selected[@]}"; do
        [[ -d $FUZZ_DIR/corpus/$name ]] ||
            die "unknown target '$name'; use request or auth"
    done

    BUILD_DIR=${BUILD_DIR:-$(mktemp -d /tmp/fleetreg-fuzz.XXXXXX)}
    mkdir -p "$BUILD_DIR"
    share=$(( seconds / ${#selected[@]} ))
    if (( seconds > 0 && share == 0 )); then
        share=1
    fi

    for name in "${selected[@]}"; do
        fuzz_build "$name"
        fuzz_run "$name" "$share" || failed=$((failed + 1))
    done

    echo "fuzz: binaries, logs and new inputs are in $BUILD_DIR"
    echo "fuzz: $(( ${#selected[@]} - failed )) passed, $failed failed"
    (( failed == 0 ))
}

main "$@"
