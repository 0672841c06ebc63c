# Shared by tests/run, testnet/* and .ci/run (source it). Installs missing Debian packages
# and builds into a build directory.

TN_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Build tools, the libraries tracenode links, and what the tests use to check its output
# independently (jq, Python's cbor2 and PyNaCl, an independent Noise implementation in
# Python (dissononce) and the Noise known answers shipped with flynn/noise).
TN_PACKAGES="gcc make cmake pkg-config libuv1-dev libsodium-dev libmsgpack-dev liblmdb-dev
libcbor-dev libjansson-dev libcmocka-dev jq python3 python3-cbor2 python3-nacl
python3-dissononce python3-msgpack golang-github-flynn-noise-dev clang
libclang-rt-14-dev"

tn_ensure_packages() {
    local missing=() p
    for p in $TN_PACKAGES; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "error: missing Debian packages; install them with:" >&2
        echo "  sudo apt-get install -y ${missing[*]}" >&2
        return 1
    fi
    echo "installing: ${missing[*]}" >&2
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
    fi
}

# tn_build DIR [cmake args...]: configure (once) and build all targets into DIR.
tn_build() {
    local dir=$1
    shift
    cmake -S "$TN_ROOT" -B "$dir" "$@" >/dev/null &&
        cmake --build "$dir" -j "$(nproc)" -- --no-print-directory >/dev/null
}
