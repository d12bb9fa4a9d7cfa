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
import subprocess
import sys
import traceback
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ANALYZER = os.path.join(HERE, '..', '..', 'scripts', 'analyze-migration.py')
DEFAULT_CAPTURES = '/work/shared/spec/captures'
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


# ---------------------------------------------------------------- driver

def check_cli_errors(root):
    rc, out, err = run_cli([], data=b'')
    expect(rc == 1 and err == 'offset 0 (0x0): truncated: need 4 bytes for '
           'magic, 0 left\n', 'empty stream: %d %r', rc, err)
    rc, out, err = run_cli([], path=os.path.join(root, 'no-such-file'))
    expect(rc == 1 and err.count('\n') == 1, 'missing file: %d %r', rc, err)
    return 'empty stream, missing file'


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_CAPTURES
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
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
