#!/usr/bin/env python3
"""precopy-bench: precopy throughput and CPU cost, ferry next to QEMU 7.2.

A guest of SIZE bytes (default 1 GiB) of random content is migrated over a
unix socket (with --tls x509|psk: over TLS, see benchtls.py) between two
processes of the same implementation (ferry to ferry, QEMU to QEMU).  Runs
alternate (ferry, QEMU, ferry, QEMU, ...) so that both see the same machine
state.  For every run it reports the wall time from "migrate" to the
source's MIGRATION "completed" event, the source's own total-time and
downtime, bytes transferred, throughput, and the CPU seconds (user +
system, all threads) that the source and the destination spent during the
migration; then medians and the ferry/QEMU ratios, and one JSON line.  See
tests/bench/README.md.

Both sides are started as tests/qtest/migration-interop-test.c does:
    BIN -M none -m SIZE -nodefaults -display none
        -device loader,file=RAMFILE,addr=0        (source)
        -incoming unix:SOCK                       (destination)
with a QMP monitor on a unix socket.  Standard library only.

A benchmark, not a test: it reports numbers and exits 0 unless a run could
not be completed or its memory check failed (exit 1); bad arguments exit 2.
"""
import argparse
import json
import os
import platform
import random
import re
import select
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
from qmp import QMP, QMPError  # noqa: E402
sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchnetns  # noqa: E402
import benchperf  # noqa: E402
import benchthp  # noqa: E402
import benchtls  # noqa: E402

DEFAULT_QEMU = '/usr/bin/qemu-system-x86_64'
PAGE = 4096
GIB = 1 << 30
CLK_TCK = os.sysconf('SC_CLK_TCK')


class BenchError(Exception):
    pass


class Interrupted(BaseException):
    """SIGTERM/SIGHUP: unwind like Ctrl-C so that children get killed."""


def log(args, msg=''):
    if not args.json_only:
        print(msg, flush=True)


def warn(msg):
    print('precopy-bench: ' + msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- helpers

def parse_size(text):
    """-m syntax: MiB without a suffix; k M G T suffixes; fractions."""
    m = re.fullmatch(r'\s*([0-9]+(?:\.[0-9]+)?)\s*([kKmMgGtT]?)[bB]?\s*',
                     text)
    if not m:
        raise argparse.ArgumentTypeError('bad size %r (e.g. 256M, 1G)' %
                                         text)
    shift = {'': 20, 'k': 10, 'm': 20, 'g': 30, 't': 40}[m.group(2).lower()]
    size = int(float(m.group(1)) * (1 << shift))
    if size < (1 << 20) or size % (1 << 20):
        raise argparse.ArgumentTypeError('size must be a whole number of '
                                         'MiB, at least 1M')
    return size


def parse_pin(text):
    try:
        cpus = [int(x) for x in text.split(',')]
    except ValueError:
        cpus = []
    if len(cpus) != 2 or min(cpus) < 0:
        raise argparse.ArgumentTypeError('--pin wants two CPU numbers, '
                                         'e.g. 0,1')
    return cpus


def fmt_size(n):
    if n % GIB == 0:
        return '%d GiB' % (n // GIB)
    return '%d MiB' % (n >> 20)


def proc_usage(pid):
    """(CPU seconds, minor faults) of the whole process: user + system time
    and faults of all its threads, those still alive and those gone."""
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    # After "pid (comm)" fields[0] is field 3 of proc(5): minflt is #10,
    # utime #14, stime #15.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK, int(fields[7])


def host_cpu():
    """(busy, steal) CPU seconds of the whole host since boot."""
    with open('/proc/stat') as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal [guest guest_nice]
    busy = v[0] + v[1] + v[2] + v[5] + v[6]
    steal = v[7] if len(v) > 7 else 0
    return busy / CLK_TCK, steal / CLK_TCK


def host_info():
    """What decides how expensive first-touching guest RAM is, and TLS."""
    read_first = benchtls.read_first
    # virtio-balloon free page reporting (feature bit 5): freed guest
    # memory goes back to the hypervisor, so fresh RAM faults twice.
    reporting = None
    base = '/sys/bus/virtio/drivers/virtio_balloon'
    if os.path.isdir(base):
        for d in os.listdir(base):
            feat = read_first(os.path.join(base, d, 'features'))
            if feat and len(feat) > 5:
                reporting = feat[5] == '1'
    info = benchtls.host_info()
    info.update({'kernel': platform.release(),
                 'free_page_reporting': reporting,
                 'loadavg': read_first('/proc/loadavg')})
    return info


def pick_tmpdir(size, base):
    """tmpfs if /dev/shm can hold the RAM file with room to spare."""
    if base:
        return tempfile.mkdtemp(prefix='precopy-bench.', dir=base)
    try:
        st = os.statvfs('/dev/shm')
        if st.f_bavail * st.f_frsize > size + size // 2 + (256 << 20):
            return tempfile.mkdtemp(prefix='precopy-bench.', dir='/dev/shm')
    except OSError:
        pass
    return tempfile.mkdtemp(prefix='precopy-bench.')


def make_ram_file(path, size):
    chunk = 16 << 20
    with open(path, 'wb') as f:
        left = size
        while left:
            n = min(chunk, left)
            f.write(os.urandom(n))
            left -= n


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def ratio(a, b):
    return a / b if a is not None and b else None


# ---------------------------------------------------------------- processes

class VM:
    """One emulator process with a QMP monitor; always killed in stop()."""

    def __init__(self, binary, name, tmpdir, size, extra, timeout,
                 prefix=()):
        self.name = name
        self.qmp_path = os.path.join(tmpdir, name + '.qmp')
        self.log_path = os.path.join(tmpdir, name + '.log')
        self.qmp = None
        if os.path.exists(self.qmp_path):
            os.unlink(self.qmp_path)
        # @prefix: e.g. "ip netns exec NS", which execs the emulator (the
        # PID stays the emulator's).
        cmd = list(prefix) + [
            binary, '-M', 'none', '-m', '%dM' % (size >> 20),
            '-nodefaults', '-display', 'none',
            '-qmp', 'unix:%s,server=on,wait=off' % self.qmp_path] + extra
        self.cmdline = ' '.join(cmd)
        self.logf = open(self.log_path, 'wb')
        # Own session: a Ctrl-C on the terminal reaches only us, and we
        # kill the children ourselves (in order, with a deadline).
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=self.logf,
                                     stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.pid = self.proc.pid
        LIVE.append(self)
        try:
            self._connect(timeout)
        except BaseException:
            self.kill()
            raise

    def _connect(self, timeout):
        deadline = time.monotonic() + timeout
        while not os.path.exists(self.qmp_path):
            if self.proc.poll() is not None:
                raise BenchError('%s exited with status %d before its QMP '
                                 'socket appeared:\n    %s\n%s' %
                                 (self.name, self.proc.returncode,
                                  self.cmdline, self.log_tail()))
            if time.monotonic() > deadline:
                raise BenchError('%s: no QMP socket %s within %.0f s' %
                                 (self.name, self.qmp_path, timeout))
            select.select([], [], [], 0.01)
        try:
            self.qmp = QMP(self.qmp_path, timeout=timeout)
        except (OSError, EOFError, TimeoutError) as e:
            raise BenchError('%s: QMP connection failed: %s\n%s' %
                             (self.name, e, self.log_tail()))

    def log_tail(self, lines=15):
        try:
            self.logf.flush()
            with open(self.log_path, 'rb') as f:
                text = f.read().decode(errors='replace')
        except OSError:
            return ''
        return '\n'.join('    ' + ln for ln in text.splitlines()[-lines:])

    def cmd(self, name, args=None, **kw):
        try:
            return self.qmp.cmd(name, args, **kw)
        except QMPError as e:
            raise BenchError('%s: %s: %s' % (self.name, name, e))
        except (EOFError, OSError, TimeoutError) as e:
            raise BenchError('%s: %s: %s (process %s)\n%s' %
                             (self.name, name, e,
                              'alive' if self.proc.poll() is None else
                              'exited %d' % self.proc.returncode,
                              self.log_tail()))

    def usage(self):
        return proc_usage(self.pid)

    def pin(self, cpu):
        """Every thread on @cpu; threads created later inherit it."""
        for tid in os.listdir('/proc/%d/task' % self.pid):
            try:
                os.sched_setaffinity(int(tid), {cpu})
            except ProcessLookupError:
                pass            # the thread is gone
            except OSError as e:
                raise BenchError('%s: cannot pin to CPU %d: %s' %
                                 (self.name, cpu, e))

    def wait_migration(self, deadline, timeline):
        """Waits for MIGRATION completed/failed/cancelled; returns status
        and the monotonic time the event was read.  Every event seen is
        appended to @timeline as (name, status, emitted), emitted being
        the event's own timestamp (CLOCK_REALTIME of the emulator)."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BenchError('%s: migration not finished by the '
                                 'deadline (query-migrate: %s)' %
                                 (self.name,
                                  json.dumps(self.cmd('query-migrate'))))
            try:
                ev = self.qmp.wait_event('MIGRATION', timeout=left)
            except TimeoutError:
                continue
            except (EOFError, OSError) as e:
                raise BenchError('%s: QMP lost while migrating: %s\n%s' %
                                 (self.name, e, self.log_tail()))
            now = time.monotonic()
            st = ev.get('data', {}).get('status')
            ts = ev.get('timestamp', {})
            timeline.append((self.name, st, ts.get('seconds', 0) +
                             ts.get('microseconds', 0) / 1e6))
            if st in ('completed', 'failed', 'cancelled'):
                return st, now

    def stop(self, timeout=10.0):
        """quit, then SIGKILL if it has not exited by the deadline."""
        if self.proc.poll() is None and self.qmp:
            try:
                self.qmp.sock.sendall(b'{"execute": "quit"}\n')
            except OSError:
                pass
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        self.close()

    def kill(self):
        if self.proc.poll() is None:
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            warn('%s (pid %d) did not die after SIGKILL' % (self.name,
                                                           self.pid))
        self.close()

    def close(self):
        if self.qmp:
            self.qmp.close()
            self.qmp = None
        if not self.logf.closed:
            self.logf.close()
        if self in LIVE:
            LIVE.remove(self)


LIVE = []       # every VM not yet stopped, for the last-resort cleanup


def kill_all():
    while LIVE:
        LIVE.pop().kill()


# ---------------------------------------------------------------- one run

def check_pages(args, dst, ram_file, size, tmpdir, rng):
    """pmemsave a few pages on the destination; compare with the file."""
    npages = size // PAGE
    pages = {0, npages - 1}
    while len(pages) < min(npages, args.check_pages + 2):
        pages.add(rng.randrange(npages))
    out = os.path.join(tmpdir, 'page.bin')
    bad = []
    with open(ram_file, 'rb') as f:
        for pg in sorted(pages):
            if os.path.exists(out):
                os.unlink(out)
            dst.cmd('pmemsave', val=pg * PAGE, size=PAGE, filename=out)
            with open(out, 'rb') as g:
                got = g.read()
            f.seek(pg * PAGE)
            if got != f.read(PAGE):
                bad.append(pg * PAGE)
    return len(pages), bad


def start_perf(args, tag, vms):
    """--perf DIR: perf record -g -p PID of each side while it migrates."""
    try:
        return benchperf.Recorder(args.perf, [(vm.name, vm.pid)
                                              for vm in vms])
    except benchperf.PerfError as e:
        raise BenchError('%s: %s' % (tag, e))


class Cell:
    """One combination of the matrix: THP mode (None: the host as it
    is), transport ('unix' or 'tcp-netns') and multifd channels (1: no
    multifd)."""

    def __init__(self, thp, transport, channels):
        self.thp, self.transport, self.channels = thp, transport, channels

    def label(self):
        return 'THP %s, %s, %s' % (
            self.thp or 'as found', self.transport,
            'multifd %d channels' % self.channels if self.channels > 1
            else '1 channel')

    def default(self):
        """The benchmark's original single cell: -incoming URI."""
        return self.transport == 'unix' and self.channels == 1


PORT_BASE = 47000       # tcp-netns: a port per run, in our namespaces


def run_one(args, impl, binary, run_no, ram_file, tmpdir, rng, creds,
            cell=None, link=None):
    cell = cell or Cell(None, 'unix', 1)
    size = args.size
    tag = '%s-%d' % (impl, run_no)
    sock = os.path.join(tmpdir, tag + '.sock')
    if cell.transport == 'tcp-netns':
        run_one.port = getattr(run_one, 'port', PORT_BASE) + 1
        uri = 'tcp:%s:%d' % (link.dst_addr, run_one.port)
        prefix = {'src': link.exec_prefix('src'),
                  'dst': link.exec_prefix('dst')}
    else:
        uri = 'unix:' + sock
        prefix = {'src': (), 'dst': ()}
    # multifd needs its capability on the destination before the source
    # connects: it listens only after "migrate-incoming" (as the
    # multifd interop test starts it).  The default cell keeps
    # "-incoming URI" from the command line.
    incoming = uri if cell.default() else 'defer'
    timeline = []
    shaper0 = link.shaper_stats() if link and cell.transport == \
        'tcp-netns' else None
    src = dst = perf = None
    try:
        dst = VM(binary, tag + '-dst', tmpdir, size,
                 ['-incoming', incoming] +
                 (['-mem-prealloc'] if args.dst_prealloc else []) +
                 (creds.dst_args() if creds else []),
                 args.timeout, prefix['dst'])
        src = VM(binary, tag + '-src', tmpdir, size,
                 ['-device', 'loader,file=%s,addr=0' % ram_file] +
                 (creds.src_args() if creds else []),
                 args.timeout, prefix['src'])
        version = src.cmd('query-version')
        caps = [{'capability': 'events', 'state': True}]
        if cell.channels > 1:
            caps.append({'capability': 'multifd', 'state': True})
        for vm in (src, dst):
            vm.cmd('migrate-set-capabilities', capabilities=caps)
            if cell.channels > 1:
                vm.cmd('migrate-set-parameters',
                       {'multifd-channels': cell.channels})
        # TLS: the destination reads tls-creds when the source connects,
        # so setting it now (it listens since its start) is in time.
        if creds:
            dst.cmd('migrate-set-parameters', creds.dst_params())
        if incoming == 'defer':
            dst.cmd('migrate-incoming', uri=uri)
        src.cmd('migrate-set-parameters', dict({
            'max-bandwidth': args.max_bandwidth,
            'downtime-limit': args.downtime_limit},
            **(creds.src_params() if creds else {})))
        params = src.cmd('query-migrate-parameters')
        if cell.channels > 1:
            got = (params.get('multifd-channels'),
                   dst.cmd('query-migrate-parameters').get(
                       'multifd-channels'))
            if got != (cell.channels, cell.channels):
                raise BenchError('%s: multifd-channels not taken (source '
                                 '%r, destination %r)' % ((tag,) + got))
        if creds:
            got = (params.get('tls-creds'),
                   dst.cmd('query-migrate-parameters').get('tls-creds'))
            if got != (benchtls.CREDS_ID, benchtls.CREDS_ID):
                raise BenchError('%s: tls-creds not taken (source %r, '
                                 'destination %r)' % ((tag,) + got))
        if src.cmd('query-status')['status'] != 'running':
            raise BenchError('%s: source is not running before migrate' %
                             tag)
        # The destination listens from its command line on; make sure the
        # socket is there before the source connects.  ("migrate-incoming"
        # returns once it listens.)
        deadline = time.monotonic() + args.timeout
        while incoming != 'defer' and not os.path.exists(sock):
            if time.monotonic() > deadline:
                raise BenchError('%s: destination never created %s' %
                                 (tag, sock))
            select.select([], [], [], 0.01)

        if args.pin:
            src.pin(args.pin[0])
            dst.pin(args.pin[1])
        if args.perf:
            perf = start_perf(args, tag, (src, dst))
        host0 = host_cpu()
        self0 = time.process_time()
        src0, dst0 = src.usage(), dst.usage()
        t0_real = time.time()
        t0 = time.monotonic()
        src.cmd('migrate', uri=uri)
        deadline = t0 + args.timeout
        st, t_src = src.wait_migration(deadline, timeline)
        if st != 'completed':
            info = src.cmd('query-migrate')
            raise BenchError('%s: migration %s: %s\n%s\n%s' %
                             (tag, st, info.get('error-desc', '?'),
                              src.log_tail(), dst.log_tail()))
        src1 = src.usage()
        dst_st, _ = dst.wait_migration(deadline, timeline)
        dst1 = dst.usage()
        host1 = host_cpu()
        self1 = time.process_time()
        if perf:
            perf.stop()
        if dst_st != 'completed':
            raise BenchError('%s: destination %s\n%s' %
                             (tag, dst_st, dst.log_tail()))
        info = src.cmd('query-migrate')
        shaper1 = link.shaper_stats() if shaper0 else None
        dst_status = dst.cmd('query-status')['status']
        checked, bad = check_pages(args, dst, ram_file, size, tmpdir, rng)
    finally:
        if perf:
            perf.stop()
        for vm in (src, dst):
            if vm:
                vm.stop()

    ram = info.get('ram', {})
    wall = t_src - t0
    xfer = ram.get('transferred', 0)
    cpu_src = src1[0] - src0[0]
    cpu_dst = dst1[0] - dst0[0]
    gib = xfer / GIB
    r = {
        'impl': impl, 'run': run_no,
        'thp': cell.thp or benchthp.current(),
        'transport': cell.transport, 'channels': cell.channels,
        'multifd_bytes': ram.get('multifd-bytes'),
        # tcp-netns: what the source's tbf passed, and how often it held
        # packets back (overlimits): whether the shaper was what limited.
        'shaper_bytes': shaper1[0] - shaper0[0] if shaper1 else None,
        'shaper_overlimits': shaper1[1] - shaper0[1] if shaper1 else None,
        'tls': creds.mode if creds else 'none',
        'tls_creds': params.get('tls-creds'),
        'tls_hostname': params.get('tls-hostname'),
        'version': '%d.%d.%d' % (version['qemu']['major'],
                                 version['qemu']['minor'],
                                 version['qemu']['micro']),
        'wall_s': wall,
        # When the destination says it completed (its event's timestamp).
        'dst_wall_s': [t for who, st, t in timeline
                       if who.endswith('-dst') and st == 'completed'][0] -
        t0_real,
        'total_time_ms': info.get('total-time'),
        'downtime_ms': info.get('downtime'),
        'setup_time_ms': info.get('setup-time'),
        'transferred': xfer,
        'normal_pages': ram.get('normal'),
        'zero_pages': ram.get('duplicate'),
        'dirty_sync_count': ram.get('dirty-sync-count'),
        'gbps': xfer / wall / 1e9,
        'gibps': xfer / wall / GIB,
        'cpu_src_s': cpu_src, 'cpu_dst_s': cpu_dst,
        'cpu_src_per_gib': cpu_src / gib if gib else None,
        'cpu_dst_per_gib': cpu_dst / gib if gib else None,
        'cpu_total_per_gib': (cpu_src + cpu_dst) / gib if gib else None,
        # Page faults say how guest RAM was touched: a destination that
        # faults every 4 KiB page pays far more than one on huge pages.
        'faults_src': src1[1] - src0[1],
        'faults_dst': dst1[1] - dst0[1],
        # CPU that neither emulator nor this script used meanwhile: other
        # work on the host disturbs the numbers.
        'other_cpu_s': max(0.0, (host1[0] - host0[0]) - cpu_src - cpu_dst -
                           (self1 - self0)),
        'steal_s': host1[1] - host0[1],
        'max_bandwidth': params.get('max-bandwidth'),
        'downtime_limit': params.get('downtime-limit'),
        'dst_runstate': dst_status,
        'pages_checked': checked,
        'pages_bad': ['0x%x' % a for a in bad],
        # MIGRATION events as read, in seconds after "migrate" was sent.
        'events': [[who.rsplit('-', 1)[1], st, round(t - t0_real, 4)]
                   for who, st, t in timeline],
    }
    r['throttled'] = looks_throttled(r, args.max_bandwidth)
    return r


def looks_throttled(r, wanted):
    """True if a rate limit may have shaped the run: the source does not
    report the max-bandwidth asked for, or the run went at >= 80 % of an
    explicit limit.  (0 is "unlimited" in QEMU 7.2 and in ferry.)"""
    bw = r['max_bandwidth']
    if bw != wanted % (1 << 64):
        return True
    return bool(bw) and r['transferred'] / r['wall_s'] > 0.8 * bw


def run_line(r):
    s = ('run %d %-5s %6.1f MB in %6.3f s = %5.3f GB/s (%5.3f GiB/s); '
         'total-time %d ms, downtime %d ms; CPU src %.2f s (%.3f s/GiB), '
         'dst %.2f s (%.3f s/GiB); faults src %d, dst %d; pages %d/%d ok' %
         (r['run'], r['impl'], r['transferred'] / 1e6, r['wall_s'],
          r['gbps'], r['gibps'], r['total_time_ms'] or 0,
          r['downtime_ms'] or 0, r['cpu_src_s'], r['cpu_src_per_gib'],
          r['cpu_dst_s'], r['cpu_dst_per_gib'], r['faults_src'],
          r['faults_dst'], r['pages_checked'] - len(r['pages_bad']),
          r['pages_checked']))
    if r['other_cpu_s'] > 0.1 * r['dst_wall_s'] or \
            r['steal_s'] > 0.1 * r['dst_wall_s']:
        s += ' [disturbed: other processes %.2f s CPU, hypervisor steal ' \
            '%.2f s]' % (r['other_cpu_s'], r['steal_s'])
    if r['dst_runstate'] != 'running':
        s += ' [destination %s]' % r['dst_runstate']
    if r['throttled']:
        s += ' [THROTTLED?]'
    return s


# ---------------------------------------------------------------- summary

METRICS = [
    # key, label, format
    ('wall_s', 'wall time (s)', '%.3f'),
    ('gbps', 'throughput (GB/s)', '%.3f'),
    ('gibps', 'throughput (GiB/s)', '%.3f'),
    ('total_time_ms', 'total-time (ms)', '%.0f'),
    ('downtime_ms', 'downtime (ms)', '%.0f'),
    ('cpu_src_s', 'CPU source (s)', '%.2f'),
    ('cpu_dst_s', 'CPU destination (s)', '%.2f'),
    ('cpu_src_per_gib', 'CPU source (s/GiB)', '%.3f'),
    ('cpu_dst_per_gib', 'CPU destination (s/GiB)', '%.3f'),
    ('cpu_total_per_gib', 'CPU total (s/GiB)', '%.3f'),
    ('faults_src', 'page faults source', '%.0f'),
    ('faults_dst', 'page faults destination', '%.0f'),
    ('other_cpu_s', 'CPU of other processes (s)', '%.2f'),
]


def summarize(results, impls):
    summ = {}
    for impl in impls:
        rs = [r for r in results if r['impl'] == impl]
        if not rs:
            continue
        summ[impl] = {'runs': len(rs)}
        for key, _, _ in METRICS:
            vals = [r[key] for r in rs if r[key] is not None]
            summ[impl][key] = {
                'median': median(vals),
                'min': min(vals) if vals else None,
                'max': max(vals) if vals else None,
            }
    ratios = None
    if 'ferry' in summ and 'qemu' in summ:
        def med(impl, key):
            return summ[impl][key]['median']
        ratios = {k: ratio(med('ferry', k), med('qemu', k))
                  for k in ('gbps', 'cpu_src_per_gib', 'cpu_dst_per_gib',
                            'cpu_total_per_gib', 'wall_s')}
    return summ, ratios


def print_summary(args, summ, ratios, impls, qemu_note, cell=None):
    log(args, '')
    log(args, 'medians over %d run(s) each, %s guest, TLS %s%s (min-max in '
        'brackets)' % (args.runs, fmt_size(args.size), args.tls,
                       '; ' + cell.label() if cell else ''))
    cols = [i for i in impls if i in summ]
    head = '%-28s' % ''
    for i in cols:
        head += '%-24s' % ('ferry' if i == 'ferry' else 'QEMU 7.2')
    if ratios:
        head += 'ferry/QEMU'
    log(args, head)
    for key, label, fmt in METRICS:
        line = '%-28s' % label
        for i in cols:
            m = summ[i][key]
            if m['median'] is None:
                cell = '-'
            else:
                cell = (fmt % m['median']) + ' [' + (fmt % m['min']) + \
                       '-' + (fmt % m['max']) + ']'
            line += '%-24s' % cell
        if ratios and key in ratios and ratios[key] is not None:
            line += '%.2f' % ratios[key]
        log(args, line)
    if not ratios:
        log(args, '')
        log(args, 'ferry/QEMU ratios unavailable: %s' % qemu_note)
        return None
    tp, cpu = ratios['gbps'], ratios['cpu_total_per_gib']
    met = tp >= 1.5 and cpu <= 1.0
    log(args, '')
    log(args, 'target%s: throughput ratio >= 1.50 and CPU/GiB ratio (source '
        '+ destination) <= 1.00' % ('' if args.tls == 'none' else
                                    ', both over TLS (%s)' % args.tls))
    log(args, '        throughput %.2fx, CPU/GiB %.2fx (source %.2fx, '
        'destination %.2fx): %s' %
        (tp, cpu, ratios['cpu_src_per_gib'], ratios['cpu_dst_per_gib'],
         'MET' if met else 'NOT MET'))
    return met


def run_cell(args, cell, impls, binaries, ram_file, tmpdir, rng, creds,
             link, results, failures, qemu_note):
    """The alternating runs of one cell; its summary (a dict)."""
    log(args, '')
    log(args, '== %s (THP now: %s, defrag %s)' % (
        cell.label(), benchthp.current(), benchthp.defrag()))
    mine = []
    for n in range(1, args.runs + 1):
        for impl in impls:
            try:
                r = run_one(args, impl, binaries[impl], n, ram_file,
                            tmpdir, rng, creds, cell, link)
            except BenchError as e:
                warn('%s: run %d %s failed: %s' % (cell.label(), n, impl,
                                                    e))
                failures.append({'impl': impl, 'run': n,
                                 'cell': cell.label(), 'error': str(e)})
                continue
            results.append(r)
            mine.append(r)
            log(args, run_line(r))
            if r['pages_bad']:
                failures.append({'impl': impl, 'run': n,
                                 'cell': cell.label(),
                                 'error': 'pages differ: ' +
                                 ' '.join(r['pages_bad'])})
                warn('run %d %s: destination pages differ from the '
                     'source at %s' % (n, impl, ' '.join(r['pages_bad'])))
            if r['throttled']:
                warn('run %d %s: max-bandwidth is %s: the run may '
                     'have been rate-limited' % (n, impl,
                                                 r['max_bandwidth']))
    summ, ratios = summarize(mine, impls)
    met = print_summary(args, summ, ratios, impls,
                        qemu_note or 'no successful QEMU run', cell)
    return {'thp': cell.thp, 'thp_now': benchthp.current(),
            'transport': cell.transport, 'channels': cell.channels,
            'summary': summ, 'ratios': ratios, 'met': met}


def print_matrix(args, cells, host):
    """One line per cell: the issue's numbers side by side."""
    log(args, '')
    log(args, 'matrix: %s guest, %d run(s) each, medians; %d CPUs, kernel '
        '%s; CPU s/GiB = source + destination' %
        (fmt_size(args.size), args.runs, host['cpus'], host['kernel']))
    log(args, '%-8s %-10s %-3s %10s %10s %6s %12s %12s %6s %s' % (
        'THP', 'transport', 'ch', 'ferry GiB/s', 'QEMU GiB/s', 'ratio',
        'ferry CPU/GiB', 'QEMU CPU/GiB', 'ratio', 'target'))
    for c in cells:
        if c.get('skipped'):
            log(args, '%-8s %-10s %-3d skipped: %s' % (
                c['thp'] or '-', c['transport'], c['channels'],
                c['skipped']))
            continue
        summ, rat = c['summary'], c['ratios'] or {}

        def med(impl, key):
            v = summ.get(impl, {}).get(key, {}).get('median')
            return '-' if v is None else '%.3f' % v

        def rt(key):
            v = rat.get(key)
            return '-' if v is None else '%.2f' % v
        log(args, '%-8s %-10s %-3d %10s %10s %6s %12s %12s %6s %s' % (
            c['thp'] or '-', c['transport'], c['channels'],
            med('ferry', 'gibps'), med('qemu', 'gibps'), rt('gbps'),
            med('ferry', 'cpu_total_per_gib'),
            med('qemu', 'cpu_total_per_gib'), rt('cpu_total_per_gib'),
            {True: 'MET', False: 'NOT MET', None: '-'}[c['met']]))


def parse_list(p, text, what, allowed=None, conv=str):
    try:
        items = [conv(x) for x in text.split(',') if x]
    except ValueError:
        items = []
    if not items or len(set(items)) != len(items) or \
            (allowed and any(x not in allowed for x in items)):
        p.error('%s takes distinct values%s' % (
            what, ' from ' + ', '.join(map(str, allowed)) if allowed
            else ''))
    return items


# ---------------------------------------------------------------- main

def parse_args(argv):
    p = argparse.ArgumentParser(
        description='Precopy throughput and CPU: ferry vs QEMU 7.2 over a '
        'unix socket (alternating runs).')
    p.add_argument('--ferry', default=str(ROOT / 'build' / 'ferry'),
                   help='ferry binary (default: build/ferry)')
    p.add_argument('--qemu', default=DEFAULT_QEMU,
                   help='QEMU 7.2 binary (default: %(default)s)')
    p.add_argument('--only', choices=('ferry', 'qemu'),
                   help='run one implementation only (no ratios)')
    p.add_argument('--runs', type=int, default=3,
                   help='runs per implementation (default: 3)')
    p.add_argument('--size', type=parse_size, default=GIB,
                   help='guest RAM, -m syntax (default: 1G)')
    p.add_argument('--max-bandwidth', type=int, default=0,
                   help='migrate-set-parameters max-bandwidth in bytes/s '
                   '(default 0: unlimited, in QEMU 7.2 and in ferry)')
    p.add_argument('--downtime-limit', type=int, default=2000000,
                   help='downtime-limit in ms (default: 2000000, the '
                   'maximum; see README)')
    p.add_argument('--dst-prealloc', action='store_true',
                   help='start the destinations with -mem-prealloc, so '
                   'that faulting in their RAM is not part of the '
                   'measurement (see README)')
    p.add_argument('--pin', metavar='SRC,DST', type=parse_pin,
                   help='pin the source to CPU SRC and the destination to '
                   'CPU DST (all threads), e.g. 0,1')
    p.add_argument('--check-pages', type=int, default=16,
                   help='random 4 KiB pages compared on the destination '
                   'after each run, besides the first and last (default 16)')
    p.add_argument('--timeout', type=float, default=300.0,
                   help='deadline in seconds for each wait (default 300)')
    p.add_argument('--tmpdir', help='directory for the RAM file and '
                   'sockets (default: /dev/shm if it has room, else /tmp)')
    p.add_argument('--seed', type=int, help='seed for the checked pages')
    benchtls.add_arguments(p)
    benchthp.add_arguments(p)
    p.add_argument('--channels', default='1',
                   help='comma-separated channel counts, e.g. 1,2,4: 1 is a '
                   'plain migration, N > 1 capability multifd with '
                   'multifd-channels N on both sides (default: 1)')
    p.add_argument('--transport', default='unix',
                   help='comma-separated: unix (a unix socket, default), '
                   'tcp-netns (tcp from one network namespace to another '
                   'over a veth pair shaped to --link-rate with tc tbf; '
                   'root)')
    p.add_argument('--link-rate', default='10gbit',
                   help='tcp-netns: the tc rate of each direction '
                   '(default: %(default)s)')
    p.add_argument('--perf', metavar='DIR',
                   help='record each side with "perf record -g -p PID" '
                   'from just before migrate to completed, into '
                   'DIR/IMPL-RUN-src|dst.perf.data (perf slows the '
                   'run down: profile, do not measure)')
    p.add_argument('--json-only', action='store_true',
                   help='print only the final JSON line')
    args = p.parse_args(argv)
    if args.runs < 1:
        p.error('--runs must be at least 1')
    if not 0 <= args.max_bandwidth < 1 << 64:
        p.error('--max-bandwidth must be 0..2^64-1 bytes/s')
    if not 0 <= args.downtime_limit <= 2000000:
        p.error('--downtime-limit must be 0..2000000 ms')
    args.thp_modes = benchthp.parse(p, args.thp)
    args.channel_list = parse_list(p, args.channels, '--channels',
                                   conv=int)
    if any(not 1 <= c <= 255 for c in args.channel_list):
        p.error('--channels: 1..255 each')
    args.transports = parse_list(p, args.transport, '--transport',
                                 ('unix', 'tcp-netns'))
    if benchnetns.parse_rate(args.link_rate) is None:
        p.error('--link-rate: a tc rate such as 10gbit')
    if args.perf:
        if not shutil.which('perf'):
            p.error('--perf: perf not found (apt install linux-perf)')
        args.perf = os.path.abspath(args.perf)
        os.makedirs(args.perf, exist_ok=True)
    return args


def main(argv):
    args = parse_args(argv)
    ferry = os.path.abspath(args.ferry)
    impls = []
    qemu_note = None
    if args.only != 'qemu':
        if not os.access(ferry, os.X_OK):
            warn('ferry binary %s not found (ninja -C build)' % ferry)
            return 1
        impls.append('ferry')
    if args.only != 'ferry':
        if os.access(args.qemu, os.X_OK):
            impls.append('qemu')
        else:
            qemu_note = ('%s not found (apt install qemu-system-x86)' %
                         args.qemu)
            warn('%s: running ferry only, ratios are unavailable' %
                 qemu_note)
            if not impls:
                return 1
    elif 'qemu' not in impls:
        qemu_note = '--only ferry'
    binaries = {'ferry': ferry, 'qemu': args.qemu}

    host = host_info()
    tmpdir = pick_tmpdir(args.size, args.tmpdir)
    results = []
    failures = []
    cells = []
    rng = random.Random(args.seed)
    thp = benchthp.Switcher()
    link = None
    try:
        try:
            creds = benchtls.make(args.tls, tmpdir, args.tls_priority)
        except (benchtls.TLSError, OSError) as e:
            warn('--tls %s: %s' % (args.tls, e))
            return 1
        ram_file = os.path.join(tmpdir, 'ram.bin')
        t = time.monotonic()
        make_ram_file(ram_file, args.size)
        log(args, 'precopy-bench: %s random guest RAM in %s (%.1f s), '
            '%s%s, max-bandwidth %d, downtime-limit %d ms%s' %
            (fmt_size(args.size), tmpdir, time.monotonic() - t,
             ' and '.join({'unix': 'unix socket',
                           'tcp-netns': 'tcp between network namespaces'}[x]
                          for x in args.transports),
             '' if args.tls == 'none' else ' over TLS (%s)' % args.tls,
             args.max_bandwidth, args.downtime_limit,
             (', destination -mem-prealloc' if args.dst_prealloc else '') +
            (', pinned to CPUs %d,%d' % tuple(args.pin) if args.pin else
             '')))
        log(args, benchtls.describe_tls(args.tls, args.tls_priority))
        log(args, 'host: %s, kernel %s, free page reporting %s, load '
            'average %s' %
            (benchtls.describe_host(host), host['kernel'],
             {None: 'unknown', True: 'on', False: 'off'}[
                 host['free_page_reporting']],
             ' '.join((host['loadavg'] or '? ? ?').split()[:3])))
        if args.perf:
            log(args, 'perf record -g on every source and destination '
                'into %s: these numbers are not measurements' % args.perf)
        for i in impls:
            log(args, '  %-5s %s' % (i, binaries[i]))
        link_why = None
        if 'tcp-netns' in args.transports:
            link = benchnetns.Link(args.link_rate)
            link_why = link.setup()
            log(args, 'tcp-netns: %s' % ('skipped: ' + link_why if link_why
                                         else link.describe()))
        for mode in args.thp_modes:
            thp_why = thp.set(mode)
            if thp_why:
                log(args, 'THP %s: skipped: %s' % (mode, thp_why))
            for transport in args.transports:
                for channels in args.channel_list:
                    cell = Cell(mode, transport, channels)
                    why = thp_why or (link_why if transport == 'tcp-netns'
                                      else None)
                    if why:
                        cells.append({'thp': mode, 'transport': transport,
                                      'channels': channels,
                                      'skipped': why, 'met': None})
                        continue
                    cells.append(run_cell(args, cell, impls, binaries,
                                          ram_file, tmpdir, rng, creds,
                                          link, results, failures,
                                          qemu_note))
    finally:
        kill_all()
        if link:
            link.cleanup()
        thp.restore()
        shutil.rmtree(tmpdir, ignore_errors=True)

    ran = [c for c in cells if not c.get('skipped')]
    if len(cells) > 1:
        print_matrix(args, cells, host)
    if len(ran) == 1 and len(cells) == 1:
        summ, ratios, met = ran[0]['summary'], ran[0]['ratios'], \
            ran[0]['met']
    else:
        # Several cells: each has its own; the target is met if it is
        # in every cell that ran.
        summ = ratios = None
        mets = [c['met'] for c in ran]
        met = None if not mets or None in mets else all(mets)
    out = {
        'bench': 'precopy',
        'transport': args.transports[0] if len(args.transports) == 1
        else args.transports,
        'channels': args.channel_list, 'thp': args.thp_modes,
        'link_rate': args.link_rate if 'tcp-netns' in args.transports
        else None,
        'cells': cells,
        'tls': args.tls, 'tls_priority': args.tls_priority,
        'size': args.size, 'runs_per_impl': args.runs,
        'max_bandwidth': args.max_bandwidth,
        'downtime_limit_ms': args.downtime_limit,
        'dst_prealloc': args.dst_prealloc,
        'pin': args.pin,
        'host': host,
        'binaries': {i: binaries[i] for i in impls},
        'results': results, 'failures': failures,
        'summary': summ, 'ratios': ratios,
        'target': {'throughput_ratio_min': 1.5,
                   'cpu_per_gib_ratio_max': 1.0, 'met': met},
    }
    if not args.json_only:
        print()
    print(json.dumps(out, sort_keys=False), flush=True)
    return 1 if failures else 0


def on_signal(signum, frame):
    raise Interrupted(signal.Signals(signum).name)


if __name__ == '__main__':
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    try:
        sys.exit(main(sys.argv[1:]))
    except (KeyboardInterrupt, Interrupted) as e:
        kill_all()
        warn('interrupted (%s); all emulator processes killed' %
             (e.args[0] if e.args else 'SIGINT'))
        sys.exit(130)
