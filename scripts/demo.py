#!/usr/bin/env python3
"""ferry demo: a live postcopy migration between two local ferry processes.

A 1 GiB source VM is filled with pseudo-random data (QEMU's generic loader)
and a "guest" keeps writing to it through qtest while precopy runs.  After
a while the demo sends migrate-start-postcopy: the source stops, the
destination resumes at once and the remaining pages follow in the
background, while a reader on the destination touches pages that have not
arrived yet -- each such read faults (userfaultfd), the page is requested
from the source over the return path and placed atomically.  Progress is
printed as it goes; at the end both memories are compared byte for byte
and a summary is printed.

    scripts/demo.py [--ram SIZE] [--switch-after SECONDS] [--no-preempt]
                    [--max-bandwidth SIZE] [--max-postcopy-bandwidth SIZE]
"""
import argparse
import hashlib
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qmp import QMP, QMPError  # noqa: E402
from migrate import Migration, human, parse_size  # noqa: E402

FERRY = os.environ.get('FERRY', os.path.join(
    os.path.dirname(os.path.abspath(__file__)), '..', 'build', 'ferry'))
PAGE = 4096
CHUNK = 64 << 20            # the random image, loaded at several addresses


class QTest:
    """A qtest connection (one request at a time)."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(path)
        self.f = self.sock.makefile('rwb', buffering=0)

    def cmd(self, line):
        self.f.write(line.encode() + b'\n')
        reply = self.f.readline().decode().strip()
        if not reply.startswith('OK'):
            raise RuntimeError('qtest %s: %s' % (line, reply))
        return reply

    def readq(self, addr):
        return int(self.cmd('readq 0x%x' % addr).split()[1], 16)

    def writeq(self, addr, val):
        self.cmd('writeq 0x%x 0x%x' % (addr, val))

    def close(self):
        self.sock.close()


def start(tmp, name, ram, extra):
    qmp = os.path.join(tmp, name + '.qmp')
    qt = os.path.join(tmp, name + '.qtest')
    args = [FERRY, '-name', name, '-M', 'none', '-m', '%dM' % (ram >> 20),
            '-nodefaults', '-display', 'none',
            '-qmp', 'unix:%s,server=on,wait=off' % qmp,
            '-qtest', 'unix:%s,server=on,wait=off' % qt] + extra
    proc = subprocess.Popen(args)
    q = QMP(qmp)
    return proc, q, QTest(qt)


class Writer(threading.Thread):
    """The running guest on the source: dirties pages until stopped."""

    def __init__(self, qt, ram):
        super().__init__(daemon=True)
        self.qt, self.ram = qt, ram
        self.stop = threading.Event()
        self.writes = 0
        self.pages = set()

    def run(self):
        rng = random.Random(7)
        while not self.stop.is_set():
            page = rng.randrange(self.ram // PAGE)
            self.qt.writeq(page * PAGE + 8 * (self.writes % 512),
                           0x600d000000000000 | self.writes)
            self.pages.add(page)
            self.writes += 1


class Reader(threading.Thread):
    """The guest on the destination: touches pages during postcopy and
    times each read against a second read of the same, now present page."""

    def __init__(self, qt, ram):
        super().__init__(daemon=True)
        self.qt, self.ram = qt, ram
        self.stop = threading.Event()
        self.extra_us = []
        self.seen = {}

    def run(self):
        rng = random.Random(11)
        while not self.stop.is_set():
            addr = rng.randrange(self.ram // PAGE) * PAGE + 16
            t0 = time.perf_counter()
            v = self.qt.readq(addr)
            t1 = time.perf_counter()
            self.qt.readq(addr)
            t2 = time.perf_counter()
            self.extra_us.append(((t1 - t0) - (t2 - t1)) * 1e6)
            self.seen[addr] = v


def percentile(vals, p):
    s = sorted(vals)
    return s[min(len(s) - 1, int(len(s) * p / 100.0))] if s else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--ram', type=parse_size, default=1 << 30)
    ap.add_argument('--switch-after', type=float, default=1.5)
    ap.add_argument('--max-bandwidth', type=parse_size, default=256 << 20)
    ap.add_argument('--max-postcopy-bandwidth', type=parse_size,
                    default=128 << 20)
    ap.add_argument('--no-preempt', action='store_true',
                    help='without postcopy-preempt (requested pages then '
                    'share the connection with the background push)')
    a = ap.parse_args()
    ram = a.ram
    tmp = tempfile.mkdtemp(prefix='ferry-demo-')
    procs = []
    try:
        image = os.path.join(tmp, 'image.bin')
        with open(image, 'wb') as f:
            f.write(random.Random(1).randbytes(min(CHUNK, ram // 2)))
        loaders = []
        for addr in range(1 << 20, ram * 3 // 4, CHUNK * 2):
            loaders += ['-device', 'loader,file=%s,addr=0x%x' % (image, addr)]
        sock = os.path.join(tmp, 'migration.sock')
        src, sq, sqt = start(tmp, 'source', ram, loaders)
        procs.append(src)
        dst, dq, dqt = start(tmp, 'destination', ram,
                             ['-incoming', 'unix:' + sock])
        procs.append(dst)
        print('ferry demo: %s guest, source pid %d, destination pid %d '
              '(-incoming unix:%s)' % (human(ram), src.pid, dst.pid, sock))
        print('precopy at %s/s for %.1f s while the guest writes, then '
              'postcopy with the background push at %s/s%s\n' % (
                  human(a.max_bandwidth), a.switch_after,
                  human(a.max_postcopy_bandwidth),
                  '' if a.no_preempt else
                  ', requested pages on a second connection (preempt)'))

        writer = Writer(sqt, ram)
        reader = Reader(dqt, ram)
        mig = Migration(sq, dq, 'unix:' + sock, postcopy=True,
                        switch_after=a.switch_after, params={
                            'max-bandwidth': a.max_bandwidth,
                            'max-postcopy-bandwidth':
                                a.max_postcopy_bandwidth})
        mig.caps['postcopy-blocktime'] = True
        if not a.no_preempt:
            mig.caps['postcopy-preempt'] = True
        orig_switch = mig.switch

        def switch():
            # The guest stops writing when its VM stops.
            writer.stop.set()
            writer.join()
            orig_switch()
        mig.switch = switch

        def on_sample(m):
            if m.last_dst.get('status') == 'postcopy-active' and \
                    not reader.is_alive() and not reader.stop.is_set():
                reader.start()
        writer.start()
        try:
            ok = mig.run(on_sample)
        except QMPError as e:
            # Typically: no userfaultfd for this user (the message says
            # what to set); nothing else to show then.
            writer.stop.set()
            print('demo: %s' % e, file=sys.stderr)
            return 1
        reader.stop.set()
        if reader.is_alive():
            reader.join()
        print('\n' + mig.summary())
        print('  guest on the source wrote %d times to %d pages during '
              'precopy' % (writer.writes, len(writer.pages)))
        if reader.extra_us:
            print('  guest on the destination read %d pages during postcopy: '
                  'extra time over a present page p50 %.0f us, p99 %.0f us' %
                  (len(reader.extra_us), percentile(reader.extra_us, 50),
                   percentile(reader.extra_us, 99)))

        # Verify: the stopped source is the reference.
        sdump = os.path.join(tmp, 'source.mem')
        ddump = os.path.join(tmp, 'destination.mem')
        sq.cmd('pmemsave', val=0, size=ram, filename=sdump)
        dq.cmd('pmemsave', val=0, size=ram, filename=ddump)
        same = True
        bad = 0
        with open(sdump, 'rb') as fs, open(ddump, 'rb') as fd:
            h = hashlib.sha256()
            while True:
                x, y = fs.read(1 << 20), fd.read(1 << 20)
                if not x and not y:
                    break
                h.update(x)
                if x != y:
                    same = False
                    bad += 1
        for addr, v in reader.seen.items():
            with open(sdump, 'rb') as fs:
                fs.seek(addr)
                if int.from_bytes(fs.read(8), 'little') != v:
                    same = False
        print('  memory: %s (sha256 %s...)' % (
            'identical on both sides, byte for byte' if same else
            'DIFFERS in %d MiB chunks' % bad, h.hexdigest()[:16]))
        st = dq.cmd('query-status')['status']
        print('  destination VM is %s, source VM is %s' % (
            st, sq.cmd('query-status')['status']))
        ok = ok and same and st == 'running'
        print('demo %s' % ('passed' if ok else 'FAILED'))
        return 0 if ok else 1
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
