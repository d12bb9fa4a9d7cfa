#!/usr/bin/env python3
"""Tests for scripts/analyze-migration.py against the QEMU 7.2 captures.

usage: test-analyze-migration.py [CAPTURE_DIR]
       (default /work/shared/spec/captures)

Prints TAP ("1..N", "ok N - ...", "not ok N - ...", "# SKIP reason");
exit status 1 if any case failed.

For every capture (*.bin below CAPTURE_DIR; which channel a file holds is
read from its name, as captures/README.md names them):
  * the analyzer exits 0 and its listing has the elements that the spec
    (qemu-migration-protocol.md) and captures/README.md state, at the
    stated offsets where they give them; postcopy/main is compared element
    by element with postcopy/main.annotated.txt;
  * 50 truncations: exit 1 with one "offset N (0xN): KIND: ..." line on
    stderr, except where the stream may legally end (main stream: right
    after EOF, before the VMDESCRIPTION; return path: at a message
    boundary); never a traceback;
  * byte flips: flipping the first byte of each top-level element (the
    flags byte of each record on a preempt channel) gives exit 1; random
    flips give exit 0 or 1 with a proper message, never a traceback.
The truncation and flip runs call the analyzer in-process (a traceback
there is an exception escaping analyze()) on all CPUs; a few of them also
run the real command line.
"""
import concurrent.futures
import contextlib
import glob
import importlib.util
import io
import json
import os
import random
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ANALYZER = os.path.join(HERE, '..', '..', 'scripts', 'analyze-migration.py')
DEFAULT_CAPTURES = '/work/shared/spec/captures'
sys.path.insert(0, os.path.join(HERE, '..', '..', 'scripts'))
from qmp import QMP  # noqa: E402
ERROR_LINE = re.compile(r'^offset (\d+) \(0x[0-9a-f]+\): '
                        r'(truncated|corrupt|unsupported): \S.*\n$')
LIST_LINE = re.compile(r'^((?:  )*)([0-9a-f]{8}): (.*)$')
N_CUTS, N_RANDOM_FLIPS, MAX_ELEMENT_FLIPS = 50, 25, 40


class Fail(Exception):
    pass


class Skip(Exception):
    pass


def skip(reason):
    raise Skip(reason)


def expect(cond, msg, *args):
    if not cond:
        raise Fail(msg % args if args else msg)


# ------------------------------------------------------------ the captures

def classify(rel):
    """The --stream kind of a capture, from its file name."""
    base = os.path.basename(rel)
    if base == 'pattern-4M.bin':
        return None                     # guest RAM contents, not a stream
    if 'dst-to-src' in base:
        return 'return-path'
    if base.startswith('preempt.'):
        return 'preempt'
    if base.startswith('after-recover.'):
        return 'recovery'
    return 'main'


class Capture:
    def __init__(self, root, rel):
        self.rel, self.path = rel, os.path.join(root, rel)
        self.kind = classify(rel)
        # A connection cut while postcopy was running: no EOF by design.
        self.cut_link = rel.endswith('before-break.src-to-dst.bin')
        with open(self.path, 'rb') as f:
            self.data = f.read()

    def args(self, *extra):
        return ['--stream', self.kind] + list(extra)


def run_argv(argv):
    """Run the command line with exactly these arguments."""
    p = subprocess.run([sys.executable, ANALYZER] + argv,
                       capture_output=True, timeout=300)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def run_cli(args, data=None, path=None):
    """Run the real command line; returns (rc, stdout, stderr)."""
    p = subprocess.run([sys.executable, ANALYZER] + args +
                       [path if path else '-'], input=data,
                       capture_output=True, timeout=300)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def listing(out):
    """[(depth, offset, text)] of the analyzer's summary listing."""
    items = []
    for line in out.splitlines():
        m = LIST_LINE.match(line)
        if m:
            items.append((len(m.group(1)) // 2, int(m.group(2), 16),
                          m.group(3)))
    return items


def top(items):
    return [(off, text) for depth, off, text in items if depth == 0]


def children(items, parent_off):
    """Depth-1 lines under the top-level line at parent_off."""
    out, inside = [], False
    for depth, off, text in items:
        if depth == 0:
            inside = off == parent_off
        elif inside and depth == 1:
            out.append((off, text))
    return out


def analyse_ok(cap, *extra):
    rc, out, err = run_cli(cap.args(*extra), path=cap.path)
    expect(rc == 0 and not err, 'exit %d, stderr %r', rc, err[:300])
    return out


# ---------------------------------------------------- in-process fuzzing

_module, _files = None, {}


def _load_analyzer():
    global _module
    if _module is None:
        spec = importlib.util.spec_from_file_location('analyze_migration',
                                                      ANALYZER)
        _module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(_module)
    return _module


def fuzz_one(task):
    """Worker: mutate a capture, analyse it in-process.
    Returns (rc, stderr, traceback text or None)."""
    path, args, cut, flips = task
    am = _load_analyzer()
    if path not in _files:
        with open(path, 'rb') as f:
            _files[path] = f.read()
    data = bytearray(_files[path][:cut])
    for pos, mask in flips:
        data[pos] ^= mask
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = am.analyze(bytes(data), am.parse_args(args + ['-']))
    except Exception:
        return None, err.getvalue(), traceback.format_exc()
    return rc, err.getvalue(), None


def describe(task):
    path, args, cut, flips = task
    if flips:
        return 'flip %s' % ', '.join('%#x^%#x' % f for f in flips)
    return 'cut at %d' % cut


def check_results(tasks, results, expected):
    """expected(task) -> set of allowed exit statuses."""
    bad = []
    for task, (rc, err, tb) in zip(tasks, results):
        if tb:
            bad.append('%s: traceback: %s' % (describe(task),
                                              tb.strip().splitlines()[-1]))
        elif rc not in expected(task):
            bad.append('%s: exit %s, want %s (%s)' % (
                describe(task), rc, sorted(expected(task)), err.strip()))
        elif rc == 1 and not ERROR_LINE.match(err):
            bad.append('%s: bad error line %r' % (describe(task), err))
        elif rc == 0 and err:
            bad.append('%s: exit 0 but stderr %r' % (describe(task), err))
    expect(not bad, '%d bad runs, e.g. %s', len(bad), '; '.join(bad[:3]))


def legal_ends(cap, items):
    """Offsets at which a cut leaves a stream that may end there."""
    if cap.kind == 'return-path':
        return {off for off, _ in top(items)}
    if cap.kind == 'main' and not cap.cut_link:
        return {off for off, text in top(items)
                if text.startswith('VMDESCRIPTION')}
    return set()


def needs_vmdesc(items):
    """Has FULL sections without a built-in layout: cut off its trailing
    VMDESCRIPTION, the analyzer cannot find their ends ("unsupported")."""
    return any(re.match(r'SECTION_FULL id \d+ "(?!timer"|globalstate")', t)
               for _, _, t in items)


def cut_points(cap, items):
    """N_CUTS offsets: near the first element boundaries, every legal end,
    the rest at random."""
    rng = random.Random(zlib.crc32(cap.rel.encode()))
    size = len(cap.data)
    picks = {0, size - 1} | (legal_ends(cap, items) - {size})
    for off, _ in top(items)[:8]:
        picks.update(x for x in (off - 1, off, off + 1) if 0 <= x < size)
    while len(picks) < min(N_CUTS, size):
        picks.add(rng.randrange(size))
    return sorted(picks)


def test_truncations(cap, pool):
    items = listing(analyse_ok(cap, '--partial') if cap.cut_link
                    else analyse_ok(cap))
    ends = legal_ends(cap, items)
    cuts = cut_points(cap, items)
    at_end = {1} if needs_vmdesc(items) else {0}
    tasks = [(cap.path, cap.args(), n, []) for n in cuts]
    results = list(pool.map(fuzz_one, tasks))
    check_results(tasks, results,
                  lambda t: at_end if t[2] in ends else {1})
    # a few of them through the real command line
    for n in [cuts[len(cuts) // 2], cuts[-1]] + sorted(ends & set(cuts))[:1]:
        rc, out, err = run_cli(cap.args(), data=cap.data[:n])
        expect(rc == (min(at_end) if n in ends else 1) and
               'Traceback' not in err and
               (rc == 0 or ERROR_LINE.match(err)),
               'CLI cut at %d: exit %d, stderr %r', n, rc, err[:300])
    return '%d cuts, %d at a legal end' % (len(cuts),
                                           len(set(cuts) & ends))


def test_flips(cap, pool):
    items = listing(analyse_ok(cap, '--partial') if cap.cut_link
                    else analyse_ok(cap))
    size = len(cap.data)
    # the record header's flags byte on a preempt channel, else its 1st byte
    at = 7 if cap.kind == 'preempt' else 0
    elements = [off + at for off, _ in top(items) if off + at < size]
    rng = random.Random(zlib.crc32(cap.rel.encode()) ^ 0x5a5a)
    if len(elements) > MAX_ELEMENT_FLIPS:
        elements = sorted(rng.sample(elements, MAX_ELEMENT_FLIPS))
    tasks = [(cap.path, cap.args(), size, [(pos, 0xff)]) for pos in elements]
    structural = len(tasks)
    tasks += [(cap.path, cap.args(), size,
               [(rng.randrange(size), rng.randrange(1, 256))])
              for _ in range(N_RANDOM_FLIPS)]
    results = list(pool.map(fuzz_one, tasks))
    check_results(tasks[:structural], results[:structural], lambda t: {1})
    check_results(tasks[structural:], results[structural:],
                  lambda t: {1} if cap.cut_link else {0, 1})
    return '%d element flips, %d random flips' % (structural, N_RANDOM_FLIPS)


# ------------------------------------------------------------- the facts

def token(text):
    """A listing line reduced to its element kind (PING keeps its value)."""
    m = re.match(r'COMMAND (\S+) len \d+(?:: (\S+))?', text)
    if m:
        return m.group(1) + (' ' + m.group(2) if m.group(1) == 'PING' else '')
    m = re.match(r'(SECTION_\w+) id \d+ ("[^"]*")', text)
    return '%s %s' % m.groups() if m else text.split()[0]


def shape(lines):
    """Tokens, with runs of PARTs and DISCARDs collapsed to 'X+'."""
    out = []
    for _, text in lines:
        t = token(text)
        if t in ('SECTION_PART "ram"', 'POSTCOPY_RAM_DISCARD'):
            t += '+'
            if out and out[-1] == t:
                continue
        out.append(t)
    return out


def ram_counts(text):
    m = re.search(r'(\d+) ZERO, (\d+) PAGE', text)
    return (int(m.group(1)), int(m.group(2))) if m else None


def commands(lines, name):
    return [text for _, text in lines if token(text).split()[0] == name]


def check_precopy_none(cap):
    """§2.8 annotated dump, §2.6 vmdesc, §3.5/§3.6 bodies."""
    items = listing(analyse_ok(cap))
    expected = [
        (0x0, r'HEADER magic 0x5145564d "QEVM" version 3$'),
        (0x8, r'CONFIGURATION machine "none"$'),
        (0x11, r'SECTION_START id 2 "ram" instance 0 version 4: MEM_SIZE '
         r'0x4000000 \(1 block\); 0 ZERO, 0 PAGE'),
        (0x43, r'SECTION_PART id 2 "ram": 16384 ZERO, 0 PAGE'),
        (0x24059, r'SECTION_END id 2 "ram": 0 ZERO, 0 PAGE'),
        (0x2406b, r'SECTION_FULL id 0 "timer" instance 0 version 2: 24 '
         r'bytes'),
        (0x2409b, r'SECTION_FULL id 4 "globalstate" instance 0 version 1: '
         r'104 bytes .*runstate running$'),
        (0x24121, r'EOF$'), (0x24122, r'VMDESCRIPTION len 486: ')]
    got = top(items)
    expect(len(got) == len(expected), 'elements: %s', shape(got))
    for (off, text), (want_off, pattern) in zip(got, expected):
        expect(off == want_off and re.match(pattern, text),
               'at %#x %r, want %#x %r', off, text, want_off, pattern)
    blocks = [t for d, o, t in items if t.startswith('block ')]
    expect(blocks == ['block "ram" used_length 0x4000000'], 'blocks %s',
           blocks)
    return 'header, "none", ram 64M: 16384 ZERO, timer, globalstate, EOF, ' \
        'vmdesc 486'


def check_precopy_state(cap):
    rc, out, err = run_cli(['--dump', 'state'], path=cap.path)
    expect(rc == 0, 'exit %d %s', rc, err)
    state = {s['name']: s for s in json.loads(out)}
    expect(list(state) == ['timer', 'globalstate'], 'sections %s',
           list(state))
    timer = state['timer']['state']
    # §3.5 observed: 000000000a09a8f0 0000000000000000 000000000504d472
    expect(timer == {'cpu_ticks_offset': 0xa09a8f0,
                     'unused': '0000000000000000',
                     'cpu_clock_offset': 0x504d472}, 'timer %s', timer)
    glob_ = state['globalstate']['state']
    expect(glob_ == {'size': 8, 'runstate': 'running'}, 'globalstate %s',
           glob_)
    return 'timer offsets, runstate "running"'


def check_precopy_desc(cap):
    rc, out, err = run_cli(['--dump', 'desc'], path=cap.path)
    expect(rc == 0, 'exit %d %s', rc, err)
    desc = json.loads(out)
    want = {'page_size': 4096, 'devices': [
        {'name': 'timer', 'instance_id': 0, 'vmsd_name': 'timer',
         'version': 2, 'fields': [
             {'name': 'cpu_ticks_offset', 'type': 'int64', 'size': 8},
             {'name': 'unused', 'type': 'unused_buffer', 'size': 8},
             {'name': 'cpu_clock_offset', 'type': 'int64', 'size': 8}]},
        {'name': 'globalstate', 'instance_id': 0, 'vmsd_name': 'globalstate',
         'version': 1, 'fields': [
             {'name': 'size', 'type': 'uint32', 'size': 4},
             {'name': 'runstate', 'type': 'buffer', 'size': 100}]}]}
    expect(desc == want, 'JSON differs from §2.6: %s', desc)
    expect(len(json.dumps(desc)) == 486, '7.2 compact form is not 486 bytes')
    return 'JSON as in §2.6'


def check_uuid_ignore_shared(cap):
    """§2.5 configuration subsections, §4.7 gpa field."""
    items = listing(analyse_ok(cap))
    conf = children(items, 0x8)
    expect([t for _, t in conf] == [
        'subsection configuration/capabilities v1: x-ignore-shared',
        'subsection configuration/uuid v1: '
        '12345678-9abc-def0-1122-334455667788'], 'configuration %s', conf)
    blocks = [t for d, o, t in items if t.startswith('block ')]
    expect(blocks == ['block "ram" used_length 0x4000000 gpa 0x0'],
           'blocks %s', blocks)
    expect(shape(top(items)) == [
        'HEADER', 'CONFIGURATION', 'SECTION_START "ram"',
        'SECTION_PART "ram"+', 'SECTION_END "ram"', 'SECTION_FULL "timer"',
        'SECTION_FULL "globalstate"', 'EOF', 'VMDESCRIPTION'],
        'elements %s', shape(top(items)))
    return 'capabilities, uuid, block gpa 0x0'


PC_FULL_SECTIONS = [  # §3.7
    'timer', 'cpu_common', 'cpu', 'kvm-tpr-opt', 'apic', 'fw_cfg',
    'PCIHost', 'PCIBUS', '0000:00:00.0/I440FX', 'dma', 'dma',
    '0000:00:01.0/PIIX3', 'i8259', 'i8259', 'ioapic', 'hpet', 'mc146818rtc',
    'i8254', 'pcspk', 'fdc', 'ps2kbd', 'ps2mouse', 'pckbd', 'vmmouse',
    'port92', '0000:00:01.1/ide', 'i2c_bus', '0000:00:01.3/piix4_pm',
    'acpi_build', 'globalstate']


def check_precopy_pc(cap):
    """§2.8 block list of -M pc, §3.7 section order, exact decoding."""
    items = listing(analyse_ok(cap))
    blocks = [re.match(r'block ("[^"]*") used_length (\S+)', t).groups()
              for d, o, t in items if t.startswith('block ')]
    names = [json.loads(b[0]) for b in blocks]
    expect(names == ['pc.ram', '/rom@etc/acpi/tables', 'pc.bios', 'pc.rom',
                     '/rom@etc/table-loader', '/rom@etc/acpi/rsdp'],
           'blocks %s', names)
    expect(blocks[1][1] == '0x20000', 'acpi tables used %s', blocks[1][1])
    full = [re.match(r'SECTION_FULL id \d+ ("[^"]*") instance \d+ version '
                     r'(\d+)', t).groups() for _, t in top(items)
            if t.startswith('SECTION_FULL')]
    expect([json.loads(n) for n, v in full] == PC_FULL_SECTIONS,
           'FULL sections %s', full)
    expect(dict((json.loads(n), v) for n, v in full)['vmmouse'] == '0',
           'vmmouse version is not 0')
    rc, out, err = run_cli(['--dump', 'state'], path=cap.path)
    expect(rc == 0, 'dump state: exit %d %s', rc, err)
    layouts = {s['layout'] for s in json.loads(out)}
    expect(layouts == {'vmdesc'}, 'layouts %s', layouts)
    return '6 blocks, 30 FULL sections decoded exactly from the vmdesc'


POSTCOPY_SHAPE = [  # §5.4
    'HEADER', 'CONFIGURATION', 'OPEN_RETURN_PATH', 'PING 1',
    'POSTCOPY_ADVISE', 'SECTION_START "ram"', 'SECTION_PART "ram"+',
    'POSTCOPY_RAM_DISCARD+', 'PING 2', 'PACKAGED', 'PING 4',
    'SECTION_PART "ram"+', 'SECTION_END "ram"', 'EOF']
PACKAGE_SHAPE = ['POSTCOPY_LISTEN', 'SECTION_FULL "timer"',
                 'SECTION_FULL "globalstate"', 'PING 3', 'POSTCOPY_RUN']


def check_postcopy_main(cap, summary, block, discards):
    items = listing(analyse_ok(cap))
    lines = top(items)
    expect(shape(lines) == POSTCOPY_SHAPE, 'elements %s', shape(lines))
    pkg = [(o, t) for o, t in lines if token(t) == 'PACKAGED'][0]
    expect(shape(children(items, pkg[0])) == PACKAGE_SHAPE, 'package %s',
           shape(children(items, pkg[0])))
    expect(commands(lines, 'POSTCOPY_ADVISE') == [
        'COMMAND POSTCOPY_ADVISE len 16: ram_pagesize_summary %#x '
        'target_page_size 0x1000' % summary], 'ADVISE %s',
        commands(lines, 'POSTCOPY_ADVISE'))
    expect(commands(lines, 'POSTCOPY_RAM_DISCARD') == discards,
           'DISCARD %s', commands(lines, 'POSTCOPY_RAM_DISCARD'))
    blocks = [t for d, o, t in items if t.startswith('block ')]
    expect(blocks == [block], 'blocks %s', blocks)
    return 'ORP, PING 1, ADVISE, START, PARTs, DISCARD, PING 2, PACKAGED' \
        '(LISTEN, timer, globalstate, PING 3, RUN), PING 4, PARTs, END, EOF'


def annotated_elements(path):
    """[offset, kind, counts or payload size] per element of
    main.annotated.txt; offsets inside the PACKAGED blob made absolute."""
    out, blob = [], None
    with open(path) as f:
        for line in f:
            m = re.match(r'^( *)([0-9a-f]{8}): (.*)$', line.rstrip('\n'))
            if not m:
                continue
            indent, off, text = len(m.group(1)), int(m.group(2), 16), \
                m.group(3).strip()
            if indent == 0:
                blob = off if text.startswith('PACKAGED blob') else None
            element = indent == 0 or (blob is not None and indent == 2)
            if blob is not None and indent == 2:
                off += blob
            k = re.match(r'(CONFIGURATION|COMMAND \S+|SECTION_\w+|EOF)\b',
                         text)
            counts = re.match(r'\.\.\. (\d+) PAGE \+ (\d+) ZERO', text)
            size = re.match(r'payload (\d+) bytes', text)
            if k and element:
                out.append([off, k.group(1), None])
            elif counts:
                out[-1][2] = (int(counts.group(2)), int(counts.group(1)))
            elif size:
                out[-1][2] = int(size.group(1))
    return out


def element_kind(text):
    m = re.match(r'(COMMAND \S+|SECTION_\w+|CONFIGURATION|EOF)\b', text)
    return m.group(1) if m else None


def check_annotation(cap, annotated):
    """Every element at the same offset; RAM counts and FULL sizes agree."""
    items = listing(analyse_ok(cap))
    ours = [(off, element_kind(text), text) for depth, off, text in items
            if depth <= 1 and element_kind(text)]
    theirs = annotated_elements(annotated)
    expect(len(ours) == len(theirs), '%d elements, annotation has %d',
           len(ours), len(theirs))
    for (off, kind, text), (aoff, akind, extra) in zip(ours, theirs):
        expect((off, kind) == (aoff, akind), 'analyzer %#x %s, annotation '
               '%#x %s', off, kind, aoff, akind)
        if isinstance(extra, tuple):
            expect(ram_counts(text) == extra, 'at %#x: %s, annotation '
                   '%d ZERO %d PAGE', off, text, *extra)
        elif extra is not None:
            expect(': %d bytes (' % extra in text, 'at %#x: %s, annotation '
                   '%d bytes', off, text, extra)
    return '%d elements, offsets, RAM counts and sizes agree' % len(ours)


def rp_lines(cap):
    return [t for _, t in top(listing(analyse_ok(cap)))]


def check_rp(cap, want):
    got = rp_lines(cap)
    expect(got == want, 'messages %s', got)
    return '; '.join(w.split(':')[0] for w in want[-3:])


def pongs(*values):
    return ['PONG len 4: %d' % v for v in values]


RP_POSTCOPY = pongs(1, 2, 4, 3) + [
    'REQ_PAGES_ID len 16: start 0x4f0000 len 0x1000 "ram"',
    'REQ_PAGES len 12: start 0x2000000 len 0x1000 block "ram"',
    'SHUT len 4: 0 (ok)']


def check_preempt_channel(cap):
    """§11.2: requested pages, every record naming the block, then EOS."""
    got = rp_lines(cap)
    expect(got[:2] == ['PAGE "ram" offset 0x4f0000 flags 0x8',
                       'ZERO "ram" offset 0x2000000 flags 0x2 fill 0'] and
           len(got) == 3 and got[2].startswith('EOS'), 'records %s', got)
    return 'PAGE 0x4f0000, ZERO 0x2000000, EOS'


def check_cut_link(cap):
    rc, out, err = run_cli(cap.args(), path=cap.path)
    expect(rc == 1 and re.match(r'offset \d+ \(0x[0-9a-f]+\): truncated: ',
                                err), 'without --partial: %d %r', rc, err)
    items = listing(analyse_ok(cap, '--partial'))
    lines = top(items)
    expect(lines[-1][1].startswith('TRUNCATED: ') and
           lines[-1][0] == len(cap.data), 'last line %s', lines[-1])
    expect(shape(lines[:-1]) == POSTCOPY_SHAPE[:12], 'elements %s',
           shape(lines))
    return 'postcopy stream cut inside a section (no EOF): truncated'


def check_recovery_main(cap):
    """§10.2: RECV_BITMAP, POSTCOPY_RESUME, then RAM naming the block."""
    items = listing(analyse_ok(cap, '--dump', 'pages'))
    lines = top(items)
    expect(shape(lines) == ['RECV_BITMAP', 'POSTCOPY_RESUME',
                            'SECTION_PART "ram"+', 'SECTION_END "ram"', 'EOF'],
           'elements %s', shape(lines))
    expect(lines[0][1] == 'COMMAND RECV_BITMAP len 4: "ram"', lines[0][1])
    first = children(items, lines[2][0])[0][1]
    expect(first == 'PAGE "ram" offset 0x282000 flags 0x8', 'first %s', first)
    return 'RECV_BITMAP "ram", RESUME, PAGE 0x282000 named, ..., EOF'


def check_recovery_rp(cap):
    """§10.2/§10.3: bitmap 2048 bytes with 1200 pages, RESUME_ACK 1."""
    return check_rp(cap, [
        'RECV_BITMAP len 4: "ram": bitmap 2048 bytes (16384 pages), 1200 '
        'received, end mark ok', 'RESUME_ACK len 4: 1',
        'REQ_PAGES_ID len 16: start 0x4e0000 len 0x1000 "ram"',
        'SHUT len 4: 0 (ok)'])


def fact_checks(root):
    a = os.path.join(root, 'postcopy', 'main.annotated.txt')
    ram_discard = ['COMMAND POSTCOPY_RAM_DISCARD len 22: "ram" '
                   '[0x276000, +0x3d8a000)']
    return [
        ('precopy-none-64M.bin', 'elements and offsets of §2.8',
         check_precopy_none),
        ('precopy-none-64M.bin', '--dump state', check_precopy_state),
        ('precopy-none-64M.bin', '--dump desc', check_precopy_desc),
        ('precopy-none-64M-uuid-ignore-shared.bin', 'configuration and gpa',
         check_uuid_ignore_shared),
        ('precopy-pc-64M-stopped.bin', '-M pc blocks and sections',
         check_precopy_pc),
        ('postcopy/main.src-to-dst.bin', 'postcopy sequence (§5.4)',
         lambda c: check_postcopy_main(
             c, 0x1000, 'block "ram" used_length 0x4000000', ram_discard)),
        ('postcopy/main.src-to-dst.bin', 'matches main.annotated.txt',
         lambda c: check_annotation(c, a)),
        ('postcopy/return-path.dst-to-src.bin', 'README return path',
         lambda c: check_rp(c, RP_POSTCOPY)),
        ('postcopy-hugetlb/main.src-to-dst.bin', 'block "m0" page size 2M',
         lambda c: check_postcopy_main(
             c, 0x200000, 'block "m0" used_length 0x4000000 page_size '
             '0x200000', ['COMMAND POSTCOPY_RAM_DISCARD len 21: "m0" '
                          '[0x400000, +0x3c00000)'])),
        ('postcopy-hugetlb/return-path.dst-to-src.bin', 'huge page requests',
         lambda c: check_rp(c, pongs(1, 2, 3, 4) + [
             'REQ_PAGES_ID len 15: start 0x400000 len 0x200000 "m0"',
             'REQ_PAGES len 12: start 0x2000000 len 0x200000 block "m0"',
             'SHUT len 4: 0 (ok)'])),
        ('postcopy-preempt/main.src-to-dst.bin', 'postcopy sequence',
         lambda c: check_postcopy_main(
             c, 0x1000, 'block "ram" used_length 0x4000000', ram_discard)),
        ('postcopy-preempt/preempt.src-to-dst.bin', 'preempt channel',
         check_preempt_channel),
        ('postcopy-preempt/return-path.dst-to-src.bin', 'return path',
         lambda c: check_rp(c, RP_POSTCOPY)),
        ('postcopy-recover/before-break.src-to-dst.bin', 'cut link',
         check_cut_link),
        ('postcopy-recover/before-break.dst-to-src.bin', 'no SHUT',
         lambda c: check_rp(c, pongs(1, 2, 3, 4) + RP_POSTCOPY[4:6] +
                            ['END of return path without SHUT'])),
        ('postcopy-recover/after-recover.src-to-dst.bin', 'recovery stream',
         check_recovery_main),
        ('postcopy-recover/after-recover.dst-to-src.bin', 'recovery RP',
         check_recovery_rp),
    ]


# ------------------------------------- multifd captures, made at test time

GUEST_PAGES, TPS = 1024, 4096           # a 4 MiB guest
QEMU72 = '/usr/bin/qemu-system-x86_64'
QEMU10 = '/var/cache/ferry/qemu-system-x86_64-10'
DEADLINE = 60.0


def guest_pattern():
    """The spec's wire-run layout (multifd-and-tls.md §0), 4 MiB: even
    pages zero, odd pages their LE page number then random bytes."""
    rnd, out = random.Random(0x6d66), bytearray(GUEST_PAGES * TPS)
    for i in range(1, GUEST_PAGES, 2):
        out[i * TPS:(i + 1) * TPS] = i.to_bytes(8, 'little') + \
            rnd.randbytes(TPS - 8)
    return bytes(out)


class RecordingRelay:
    """Listens on a unix socket, forwards each connection to the target
    and records what the source sends on it, per connection."""

    def __init__(self, listen_path, target_path):
        self.target, self.conns, self.threads = target_path, [], []
        self.lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.lsock.bind(listen_path)
        self.lsock.listen(16)
        self.lsock.settimeout(0.2)
        self.quit = False
        self.acceptor = threading.Thread(target=self._accept, daemon=True)
        self.acceptor.start()

    def _accept(self):
        while not self.quit:
            try:
                src, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            src.settimeout(None)
            dst = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                dst.connect(self.target)
            except OSError:
                src.close()
                continue
            rec = bytearray()
            self.conns.append(rec)
            for a, b, r in ((src, dst, rec), (dst, src, None)):
                t = threading.Thread(target=self._pump, args=(a, b, r),
                                     daemon=True)
                t.start()
                self.threads.append(t)

    @staticmethod
    def _pump(a, b, rec):
        try:
            while True:
                data = a.recv(1 << 16)
                if not data:
                    break
                if rec is not None:
                    rec += data
                b.sendall(data)
        except OSError:
            pass
        for sock, how in ((b, socket.SHUT_WR), (a, socket.SHUT_RD)):
            try:
                sock.shutdown(how)
            except OSError:
                pass

    def finish(self, deadline):
        """Waits (deadline) until every connection has ended."""
        self.quit = True
        self.acceptor.join()
        self.lsock.close()
        for t in self.threads:
            t.join(max(0.0, deadline - time.monotonic()))
            expect(not t.is_alive(), 'relay: a connection never ended')


class MultifdCapture:
    """A set of captures (main + channels), in a temp dir."""

    def __init__(self, name, tmp, main, channels):
        self.name, self.tmp, self.main, self.channels = name, tmp, main, \
            channels


def start_vm(binary, tmp, name, extra):
    qmp_path = os.path.join(tmp, name + '.qmp')
    p = subprocess.Popen([binary, '-M', 'none', '-m', '4M', '-nodefaults',
                          '-display', 'none', '-qmp',
                          'unix:%s,server=on,wait=off' % qmp_path] + extra,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        return p, QMP(qmp_path, timeout=DEADLINE)
    except Exception:
        p.kill()
        raise


def wait_status(q, goal, deadline):
    while True:
        st = q.cmd('query-migrate').get('status')
        expect(st != 'failed', 'migration failed: %s', q.cmd('query-migrate'))
        if st == goal:
            return
        expect(time.monotonic() < deadline, 'still %s, not %s', st, goal)
        select.select([], [], [], 0.02)     # (a poll interval)


def make_capture(name, binary, compression, src_extra=()):
    """binary -> binary, multifd with 2 channels, through the relay."""
    if not os.access(binary, os.X_OK):
        skip('%s not found%s' % (binary, ' (scripts/setup-qemu10.sh makes '
                                 'it)' if binary == QEMU10 else ''))
    # (/tmp: the QEMU 10 chroot sees only /tmp of this host.)
    tmp = tempfile.mkdtemp(prefix='analyze-mfd-', dir='/tmp')
    guest = os.path.join(tmp, 'guest.bin')
    with open(guest, 'wb') as f:
        f.write(guest_pattern())
    procs, qmps = [], []
    relay = None
    try:
        for side, extra in (('src', ['-device', 'loader,file=%s,addr=0' %
                                     guest] + list(src_extra)),
                            ('dst', ['-incoming', 'defer'])):
            p, q = start_vm(binary, tmp, side, extra)
            procs.append(p)
            qmps.append(q)
            q.cmd('migrate-set-capabilities', capabilities=[
                {'capability': 'multifd', 'state': True}])
            q.cmd('migrate-set-parameters', {
                'multifd-channels': 2, 'multifd-compression': compression})
        src, dst = qmps
        src.cmd('migrate-set-parameters', {'max-bandwidth': 0})
        dst_sock, relay_sock = (os.path.join(tmp, n) for n in
                                ('dst.sock', 'relay.sock'))
        dst.cmd('migrate-incoming', uri='unix:' + dst_sock)
        relay = RecordingRelay(relay_sock, dst_sock)
        src.cmd('migrate', uri='unix:' + relay_sock)
        deadline = time.monotonic() + DEADLINE
        wait_status(src, 'completed', deadline)
        wait_status(dst, 'completed', deadline)
        for q in qmps:
            # (the reply may not come: the process is on its way out)
            try:
                q.cmd_raw('quit')
            except (EOFError, OSError):
                pass
        for p in procs:
            p.wait(max(1.0, deadline - time.monotonic()))
        relay.finish(deadline)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    main, channels = None, {}
    for i, data in enumerate(relay.conns):
        if data[:4] == b'QEVM':
            expect(main is None, 'two main connections')
            main = os.path.join(tmp, 'main.bin')
            path = main
        else:
            expect(data[:4] == b'\x11\x22\x33\x44' and len(data) >= 64,
                   'connection %d is neither main nor multifd: %r', i,
                   bytes(data[:8]))
            path = os.path.join(tmp, 'multifd-%d.bin' % data[24])
            channels[data[24]] = path
        with open(path, 'wb') as f:
            f.write(data)
    expect(main and sorted(channels) == [0, 1], 'connections: main %s, '
           'channels %s', main, sorted(channels))
    return MultifdCapture(name, tmp, main, [channels[0], channels[1]])


_captures = {}


def capture(name):
    """Made once, on first use (a failure is remembered)."""
    if name not in _captures:
        binary, comp, extra = CAPTURE_SETUPS[name]
        try:
            _captures[name] = make_capture(name, binary, comp, extra)
        except (Skip, Fail) as e:
            _captures[name] = e
        except Exception as e:
            where = traceback.extract_tb(e.__traceback__)[-1]
            _captures[name] = Fail('making the capture: %s: %s (%s:%d)' % (
                type(e).__name__, e, os.path.basename(where.filename),
                where.lineno))
    c = _captures[name]
    if isinstance(c, Exception):
        raise c
    return c


FLUSH_OFF = ['-global', 'migration.multifd-flush-after-each-section=off']
CAPTURE_SETUPS = {}     # name -> (binary, compression, source options)


def setup_captures(ferry):
    CAPTURE_SETUPS.update({
        'ferry-none': (ferry, 'none', []),
        'ferry-zlib-flush': (ferry, 'zlib', FLUSH_OFF),
        'ferry-zstd': (ferry, 'zstd', []),
        'qemu72-none': (QEMU72, 'none', []),
        'qemu72-zlib': (QEMU72, 'zlib', []),
        'qemu10-none': (QEMU10, 'none', []),
    })


def channel_ends(out):
    """{channel id: (packets, syncs, normal, zero)} from END lines."""
    ends = {}
    for m in re.finditer(r'END of channel (\d+): (\d+) packets \((\d+) '
                         r'SYNC\), (\d+) normal \+ (\d+) zero pages', out):
        ends[int(m.group(1))] = tuple(int(g) for g in m.groups()[1:])
    return ends


def check_multifd_merge(name):
    """main + both channels -> the guest, byte for byte; the counts."""
    c = capture(name)
    zstd = name.endswith('zstd')
    img = os.path.join(c.tmp, 'image.bin')
    rc, out, err = run_argv([c.main, '--multifd'] + c.channels +
                            ([] if zstd else ['--memory-image', img]))
    expect(rc == 0 and not err, 'exit %d, stderr %r', rc, err[:300])
    ends = channel_ends(out)
    expect(sorted(ends) == [0, 1], 'channel END lines: %s', ends)
    main_out = out.split('== %s: multifd channel ==' % c.channels[0])[0]
    zero_main = sum(ram_counts(t)[0] for _, _, t in listing(main_out)
                    if 'SECTION' in t and '"ram"' in t)
    flushes = main_out.count('MULTIFD_FLUSH (multifd barrier)')
    eos = len(re.findall(r'; EOS @0x', main_out))
    normal = sum(e[2] for e in ends.values())
    zero_mfd = sum(e[3] for e in ends.values())
    # (QEMU 7.2 may send a page twice: the last of a full packet again
    # first in the next one, seen at 0x2ff000 here; ferry never does.)
    expect(normal == GUEST_PAGES // 2 or
           (name.startswith('qemu72') and normal > GUEST_PAGES // 2),
           '%d normal pages in packets', normal)
    if name.startswith('qemu10'):
        # zero-page-detection=multifd: zero pages in packets (A.6)
        expect(zero_mfd == GUEST_PAGES // 2 and zero_main == 0,
               'zero pages: %d in packets, %d on main', zero_mfd, zero_main)
    else:
        expect(zero_mfd == 0 and zero_main == GUEST_PAGES // 2,
               'zero pages: %d in packets, %d on main', zero_mfd, zero_main)
    barriers = flushes or eos
    want_flush = name.startswith('qemu10') or name.endswith('-flush')
    expect(bool(flushes) == want_flush, '%d MULTIFD_FLUSH records', flushes)
    for cid, e in ends.items():
        expect(e[1] == barriers, 'channel %d: %d SYNC packets, main %d '
               'barriers', cid, e[1], barriers)
    if zstd:
        rc, out2, err = run_argv([c.main, '--memory-image', img,
                                  '--multifd'] + c.channels)
        expect(rc == 1 and ERROR_LINE.match(err) and 'unsupported' in err
               and 'zstd' in err, 'zstd image: %d %r', rc, err)
        expect('zstd' in out and 'not decoded' in out, 'no zstd sizes')
        return '%d barriers; zstd: sizes only' % barriers
    with open(img, 'rb') as f:
        expect(f.read() == guest_pattern(), 'memory image differs from '
               'the guest')
    return '%d barriers, %d+%d pages, image matches' % (
        barriers, normal, zero_mfd + zero_main)


def check_channel_alone(name):
    """One channel without the main stream: its pages, at the right
    offsets with the right bytes; --dump pages lists odd pages only."""
    c = capture(name)
    pattern, img = guest_pattern(), os.path.join(c.tmp, 'ch0.bin')
    rc, out, err = run_cli(['--stream', 'multifd', '--dump', 'pages',
                            '--memory-image', img], path=c.channels[0])
    expect(rc == 0 and not err, 'exit %d, stderr %r', rc, err[:300])
    pages = [int(m.group(1), 16) for m in
             re.finditer(r'PAGE "ram" offset (0x[0-9a-f]+)', out)]
    expect(pages and all(o // TPS % 2 for o in pages), 'pages %s',
           pages[:5])
    with open(img, 'rb') as f:
        image = f.read()
    for o in pages:
        expect(image[o:o + TPS] == pattern[o:o + TPS], 'page %#x differs', o)
    return '%d pages' % len(pages)


def channel_boundaries(path):
    rc, out, err = run_cli(['--stream', 'multifd'], path=path)
    expect(rc == 0, 'exit %d %r', rc, err)
    return [off for off, text in top(listing(out))
            if text.startswith(('PACKET', 'END'))]


def test_channel_truncations(name, pool):
    """Every cut: exit 0 exactly at packet boundaries (and after the
    hello), else 1 with a "truncated" line; never a traceback."""
    c = capture(name)
    path = c.channels[1]
    bounds = set(channel_boundaries(path))
    size = os.path.getsize(path)
    cuts = {0, 1, 63, 64, 65, 64 + 1343, 64 + 1344, size - 1}
    for b in sorted(bounds)[:6]:
        cuts |= {b - 1, b, b + 1, b + 700, b + 1344 + 5}
    cuts = sorted(x for x in cuts if 0 <= x < size)
    tasks = [(path, ['--stream', 'multifd'], cut, ()) for cut in cuts]
    results = list(pool.map(fuzz_one, tasks))
    check_results(tasks, results, lambda t: {0} if t[2] in bounds else {1})
    for task, (rc, err, _) in zip(tasks, results):
        expect(rc == 0 or 'truncated' in err, '%s: %r', describe(task), err)
    return '%d cuts' % len(tasks)


def test_channel_corruptions(name, pool):
    """Targeted damage gives its message; random flips no traceback."""
    c = capture(name)
    path = c.channels[0]
    with open(path, 'rb') as f:
        data = f.read()
    first = 64                          # the first packet
    data_pkt = next(off for off in channel_boundaries(path)
                    if int.from_bytes(data[off + 16:off + 20], 'big'))
    cases = [       # (flips, in the message, with the main stream)
        ([(0, 0xff)], 'not a multifd channel', False),
        ([(7, 0x02)], 'multifd hello version 3', False),
        ([(first, 0x01)], 'multifd packet magic', False),
        ([(data_pkt + 15, 0xff)], 'pages_alloc 127', False),
        ([(data_pkt + 327, 0x08)], 'is not a page of the block', False),
        # (block names are known from the main stream's MEM_SIZE)
        ([(data_pkt + 64, 0x01)], 'unknown RAMBlock "sam"', True),
    ]
    if name.startswith('ferry-zlib'):
        cases.append(([(data_pkt + 1344 + 3, 0xff)], 'zlib', False))
    bad = []
    for flips, want, with_main in cases:
        if with_main:
            rc, err, tb = run_flipped_channel(c, flips) + (None,)
        else:
            rc, err, tb = fuzz_one((path, ['--stream', 'multifd'],
                                    len(data), flips))
        if tb or rc != 1 or not ERROR_LINE.match(err) or want not in err:
            bad.append('%s: %s %r' % (flips, rc, tb or err))
    expect(not bad, '%s', '; '.join(bad))
    rnd = random.Random(7)
    tasks = [(path, ['--stream', 'multifd'], len(data),
              ((rnd.randrange(len(data)), 1 << rnd.randrange(8)),))
             for _ in range(40)]
    tasks += [(path, ['--stream', 'multifd'], len(data),
               ((rnd.randrange(first, min(len(data), first + 1344 * 2)),
                 1 << rnd.randrange(8)),)) for _ in range(40)]
    check_results(tasks, list(pool.map(fuzz_one, tasks)),
                  lambda t: {0, 1})
    return '%d targeted, %d random' % (len(cases), len(tasks))


def run_flipped_channel(c, flips):
    """The main stream and a damaged channel 0, on the command line."""
    with open(c.channels[0], 'rb') as f:
        data = bytearray(f.read())
    for pos, mask in flips:
        data[pos] ^= mask
    bad = os.path.join(c.tmp, 'damaged.bin')
    with open(bad, 'wb') as f:
        f.write(data)
    rc, out, err = run_argv([c.main, '--multifd', bad])
    expect(err.rstrip().endswith('(in multifd channel file %s)' % bad),
           'no file context: %r', err)
    return rc, err


def check_multifd_cli_errors(name):
    """A main stream given as a channel; a channel as a main stream."""
    c = capture(name)
    rc, out, err = run_cli(['--stream', 'multifd'], path=c.main)
    expect(rc == 1 and ERROR_LINE.match(err) and 'not a multifd channel'
           in err, 'main as channel: %d %r', rc, err)
    rc, out, err = run_cli([], path=c.channels[0])
    expect(rc == 1 and ERROR_LINE.match(err) and 'not a migration stream'
           in err, 'channel as main: %d %r', rc, err)
    rc, out, err = run_cli(['--stream', 'multifd'], data=b'\x11\x22')
    expect(rc == 1 and ERROR_LINE.match(err) and 'truncated' in err,
           'short: %d %r', rc, err)
    return 'one-line errors'


def multifd_cases(pool):
    cases = []
    for name in CAPTURE_SETUPS:
        cases.append(('multifd %s: main + channels, memory image' % name,
                      lambda n=name: check_multifd_merge(n)))
    for name in ('ferry-none', 'ferry-zlib-flush', 'qemu72-none',
                 'qemu10-none'):
        cases.append(('multifd %s: one channel alone' % name,
                      lambda n=name: check_channel_alone(n)))
    for name in ('ferry-none', 'ferry-zlib-flush', 'ferry-zstd'):
        cases.append(('multifd %s: channel truncations' % name,
                      lambda n=name: test_channel_truncations(n, pool)))
        cases.append(('multifd %s: channel corruptions' % name,
                      lambda n=name: test_channel_corruptions(n, pool)))
    cases.append(('multifd: wrong --stream', lambda:
                  check_multifd_cli_errors('ferry-none')))
    return cases


# ---------------------------------------------------------------- driver

def check_cli_errors(root):
    rc, out, err = run_cli([], data=b'')
    expect(rc == 1 and err == 'offset 0 (0x0): truncated: need 4 bytes for '
           'magic, 0 left\n', 'empty stream: %d %r', rc, err)
    rc, out, err = run_cli([], path=os.path.join(root, 'no-such-file'))
    expect(rc == 1 and err.count('\n') == 1, 'missing file: %d %r', rc, err)
    return 'empty stream, missing file'


def main():
    args = sys.argv[1:]
    ferry = None
    if '--ferry' in args:
        i = args.index('--ferry')
        ferry = os.path.abspath(args[i + 1])
        del args[i:i + 2]
    root = args[0] if args else DEFAULT_CAPTURES
    setup_captures(ferry or os.path.join(HERE, '..', '..', 'build', 'ferry'))
    rels = sorted(os.path.relpath(p, root) for p in
                  glob.glob(os.path.join(root, '**', '*.bin'), recursive=True))
    caps = {rel: Capture(root, rel) for rel in rels}
    streams = [c for c in caps.values() if c.kind]
    cases = [('CLI errors are one line', lambda: check_cli_errors(root))]
    for rel in rels:
        if not caps[rel].kind:
            cases.append((rel, lambda: skip('not a stream (guest RAM)')))
    for c in streams:
        cases.append(('%s: --stream %s exits 0' % (c.rel, c.kind),
                      lambda c=c: analyse_ok(c, *(['--partial']
                                                  if c.cut_link else []))
                      and 'exit 0'))
    for rel, what, fn in fact_checks(root):
        cases.append(('%s: %s' % (rel, what),
                      (lambda c=caps.get(rel), fn=fn: fn(c)) if rel in caps
                      else lambda: skip('capture missing')))
    pool = concurrent.futures.ProcessPoolExecutor(os.cpu_count() or 1)
    for c in streams:
        cases.append(('%s: truncations' % c.rel,
                      lambda c=c: test_truncations(c, pool)))
        cases.append(('%s: byte flips' % c.rel,
                      lambda c=c: test_flips(c, pool)))
    cases += multifd_cases(pool)
    print('1..%d' % len(cases), flush=True)
    failed = 0
    for n, (desc, fn) in enumerate(cases, 1):
        try:
            note = fn()
            print('ok %d - %s%s' % (n, desc, ' (%s)' % note if note else ''),
                  flush=True)
        except Skip as e:
            print('ok %d - %s # SKIP %s' % (n, desc, e), flush=True)
        except Exception as e:
            failed += 1
            kind = '' if isinstance(e, Fail) else type(e).__name__ + ': '
            print('not ok %d - %s: %s%s' % (n, desc, kind, e), flush=True)
    pool.shutdown()
    for c in _captures.values():
        if isinstance(c, MultifdCapture):
            shutil.rmtree(c.tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
