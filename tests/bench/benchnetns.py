"""benchnetns: a shaped TCP link between two network namespaces.

For precopy-bench.py --transport tcp-netns: the source runs in one network
namespace, the destination in another, joined by a veth pair; each end's
egress has a token bucket filter (tc qdisc tbf) at RATE, so both
directions of the link carry at most RATE.

    link = benchnetns.Link('10gbit')
    reason = link.setup()               # None, or why there is no link
    try:
        cmd = link.exec_prefix('src') + [binary, ...]
        uri = 'tcp:%s:%d' % (link.dst_addr, port)
    finally:
        link.cleanup()                  # also at exit (atexit)

Why tbf: it is what this kernel has (CONFIG_NET_SCH_TBF; sch_netem,
whose "rate" would do too, is not built: "Specified qdisc kind is
unknown"), and it shapes where netem only delays.  Its burst is one
millisecond at RATE (1.25 MB at 10 Gbit/s: at least one 64 KiB GSO
packet, and enough that the hrtimer's granularity does not cut the
rate) and it queues up to 5 ms at RATE.  See tests/bench/README.md for
what a plain TCP stream gets through it here.

Needs root, `ip` and `tc` (iproute2).  The names carry the harness's PID,
so that two harnesses, or other tests' namespaces, do not collide.
"""
import atexit
import os
import re
import shutil
import subprocess

SUBNET = '10.253.0.%d/30'
UNITS = {'bit': 1, 'kbit': 10 ** 3, 'mbit': 10 ** 6, 'gbit': 10 ** 9,
         'tbit': 10 ** 12}


def parse_rate(text):
    """Bits per second from a tc rate such as '10gbit'; None if bad."""
    m = re.fullmatch(r'\s*([0-9]+(?:\.[0-9]+)?)\s*([kmgt]?bit)\s*',
                     text.lower())
    if not m:
        return None
    return int(float(m.group(1)) * UNITS[m.group(2)])


class Link:
    """Two namespaces, a veth pair, tbf on both ends; see the module."""

    def __init__(self, rate):
        self.rate = rate
        self.bps = parse_rate(rate)
        pid = os.getpid()
        self.ns = {'src': 'ferry-bench-src-%d' % pid,
                   'dst': 'ferry-bench-dst-%d' % pid}
        self.dev = {'src': 'fbs%d' % pid, 'dst': 'fbd%d' % pid}
        self.addr = {'src': SUBNET % 1, 'dst': SUBNET % 2}
        self.dst_addr = (SUBNET % 2).split('/')[0]
        self.created = []
        self._registered = False

    def _run(self, cmd):
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True)
        if r.returncode:
            raise OSError('%s: %s' % (' '.join(cmd),
                                      (r.stderr or r.stdout).strip()))
        return r.stdout

    def unavailable(self):
        """Why there can be no link here, or None."""
        if self.bps is None:
            return 'bad rate %r (e.g. 10gbit)' % self.rate
        for tool in ('ip', 'tc'):
            if not shutil.which(tool):
                return '%s not found (apt install iproute2)' % tool
        if os.geteuid() != 0:
            return 'not root (ip netns add needs CAP_SYS_ADMIN)'
        try:
            self._run(['ip', 'netns', 'list'])
        except OSError as e:
            return 'ip netns is unavailable: %s' % e
        return None

    def setup(self):
        """Makes the link; None, or why it cannot be (nothing is left)."""
        why = self.unavailable()
        if why:
            return why
        if not self._registered:
            atexit.register(self.cleanup)
            self._registered = True
        # One millisecond at the rate, at least a 64 KiB GSO packet.
        burst = max(self.bps // 8 // 1000, 128 * 1024)
        try:
            for side in ('src', 'dst'):
                self._run(['ip', 'netns', 'add', self.ns[side]])
                self.created.append(self.ns[side])
            # Made inside the namespaces: nothing is left in ours.
            self._run(['ip', 'link', 'add', self.dev['src'], 'netns',
                       self.ns['src'], 'type', 'veth', 'peer', 'name',
                       self.dev['dst'], 'netns', self.ns['dst']])
            for side in ('src', 'dst'):
                ns, dev = self.ns[side], self.dev[side]
                self._run(['ip', '-n', ns, 'addr', 'add', self.addr[side],
                           'dev', dev])
                self._run(['ip', '-n', ns, 'link', 'set', dev, 'up'])
                self._run(['ip', '-n', ns, 'link', 'set', 'lo', 'up'])
                self._run(['tc', '-n', ns, 'qdisc', 'add', 'dev', dev,
                           'root', 'tbf', 'rate', self.rate,
                           'burst', str(burst), 'latency', '5ms'])
        except OSError as e:
            self.cleanup()
            return str(e)
        return None

    def describe(self):
        return ('tcp between network namespaces %s and %s over veth, '
                'each direction shaped by tc tbf rate %s' %
                (self.ns['src'], self.ns['dst'], self.rate))

    def exec_prefix(self, side):
        """The command prefix that runs a program in @side's namespace
        (ip execs it: the process keeps ip's PID)."""
        return ['ip', 'netns', 'exec', self.ns[side]]

    def shaper_stats(self, side='src'):
        """(bytes sent, overlimits) of @side's tbf, or None."""
        try:
            out = self._run(['tc', '-n', self.ns[side], '-s', 'qdisc',
                             'show', 'dev', self.dev[side]])
        except OSError:
            return None
        m = re.search(r'Sent (\d+) bytes \d+ pkt \(dropped \d+, '
                      r'overlimits (\d+)', out)
        return (int(m.group(1)), int(m.group(2))) if m else None

    def cleanup(self):
        """Deletes the namespaces (and with them the veth pair)."""
        while self.created:
            ns = self.created.pop()
            try:
                self._run(['ip', 'netns', 'del', ns])
            except OSError as e:
                print('benchnetns: could not delete %s: %s' % (ns, e),
                      flush=True)
