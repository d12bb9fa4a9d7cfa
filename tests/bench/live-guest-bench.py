#!/usr/bin/env python3
"""live-guest-bench: postcopy of a running KVM guest, ferry next to QEMU 7.2.

The guest is the random-access boot sector (tests/migration/i386/
a-b-bootblock.S built with RANDOM=1): it touches the pages from 1 MiB to
100 MiB in a pseudo-random order, forever, and counts its page touches
at guest physical 0x7e00.  The same image boots on ferry (-M pc-lite) and
on QEMU 7.2 (-M pc, through SeaBIOS, as a raw disk), both under KVM with
a 512 MiB guest.

Each run starts a source and a destination of one implementation, waits
until the guest is running (its pass counter moves), measures its speed
for a second, then migrates with postcopy from the start (migrate, then
migrate-start-postcopy at once), with the background push uncapped or
capped by max-postcopy-bandwidth.  Reported per run and as medians:

  total     query-migrate total-time on the source (ms)
  downtime  query-migrate downtime on the source (ms)
  blocktime postcopy-blocktime on the destination (ms): the time the
            vCPU spent waiting for pages (capability postcopy-blocktime)
  progress  pages the guest touched per second during the first second
            after the destination resumed (counter read with pmemsave), as
            a share of what it did on the source before the migration

then the ferry/QEMU ratios, and one JSON line.  Runs alternate between
the implementations: "ferry" as it starts by default, "ferry-lowlat" with
-global migration.x-postcopy-cpu-latency=0 on both sides (needs write
access to /dev/cpu_dma_latency, skipped otherwise), and "qemu".  A benchmark, not a test: it exits 0 unless a run
failed (1); bad arguments exit 2.  Needs /dev/kvm, userfaultfd and
qemu-system-x86 (QEMU side skipped with a message when absent).
Standard library only.
"""
import argparse
import json
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'scripts'))
from qmp import QMP  # noqa: E402
sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchimpls  # noqa: E402

DEFAULT_QEMU = '/usr/bin/qemu-system-x86_64'
COUNTER = 0x7e00


class BenchError(Exception):
    pass


class Run:
    """One postcopy migration of the running guest on @impl."""

    accel = 'kvm'               # tcg-bench.py runs the same with 'tcg'

    def image(self):
        return self.args.image

    def __init__(self, args, impl, binary, cap, tmp, extra=()):
        self.args, self.impl, self.binary = args, impl, binary
        self.cap, self.tmp, self.extra = cap, tmp, list(extra)
        self.procs = []
        self.counter_file = os.path.join(tmp, 'counter.bin')

    def start(self, name, extra):
        qmp = os.path.join(self.tmp, '%s-%s.qmp' % (self.impl, name))
        serial = os.path.join(self.tmp, '%s-%s.serial' % (self.impl, name))
        machine = 'pc-lite' if self.impl.startswith('ferry') else 'pc'
        cmd = [self.binary, '-M', machine, '-accel', self.accel,
               '-m', '%dM' % (self.args.size >> 20), '-nodefaults',
               '-display', 'none',
               '-drive', 'file=%s,format=raw' % self.image(),
               '-serial', 'file:' + serial,
               '-qmp', 'unix:%s,server=on,wait=off' % qmp]
        cmd += self.extra + extra
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
        self.procs.append(p)
        try:
            return QMP(qmp, timeout=60)
        except Exception as e:
            raise BenchError('%s %s did not start: %s' % (self.impl, name, e))

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()

    def counter(self, q):
        """(page touches, passes, host time after the read)."""
        q.cmd('pmemsave', val=COUNTER, size=16, filename=self.counter_file)
        t = time.monotonic()
        with open(self.counter_file, 'rb') as f:
            touches, passes = struct.unpack('<QI', f.read(12))
        return touches, passes, t

    def rate(self, q, seconds=1.0):
        """Pages touched per second over about @seconds."""
        c0, _, t0 = self.counter(q)
        q.pump(seconds)                 # waits on the socket, not a sleep
        c1, _, t1 = self.counter(q)
        return (c1 - c0) / (t1 - t0)

    def wait_running(self, q):
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.counter(q)[1] >= 1:
                return
            q.pump(0.1)
        raise BenchError('%s: the guest did not run its first pass '
                         'within 120 s' % self.impl)

    def completed(self, q):
        q.pump(0)
        for ev in q.events:
            if ev['event'] == 'MIGRATION' and \
                    ev['data']['status'] in ('completed', 'failed'):
                return ev
        return None

    def run(self):
        sock = os.path.join(self.tmp, '%s.sock' % self.impl)
        try:
            dst = self.start('dst', ['-incoming', 'unix:' + sock])
            src = self.start('src', [])
            self.wait_running(src)
            before = self.rate(src)
            for q in (src, dst):
                q.cmd('migrate-set-capabilities', capabilities=[
                    {'capability': c, 'state': True}
                    for c in ('events', 'postcopy-ram') +
                    (('postcopy-preempt',) if self.args.preempt else ())])
            dst.cmd('migrate-set-capabilities', capabilities=[
                {'capability': 'postcopy-blocktime', 'state': True}])
            src.cmd('migrate-set-parameters',
                    **{'max-postcopy-bandwidth': self.cap})
            src.cmd('migrate', uri='unix:' + sock)
            src.cmd('migrate-start-postcopy')
            dst.wait_event('RESUME', timeout=60)
            after = self.rate(dst)
            end = self.completed(src)
            deadline = time.monotonic() + 300
            while not end:
                if time.monotonic() > deadline:
                    raise BenchError('%s: no completion in 300 s' %
                                     self.impl)
                src.pump(0.5)
                end = self.completed(src)
            if end['data']['status'] != 'completed':
                raise BenchError('%s: migration %s: %s' % (
                    self.impl, end['data']['status'],
                    src.cmd('query-migrate').get('error-desc')))
            info = src.cmd('query-migrate')
            dinfo = dst.cmd('query-migrate')
            for _ in range(100):
                if 'postcopy-blocktime' in dinfo:
                    break
                dst.pump(0.05)
                dinfo = dst.cmd('query-migrate')
            # The guest must still be running on the destination.
            later = self.rate(dst, 0.5)
            if later <= 0:
                raise BenchError('%s: the guest stopped after migration' %
                                 self.impl)
            return {
                'total_ms': info.get('total-time'),
                'downtime_ms': info.get('downtime'),
                'blocktime_ms': dinfo.get('postcopy-blocktime'),
                'vcpu_blocktime_ms': dinfo.get('postcopy-vcpu-blocktime'),
                'requests': info.get('ram', {}).get('postcopy-requests'),
                'rate_before': before, 'rate_after': after,
                'progress_pct': 100.0 * after / before if before else None,
            }
        finally:
            self.stop()


def med(runs, key):
    vals = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(vals) if vals else float('nan')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--ferry', default=str(ROOT / 'build' / 'ferry'))
    ap.add_argument('--qemu', default=DEFAULT_QEMU)
    ap.add_argument('--image', default=str(
        ROOT / 'build' / 'tests' / 'migration' /
        'a-b-bootblock-random.img'))
    ap.add_argument('--size', type=benchimpls.parse_size, default=512 << 20)
    ap.add_argument('--cap', type=benchimpls.parse_size, default=64 << 20,
                    help='max-postcopy-bandwidth of the capped case')
    ap.add_argument('--runs', type=int, default=2)
    ap.add_argument('--preempt', action='store_true',
                    help='capability postcopy-preempt on both sides (all '
                    'implementations)')
    benchimpls.add_arguments(ap)
    args = ap.parse_args()

    if not os.access('/dev/kvm', os.R_OK | os.W_OK):
        print('live-guest-bench: needs /dev/kvm', file=sys.stderr)
        return 2
    for path in (args.ferry, args.image):
        if not os.path.exists(path):
            print('live-guest-bench: %s not found (build first)' % path,
                  file=sys.stderr)
            return 2
    impls = benchimpls.choose(ap, args)

    results = {}
    ok = True
    with tempfile.TemporaryDirectory(prefix='live-guest-bench-') as tmp:
        for cap_name, cap in (('uncapped', 0), ('capped', args.cap)):
            for n in range(args.runs):
                for impl, binary, extra in impls:
                    try:
                        r = Run(args, impl, binary, cap, tmp, extra).run()
                    except Exception as e:
                        print('%s %s run %d failed: %s' % (
                            impl, cap_name, n + 1, e))
                        ok = False
                        continue
                    results.setdefault((cap_name, impl), []).append(r)
                    print('%-12s %-8s run %d: total %5d ms  downtime %4d ms  '
                          'blocktime %5d ms  requests %5d  progress %5.1f%% '
                          '(%.0f -> %.0f pages/s)' % (
                              impl, cap_name, n + 1, r['total_ms'],
                              r['downtime_ms'], r['blocktime_ms'] or 0,
                              r['requests'] or 0, r['progress_pct'] or 0,
                              r['rate_before'], r['rate_after']),
                          flush=True)

    print()
    print('%-9s %-12s %9s %9s %10s %9s' % ('case', 'impl', 'total ms',
                                          'downtime', 'blocktime',
                                          'progress'))
    summary = {}
    for cap_name in ('uncapped', 'capped'):
        for impl, _, _ in impls:
            runs = results.get((cap_name, impl), [])
            if not runs:
                continue
            s = {k: med(runs, k) for k in ('total_ms', 'downtime_ms',
                                           'blocktime_ms', 'progress_pct')}
            summary['%s/%s' % (cap_name, impl)] = s
            print('%-9s %-12s %9.0f %9.0f %10.0f %8.1f%%' % (
                cap_name, impl, s['total_ms'], s['downtime_ms'],
                s['blocktime_ms'], s['progress_pct']))
        q = summary.get('%s/qemu' % cap_name)
        for fname in ('ferry', 'ferry-lowlat'):
            f = summary.get('%s/%s' % (cap_name, fname))
            if f and q and q['blocktime_ms']:
                print('%-9s ratio  blocktime %s/QEMU %.3f, total %.2f' % (
                    cap_name, fname, f['blocktime_ms'] / q['blocktime_ms'],
                    f['total_ms'] / q['total_ms']))
    print(json.dumps({'bench': 'live-guest', 'size': args.size,
                      'preempt': args.preempt,
                      'cap': args.cap, 'results': summary}))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
