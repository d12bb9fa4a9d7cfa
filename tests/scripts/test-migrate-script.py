#!/usr/bin/env python3
"""TAP tests for scripts/migrate.py and the README's demo (scripts/demo.py):
real ferry processes, real sockets; the demo verifies memory itself.

usage: test-migrate-script.py FERRY_BINARY
"""
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.join(HERE, '..', '..', 'scripts')
sys.path.insert(0, SCRIPTS)
from qmp import QMP, QMPError  # noqa: E402

FERRY = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else \
    os.path.join(HERE, '..', '..', 'build', 'ferry')
ENV = dict(os.environ, FERRY=FERRY)
results = []


def report(ok, name, skip=None, diag=''):
    n = len(results) + 1
    if skip:
        print('ok %d - %s # SKIP %s' % (n, name, skip))
    else:
        print('%s %d - %s' % ('ok' if ok else 'not ok', n, name))
    if diag and (not ok or skip):
        for line in diag.splitlines()[-30:]:
            print('# ' + line)
    sys.stdout.flush()
    results.append(ok)


def userfaultfd_reason(tmp):
    """None if this host can be a postcopy destination, else why not."""
    q = os.path.join(tmp, 'probe.qmp')
    p = subprocess.Popen([FERRY, '-M', 'none', '-m', '16M', '-incoming',
                          'defer', '-qmp', 'unix:%s,server=on,wait=off' % q])
    try:
        c = QMP(q)
        try:
            c.cmd('migrate-set-capabilities', capabilities=[
                {'capability': 'postcopy-ram', 'state': True}])
            return None
        except QMPError as e:
            return str(e)
    finally:
        p.terminate()
        if p.wait() != 0:
            report(False, 'the postcopy probe ended cleanly',
                   diag='exit code %d' % p.returncode)


class Pair:
    def __init__(self, tmp, ram='128M', defer=False, src_extra=()):
        self.tmp = tmp
        self.sq = os.path.join(tmp, 'src.qmp')
        self.dq = os.path.join(tmp, 'dst.qmp')
        self.uri = 'unix:' + os.path.join(tmp, 'mig.sock')
        base = [FERRY, '-M', 'none', '-m', ram, '-nodefaults']
        self.src = subprocess.Popen(
            base + ['-qmp', 'unix:%s,server=on,wait=off' % self.sq] +
            list(src_extra))
        self.dst = subprocess.Popen(
            base + ['-qmp', 'unix:%s,server=on,wait=off' % self.dq,
                    '-incoming', 'defer' if defer else self.uri],
            stderr=subprocess.PIPE, text=True)
        # Wait for both monitors.
        QMP(self.sq).close()
        QMP(self.dq).close()

    def migrate(self, *args):
        return subprocess.run(
            [sys.executable, os.path.join(SCRIPTS, 'migrate.py'), self.sq,
             self.dq] + list(args), capture_output=True, text=True,
            timeout=120, env=ENV)

    def close(self):
        """Ends both; returns how each ended (exit codes, < 0: signal)."""
        for p in (self.src, self.dst):
            if p.poll() is None:
                p.terminate()
            p.communicate(timeout=30)
        return self.src.returncode, self.dst.returncode


def run_pair(tmp, name, args, check, **kw):
    """Runs migrate.py on a pair; both must then end cleanly (exit 0 on
    SIGTERM: a crash, a hang or a sanitizer report at exit fails)."""
    pair = Pair(tmp, **kw)
    ok = False
    out = ''
    try:
        r = pair.migrate(*args)
        out = r.stdout + r.stderr
        ok = check(r, out)
    finally:
        codes = pair.close()
    if codes != (0, 0):
        out += '\nexit codes (source, destination): %s' % (codes,)
    report(ok and codes == (0, 0), name, diag=out)


def main():
    tmp = tempfile.mkdtemp(prefix='test-migrate-script-')
    try:
        print('1..6')
        why = userfaultfd_reason(tmp)
        image = os.path.join(tmp, 'img')
        with open(image, 'wb') as f:
            f.write(os.urandom(8 << 20))
        loader = ['-device', 'loader,file=%s,addr=0x100000' % image]

        def ok_complete(r, out):
            return r.returncode == 0 and \
                'source completed, destination completed' in out and \
                'transferred' in out

        sock_uri = 'unix:' + os.path.join(tmp, 'mig.sock')
        run_pair(tmp, 'precopy: both sides complete, summary printed',
                 [sock_uri], ok_complete, src_extra=loader)
        run_pair(tmp, 'precopy with --defer and a bandwidth limit',
                 [sock_uri, '--defer', '--max-bandwidth', '64M'],
                 ok_complete, defer=True, src_extra=loader)
        run_pair(tmp, 'unreachable destination: exit 1 with the reason',
                 ['unix:' + os.path.join(tmp, 'nobody.sock')],
                 lambda r, o: r.returncode == 1 and 'failed' in o and
                 'error' in o, src_extra=loader)
        if why:
            report(True, 'postcopy at once', skip='no postcopy: ' + why)
            report(True, 'postcopy after precopy', skip='no postcopy: ' + why)
            report(True, 'demo', skip='no postcopy: ' + why)
            return 0

        def ok_postcopy(r, out):
            return ok_complete(r, out) and 'postcopy-active' in out and \
                'migrate-start-postcopy' in out and \
                'destination page requests' in out

        # A slow precopy, so that the switch always comes before the
        # first pass could send everything and complete in precopy.
        run_pair(tmp, 'postcopy at once, limited push',
                 [sock_uri, '--postcopy', '--switch-after', '0',
                  '--max-bandwidth', '4M',
                  '--max-postcopy-bandwidth', '64M', '--blocktime'],
                 lambda r, o: ok_postcopy(r, o) and 'blocktime' in o,
                 src_extra=loader)
        run_pair(tmp, 'postcopy after precopy',
                 [sock_uri, '--postcopy', '--switch-after', '0.3',
                  '--max-bandwidth', '16M', '--interval', '0.1'],
                 ok_postcopy, src_extra=loader)
        r = subprocess.run([sys.executable,
                            os.path.join(SCRIPTS, 'demo.py'), '--ram', '256M',
                            '--switch-after', '0.5'],
                           capture_output=True, text=True, timeout=300,
                           env=ENV)
        out = r.stdout + r.stderr
        report(r.returncode == 0 and 'demo passed' in out and
               'identical on both sides' in out, 'demo (README main job)',
               diag=out)
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
    sys.exit(0 if all(results) else 1)
