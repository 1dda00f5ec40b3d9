# Builds fleetreg out of tree in a folder of the checkout.
# Sourced by scripts/dev, never run.

# Generates ./configure when it is missing or older than its inputs.
build_autoreconf() {
    local configure=$ROOT_DIR/configure

    if [[ -x $configure && $configure -nt $ROOT_DIR/configure.ac \
          && $configure -nt $ROOT_DIR/Makefile.am ]]; then
        return 0
    fi
    log_step "build: autoreconf -fi"
    (cd "$ROOT_DIR" && autoreconf -fi)
}

# Configures (once) and makes the tree in the given build folder, with
# any extra ./configure arguments. make itself skips what is up to date.
build_make() {
    local build_dir=$1
    shift

    build_autoreconf
    mkdir -p "$build_dir"
    if [[ ! -f $build_dir/Makefile ]]; then
        log_step "build: configure $* in $build_dir"
        (cd "$build_dir" && "$ROOT_DIR/configure" "$@")
    fi
    log_step "build: make in $build_dir"
    make -C "$build_dir" -j "$(nproc)" >"$build_dir/make.log" 2>&1 || {
        grep -E 'error|\*\*\*' "$build_dir/make.log" | tail -n 20 >&2
        die "make failed in $build_dir; the full log is $build_dir/make.log"
    }
}
