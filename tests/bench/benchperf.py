"""benchperf: "perf record -g -p PID" of emulator processes while they migrate.

Shared by precopy-bench.py and postcopy-latency.py (--perf DIR):

    rec = benchperf.Recorder(DIR, [('ferry-1-src', pid), ...])
    ... migrate ...
    rec.stop()                  # SIGINT: perf writes DIR/NAME.perf.data

Read them with "perf report -i FILE --no-children --sort dso,sym".  perf
slows the processes down: profile with it, measure without.
"""
import os
import signal
import subprocess
import time

ATTACH_TIMEOUT = 10.0


class PerfError(Exception):
    pass


class Recorder:
    """One perf record per (name, pid); attached when the constructor
    returns, or PerfError (and nothing left running)."""

    def __init__(self, outdir, targets, timeout=ATTACH_TIMEOUT):
        self.procs = []
        for name, pid in targets:
            path = os.path.join(outdir, name + '.perf.data')
            log_path = os.path.join(outdir, name + '.perf.log')
            with open(log_path, 'wb') as logf:
                self.procs.append(subprocess.Popen(
                    ['perf', 'record', '-g', '-o', path, '-p', str(pid)],
                    stdin=subprocess.DEVNULL, stdout=logf,
                    stderr=subprocess.STDOUT, start_new_session=True))
        # perf attaches to the threads after it has started: wait until
        # each holds its perf_event fds (or has exited), with a deadline.
        deadline = time.monotonic() + timeout
        for p in self.procs:
            while p.poll() is None and not self.attached(p.pid):
                if time.monotonic() > deadline:
                    self.stop()
                    raise PerfError('perf record did not attach within '
                                    '%.0f s (see %s)' % (timeout, outdir))
                time.sleep(0.01)    # polling, with the deadline above
            if p.poll() is not None:
                self.stop()
                raise PerfError('perf record exited with status %d (see %s)'
                                % (p.returncode, outdir))

    @staticmethod
    def attached(pid):
        fd_dir = '/proc/%d/fd' % pid
        try:
            return any(os.readlink(os.path.join(fd_dir, fd)) ==
                       'anon_inode:[perf_event]' for fd in os.listdir(fd_dir))
        except OSError:
            return False

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in self.procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs = []
