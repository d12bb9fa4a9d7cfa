#!/usr/bin/env python3
"""tcg-bench: ferry's interpreter (-accel tcg) next to QEMU 7.2's TCG.

Two measurements, each alternating between the implementations, in one
run:

  pass rate  the A/B boot-sector guest (tests/migration/i386/
             a-b-bootblock.S) alone: how many pages per second its memory
             loop touches, and passes per second (one pass = one byte
             incremented in each 4 KiB page from 1 MiB to 100 MiB, 25344
             pages), read from the guest's own counters at 0x7e00 with
             pmemsave over --seconds.  ferry runs -M pc-lite, QEMU -M pc
             (through SeaBIOS), both -accel tcg, -m 512M.
  blocktime  postcopy from the start of the random-access guest
             (a-b-bootblock-random.img), destination blocktime and the
             rest of live-guest-bench.py's figures, both sides -accel
             tcg; uncapped and capped push.

Then the ferry/QEMU ratios and one JSON line.  The issue's targets: pass
rate >= 0.25x QEMU's TCG (an interpreter, no code generation), blocktime
<= QEMU's.  A benchmark, not a test: exits 0 unless a run failed (1); bad
arguments exit 2.  Needs userfaultfd for the blocktime part and
qemu-system-x86 for the QEMU side (skipped with a message when absent);
no /dev/kvm.  Standard library only.
"""
import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / 'scripts'))
sys.path.insert(0, str(HERE))
from qmp import QMP  # noqa: E402
import benchimpls  # noqa: E402

_spec = importlib.util.spec_from_file_location(
    'live_guest_bench', str(HERE / 'live-guest-bench.py'))
lgb = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lgb)

PAGES = 25344                   # 1 MiB .. 100 MiB in 4 KiB pages


def machine(impl):
    return 'pc-lite' if impl.startswith('ferry') else 'pc'


class TcgRun(lgb.Run):
    """live-guest-bench's postcopy run, with -accel tcg on both sides."""

    accel = 'tcg'

    def image(self):
        return self.args.random_image


def pass_rate(args, impl, binary, extra, tmp):
    """(pages touched per second, passes per second) of the A/B guest."""
    run = lgb.Run(args, impl, binary, 0, tmp, extra)
    qmp = os.path.join(tmp, '%s-rate.qmp' % impl)
    cmd = [binary, '-M', machine(impl), '-accel', 'tcg',
           '-m', '%dM' % (args.size >> 20), '-nodefaults', '-display', 'none',
           '-drive', 'file=%s,format=raw' % args.image,
           '-serial', 'file:' + os.path.join(tmp, '%s-rate.serial' % impl),
           '-qmp', 'unix:%s,server=on,wait=off' % qmp] + extra
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    try:
        q = QMP(qmp, timeout=60)
        run.wait_running(q)
        t0c, p0, t0 = run.counter(q)
        q.pump(args.seconds)            # waits on the socket, not a sleep
        t1c, p1, t1 = run.counter(q)
        return (t1c - t0c) / (t1 - t0), (p1 - p0) / (t1 - t0)
    finally:
        p.kill()
        p.wait()


def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else float('nan')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    build = ROOT / 'build'
    ap.add_argument('--ferry', default=str(build / 'ferry'))
    ap.add_argument('--qemu', default=lgb.DEFAULT_QEMU)
    ap.add_argument('--image', default=None,
                    help='the A/B guest (default: next to --ferry)')
    ap.add_argument('--random-image', default=None,
                    help='the random-access guest (default: next to '
                    '--ferry)')
    ap.add_argument('--size', type=benchimpls.parse_size, default=512 << 20)
    ap.add_argument('--seconds', type=float, default=3.0,
                    help='pass-rate measuring window')
    ap.add_argument('--cap', type=benchimpls.parse_size, default=64 << 20,
                    help='max-postcopy-bandwidth of the capped case')
    ap.add_argument('--runs', type=int, default=3)
    ap.add_argument('--skip-blocktime', action='store_true')
    ap.add_argument('--preempt', action='store_true')
    benchimpls.add_arguments(ap)
    args = ap.parse_args()
    imgdir = Path(args.ferry).resolve().parent / 'tests' / 'migration'
    args.image = args.image or str(imgdir / 'a-b-bootblock.img')
    args.random_image = args.random_image or str(
        imgdir / 'a-b-bootblock-random.img')
    for path in (args.ferry, args.image, args.random_image):
        if not os.path.exists(path):
            print('tcg-bench: %s not found (build first)' % path,
                  file=sys.stderr)
            return 2
    impls = [i for i in benchimpls.choose(ap, args)
             if i[0] != 'ferry-lowlat']

    ok = True
    rates = {}
    blocks = {}
    with tempfile.TemporaryDirectory(prefix='tcg-bench-') as tmp:
        for n in range(args.runs):
            for impl, binary, extra in impls:
                try:
                    touches, passes = pass_rate(args, impl, binary, extra,
                                                tmp)
                except Exception as e:
                    print('%s pass-rate run %d failed: %s' % (impl, n + 1, e))
                    ok = False
                    continue
                rates.setdefault(impl, []).append((touches, passes))
                print('%-6s pass rate run %d: %9.0f pages/s  %7.2f passes/s'
                      % (impl, n + 1, touches, passes), flush=True)
        if not args.skip_blocktime:
            for cap_name, cap in (('uncapped', 0), ('capped', args.cap)):
                for n in range(args.runs):
                    for impl, binary, extra in impls:
                        try:
                            r = TcgRun(args, impl, binary, cap, tmp,
                                       extra).run()
                        except Exception as e:
                            print('%s %s run %d failed: %s' % (
                                impl, cap_name, n + 1, e))
                            ok = False
                            continue
                        blocks.setdefault((cap_name, impl), []).append(r)
                        print('%-6s %-8s run %d: total %5d ms  blocktime '
                              '%5d ms  requests %5d  progress %5.1f%%' % (
                                  impl, cap_name, n + 1, r['total_ms'],
                                  r['blocktime_ms'] or 0,
                                  r['requests'] or 0,
                                  r['progress_pct'] or 0), flush=True)

    print()
    summary = {}
    for impl, _, _ in impls:
        rs = rates.get(impl, [])
        if rs:
            summary['rate/' + impl] = {
                'pages_per_s': med([r[0] for r in rs]),
                'passes_per_s': med([r[1] for r in rs])}
            print('pass rate %-6s %10.0f pages/s %8.2f passes/s (median of '
                  '%d)' % (impl, summary['rate/' + impl]['pages_per_s'],
                           summary['rate/' + impl]['passes_per_s'], len(rs)))
    f, q = summary.get('rate/ferry'), summary.get('rate/qemu')
    if f and q and q['passes_per_s']:
        print('pass rate ratio ferry/QEMU TCG: %.2fx (target >= 0.25x)' %
              (f['passes_per_s'] / q['passes_per_s']))
    for cap_name in ('uncapped', 'capped'):
        for impl, _, _ in impls:
            runs = blocks.get((cap_name, impl), [])
            if runs:
                s = {k: med([r[k] for r in runs])
                     for k in ('total_ms', 'downtime_ms', 'blocktime_ms',
                               'progress_pct')}
                summary['%s/%s' % (cap_name, impl)] = s
                print('%-9s %-6s total %6.0f ms  downtime %5.0f ms  '
                      'blocktime %6.0f ms  progress %5.1f%%' % (
                          cap_name, impl, s['total_ms'], s['downtime_ms'],
                          s['blocktime_ms'], s['progress_pct']))
        f = summary.get('%s/ferry' % cap_name)
        q = summary.get('%s/qemu' % cap_name)
        if f and q and q['blocktime_ms']:
            print('%-9s blocktime ratio ferry/QEMU TCG: %.3f (target <= 1)'
                  % (cap_name, f['blocktime_ms'] / q['blocktime_ms']))
    print(json.dumps({'bench': 'tcg', 'size': args.size,
                      'seconds': args.seconds, 'cap': args.cap,
                      'results': summary}))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
