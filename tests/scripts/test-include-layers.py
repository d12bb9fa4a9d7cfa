#!/usr/bin/env python3
"""test-include-layers: migration/ has no include cycles between modules.

A module is a .c file of migration/, and the private header of the same
name is its interface; the postcopy-*.c files are one module (postcopy),
sharing postcopy-int.h.  A module depends on every module whose header it
includes, directly or through another header.  The dependencies must form
no cycle: each file builds on those below it and is called by those above
it, so that a file can be read, tested and lifted on its own.  When a
cycle appears this prints it, e.g. "ram -> postcopy -> ram (postcopy-int.h
includes ram.h)".

Usage: test-include-layers.py [SRCDIR]   (TAP output)
"""
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
GENERATED = {'trace.h'}


def module_of(name):
    """The module a migration/ file belongs to."""
    base = os.path.splitext(name)[0]
    return 'postcopy' if base.startswith('postcopy-') else base


def direct_includes(path):
    with open(path, encoding='utf-8') as f:
        return [h for h in INCLUDE.findall(f.read())
                if '/' not in h and h not in GENERATED]


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), '..', '..')
    mig = os.path.join(src, 'migration')
    files = sorted(f for f in os.listdir(mig) if f.endswith(('.c', '.h')))
    headers = {f for f in files if f.endswith('.h')}
    incs = {f: [h for h in direct_includes(os.path.join(mig, f))
                if h in headers] for f in files}

    def closure(f, seen):
        for h in incs.get(f, []):
            if h not in seen:
                seen[h] = f
                closure(h, seen)
        return seen

    # Edges between modules, with one example of why.
    modules = {module_of(f) for f in files if f.endswith('.c')}
    edges = {}
    for f in files:
        if not f.endswith('.c'):
            continue
        m = module_of(f)
        for h, via in closure(f, {}).items():
            hm = module_of(h)
            if hm != m and hm in modules:
                edges.setdefault(m, {}).setdefault(hm, '%s includes %s' %
                                                   (via, h))
    # Cycles: depth-first search for a back edge.
    tests = []
    state, stack = {}, []
    cycles = []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for n in sorted(edges.get(m, {})):
            if state.get(n) == 1:
                cyc = stack[stack.index(n):] + [n]
                why = [edges[a][b] for a, b in zip(cyc, cyc[1:])]
                cycles.append('%s (%s)' % (' -> '.join(cyc), '; '.join(why)))
            elif not state.get(n):
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(edges):
        if not state.get(m):
            visit(m)
    tests.append((not cycles, 'no include cycle between the modules of '
                  'migration/', cycles))
    # The modules the issue named, each on its own line, for the record.
    for m in ('incoming', 'loadvm', 'postcopy', 'ram', 'return-path'):
        deps = sorted(edges.get(m, {}))
        tests.append((True, '%s depends on: %s' % (m, ', '.join(deps) or
                                                   'nothing'), []))
    print('1..%d' % len(tests))
    for i, (ok, name, diag) in enumerate(tests, 1):
        print('%s %d - %s' % ('ok' if ok else 'not ok', i, name))
        for d in diag:
            print('# cycle: %s' % d)
    return 0 if all(ok for ok, _, _ in tests) else 1


if __name__ == '__main__':
    sys.exit(main())
