"""The postcopy fault map of a ferry run: trace the destination, then draw.

postcopy-latency.py --fault-map DIR starts each ferry destination with
"-msg timestamp=on" and the trace events that tests/bench/fault-map reads
(it lists them: fault-map --events), and after the run has the tool draw
the map (guest pages across, time since the switch down; pages placed
because a fault requested them red, pages the background push brought
blue) into DIR.  ferry only: QEMU 7.2 names and formats its postcopy trace
events differently.  Tracing every placement slows the destination down.
Standard library only.
"""
import json
import os
import subprocess
from pathlib import Path


class FaultMapError(Exception):
    pass


def tool_path(ferry):
    """The fault-map binary of the build tree @ferry was built in."""
    return str(Path(ferry).resolve().parent / 'tests' / 'bench' /
               'fault-map')


def events(tool):
    """The trace events @tool reads."""
    try:
        p = subprocess.run([tool, '--events'], capture_output=True,
                           text=True, timeout=30)
    except OSError as e:
        raise FaultMapError('%s: %s' % (tool, e))
    if p.returncode or not p.stdout.split():
        raise FaultMapError('%s --events failed: %s' % (tool,
                                                        p.stderr.strip()))
    return p.stdout.split()


def trace_args(evs, path=None):
    """ferry arguments that trace @evs; to @path with timestamps, unless
    the process already traces to a file (path None)."""
    args = ['-msg', 'timestamp=on', '-D', path] if path else []
    for ev in evs:
        args += ['-trace', ev]
    return args


def render(tool, trace, png, title):
    """Draws @trace into @png; the tool's numbers (a dict)."""
    p = subprocess.run([tool, '--json', '--title', title, trace, png],
                       capture_output=True, text=True, timeout=300)
    if p.returncode:
        raise FaultMapError(p.stderr.strip() or 'fault-map exited %d'
                            % p.returncode)
    return json.loads(p.stdout)


def describe(fm):
    """One line for the benchmark's log."""
    if 'error' in fm:
        return 'fault map failed: %s' % fm['error']
    return ('fault map %s: %d requested, %d pushed, %d before the switch, '
            '%.3f s' % (fm['png'], fm['requested'], fm['pushed'],
                        fm['before_switch'], fm['postcopy_s']))


def unlink(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
