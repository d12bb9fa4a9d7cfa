#!/usr/bin/env python3
"""Tests for tests/bench/tracehops.py: the steps of a fault, from trace
files in ferry's "-msg timestamp=on" format.  Prints TAP."""
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'bench'))
import tracehops  # noqa: E402

T0 = 1795885698.0


def line(tid, us, event, rest):
    return '%d@%.6f:%s %s\n' % (tid, T0 + us / 1e6, event, rest)


def main():
    results = []

    def check(name, cond):
        results.append((name, bool(cond)))

    with tempfile.TemporaryDirectory() as d:
        src, dst = os.path.join(d, 'src'), os.path.join(d, 'dst')
        with open(dst, 'w') as f:
            # Page 0x1000: requested, sent directly.
            f.write(line(9, 0, 'postcopy_fault', 'ram 0x1000 tid 5'))
            f.write(line(9, 6, 'postcopy_request', 'ram 0x1000 len 0x1000'))
            f.write(line(8, 90, 'postcopy_request_done',
                         'ram 0x1000 after 90000 ns'))
            # Page 0x2000: queued, the migration thread sent it.
            f.write(line(9, 1000, 'postcopy_fault', 'ram 0x2000 tid 5'))
            f.write(line(9, 1010, 'postcopy_request',
                         'ram 0x2000 len 0x1000'))
            f.write('a line of something else\n')
            f.write(line(8, 1200, 'postcopy_request_done',
                         'ram 0x2000 after 200000 ns'))
            # Page 0x3000: the source never saw the request (incomplete).
            f.write(line(9, 2000, 'postcopy_fault', 'ram 0x3000 tid 5'))
            # A later fault on 0x1000 must not replace the first.
            f.write(line(9, 5000, 'postcopy_fault', 'ram 0x1000 tid 5'))
        with open(src, 'w') as f:
            f.write(line(3, 30, 'rp_req_pages', 'ram 0x1000 len 0x1000'))
            f.write(line(3, 50, 'ram_urgent_direct', 'ram 0x1000 1 pages'))
            f.write(line(3, 1040, 'rp_req_pages', 'ram 0x2000 len 0x1000'))
            f.write(line(4, 1100, 'ram_urgent_page', 'ram 0x2000'))
        h = tracehops.split(src, dst, [(0x1000, 100.0), (0x2000, 230.0),
                                       (0x3000, 500.0)])
        check('incomplete faults are left out', len(h['fault']) == 2)
        check('fault step', [round(x) for x in h['fault']] == [6, 10])
        check('return step', [round(x) for x in h['return']] == [24, 30])
        check('send step', [round(x) for x in h['send']] == [20, 60])
        check('arrive step', [round(x) for x in h['arrive']] == [40, 100])
        check('resume is the rest of the extra latency',
              [round(x) for x in h['resume']] == [10, 30])
        check('queued counted', h['queued'] == 1 and h['already'] == 0)
        m = tracehops.merge([h, h])
        check('merge pools', len(m['fault']) == 4 and m['queued'] == 2)
        missing = tracehops.split(os.path.join(d, 'none'), dst, [])
        check('a missing file gives no steps', missing['fault'] == [])
        args = tracehops.trace_args('dst', '/x')
        check('trace arguments', args[:4] == ['-msg', 'timestamp=on', '-D',
                                              '/x'] and
              args.count('-trace') == len(tracehops.DST_EVENTS))

    print('1..%d' % len(results))
    for i, (name, ok) in enumerate(results, 1):
        print('%s %d - %s' % ('ok' if ok else 'not ok', i, name))
    return 0 if all(ok for _, ok in results) else 1


if __name__ == '__main__':
    sys.exit(main())
