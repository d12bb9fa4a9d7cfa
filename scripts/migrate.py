#!/usr/bin/env python3
"""Drive a live migration between two running VMs over QMP, with progress.

Works against ferry and QEMU alike (ferry's extra destination statistics,
such as the fault latency, are shown when present).

    scripts/migrate.py SRC DST URI [options]

SRC and DST are QMP sockets: a unix socket path or HOST:PORT.  URI is where
the destination listens (tcp:HOST:PORT, unix:PATH, ...).  The destination
must have been started with "-incoming URI", or with "-incoming defer" and
--defer given here.

Examples:
    # precopy
    scripts/migrate.py /tmp/src.qmp /tmp/dst.qmp unix:/tmp/mig.sock
    # postcopy: precopy for 2 s, then switch
    scripts/migrate.py /tmp/src.qmp /tmp/dst.qmp unix:/tmp/mig.sock \\
        --postcopy --switch-after 2
    # postcopy at once, background push limited to 64 MB/s
    scripts/migrate.py /tmp/src.qmp /tmp/dst.qmp tcp:10.0.0.2:4444 \\
        --postcopy --switch-after 0 --max-postcopy-bandwidth 64M

Exit status 0 when both sides report "completed", 1 otherwise (the error
query-migrate reports is printed).
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qmp import QMP, QMPError  # noqa: E402

FINAL = ('completed', 'failed', 'cancelled')
SUFFIX = {'': 1, 'b': 1, 'k': 1 << 10, 'm': 1 << 20, 'g': 1 << 30,
          't': 1 << 40}


def parse_size(text):
    """QEMU-style sizes for bandwidths: 64M, 1G, 4096 (bytes)."""
    t = text.strip().lower()
    num = t.rstrip('bkmgt')
    unit = t[len(num):]
    if unit not in SUFFIX or not num:
        raise argparse.ArgumentTypeError('invalid size: %s' % text)
    return int(float(num) * SUFFIX[unit])


def parse_address(text):
    if ':' in text and not text.startswith('/'):
        host, port = text.rsplit(':', 1)
        return (host, int(port))
    return text


def human(n):
    for unit in ('B', 'KiB', 'MiB', 'GiB', 'TiB'):
        if abs(n) < 1024 or unit == 'TiB':
            return ('%d %s' % (n, unit)) if unit == 'B' else \
                '%.1f %s' % (n, unit)
        n /= 1024.0
    return str(n)


def set_caps(q, caps):
    q.cmd('migrate-set-capabilities',
          capabilities=[{'capability': c, 'state': v}
                        for c, v in caps.items()])


def latency_dist(dist):
    """ferry's x-postcopy-latency-dist: bucket i counts [2^i, 2^(i+1)) us."""
    parts = []
    for i, n in enumerate(dist):
        if n:
            parts.append('%s-%s:%d' % (us_label(1 << i), us_label(2 << i), n))
    return ' '.join(parts)


def us_label(us):
    """Power-of-two microseconds, briefly: 512us, 1ms (1024us), 2ms..."""
    if us < 1024:
        return '%dus' % us
    if us < 1 << 20:
        return '%dms' % (us >> 10)
    return '%ds' % (us >> 20)


class Migration:
    """One migration from @src to @dst (QMP objects), watched to the end."""

    def __init__(self, src, dst, uri, postcopy=False, switch_after=1.0,
                 defer=False, interval=0.5, out=sys.stdout, params=None,
                 caps=None, dst_params=None):
        self.src, self.dst, self.uri = src, dst, uri
        self.dst_params = dst_params or {}
        self.postcopy = postcopy
        self.switch_after = switch_after
        self.defer = defer
        self.interval = interval
        self.out = out
        self.params = params or {}
        self.caps = dict(caps or {})
        self.caps.setdefault('events', True)
        if postcopy:
            self.caps['postcopy-ram'] = True
        self.switched_at = None
        self.t0 = None
        self.last_src = {}
        self.last_dst = {}

    def setup(self):
        set_caps(self.src, self.caps)
        set_caps(self.dst, self.caps)
        if self.params:
            self.src.cmd('migrate-set-parameters', **self.params)
        # (Before migrate-incoming, or before the source connects.)
        if self.dst_params:
            self.dst.cmd('migrate-set-parameters', **self.dst_params)
        if self.defer:
            self.dst.cmd('migrate-incoming', uri=self.uri)

    def start(self):
        self.t0 = time.monotonic()
        self.src.cmd('migrate', uri=self.uri)
        if self.postcopy and self.switch_after <= 0:
            self.switch()

    def switch(self):
        self.src.cmd('migrate-start-postcopy')
        self.switched_at = time.monotonic()
        self.say('%6.2fs  migrate-start-postcopy' % self.elapsed())

    def elapsed(self):
        return time.monotonic() - self.t0

    def say(self, line):
        print(line, file=self.out, flush=True)

    def poll(self):
        """One progress sample; returns (source status, dest status)."""
        s = self.src.cmd('query-migrate')
        d = self.dst.cmd('query-migrate')
        self.last_src, self.last_dst = s, d
        return s.get('status', 'none'), d.get('status', 'none')

    def watch_events(self, timeout):
        """Waits @timeout seconds, logging migration events as they come."""
        for who, q, t in (('source', self.src, timeout),
                          ('destination', self.dst, 0)):
            for ev in q.pump(t):
                if ev['event'] in ('MIGRATION', 'STOP', 'RESUME'):
                    data = ev.get('data', {})
                    self.say('%6.2fs  %s event %s%s' % (
                        self.elapsed(), who, ev['event'],
                        ' ' + data['status'] if 'status' in data else ''))

    def progress_line(self):
        s, d = self.last_src, self.last_dst
        ram = s.get('ram', {})
        line = '%6.2fs  src %-15s dst %-15s' % (
            self.elapsed(), s.get('status', '-'), d.get('status', '-'))
        if ram:
            line += '  sent %9s  left %9s  %6.0f Mbps' % (
                human(ram.get('transferred', 0)),
                human(ram.get('remaining', 0)), ram.get('mbps', 0))
            if self.postcopy:
                line += '  requests %d' % ram.get('postcopy-requests', 0)
        if 'x-postcopy-latency' in d:
            line += '  fault latency %d us (max %d us)' % (
                d['x-postcopy-latency'] // 1000,
                d.get('x-postcopy-latency-max', 0) // 1000)
        if s.get('status') == 'postcopy-paused' or \
                d.get('status') == 'postcopy-paused':
            line += '  PAUSED'
        return line

    def run(self, on_sample=None):
        """Sets up, starts, watches; returns True when both complete."""
        self.setup()
        self.start()
        while True:
            sst, dst = self.poll()
            self.say(self.progress_line())
            if on_sample:
                on_sample(self)
            if self.postcopy and self.switched_at is None and \
                    sst == 'active' and self.elapsed() >= self.switch_after:
                self.switch()
            if (sst in FINAL and (dst in FINAL or sst != 'completed')) or \
                    dst == 'failed':
                break
            self.watch_events(self.interval)
        # The destination finishes a moment after the source.
        deadline = time.monotonic() + 30
        while self.last_dst.get('status') not in FINAL and \
                self.last_src.get('status') == 'completed' and \
                time.monotonic() < deadline:
            self.watch_events(0.05)
            self.poll()
        ok = self.last_src.get('status') == 'completed' and \
            self.last_dst.get('status') == 'completed'
        return ok

    def summary(self):
        s, d = self.last_src, self.last_dst
        ram = s.get('ram', {})
        lines = ['source %s, destination %s' % (s.get('status'),
                                                d.get('status'))]
        if s.get('error-desc'):
            lines.append('  source error: %s' % s['error-desc'])
        if d.get('error-desc'):
            lines.append('  destination error: %s' % d['error-desc'])
        if 'total-time' in s:
            lines.append('  total time %d ms, downtime %d ms, setup %d ms' % (
                s['total-time'], s.get('downtime', 0), s.get('setup-time', 0)))
        if ram:
            lines.append('  transferred %s of %s RAM: %d pages sent, %d zero '
                         'pages, %d sync passes' % (
                             human(ram['transferred']), human(ram['total']),
                             ram['normal'], ram['duplicate'],
                             ram['dirty-sync-count']))
            if ram.get('multifd-bytes'):
                lines.append('  of which %s on the multifd connections' %
                             human(ram['multifd-bytes']))
            lines.append('  bytes by phase: precopy %s, downtime %s, '
                         'postcopy %s' % (
                             human(ram.get('precopy-bytes', 0)),
                             human(ram.get('downtime-bytes', 0)),
                             human(ram.get('postcopy-bytes', 0))))
        if self.postcopy:
            lines.append('  page requests served by the source: %d' %
                         ram.get('postcopy-requests', 0))
        if 'x-postcopy-requests' in d:
            lines.append('  destination page requests %d, fault latency '
                         'mean %d us, max %d us' % (
                             d['x-postcopy-requests'],
                             d.get('x-postcopy-latency', 0) // 1000,
                             d.get('x-postcopy-latency-max', 0) // 1000))
            if d.get('x-postcopy-latency-dist'):
                lines.append('  latency distribution: ' +
                             latency_dist(d['x-postcopy-latency-dist']))
            if d.get('x-postcopy-recoveries'):
                lines.append('  recoveries %d, paused %d ms, requests '
                             'asked again %d' % (
                                 d['x-postcopy-recoveries'],
                                 d.get('x-postcopy-paused-time', 0),
                                 d.get('x-postcopy-requests-resent', 0)))
        if 'postcopy-blocktime' in d:
            lines.append('  destination blocktime %d ms' %
                         d['postcopy-blocktime'])
        return '\n'.join(lines)


def main():
    ap = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='\n'.join(__doc__.split('\n')[2:]))
    ap.add_argument('src', help='source QMP socket (path or HOST:PORT)')
    ap.add_argument('dst', help='destination QMP socket')
    ap.add_argument('uri', help='migration URI the destination listens on')
    ap.add_argument('--postcopy', action='store_true',
                    help='enable postcopy-ram and switch to postcopy')
    ap.add_argument('--switch-after', type=float, default=1.0,
                    metavar='SECONDS',
                    help='seconds of precopy before the switch (0: at once)')
    ap.add_argument('--defer', action='store_true',
                    help='destination runs "-incoming defer": send '
                    'migrate-incoming URI first')
    ap.add_argument('--max-bandwidth', type=parse_size, metavar='SIZE',
                    help='precopy bandwidth per second (0: unlimited)')
    ap.add_argument('--max-postcopy-bandwidth', type=parse_size,
                    metavar='SIZE', help='postcopy background push limit')
    ap.add_argument('--downtime-limit', type=int, metavar='MS')
    ap.add_argument('--return-path', action='store_true',
                    help='enable the return-path capability (implied by '
                    'postcopy)')
    ap.add_argument('--preempt', action='store_true',
                    help='with --postcopy: postcopy-preempt (requested pages '
                    'on a second connection; tcp: and unix: only)')
    ap.add_argument('--blocktime', action='store_true',
                    help='enable postcopy-blocktime on the destination')
    ap.add_argument('--tls-creds', metavar='ID',
                    help='encrypt with TLS: the id of the tls-creds objects '
                    'both sides were given (-object tls-creds-x509|psk)')
    ap.add_argument('--tls-hostname', metavar='NAME',
                    help="the name the destination's certificate must carry "
                    '(default: the host of a tcp: URI)')
    ap.add_argument('--tls-authz', metavar='ID',
                    help='the destination lets in only the client allowed '
                    'by this authz-simple object')
    ap.add_argument('--multifd', type=int, metavar='N',
                    help='precopy over N extra connections (capability '
                    'multifd, multifd-channels N, on both sides)')
    ap.add_argument('--multifd-compression', choices=('none', 'zlib', 'zstd'),
                    help='with --multifd: compression of its channels')
    ap.add_argument('--interval', type=float, default=0.5,
                    help='progress interval in seconds')
    a = ap.parse_args()

    params = {}
    if a.max_bandwidth is not None:
        params['max-bandwidth'] = a.max_bandwidth
    if a.max_postcopy_bandwidth is not None:
        params['max-postcopy-bandwidth'] = a.max_postcopy_bandwidth
    if a.downtime_limit is not None:
        params['downtime-limit'] = a.downtime_limit
    dst_params = {}
    if a.tls_creds:
        params['tls-creds'] = dst_params['tls-creds'] = a.tls_creds
    if a.tls_hostname:
        params['tls-hostname'] = a.tls_hostname
    if a.tls_authz:
        dst_params['tls-authz'] = a.tls_authz
    caps = {}
    if a.return_path:
        caps['return-path'] = True
    if a.multifd_compression and not a.multifd:
        ap.error('--multifd-compression needs --multifd')
    if a.multifd:
        if a.postcopy:
            ap.error('--multifd cannot go with --postcopy (refused by '
                     'ferry and QEMU 10.x)')
        caps['multifd'] = True
        params['multifd-channels'] = dst_params['multifd-channels'] = \
            a.multifd
        if a.multifd_compression:
            params['multifd-compression'] = \
                dst_params['multifd-compression'] = a.multifd_compression
    if a.preempt:
        if not a.postcopy:
            ap.error('--preempt needs --postcopy')
        caps['postcopy-ram'] = True
        caps['postcopy-preempt'] = True
    try:
        src = QMP(parse_address(a.src))
        dst = QMP(parse_address(a.dst))
        if a.blocktime:
            set_caps(dst, {'postcopy-blocktime': True})
        m = Migration(src, dst, a.uri, postcopy=a.postcopy,
                      switch_after=a.switch_after, defer=a.defer,
                      interval=a.interval, params=params, caps=caps,
                      dst_params=dst_params)
        ok = m.run()
    except (QMPError, OSError, EOFError, TimeoutError) as e:
        print('migrate.py: %s' % e, file=sys.stderr)
        return 1
    print(m.summary())
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
