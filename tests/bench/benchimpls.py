"""benchimpls: which implementations a benchmark runs, side by side.

Shared by the benchmarks in tests/bench: --impls names them, --only keeps
ferry's or QEMU's, and each comes out as (name, binary, extra arguments);
and parse_size() for their size arguments.
"""
import argparse
import os

LOWLAT_DEV = '/dev/cpu_dma_latency'
NAMES = ('ferry', 'ferry-lowlat', 'qemu')
IMPLS_HELP = ('comma-separated: ferry, ferry-lowlat (ferry with -global '
              'migration.x-postcopy-cpu-latency=0, needs write access to '
              '%s), qemu; default all' % LOWLAT_DEV)


def add_arguments(ap):
    ap.add_argument('--only', choices=('ferry', 'qemu'))
    ap.add_argument('--impls', default=','.join(NAMES), help=IMPLS_HELP)


def choose(ap, args, say=print):
    """[(name, binary, extra args)]; says what it leaves out and why."""
    want = [i for i in args.impls.split(',') if i]
    if not want or any(i not in NAMES for i in want):
        ap.error('--impls takes ferry, ferry-lowlat and/or qemu')
    if args.only:
        want = [i for i in want if i.startswith(args.only)]
    impls = []
    for name in want:
        if name.startswith('ferry') and not os.access(args.ferry, os.X_OK):
            ap.error('%s not found (ninja -C build)' % args.ferry)
        if name == 'ferry':
            impls.append((name, args.ferry, []))
        elif name == 'ferry-lowlat':
            if os.access(LOWLAT_DEV, os.W_OK):
                impls.append((name, args.ferry, [
                    '-global', 'migration.x-postcopy-cpu-latency=0']))
            else:
                say('skipping ferry-lowlat: %s is not writable here'
                    % LOWLAT_DEV)
        elif os.access(args.qemu, os.X_OK):
            impls.append((name, args.qemu, []))
        else:
            say('QEMU 7.2 not found at %s: no ratios (apt install '
                'qemu-system-x86)' % args.qemu)
    return impls


def parse_size(text):
    """Bytes from '512M', '1G', '64K' or a plain number (argparse type)."""
    units = {'': 1, 'K': 1 << 10, 'M': 1 << 20, 'G': 1 << 30}
    t = text.strip().upper()
    num = t.rstrip('KMG')
    try:
        return int(float(num) * units[t[len(num):]])
    except (KeyError, ValueError):
        raise argparse.ArgumentTypeError('bad size %r' % text)
