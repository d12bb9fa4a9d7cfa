"""benchthp: the host's transparent huge page mode, set for a run and put back.

Shared by precopy-bench.py and postcopy-latency.py (--thp): the mode in
/sys/kernel/mm/transparent_hugepage/enabled decides whether the guest RAM
of an emulator that does not madvise it (MADV_HUGEPAGE) gets 2 MiB pages,
and so how many page faults a destination takes to receive it.

    thp = benchthp.Switcher()           # remembers nothing yet
    try:
        for mode in benchthp.parse(ap, args.thp):   # [None]: leave it
            reason = thp.set(mode)      # None, or why it cannot be set
            ...
    finally:
        thp.restore()                   # the mode found at the first set()

The original mode is restored by restore(), and also at interpreter exit
(atexit) should the caller never get there; a signal the script turns
into an exception (SIGTERM, SIGHUP, Ctrl-C) unwinds through the caller's
finally.  Setting needs root and a writable file; without either a mode
other than the current one is reported as impossible (the caller skips
it and says why), and the current mode is always "set".
"""
import atexit
import os

PATH = '/sys/kernel/mm/transparent_hugepage/enabled'
DEFRAG_PATH = '/sys/kernel/mm/transparent_hugepage/defrag'
MODES = ('always', 'madvise', 'never')
THP_HELP = ('comma-separated transparent huge page modes to run under, '
            'from always, madvise, never (e.g. madvise,always): each is '
            'written to %s (as root) for its runs and the original mode '
            'is put back at the end; a mode that cannot be set is '
            'skipped with the reason; default: the host as it is' % PATH)


def add_arguments(ap):
    ap.add_argument('--thp', metavar='MODES', help=THP_HELP)


def parse(ap, text):
    """The modes of --thp TEXT in order; [None] (the host as it is) when
    TEXT is None.  Bad names are an argparse error."""
    if text is None:
        return [None]
    modes = [m for m in text.split(',') if m]
    if not modes or any(m not in MODES for m in modes) or \
            len(set(modes)) != len(modes):
        ap.error('--thp takes distinct modes from %s' % ', '.join(MODES))
    return modes


def _read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def current(path=PATH):
    """The selected mode ("always [madvise] never" -> "madvise"), or None."""
    text = _read(path)
    if not text:
        return None
    for word in text.split():
        if word.startswith('[') and word.endswith(']'):
            return word[1:-1]
    return None


def defrag():
    """The defrag mode, which decides whether a fault compacts memory."""
    return current(DEFRAG_PATH)


class Switcher:
    """Sets THP modes and puts the first one it saw back."""

    def __init__(self, path=PATH):
        self.path = path
        self.original = None
        self._registered = False

    def set(self, mode):
        """Makes @mode current; None on success, else why it cannot be.
        @mode None: leave the host as it is."""
        if mode is None:
            return None
        now = current(self.path)
        if now is None:
            return '%s is missing or unreadable (no THP in this kernel?)' % \
                self.path
        if now == mode:
            return None
        if os.geteuid() != 0:
            return 'not root (THP is %s, cannot write %s)' % (now, self.path)
        if not os.access(self.path, os.W_OK):
            return '%s is not writable (read-only /sys?)' % self.path
        if self.original is None:
            self.original = now
            if not self._registered:
                atexit.register(self.restore)
                self._registered = True
        try:
            with open(self.path, 'w') as f:
                f.write(mode)
        except OSError as e:
            return 'writing %s to %s failed: %s' % (mode, self.path, e)
        got = current(self.path)
        if got != mode:
            return 'wrote %s to %s but it reads %s' % (mode, self.path, got)
        return None

    def restore(self):
        """Back to the mode found before the first change (idempotent)."""
        if self.original is None:
            return
        mode, self.original = self.original, None
        try:
            with open(self.path, 'w') as f:
                f.write(mode)
        except OSError as e:
            print('benchthp: could not restore THP mode %s in %s: %s' %
                  (mode, self.path, e), flush=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.restore()
        return False
