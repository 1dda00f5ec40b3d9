# Installs the Debian 12 packages that the build and the dev stack need.
# Sourced by scripts/dev, never run.

PACKAGES_REQUIRED=(
    autoconf automake libtool pkg-config make gcc libc6-dev
    libfcgi-dev libcjson-dev libjwt-dev libpq-dev
    postgresql-15 postgresql-client-15 pgbouncer nginx
    sqitch libdbd-pg-perl
    openssl ca-certificates curl procps util-linux
    python3 python3-pytest python3-psycopg2
    clang libclang-rt-14-dev libssl-dev valgrind clang-format
)

# Installs every missing package in one apt-get call. Packages already
# present are never upgraded, so a second run changes nothing.
packages_ensure() {
    local missing=()
    local package

    for package in "${PACKAGES_REQUIRED[@]}"; do
        if ! dpkg -s "$package" >/dev/null 2>&1; then
            missing+=("$package")
        fi
    done
    if (( ${#missing[@]} == 0 )); then
        log_step "packages: all ${#PACKAGES_REQUIRED[@]} installed"
        return 0
    fi

    log_step "packages: installing ${missing[*]}"
    if (( EUID != 0 )); then
        die "installing packages needs root; run: sudo apt-get install" \
            "${missing[*]}"
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
}
