#!/usr/bin/env python3
"""postcopy-recover-bench: a broken postcopy link, ferry next to QEMU 7.2.

A guest of SIZE bytes (default 1 GiB) of random content (no zero pages,
so every page sent costs what it weighs) is migrated with postcopy
between two processes of the same implementation, through a relay in this
script, with the push capped (--cap, default 128 MiB/s).  When the
source has put CUT bytes (default a quarter of RAM) through the relay,
the link breaks:

  close   the relay closes both sockets (the peers see them close);
  stall   the relay stops forwarding and closes nothing (a frozen peer,
          a pulled cable): only a side that watches the link notices.

Measured, per side, from the MIGRATION events' own timestamps:

  detect   cut -> postcopy-paused.  QEMU has no link timeout: in the
           stall case it never notices; after --stall-wait seconds the
           script pauses it with migrate-pause to go on.
  recover  migrate-recover on the destination -> postcopy-active again.

and, through a second relay on the recovery's connections:

  missing  pages the destination lacked: the zero bits of the received
           bitmaps it sends back in the handshake (RP RECV_BITMAP);
  resent   bytes the source sent after the recovery (main and preempt
           connections, protocol included), compared with missing x 4096:
           the excess is what was sent again without need.

ferry runs with -global migration.x-link-timeout=--link-timeout (default
5000 ms); its target: a stall noticed within the timeout plus a second on
both sides, and an excess of resent bytes under 1 %.  Memory is compared
with the image at the end (pmemsave).  Then one JSON line.

A benchmark, not a test: exit 0 unless a run failed or memory was wrong
(1); bad arguments 2.  Standard library only.
"""
import argparse
import json
import os
import select
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'scripts'))
from qmp import QMP  # noqa: E402
sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchimpls  # noqa: E402

DEFAULT_QEMU = '/usr/bin/qemu-system-x86_64'
PAGE = 4096


class BenchError(Exception):
    pass


class Relay:
    """Forwards every connection on @listen to @target; cut() closes them
    all, stall() stops forwarding.  Counts the bytes from the source and
    parses the return path's RECV_BITMAP blobs (--> missing pages)."""

    def __init__(self, listen, target):
        self.target = target
        self.lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.lsock.bind(listen)
        self.lsock.listen(8)
        self.lock = threading.Lock()
        self.pairs = []             # [src, dst, dst->src parser]
        self.up_bytes = 0
        self.missing = 0
        self.pages = 0              # pages of the one RAM block
        self.stalled = False
        self.quit = False
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while not self.quit:
            with self.lock:
                stalled = self.stalled
                socks = [self.lsock] + ([] if stalled else
                                        [s for p in self.pairs
                                         for s in p[:2] if s])
            r, _, _ = select.select(socks, [], [], 0.05)
            for s in r:
                if s is self.lsock:
                    c, _ = self.lsock.accept()
                    d = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    d.connect(self.target)
                    with self.lock:
                        self.pairs.append([c, d, RPParser(self)])
                    continue
                self.forward(s)

    def forward(self, s):
        with self.lock:
            for p in self.pairs:
                if s in p[:2]:
                    break
            else:
                return
            try:
                data = s.recv(1 << 16)
            except OSError:
                data = b''
            if not data:
                for x in p[:2]:
                    if x:
                        x.close()
                p[0] = p[1] = None
                return
            out = p[1] if s is p[0] else p[0]
            if s is p[0]:
                self.up_bytes += len(data)
            else:
                p[2].feed(data)
        try:
            out.sendall(data)
        except OSError:
            pass

    def cut(self):
        with self.lock:
            for p in self.pairs:
                for x in p[:2]:
                    if x:
                        try:
                            x.shutdown(socket.SHUT_RDWR)
                        except OSError:
                            pass
                        x.close()
                p[0] = p[1] = None

    def stall(self):
        with self.lock:
            self.stalled = True

    def bytes_from_source(self):
        with self.lock:
            return self.up_bytes

    def close(self):
        self.quit = True
        self.thread.join()
        self.cut()
        self.lsock.close()


class RPParser:
    """The return path's messages (spec §6): counts the missing pages in
    RECV_BITMAP blobs.  Reads only; the bytes are forwarded untouched."""

    def __init__(self, relay):
        self.relay = relay
        self.buf = b''
        self.blob = None            # bytes still expected of a blob

    def feed(self, data):
        self.buf += data
        while True:
            if self.blob == -1:             # a blob's be64 size
                if len(self.buf) < 8:
                    return
                self.blob = struct.unpack('>Q', self.buf[:8])[0] + 8
                self.buf = self.buf[8:]
            if self.blob is not None:       # the bitmap and its end mark
                if len(self.buf) < self.blob:
                    return
                self.count(self.buf[:self.blob])
                self.buf = self.buf[self.blob:]
                self.blob = None
                continue
            if len(self.buf) < 4:
                return
            typ, ln = struct.unpack('>HH', self.buf[:4])
            if len(self.buf) < 4 + ln:
                return
            self.buf = self.buf[4 + ln:]
            if typ == 5:                    # RECV_BITMAP: then the blob
                self.blob = -1

    def count(self, blob):
        bits = blob[:-8]
        # Pages of this RAM block: those it was sized for (see the bench's
        # --size); padding bits are zero and are not pages.
        pages = self.relay.pages
        have = sum(bin(b).count('1') for b in bits)
        self.relay.missing += pages - have


class Run:
    def __init__(self, args, impl, binary, case, preempt, image, tmp):
        self.args, self.impl, self.binary = args, impl, binary
        self.case, self.preempt = case, preempt
        self.image, self.tmp = image, tmp
        self.procs = []

    def start(self, name, extra):
        qmp = os.path.join(self.tmp, '%s-%s.qmp' % (self.impl, name))
        cmd = [self.binary, '-M', 'none', '-m', '%dM' % (self.args.size >> 20),
               '-nodefaults', '-display', 'none',
               '-qmp', 'unix:%s,server=on,wait=off' % qmp] + extra
        if self.impl == 'ferry':
            cmd += ['-global', 'migration.x-link-timeout=%d' %
                    self.args.link_timeout]
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

    @staticmethod
    def status_event(q, status, deadline, after=0):
        """The first MIGRATION event with @status stamped after @after:
        its timestamp, or None."""
        while True:
            for ev in list(q.events):
                if ev['event'] != 'MIGRATION':
                    continue
                ts = ev['timestamp']
                ts = ts['seconds'] + ts['microseconds'] / 1e6
                if ts < after:
                    q.events.remove(ev)
                elif ev['data']['status'] == status:
                    q.events.remove(ev)
                    return ts
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            q.pump(min(left, 0.1))

    def run(self):
        t = self.tmp
        dsock, rsock = os.path.join(t, 'd.sock'), os.path.join(t, 'r.sock')
        d2sock, r2sock = os.path.join(t, 'd2.sock'), os.path.join(t, 'r2.sock')
        for p in (dsock, rsock, d2sock, r2sock):
            if os.path.exists(p):
                os.unlink(p)
        relay = Relay(rsock, dsock)
        relay2 = None
        try:
            dst = self.start('dst', ['-incoming', 'unix:' + dsock])
            src = self.start('src', ['-device', 'loader,file=%s,addr=0' %
                                     self.image])
            caps = ['events', 'postcopy-ram']
            if self.preempt:
                caps.append('postcopy-preempt')
            for q in (src, dst):
                q.cmd('migrate-set-capabilities', capabilities=[
                    {'capability': c, 'state': True} for c in caps])
            src.cmd('migrate-set-parameters', **{
                'max-bandwidth': 8 << 20,
                'max-postcopy-bandwidth': self.args.cap})
            src.cmd('migrate', uri='unix:' + rsock)
            src.cmd('migrate-start-postcopy')
            dst.wait_event('RESUME', timeout=60)
            deadline = time.monotonic() + 120
            while relay.bytes_from_source() < self.args.cut:
                if time.monotonic() > deadline:
                    raise BenchError('%s: the push did not reach the cut'
                                     % self.impl)
                src.pump(0.005)
            cut = time.time()
            if self.case == 'close':
                relay.cut()
            else:
                relay.stall()
            wait = self.args.stall_wait if self.case == 'stall' else 30
            end = time.monotonic() + wait
            det = {}
            for name, q in (('src', src), ('dst', dst)):
                ts = self.status_event(q, 'postcopy-paused', end, after=cut)
                det[name] = None if ts is None else (ts - cut) * 1000
            for name, q in (('src', src), ('dst', dst)):
                if det[name] is None:
                    # Not noticed (QEMU, stalled): paused by hand.
                    q.cmd('migrate-pause')
                    if self.status_event(q, 'postcopy-paused',
                                         time.monotonic() + 30) is None:
                        raise BenchError('%s %s: no pause' % (self.impl,
                                                              name))
            relay.close()
            relay = None
            # The recovery, through a relay that reads the bitmaps.
            relay2 = Relay(r2sock, d2sock)
            relay2.pages = self.args.size // PAGE
            t0 = time.time()
            dst.cmd('migrate-recover', uri='unix:' + d2sock)
            src.cmd('migrate', uri='unix:' + r2sock, resume=True)
            rec = {}
            for name, q in (('src', src), ('dst', dst)):
                ts = self.status_event(q, 'postcopy-active',
                                       time.monotonic() + 60, after=t0)
                if ts is None:
                    raise BenchError('%s %s: did not recover' % (self.impl,
                                                                 name))
                rec[name] = (ts - t0) * 1000
            src.cmd('migrate-set-parameters',
                    **{'max-postcopy-bandwidth': 0})
            for q in (src, dst):
                if self.status_event(q, 'completed',
                                     time.monotonic() + 120) is None:
                    raise BenchError('%s: did not complete: %s' % (
                        self.impl, q.cmd('query-migrate')))
            resent = relay2.bytes_from_source()
            missing = relay2.missing
            out = os.path.join(t, 'mem.bin')
            dst.cmd('pmemsave', val=0, size=self.args.size, filename=out)
            with open(out, 'rb') as a, open(self.image, 'rb') as b:
                while True:
                    x, y = a.read(1 << 20), b.read(1 << 20)
                    if x != y:
                        raise BenchError('%s: memory differs' % self.impl)
                    if not x:
                        break
            os.unlink(out)
            return {
                'detect_src_ms': det['src'], 'detect_dst_ms': det['dst'],
                'recover_src_ms': rec['src'], 'recover_dst_ms': rec['dst'],
                'missing_pages': missing, 'resent_bytes': resent,
                'excess_pct': (resent / (missing * PAGE) - 1) * 100
                if missing else None,
            }
        finally:
            if relay:
                relay.close()
            if relay2:
                relay2.close()
            self.stop()


def fmt(v, unit=''):
    if v is None:
        return 'never'
    return '%.0f%s' % (v, unit)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                 epilog='See tests/bench/README.md.')
    ap.add_argument('--size', type=benchimpls.parse_size, default=1 << 30)
    ap.add_argument('--runs', type=int, default=2)
    ap.add_argument('--cap', type=benchimpls.parse_size, default=128 << 20,
                    help='max-postcopy-bandwidth before the cut (bytes/s)')
    ap.add_argument('--cut', type=benchimpls.parse_size, default=None,
                    help='cut after this many bytes (default size/4)')
    ap.add_argument('--link-timeout', type=int, default=5000,
                    help="ferry's x-link-timeout, ms (default 5000)")
    ap.add_argument('--stall-wait', type=float, default=15.0,
                    help='seconds to wait for a stall to be noticed '
                    '(default 15)')
    ap.add_argument('--cases', default='close,stall')
    ap.add_argument('--modes', default='plain,preempt')
    ap.add_argument('--ferry', default=str(ROOT / 'build' / 'ferry'))
    ap.add_argument('--qemu', default=DEFAULT_QEMU)
    ap.add_argument('--impls', default='ferry,qemu')
    ap.add_argument('--json-only', action='store_true')
    args = ap.parse_args()
    if args.size % (1 << 20) or args.size <= 0:
        ap.error('--size must be a whole number of MiB')
    args.cut = args.cut or args.size // 4
    impls = []
    for name in [i for i in args.impls.split(',') if i]:
        binary = args.ferry if name == 'ferry' else args.qemu
        if name not in ('ferry', 'qemu'):
            ap.error('--impls takes ferry and/or qemu')
        if not os.access(binary, os.X_OK):
            print('%s not found at %s: left out' % (name, binary))
            continue
        impls.append((name, binary))

    def log(msg=''):
        if not args.json_only:
            print(msg, flush=True)

    signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))
    shm = '/dev/shm' if shutil.disk_usage('/dev/shm').free > \
        args.size * 3 else None
    tmp = tempfile.mkdtemp(prefix='postcopy-recover-', dir=shm)
    results = {}
    try:
        image = os.path.join(tmp, 'ram.img')
        with open(image, 'wb') as f:
            for _ in range(args.size >> 20):
                f.write(os.urandom(1 << 20))
        log('postcopy-recover-bench: %d MiB guest, cut after %d MiB, push '
            'capped at %d MiB/s, ferry x-link-timeout %d ms, %d runs' % (
                args.size >> 20, args.cut >> 20, args.cap >> 20,
                args.link_timeout, args.runs))
        try:
            thp = open('/sys/kernel/mm/transparent_hugepage/enabled').read()
            log('host: %d CPUs, THP %s' % (os.cpu_count(), thp.strip()))
        except OSError:
            pass
        for mode in [m for m in args.modes.split(',') if m]:
            for case in [c for c in args.cases.split(',') if c]:
                key = '%s/%s' % (mode, case)
                results[key] = {}
                for name, binary in impls:
                    rs = []
                    for _ in range(args.runs):
                        rs.append(Run(args, name, binary, case,
                                      mode == 'preempt', image, tmp).run())
                    results[key][name] = rs
                    log('%-14s %-5s detect src %s / dst %s ms; recover src %s'
                        ' / dst %s ms; missing %s pages, resent %s MiB, '
                        'excess %s' % (
                            key, name,
                            '/'.join(fmt(r['detect_src_ms']) for r in rs),
                            '/'.join(fmt(r['detect_dst_ms']) for r in rs),
                            '/'.join(fmt(r['recover_src_ms']) for r in rs),
                            '/'.join(fmt(r['recover_dst_ms']) for r in rs),
                            '/'.join(str(r['missing_pages']) for r in rs),
                            '/'.join('%.1f' % (r['resent_bytes'] / 2**20)
                                     for r in rs),
                            '/'.join('%.2f%%' % r['excess_pct']
                                     if r['excess_pct'] is not None else '-'
                                     for r in rs)))
        print(json.dumps({'bench': 'postcopy-recover',
                          'size': args.size, 'cut': args.cut,
                          'cap': args.cap,
                          'link_timeout_ms': args.link_timeout,
                          'results': results}))
    except BenchError as e:
        print('postcopy-recover-bench: %s' % e, file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
