#!/bin/sh
# Installs what ferry needs to build, test and benchmark on Debian 12.
# Idempotent: installs only the packages that are missing.
set -eu

PKGS="meson ninja-build pkg-config gcc libc6-dev libglib2.0-dev
libjson-glib-dev libgnutls28-dev gnutls-bin systemtap-sdt-dev binutils python3
qemu-system-x86
clang libclang-rt-14-dev iproute2 nftables
libpixman-1-dev libpng-dev libfdt-dev device-tree-compiler
zlib1g-dev libzstd-dev"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
            grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

SUDO=""
if [ "$(id -u)" != 0 ]; then
    SUDO="sudo"
fi
echo "install-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
