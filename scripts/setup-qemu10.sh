#!/bin/sh
# Makes the second peer, QEMU 10.x, available to the interop tests:
# Debian 13's qemu-system-x86 in a chroot, and a wrapper that runs it there
# (exec, so the PID is QEMU's), with /proc, /sys, /dev and /tmp (where the
# tests keep their sockets and files) mounted at the same paths.
#
#   scripts/setup-qemu10.sh          # idempotent; a few minutes the first time
#
# The chroot lives in $FERRY_QEMU10_ROOT (default /var/cache/ferry/trixie),
# the wrapper at $FERRY_QEMU10 (default /var/cache/ferry/qemu-system-x86_64-10),
# which is where the tests look for it.  When it cannot be made (not root,
# no network, no debootstrap) it says why and exits 0: the tests that need
# it then skip, saying so.
set -u
ROOT=${FERRY_QEMU10_ROOT:-/var/cache/ferry/trixie}
WRAP=${FERRY_QEMU10:-/var/cache/ferry/qemu-system-x86_64-10}

say() {
    echo "setup-qemu10: $*" >&2
}

if [ "$(id -u)" != 0 ]; then
    say "needs root (debootstrap, chroot, mounts): QEMU 10.x tests will skip"
    exit 0
fi
if [ ! -x "$ROOT/usr/bin/qemu-system-x86_64" ]; then
    mirror=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' \
                 /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)
    mirror=${mirror:-http://deb.debian.org/debian}
    if ! command -v debootstrap >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends debootstrap >/dev/null 2>&1
    fi
    if ! command -v debootstrap >/dev/null; then
        say "debootstrap is not available: QEMU 10.x tests will skip"
        exit 0
    fi
    say "making a Debian 13 chroot in $ROOT from $mirror"
    mkdir -p "$ROOT"
    if ! debootstrap --variant=minbase trixie "$ROOT" "$mirror" \
            >/tmp/setup-qemu10.log 2>&1; then
        say "debootstrap failed (/tmp/setup-qemu10.log): QEMU 10.x tests will skip"
        exit 0
    fi
    cp /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null
    if ! chroot "$ROOT" sh -c 'apt-get update -qq &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends qemu-system-x86' \
            >>/tmp/setup-qemu10.log 2>&1; then
        say "installing qemu-system-x86 failed (/tmp/setup-qemu10.log): QEMU 10.x tests will skip"
        exit 0
    fi
fi
for d in proc sys dev tmp; do
    mkdir -p "$ROOT/$d"
    mountpoint -q "$ROOT/$d" && continue
    case $d in
    proc) mount -t proc proc "$ROOT/proc" ;;
    *) mount --rbind "/$d" "$ROOT/$d" ;;
    esac || { say "cannot mount /$d in the chroot: QEMU 10.x tests will skip"; exit 0; }
done
mkdir -p "$(dirname "$WRAP")"
cat >"$WRAP" <<WRAPPER
#!/bin/sh
# QEMU 10.x from Debian 13, in $ROOT (scripts/setup-qemu10.sh).
exec chroot "$ROOT" /usr/bin/qemu-system-x86_64 "\$@"
WRAPPER
chmod 755 "$WRAP"
say "$("$WRAP" --version | head -n1) at $WRAP"
