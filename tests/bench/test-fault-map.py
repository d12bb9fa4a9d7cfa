#!/usr/bin/env python3
"""Tests for tests/bench/fault-map: a crafted destination trace in ferry's
"-msg timestamp=on" format, the PNG it makes (decoded here with zlib:
size and the colours of chosen cells) and the numbers it prints; and the
traces it must refuse.  Prints TAP.  Usage: test-fault-map.py FAULT_MAP"""
import json
import os
import struct
import subprocess
import sys
import tempfile
import zlib

T0 = 1795885698.0

PUSHED = (0x2f, 0x63, 0xd6)
REQUESTED = (0xe8, 0x20, 0x1a)
BOTH = (0xa2, 0x1f, 0xc4)
BEFORE = (0xa8, 0xa8, 0xa8)
RING = (0xf7, 0xb2, 0xac)
WHITE = (0xff, 0xff, 0xff)


def line(us, event, rest, tid=7):
    return '%d@%.6f:%s %s\n' % (tid, T0 + us / 1e6, event, rest)


def read_png(path):
    """(width, height, rows of (r, g, b)) of an 8-bit RGB PNG."""
    with open(path, 'rb') as f:
        data = f.read()
    assert data[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG'
    pos, idat = 8, b''
    while pos < len(data):
        n, kind = struct.unpack('>I4s', data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b'IHDR':
            w, h, depth, ctype, _, _, interlace = struct.unpack('>IIBBBBB',
                                                                body)
            assert (depth, ctype, interlace) == (8, 2, 0), 'not 8-bit RGB'
        elif kind == b'IDAT':
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    bpp, stride = 3, w * 3
    rows, prev = [], bytearray(stride)
    for y in range(h):
        ftype = raw[y * (stride + 1)]
        cur = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = cur[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if ftype == 1:
                cur[i] = (cur[i] + a) & 0xff
            elif ftype == 2:
                cur[i] = (cur[i] + b) & 0xff
            elif ftype == 3:
                cur[i] = (cur[i] + (a + b) // 2) & 0xff
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                cur[i] = (cur[i] + pred) & 0xff
        rows.append([tuple(cur[i:i + 3]) for i in range(0, stride, 3)])
        prev = cur
    return w, h, rows


def try_read_png(path):
    """read_png(), or (0, 0, []) if there is no PNG to read."""
    try:
        return read_png(path)
    except (OSError, AssertionError, zlib.error, struct.error,
            UnboundLocalError):
        return 0, 0, []


def synthetic(path):
    """
    64 pages of 4 KiB; on a 32 x 32 map a column is two pages and a row
    100 us (the switch at 100 us, the end at 3300 us).
    """
    with open(path, 'w') as f:
        f.write('a line of something else\n')
        f.write(line(0, 'postcopy_state_change', 'none -> advise'))
        f.write(line(1, 'postcopy_advise', 'page size summary 0x1000'))
        f.write(line(2, 'postcopy_register', 'ram 0x40000 ioctls 0x13c'))
        f.write(line(100, 'postcopy_state_change', 'discard -> listening'))
        f.write(line(200, 'postcopy_state_change', 'listening -> running'))
        # The end, written by one thread before another's last lines.
        f.write(line(3300, 'postcopy_state_change', 'running -> end'))
        # Pages 0-15 pushed, page i in row 2i, column i / 2.
        for i in range(16):
            f.write(line(100 + i * 200 + 50, 'postcopy_place_page',
                         'ram 0x%x zero 0' % (i * 0x1000), tid=8))
        # Page 40 requested: row 20, column 20.
        f.write(line(2140, 'postcopy_request', 'ram 0x28000 len 0x1000'))
        f.write(line(2150, 'postcopy_request_done',
                     'ram 0x28000 after 90000 ns', tid=8))
        f.write(line(2150, 'postcopy_place_page', 'ram 0x28000 zero 0',
                     tid=8))
        # Pages 44 (requested) and 45 (pushed): one cell, row 24, column 22.
        f.write(line(2550, 'postcopy_request_done',
                     'ram 0x2c000 after 120000 ns', tid=8))
        f.write(line(2550, 'postcopy_place_page', 'ram 0x2c000 zero 0',
                     tid=8))
        f.write(line(2560, 'postcopy_place_page', 'ram 0x2d000 zero 0',
                     tid=8))
        # Zero pages 48-51: row 28, columns 24 and 25.
        f.write(line(2950, 'postcopy_place_zero_run',
                     'ram 0x30000 len 0x4000', tid=8))
        f.write(line(3000, 'postcopy_place_page', 'ram zero', tid=8))
        f.write('postcopy_place_page ram 0x3f000 zero 0\n')


def parse(rc, out):
    try:
        return json.loads(out) if rc == 0 else {}
    except ValueError:
        return {}


def main():
    tool = sys.argv[1]
    results = []

    def check(name, cond):
        results.append((name, bool(cond)))

    def run(*args):
        p = subprocess.run([tool] + list(args), capture_output=True,
                           text=True, timeout=30)
        return p.returncode, p.stdout, p.stderr

    with tempfile.TemporaryDirectory() as d:
        trace, png = os.path.join(d, 'dst.trace'), os.path.join(d, 'm.png')
        synthetic(trace)
        rc, out, err = run('--json', '--width', '32', '--height', '32',
                           '--ring', '0', trace, png)
        check('a synthetic trace is drawn', rc == 0 and not err)
        info = parse(rc, out)
        check('pages counted',
              (info.get('pages'), info.get('requested'), info.get('pushed'),
               info.get('pushed_zero'), info.get('before_switch')) ==
              (64, 2, 21, 4, 41))
        check('the malformed line is counted', info.get('malformed') == 1)
        check('postcopy time from the switch to the end',
              abs(info.get('postcopy_s', 0) - 0.0032) < 1e-6 and
              abs(info.get('run_s', 0) - 0.0001) < 1e-6)
        check('request latency', info.get('request_latency_us') ==
              {'p50': 90.0, 'p99': 120.0, 'max': 120.0})
        w, h, rows = try_read_png(png)
        check('PNG size as reported',
              (w, h) == (info.get('width'), info.get('height')) and w > 32)
        mp = info.get('map', {'x': 0, 'y': 0, 'w': 0, 'h': 0})
        rows = rows if (mp['w'], mp['h']) == (32, 32) else []
        check('map size', (mp['w'], mp['h']) == (32, 32))

        def cell(x, y):
            return rows[mp['y'] + y][mp['x'] + x] if rows else None

        check('pushed pages are blue',
              all(cell(i // 2, 2 * i) == PUSHED for i in range(16)))
        check('a requested page is red', cell(20, 20) == REQUESTED)
        check('requested and pushed in one cell are purple',
              cell(22, 24) == BOTH)
        check('pushed zero pages are blue',
              cell(24, 28) == PUSHED and cell(25, 28) == PUSHED)
        check('no placement, no colour',
              cell(1, 0) == WHITE and cell(20, 19) == WHITE and
              cell(20, 21) == WHITE and cell(5, 30) == WHITE)
        st = info.get('strip', {'y': 0})

        def strip(x):
            return rows[st['y']][mp['x'] + x] if rows else None

        check('the strip is grey where pages came before the switch',
              [strip(x) == BEFORE for x in range(32)] ==
              [False] * 8 + [True] * 14 + [False, True, False, False] +
              [True] * 6)

        png2 = os.path.join(d, 'ring.png')
        rc, out, err = run('--width', '32', '--height', '32', '--ring', '3',
                           trace, png2)
        check('human output names the file and the counts',
              rc == 0 and png2 in out and 'requested 2, pushed 21 (4 of '
              'them zero), before the switch 41' in out)
        _, _, rows2 = try_read_png(png2)

        def cell2(x, y):
            return rows2[mp['y'] + y][mp['x'] + x] if rows2 else None

        check('rings mark requested cells, under the cells',
              cell2(23, 20) == RING and cell2(20, 17) == RING and
              cell2(20, 20) == REQUESTED and cell2(22, 24) == BOTH)

        untimed = os.path.join(d, 'untimed.trace')
        with open(untimed, 'w') as f:
            f.write('postcopy_place_page ram 0x0 zero 0\n')
        rc, out, err = run(untimed, os.path.join(d, 'u.png'))
        check('a trace without timestamps is refused',
              rc == 1 and 'timestamp=on' in err and
              not os.path.exists(os.path.join(d, 'u.png')))
        other = os.path.join(d, 'other.trace')
        with open(other, 'w') as f:
            f.write(line(0, 'postcopy_ram_fault_thread_request',
                         'Request for HVA=0x7f00 rb=pc.ram offset=0x0'))
        rc, out, err = run(other, os.path.join(d, 'o.png'))
        check('a trace without placements is refused',
              rc == 1 and 'no postcopy placements' in err)
        twice = os.path.join(d, 'twice.trace')
        with open(trace) as src, open(twice, 'w') as f:
            text = src.read()
            f.write(text + text)
        rc, out, err = run(twice, os.path.join(d, 't.png'))
        check('two migrations in one trace are refused',
              rc == 1 and '2 migrations' in err)
        bogus = os.path.join(d, 'bogus.trace')
        with open(bogus, 'w') as f:
            f.write(line(9, 'postcopy_place_page',
                         'ram 0xfffffffffffff000 zero 0'))
        rc, out, err = run(bogus, os.path.join(d, 'b.png'))
        check('an offset beyond 16 TiB is refused',
              rc == 1 and 'more RAM than' in err)
        rc, out, err = run(os.path.join(d, 'missing'), png)
        check('a missing trace is an error', rc == 1)
        rc, out, err = run(trace, os.path.join(d, 'no', 'such', 'x.png'))
        check('an unwritable output is an error', rc == 1 and 'x.png' in err)
        rc, out, err = run(trace)
        check('bad arguments exit 2', rc == 2)
        rc, out, err = run('--events')
        check('--events lists what to trace',
              rc == 0 and out.split() == [
                  'postcopy_advise', 'postcopy_register',
                  'postcopy_state_change', 'postcopy_place_page',
                  'postcopy_place_zero_run', 'postcopy_request_done'])

        huge = os.path.join(d, 'huge.trace')
        with open(huge, 'w') as f:
            f.write(line(0, 'postcopy_advise', 'page size summary 0x200000'))
            f.write(line(1, 'postcopy_register', 'mem 0x800000 ioctls 0x1c'))
            f.write(line(2, 'postcopy_state_change', 'discard -> listening'))
            f.write(line(9, 'postcopy_place_page', 'mem 0x200000 zero 0'))
        rc, out, err = run('--json', huge, os.path.join(d, 'h.png'))
        info = parse(rc, out)
        check('huge pages count as one page each',
              (info.get('page_size'), info.get('pages'),
               info.get('pushed'), info.get('before_switch'),
               info.get('run_s', 0)) == (0x200000, 4, 1, 3, None))

    print('1..%d' % len(results))
    for i, (name, ok) in enumerate(results, 1):
        print('%s %d - %s' % ('ok' if ok else 'not ok', i, name))
    return 0 if all(ok for _, ok in results) else 1


if __name__ == '__main__':
    sys.exit(main())
