#!/usr/bin/env python3
"""postcopy-latency: on-demand fault latency, ferry next to QEMU 7.2.

A guest of SIZE bytes (default 1 GiB) of random content is migrated with
postcopy between two processes of the same implementation (ferry to ferry,
QEMU to QEMU) over a unix socket, switching to postcopy at once (precopy
limited to 8 MiB/s, so that almost all of RAM is left for postcopy).
While the background push runs, the harness reads pages on the
destination with QMP "pmemsave" of one 4 KiB page, in a random order, each
twice in a row:

    extra latency = time(first read) - time(second read, page now present)

A sample counts as a fault when the source's ram.postcopy-requests grew
during the first read (the source has received the request before the
destination can return the page, so the counter is exact).  Reads of pages
that had already arrived are counted separately.  Every page read is
compared with the image.  All implementations are measured by the same
method, in alternating runs, with the push uncapped and with
max-postcopy-bandwidth 64 MiB/s, each without and with the
postcopy-preempt capability (on both sides; QEMU 7.2 has it too).

Implementations: "ferry" as it starts by default; "ferry-lowlat", ferry
with -global migration.x-postcopy-cpu-latency=0 on both sides (fast CPU
wake-ups while postcopy runs; needs write access to /dev/cpu_dma_latency,
skipped otherwise); "qemu", QEMU 7.2.

Reported: faults sampled, p50 / p99 / mean extra latency in microseconds,
the present-page read time, the method's floor (p99 of the difference
between two reads of a page that is present both times: the spread the
harness and scheduler add), the total postcopy time (source MIGRATION
"postcopy-active" to "completed", from the events' own timestamps), and
the ferry/QEMU ratios; then one JSON line.

--hops (ferry only) also traces both sides and splits each fault into
its steps: see tracehops.py.

--fault-map DIR (ferry only) traces each destination's page placements
and draws every run's postcopy fault map, DIR/CASE-IMPL-RUN.png: guest
pages across, time down, requested pages in red and pushed ones in blue
(faultmap.py, the tool tests/bench/fault-map).

--thp MODES (benchthp.py) runs every case under each transparent huge
page mode in turn, e.g. madvise,always (set as root, the original mode
put back at the end); --push uncapped limits the runs to the uncapped
push; --max-faults 0 reads no page at all: a postcopy with no faults,
the push alone.

--tls x509|psk runs every migration over TLS (benchtls.py: credentials
made at run time, the tls-creds-* object on each side, tls-creds on both
and tls-hostname on the source); --tls-compare also runs each
implementation without TLS, alternating with the TLS runs, and reports
latency with TLS / latency without for each of them.

A benchmark, not a test: it exits 0 unless a run failed or a page read was
wrong (1); bad arguments exit 2.  Standard library only.
"""
import argparse
import json
import os
import random
import shutil
import signal
import statistics
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
import benchperf  # noqa: E402
import benchthp  # noqa: E402
import benchtls  # noqa: E402
import faultmap  # noqa: E402
import tracehops  # noqa: E402

DEFAULT_QEMU = '/usr/bin/qemu-system-x86_64'
PAGE = 4096
CLK_TCK = os.sysconf('SC_CLK_TCK')


class BenchError(Exception):
    pass


def pct(vals, p):
    """Nearest-rank percentile."""
    if not vals:
        return float('nan')
    s = sorted(vals)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def cpu_seconds(pid):
    """User + system CPU of a whole process (all its threads)."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            fields = f.read().rsplit(')', 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def event_time(ev):
    ts = ev['timestamp']
    return ts['seconds'] + ts['microseconds'] / 1e6


class Run:
    """One postcopy migration of @impl with reads on the destination."""

    def __init__(self, args, impl, binary, cap, preempt, image, tmp,
                 extra=(), creds=None, fault_map=None):
        self.args, self.impl, self.binary = args, impl, binary
        self.extra = list(extra)
        self.creds = creds
        self.cap, self.preempt, self.image, self.tmp = cap, preempt, image, tmp
        self.procs = []
        self.perf = None
        # --hops: ferry's trace events on both sides (not QEMU's).
        self.hops = args.hops and impl.startswith('ferry')
        # --fault-map: (PNG to draw, title) for ferry's runs.
        self.fault_map = fault_map if impl.startswith('ferry') else None

    def trace_path(self, name):
        # One file per process: the log is opened for appending.
        return os.path.join(self.tmp, '%s-%x-%s.trace' % (self.impl,
                                                          id(self), name))

    def start(self, name, extra):
        qmp = os.path.join(self.tmp, '%s-%s.qmp' % (self.impl, name))
        cmd = [self.binary, '-M', 'none', '-m', '%dM' % (self.args.size >> 20),
               '-nodefaults', '-display', 'none',
               '-qmp', 'unix:%s,server=on,wait=off' % qmp]
        cmd += self.extra + extra
        if self.creds:
            cmd += (self.creds.dst_args() if name == 'dst' else
                    self.creds.src_args())
        if self.hops:
            cmd += tracehops.trace_args(name, self.trace_path(name))
        if self.fault_map and name == 'dst':
            # (With --hops, into the same file: its parser skips these.)
            cmd += faultmap.trace_args(
                self.args.fault_map_events,
                None if self.hops else self.trace_path(name))
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
        self.procs.append(p)
        try:
            return QMP(qmp, timeout=60)
        except Exception as e:
            raise BenchError('%s %s did not start: %s' % (self.impl, name, e))

    def stop(self):
        if self.perf:
            self.perf.stop()
            self.perf = None
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()

    def read_page(self, q, addr, path):
        t0 = time.perf_counter()
        q.cmd('pmemsave', val=addr, size=PAGE, filename=path)
        return time.perf_counter() - t0

    def requests(self, src):
        return src.cmd('query-migrate').get('ram', {}).get(
            'postcopy-requests', 0)

    def completed(self, q):
        for ev in q.pump(0):
            pass
        for ev in q.events:
            if ev['event'] == 'MIGRATION' and \
                    ev['data']['status'] in ('completed', 'failed'):
                return ev
        return None

    def wait_completed(self, q, name, timeout=60):
        deadline = time.monotonic() + timeout
        while not self.completed(q):
            left = deadline - time.monotonic()
            if left <= 0:
                raise BenchError('%s: the %s did not complete within %d s'
                                 % (self.impl, name, timeout))
            q.pump(min(left, 1.0))

    def draw_fault_map(self):
        png, title = self.fault_map
        try:
            return faultmap.render(self.args.fault_map_tool,
                                   self.trace_path('dst'), png, title)
        except (faultmap.FaultMapError, OSError, ValueError,
                subprocess.TimeoutExpired) as e:
            print('postcopy-latency: %s: fault map: %s' % (self.impl, e),
                  file=sys.stderr)
            return {'png': png, 'error': str(e)}

    def run(self):
        sock = os.path.join(self.tmp, '%s.sock' % self.impl)
        out = os.path.join(self.tmp, 'page.bin')
        try:
            dst = self.start('dst', ['-incoming', 'unix:' + sock] +
                             (['-mem-prealloc'] if self.args.dst_prealloc
                              else []))
            src = self.start('src', ['-device', 'loader,file=%s,addr=0' %
                                     self.image])
            caps = ['events', 'postcopy-ram']
            if self.preempt:
                caps.append('postcopy-preempt')
            for q in (src, dst):
                q.cmd('migrate-set-capabilities', capabilities=[
                    {'capability': c, 'state': True} for c in caps])
            # TLS: the destination reads tls-creds when the source
            # connects (main, return path and preempt channel alike).
            tls = {}
            if self.creds:
                dst.cmd('migrate-set-parameters', **self.creds.dst_params())
                tls = self.creds.src_params()
            # A slow precopy, so that the switch finds (almost) all of RAM
            # still to send, on both implementations.
            src.cmd('migrate-set-parameters', **dict({
                'max-bandwidth': self.args.precopy_bandwidth,
                'max-postcopy-bandwidth': self.cap}, **tls))
            if self.creds:
                got = tuple(q.cmd('query-migrate-parameters').get(
                    'tls-creds') for q in (src, dst))
                if got != (benchtls.CREDS_ID, benchtls.CREDS_ID):
                    raise BenchError('%s: tls-creds not taken (source %r, '
                                     'destination %r)' % ((self.impl,) + got))
            if self.args.perf:
                # procs: the destination, then the source.
                tag = '%s-%s-%d' % (self.args.perf_case, self.impl,
                                    self.args.perf_run)
                try:
                    self.perf = benchperf.Recorder(self.args.perf, [
                        (tag + '-dst', self.procs[0].pid),
                        (tag + '-src', self.procs[1].pid)])
                except benchperf.PerfError as e:
                    raise BenchError('%s: %s' % (self.impl, e))
            cpu0 = [cpu_seconds(p.pid) for p in self.procs]
            src.cmd('migrate', uri='unix:' + sock)
            src.cmd('migrate-start-postcopy')
            dst.wait_event('RESUME', timeout=60)
            rng = random.Random(self.args.seed)
            order = list(range(self.args.size // PAGE))
            rng.shuffle(order)
            faults, present, noise, wrong = [], [], [], 0
            fault_addrs, fault_at = [], []
            reqs = self.requests(src)
            end = None
            with open(self.image, 'rb') as img:
                for page in order:
                    end = self.completed(src)
                    if end or len(faults) >= self.args.max_faults:
                        break
                    addr = page * PAGE
                    t1 = self.read_page(dst, addr, out)
                    now = self.requests(src)
                    t2 = self.read_page(dst, addr, out)
                    img.seek(addr)
                    with open(out, 'rb') as f:
                        if f.read() != img.read(PAGE):
                            wrong += 1
                    if now > reqs:
                        fault_at.append(time.monotonic())
                        faults.append((t1 - t2) * 1e6)
                        fault_addrs.append(addr)
                        # The method's own spread: two reads of a
                        # present page differ by this much.
                        t3 = self.read_page(dst, addr, out)
                        noise.append((t3 - t2) * 1e6)
                    else:
                        present.append(t2 * 1e6)
                    reqs = now
            while not end:
                src.pump(1.0)
                end = self.completed(src)
            if end['data']['status'] != 'completed':
                raise BenchError('%s: migration %s: %s' % (
                    self.impl, end['data']['status'],
                    src.cmd('query-migrate').get('error-desc')))
            start = [e for e in src.events if e['event'] == 'MIGRATION' and
                     e['data']['status'] == 'postcopy-active']
            info = dst.cmd('query-migrate')
            if wrong:
                raise BenchError('%s: %d pages read wrong' % (self.impl,
                                                              wrong))
            src_requests = self.requests(src)
            # (The destination: until it, too, completed.)
            self.wait_completed(dst, 'destination')
            cpu1 = [cpu_seconds(p.pid) for p in self.procs]
            if self.perf:
                self.perf.stop()
                self.perf = None
            self.stop()
            hops = fmap = None
            if self.hops:
                hops = tracehops.split(self.trace_path('src'),
                                       self.trace_path('dst'),
                                       list(zip(fault_addrs, faults)))
            if self.fault_map:
                fmap = self.draw_fault_map()
            for name in ('src', 'dst'):
                if self.hops or (self.fault_map and name == 'dst'):
                    faultmap.unlink(self.trace_path(name))
            return {
                'faults': faults, 'present': present, 'noise': noise,
                'hops': hops, 'fault_map': fmap,
                'postcopy_s': event_time(end) - event_time(start[0]),
                'dst_latency_us': info.get('x-postcopy-latency', 0) // 1000,
                'src_requests': src_requests,
                # From one sampled fault to the next: how often the
                # harness makes the destination ask for a page.
                'fault_gaps_ms': [(b - a) * 1e3 for a, b in
                                  zip(fault_at, fault_at[1:])],
                # CPU seconds from migrate to completed (mostly postcopy:
                # the switch comes at once); procs[0] is the destination.
                'cpu_dst_s': cpu1[0] - cpu0[0],
                'cpu_src_s': cpu1[1] - cpu0[1],
            }
        finally:
            self.stop()


def summarize(runs):
    faults = [x for r in runs for x in r['faults']]
    present = [x for r in runs for x in r['present']]
    noise = [x for r in runs for x in r['noise']]
    gaps = [x for r in runs for x in r['fault_gaps_ms']]
    return {
        'fault_gap_p50_ms': pct(gaps, 50), 'fault_gap_p99_ms': pct(gaps, 99),
        'faults': len(faults),
        'p50_us': pct(faults, 50), 'p99_us': pct(faults, 99),
        'mean_us': statistics.mean(faults) if faults else float('nan'),
        'present_p50_us': pct(present, 50),
        'noise_p50_us': pct(noise, 50), 'noise_p99_us': pct(noise, 99),
        'postcopy_s': statistics.median(r['postcopy_s'] for r in runs),
        'requests': statistics.median(r['src_requests'] for r in runs),
        'cpu_src_s': statistics.median(r['cpu_src_s'] for r in runs),
        'cpu_dst_s': statistics.median(r['cpu_dst_s'] for r in runs),
        'hops': summarize_hops([r['hops'] for r in runs]),
        'fault_maps': [r['fault_map'] for r in runs if r['fault_map']] or
        None,
    }


def summarize_hops(parts):
    if not all(parts):
        return None
    h = tracehops.merge(parts)
    out = {st: {'n': len(h[st]), 'p50_us': pct(h[st], 50),
                'p90_us': pct(h[st], 90)} for st in tracehops.STEPS}
    out['already'], out['queued'] = h['already'], h['queued']
    return out


def run_case(args, case, cap, preempt, impls, variants, label, image,
             tmp, creds, log, results):
    """All runs of one case, alternating implementations; its summary
    goes into @results[@case]."""
    per = {label(name, t): [] for name, _, _ in impls for t in variants}
    for i in range(args.runs):
        for name, binary, extra in impls:
            for t in variants:
                lab = label(name, t)
                fmap = None
                if args.fault_map:
                    fmap = (os.path.join(args.fault_map,
                                         '%s-%s-%d.png' % (
                                             case.replace('/', '-').replace(
                                                 ' ', '-'),
                                             lab, i + 1)),
                            '%s %s run %d' % (case, lab, i + 1))
                args.perf_case = case.replace('/', '-').replace(' ', '-')
                args.perf_run = i + 1
                r = Run(args, lab, binary, cap, preempt, image,
                        tmp, extra,
                        creds if t != 'none' else None,
                        fmap).run()
                per[lab].append(r)
                log('  %-24s %-17s run %d: %3d faults  p50 %8.0f us'
                    '  p99 %8.0f us  postcopy %.2f s  (dst reports '
                    'mean %s us; CPU src %.2f dst %.2f s)' % (
                        case, lab, i + 1, len(r['faults']),
                        pct(r['faults'], 50), pct(r['faults'], 99),
                        r['postcopy_s'], r['dst_latency_us'],
                        r['cpu_src_s'], r['cpu_dst_s']))
                if r['fault_map']:
                    log('  %-24s %-17s        %s' % (
                        '', '', faultmap.describe(r['fault_map'])))
    results[case] = {name: summarize(runs)
                     for name, runs in per.items()}


def main():
    ap = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        epilog='See tests/bench/README.md.')
    ap.add_argument('--size', type=benchimpls.parse_size, default=1 << 30,
                    help='guest RAM (default 1G)')
    ap.add_argument('--runs', type=int, default=3,
                    help='runs per implementation and case (default 3)')
    ap.add_argument('--cap', type=benchimpls.parse_size, default=64 << 20,
                    help='max-postcopy-bandwidth of the capped case, bytes/s '
                    '(default 64M)')
    ap.add_argument('--precopy-bandwidth', type=benchimpls.parse_size, default=8 << 20,
                    help='max-bandwidth before the switch (default 8M)')
    ap.add_argument('--max-faults', type=int, default=400,
                    help='stop sampling a run after this many faults '
                    '(0: read nothing, a postcopy without faults)')
    ap.add_argument('--ferry', default=str(ROOT / 'build' / 'ferry'))
    ap.add_argument('--qemu', default=DEFAULT_QEMU)
    benchimpls.add_arguments(ap)
    ap.add_argument('--modes', default='plain,preempt',
                    help='comma-separated: plain (one connection), preempt '
                    '(capability postcopy-preempt on both sides); default '
                    'both')
    ap.add_argument('--push', default='uncapped,capped',
                    help='comma-separated: uncapped (max-postcopy-bandwidth '
                    '0), capped (--cap); default both')
    benchthp.add_arguments(ap)
    ap.add_argument('--dst-prealloc', action='store_true',
                    help='start the destinations with -mem-prealloc: the '
                    'switch discards that memory again and the placements '
                    'reuse it, so first touches of fresh memory (erratic '
                    'on a VM with free page reporting) leave the '
                    'measurement (see README)')
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--hops', action='store_true',
                    help='trace ferry on both sides and split each fault '
                    'into its steps (see tracehops.py); tracing slows '
                    'ferry down, so its latencies are not comparable')
    ap.add_argument('--fault-map', metavar='DIR',
                    help='trace the placements of ferry destinations and '
                    'draw each run\'s postcopy fault map into '
                    'DIR/CASE-IMPL-RUN.png (tests/bench/fault-map, built '
                    'next to --ferry); tracing slows ferry down')
    benchtls.add_arguments(ap)
    ap.add_argument('--tls-compare', action='store_true',
                    help='with --tls x509|psk: also run each '
                    'implementation without TLS, alternating with the TLS '
                    'runs, and report latency with TLS / without')
    ap.add_argument('--perf', metavar='DIR',
                    help='record each source and destination with "perf '
                    'record -g -p PID" from just before migrate to the '
                    'source\'s completed, into DIR/CASE-IMPL-RUN-src|dst.'
                    'perf.data (perf slows them: profile, do not measure)')
    ap.add_argument('--json-only', action='store_true')
    args = ap.parse_args()
    if args.perf:
        if not shutil.which('perf'):
            ap.error('--perf: perf not found (apt install linux-perf)')
        args.perf = os.path.abspath(args.perf)
        os.makedirs(args.perf, exist_ok=True)
    if args.size % (1 << 20) or args.size <= 0:
        ap.error('--size must be a whole number of MiB')
    if args.tls_compare and args.tls == 'none':
        ap.error('--tls-compare needs --tls x509 or --tls psk')
    if args.max_faults < 0:
        ap.error('--max-faults must be 0 or more')
    pushes = [c for c in args.push.split(',') if c]
    if not pushes or any(c not in ('uncapped', 'capped') for c in pushes):
        ap.error('--push takes uncapped and/or capped')
    thp_modes = benchthp.parse(ap, args.thp)
    # TLS variants each implementation runs in, alternating; a run's label
    # is the implementation's name, +MODE when over TLS.
    variants = ['none', args.tls] if args.tls_compare else [args.tls]

    def label(name, tls):
        return name if tls == 'none' else '%s+%s' % (name, tls)

    impls = benchimpls.choose(
        ap, args, say=(lambda m: None) if args.json_only else print)
    if args.fault_map:
        args.fault_map_tool = faultmap.tool_path(args.ferry)
        try:
            args.fault_map_events = faultmap.events(args.fault_map_tool)
            os.makedirs(args.fault_map, exist_ok=True)
        except (faultmap.FaultMapError, OSError) as e:
            ap.error('--fault-map: %s (ninja -C %s)' % (
                e, os.path.dirname(args.ferry) or '.'))

    def log(msg=''):
        if not args.json_only:
            print(msg, flush=True)

    # (SystemExit unwinds through the finally below: processes killed,
    # the THP mode put back.)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))
    signal.signal(signal.SIGHUP, lambda *a: sys.exit(1))
    shm = '/dev/shm' if shutil.disk_usage('/dev/shm').free > \
        args.size * 2 else None
    tmp = tempfile.mkdtemp(prefix='postcopy-latency-', dir=shm)
    results = {}
    host = benchtls.host_info()
    thp = benchthp.Switcher()
    skipped = {}
    try:
        try:
            creds = benchtls.make(args.tls, tmp, args.tls_priority)
        except (benchtls.TLSError, OSError) as e:
            raise BenchError('--tls %s: %s' % (args.tls, e))
        image = os.path.join(tmp, 'ram.img')
        with open(image, 'wb') as f:
            for _ in range(args.size >> 20):
                f.write(os.urandom(1 << 20))
        modes = [m for m in args.modes.split(',') if m]
        if not modes or any(m not in ('plain', 'preempt') for m in modes):
            ap.error('--modes takes plain and/or preempt')
        cases = [('%s/%s' % (m, c), cap, m == 'preempt') for m in modes
                 for c, cap in (('uncapped', 0), ('capped', args.cap))
                 if c in pushes]
        log('postcopy-latency: %d MiB guest, %d runs each, cap %d MiB/s%s' % (
            args.size >> 20, args.runs, args.cap >> 20,
            ', no page reads (push only)' if args.max_faults == 0 else ''))
        log('%s%s' % (benchtls.describe_tls(args.tls, args.tls_priority),
                      ', alternating with runs without TLS'
                      if args.tls_compare else ''))
        log('host: %s' % benchtls.describe_host(host))
        if args.fault_map:
            log('fault maps into %s (ferry only: QEMU 7.2\'s trace events '
                'differ); ferry traces every placement, which slows it' %
                args.fault_map)
        tls_met = {}
        for mode in thp_modes:
            why = thp.set(mode)
            if why:
                log('THP %s: skipped: %s' % (mode, why))
                skipped[mode] = why
                continue
            if mode:
                log('THP %s (defrag %s): %s' % (benchthp.current(),
                                               benchthp.defrag(),
                                               ', '.join(c[0] for c in cases)))
            for case, cap, preempt in cases:
                run_case(args,
                         case if mode is None else '%s %s' % (mode, case),
                         cap, preempt, impls, variants, label, image, tmp,
                         creds, log, results)
        thp.restore()
        width = max([17] + [len(c) for c in results])
        log()
        log('%-*s %-17s %7s %10s %10s %10s %12s %11s %11s %13s' % (
            width, 'case', 'impl', 'faults', 'p50 us', 'p99 us', 'mean us',
            'present us', 'floor p99', 'postcopy s', 'CPU src+dst'))
        for case, by in results.items():
            for name, s in list(by.items()):
                log('%-*s %-17s %7d %10.0f %10.0f %10.0f %12.0f %11.0f %11.2f'
                    ' %6.2f+%-6.2f'
                    % (width, case, name, s['faults'], s['p50_us'],
                       s['p99_us'], s['mean_us'], s['present_p50_us'],
                       s['noise_p99_us'], s['postcopy_s'], s['cpu_src_s'],
                       s['cpu_dst_s']))
            for t in variants:
                for fname in ('ferry', 'ferry-lowlat'):
                    fl, ql = label(fname, t), label('qemu', t)
                    if fl not in by or ql not in by:
                        continue
                    f, q = by[fl], by[ql]
                    ratio = {
                        'p50': q['p50_us'] / f['p50_us'] if f['faults'] and
                        q['faults'] else None,
                        'p99': q['p99_us'] / f['p99_us'] if f['faults'] and
                        q['faults'] else None,
                        'postcopy_time': f['postcopy_s'] / q['postcopy_s'],
                    }
                    key = 'ratio' if fname == 'ferry' else 'ratio-lowlat'
                    by[label(key, t)] = ratio
                    log('%-*s %s %spostcopy time %s/QEMU %.2f' % (
                        width, case, fl,
                        '' if ratio['p50'] is None else
                        'p50 %.1fx lower, p99 %.1fx lower than %s; ' % (
                            ratio['p50'], ratio['p99'], ql),
                        fl, ratio['postcopy_time']))
            if not args.tls_compare:
                continue
            # The target: ferry's fault latency over TLS within
            # 1.5x of its latency without TLS (p50 and mean).
            for name, _, _ in impls:
                plain, tls = by.get(name), by.get(label(name, args.tls))
                if not plain or not tls:
                    continue
                tr = {k: tls[k + '_us'] / plain[k + '_us']
                      for k in ('p50', 'p99', 'mean')}
                tr['postcopy_time'] = tls['postcopy_s'] / plain['postcopy_s']
                tr['met'] = tr['p50'] <= 1.5 and tr['mean'] <= 1.5
                by['tls-ratio-' + name] = tr
                if name.startswith('ferry'):
                    tls_met['%s %s' % (case, name)] = tr['met']
                log('%-17s %s over TLS / without: p50 %.2fx, mean %.2fx, '
                    'p99 %.2fx; postcopy time %.2fx%s' % (
                        case, name, tr['p50'], tr['mean'], tr['p99'],
                        tr['postcopy_time'],
                        ('  (target <= 1.5x p50 and mean: %s)' %
                         ('MET' if tr['met'] else 'NOT MET'))
                        if name.startswith('ferry') else ''))
        if args.hops:
            log()
            log('steps of a fault, p50 / p90 us (tracehops.py):')
            log('%-17s %-17s %6s' % ('case', 'impl', 'n') +
                ''.join('%14s' % st for st in tracehops.STEPS) +
                '  already queued')
            for case, by in results.items():
                for name in list(by):
                    h = by[name].get('hops') if 'faults' in by[name] else None
                    if not h:
                        continue
                    log('%-17s %-17s %6d' % (case, name, h['fault']['n']) +
                        ''.join('%14s' % ('%.0f / %.0f' % (
                            h[st]['p50_us'], h[st]['p90_us'])
                            if h[st]['n'] else '-')
                            for st in tracehops.STEPS) +
                        '  %7d %6d' % (h['already'], h['queued']))
        print(json.dumps({'bench': 'postcopy-latency',
                          'size': args.size, 'runs': args.runs,
                          'cap': args.cap, 'tls': args.tls,
                          'tls_priority': args.tls_priority,
                          'tls_compare': args.tls_compare, 'host': host,
                          'thp': thp_modes, 'thp_skipped': skipped or None,
                          'max_faults': args.max_faults,
                          'tls_target': {'ratio_max': 1.5,
                                         'met': tls_met or None},
                          'results': results}))
        return 0
    except BenchError as e:
        print('postcopy-latency: %s' % e, file=sys.stderr)
        return 1
    finally:
        thp.restore()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
