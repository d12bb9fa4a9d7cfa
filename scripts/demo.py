#!/usr/bin/env python3
"""ferry demo: two ferry processes, driven over QMP the way a QEMU
management tool drives QEMU.

It starts a "source" (running) and a "destination" (-S, paused) VM, each
with 256 MiB of RAM, fills the source's RAM with a pattern through qtest,
reads it back with QMP pmemsave, checks it byte for byte, stops and
resumes the VMs watching their STOP/RESUME events, and quits both.
(Live migration between the two arrives with the migration issues.)
"""
import base64
import hashlib
import os
import random
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qmp import QMP  # noqa: E402

FERRY = os.environ.get('FERRY', os.path.join(
    os.path.dirname(os.path.abspath(__file__)), '..', 'build', 'ferry'))
RAM = 256 << 20


def start(tmp, name, extra):
    qmp = os.path.join(tmp, name + '.qmp')
    qt = os.path.join(tmp, name + '.qtest')
    args = [FERRY, '-name', name, '-M', 'none', '-m', '256M',
            '-nodefaults', '-display', 'none',
            '-qmp', 'unix:%s,server=on,wait=off' % qmp,
            '-qtest', 'unix:%s,server=on,wait=off' % qt] + extra
    proc = subprocess.Popen(args)
    return proc, QMP(qmp), qt


def qtest(path, lines):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    f = s.makefile('rwb')
    out = []
    for line in lines:
        f.write(line.encode() + b'\n')
        f.flush()
        out.append(f.readline().decode().strip())
    s.close()
    return out


def main():
    tmp = tempfile.mkdtemp(prefix='ferry-demo-')
    procs = []
    try:
        src, sq, sqt = start(tmp, 'source', [])
        procs.append(src)
        dst, dq, _ = start(tmp, 'destination', ['-S'])
        procs.append(dst)
        for name, q in (('source', sq), ('destination', dq)):
            v = q.cmd('query-version')['qemu']
            print('%-12s pid %-7d QMP %d.%d  status %-10s name %s' % (
                name, (src if name == 'source' else dst).pid, v['major'],
                v['minor'], q.cmd('query-status')['status'],
                q.cmd('query-name')['name']))

        # Fill 16 MiB of the source's RAM in 64 KiB qtest writes.
        rng = random.Random(1)
        chunk = 64 << 10
        data = bytes(rng.getrandbits(8) for _ in range(chunk))
        t0 = time.monotonic()
        reqs = ['b64write 0x%x 0x%x %s' % (a, chunk,
                                           base64.b64encode(data).decode())
                for a in range(0x100000, 0x100000 + (16 << 20), chunk)]
        replies = qtest(sqt, reqs)
        assert all(r == 'OK' for r in replies), replies[:3]
        print('source: wrote 16 MiB through qtest in %.2f s' %
              (time.monotonic() - t0))
        out = os.path.join(tmp, 'dump.bin')
        sq.cmd('pmemsave', val=0x100000, size=16 << 20, filename=out)
        with open(out, 'rb') as f:
            dump = f.read()
        ok = dump == data * ((16 << 20) // chunk)
        print('source: pmemsave of the same range %s (sha256 %s...)' % (
            'matches byte for byte' if ok else 'DIFFERS',
            hashlib.sha256(dump).hexdigest()[:16]))

        sq.cmd('stop')
        sq.wait_event('STOP')
        print('source: stop -> STOP event, status %s' %
              sq.cmd('query-status')['status'])
        dq.cmd('cont')
        dq.wait_event('RESUME')
        print('destination: cont -> RESUME event, status %s' %
              dq.cmd('query-status')['status'])
        for name, q, p in (('source', sq, src), ('destination', dq, dst)):
            q.cmd('quit')
            ev = q.wait_event('SHUTDOWN')
            p.wait(timeout=30)
            print('%s: quit -> SHUTDOWN (%s), exit code %d' % (
                name, ev['data']['reason'], p.returncode))
        print('demo %s' % ('passed' if ok else 'FAILED'))
        return 0 if ok else 1
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for f in os.listdir(tmp):
            os.unlink(os.path.join(tmp, f))
        os.rmdir(tmp)


if __name__ == '__main__':
    sys.exit(main())
