#!/bin/sh
# Best effort: reserve some 2 MiB huge pages and mount hugetlbfs, so that
# the hugetlbfs tests run instead of being skipped.  Needs root; does
# nothing (and says why) otherwise.
set -u
want=${1:-64}
if [ "$(id -u)" != 0 ]; then
    echo "setup-hugepages: not root, huge page tests will be skipped" >&2
    exit 0
fi
cur=$(cat /proc/sys/vm/nr_hugepages 2>/dev/null || echo 0)
if [ "$cur" -lt "$want" ]; then
    echo "$want" > /proc/sys/vm/nr_hugepages 2>/dev/null || true
fi
if ! grep -q " hugetlbfs " /proc/mounts; then
    mkdir -p /dev/hugepages
    mount -t hugetlbfs none /dev/hugepages 2>/dev/null ||
        echo "setup-hugepages: cannot mount hugetlbfs" >&2
fi
exit 0
