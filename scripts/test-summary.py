#!/usr/bin/env python3
"""Counts test cases in meson test logs and prints "N passed, N failed,
N skipped".

Every ferry test program speaks TAP, so each GTest case is one result:
"ok" passes, "ok ... # SKIP" is skipped, "not ok" fails.  A program that
dies before reporting all the cases it planned (a crash, a timeout)
counts one failure for each case it never reported, and at least one.

usage: test-summary.py TESTLOG.json [TESTLOG.json ...]
exit status: 1 if anything failed, else 0.
"""
import json
import re
import sys

PLAN = re.compile(r'^1\.\.(\d+)')
RESULT = re.compile(r'^(ok|not ok)\b(.*)$')


def count(log):
    passed = failed = skipped = 0
    failures = []
    with open(log, encoding='utf-8', errors='replace') as f:
        for line in f:
            t = json.loads(line)
            planned = None
            p = fl = s = 0
            for out in (t.get('stdout') or '').splitlines():
                m = PLAN.match(out)
                if m:
                    planned = int(m.group(1))
                    continue
                m = RESULT.match(out)
                if not m:
                    continue
                rest = m.group(2)
                if m.group(1) == 'not ok':
                    if '# TODO' in rest:
                        continue
                    fl += 1
                    failures.append('%s:%s' % (t['name'], rest))
                elif '# SKIP' in rest or '# skip' in rest:
                    s += 1
                else:
                    p += 1
            reported = p + fl + s
            if t['result'] not in ('OK', 'SKIP', 'EXPECTEDFAIL'):
                missing = (planned - reported) if planned else 0
                extra = max(missing, 1 if fl == 0 else 0)
                if extra:
                    failures.append('%s: %s (%d case(s) not reported)'
                                    % (t['name'], t['result'], extra))
                fl += extra
            elif planned is None and reported == 0:
                # A non-TAP test: one result.
                if t['result'] == 'SKIP':
                    s += 1
                else:
                    p += 1
            passed += p
            failed += fl
            skipped += s
    return passed, failed, skipped, failures


def main():
    tp = tf = ts = 0
    allf = []
    for log in sys.argv[1:]:
        p, f, s, fl = count(log)
        tp += p
        tf += f
        ts += s
        allf += fl
    for f in allf:
        print('FAILED: ' + f)
    print('%d passed, %d failed, %d skipped' % (tp, tf, ts))
    return 1 if tf else 0


if __name__ == '__main__':
    sys.exit(main())
