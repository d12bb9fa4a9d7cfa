#!/usr/bin/env python3
"""Decode a live-migration ("savevm") stream and list what is in it.

usage: analyze-migration.py [--stream KIND] [--dump WHAT] [options] FILE
       analyze-migration.py [options] [MAIN] --multifd CHANNEL...
       [--memory-image OUT [--memory-block NAME]]
FILE "-" reads stdin.  Exit status: 0 = decoded up to a proper end; 1 = the
stream is truncated, corrupt or cannot be decoded, with one line on stderr
"offset N (0xN): truncated|corrupt|unsupported: what"; 2 = usage error or
analyzer bug.

Design note
-----------
Written from /work/shared/spec/qemu-migration-protocol.md ("§" below).
It mirrors a loading destination and keeps the state that one keeps, since
the grammar depends on it: known section ids, the last RAMBlock named per
channel (CONTINUE), the postcopy state (legal commands and RAM flags),
whether a 16-byte POSTCOPY_ADVISE came and whether x-ignore-shared is on
(optional fields of MEM_SIZE block entries).

* Reader: a bounded cursor with offset tracking; every read names what it
  reads.  Running off the end of the file is "truncated"; off the end of a
  length-delimited inner blob (PACKAGED, RP payload) "corrupt", as a length
  lied.  Errors inside a section or package gain "(in ...)" context.
* One function per element type, one decoder per MIG_CMD and RP message.
* FULL section bodies carry no length (§3): they are decoded exactly, field
  by field, from a vmstate description: the trailing VMDESCRIPTION if the
  file has one (found first: EOF byte, 0x06, a be32 length ending exactly
  at end of file, a JSON object), else a built-in layout for "timer" and
  "globalstate" (§3.5, §3.6: all a 7.2 postcopy package holds), else we
  stop, "unsupported".  Searching for the 0x7e footer instead would be a
  guess: device data can contain it.
* MEM_SIZE page_size field (§4.3, §4.5): only after a 16-byte ADVISE, and
  only for blocks whose page size differs from the source's host page size
  (taken to be the target page size).  --hugepage-blocks names them;
  otherwise the ADVISE summary S (OR of the block page sizes) decides:
  S == host page size -> none; host page size not in S -> all; mixed -> a
  block has one iff the next be64 is a power of two in S, above the host
  page size, at most 16 GiB and dividing used_length.  What else can come
  next (an idstr length byte, a record header) never looks like that; a gpa
  could, but 7.2 refuses postcopy-ram with x-ignore-shared.  gpa fields
  exist iff the configuration lists x-ignore-shared (or --x-ignore-shared).
* A main stream may end after EOF, optionally followed by one
  VMDESCRIPTION; a recovery stream after EOF; a preempt channel after its
  EOS; a return path at any message boundary.  Anywhere else it is
  truncated (--partial reports that as the last line and exits 0).
* multifd (multifd-and-tls.md §A): a channel capture is one connection,
  hello (64 bytes) then packets (1344-byte header + payload); it may end
  only at a packet boundary.  Header fields that are stale in packets
  without pages (A.5) are not checked there.  zlib payloads are inflated
  as one stream per channel; zstd ones are only measured (no zstd in the
  standard library).  The main stream's MULTIFD_FLUSH (0x200) is a record
  like EOS.  --memory-image places pages epoch by epoch, an epoch ending
  at each barrier: every channel's SYNC packet and the main stream's EOS
  (7.2) or MULTIFD_FLUSH (8.0+ sources, when the stream has any), as a
  destination does; within an epoch a page is sent once.
* Listing: one line per top-level element, "OFFSET: WHAT", hex offsets from
  the start of the file (also in PACKAGED blobs); detail lines and package
  contents are indented by two spaces per level.
"""
import argparse
import collections
import functools
import json
import os
import sys
import zlib

QEVM_MAGIC, QEVM_VERSION = 0x5145564d, 3
EOF, START, PART, END, FULL, SUBSECTION, VMDESC, CONFIG = range(8)
COMMAND, FOOTER = 0x08, 0x7e
ELEMENTS = {START: 'SECTION_START', PART: 'SECTION_PART', END: 'SECTION_END',
            FULL: 'SECTION_FULL'}

# RAM record flags (§4.2), the low bits of every be64 record header.
RAM_ZERO, RAM_MEM_SIZE, RAM_PAGE, RAM_EOS = 0x2, 0x4, 0x8, 0x10
RAM_CONTINUE, RAM_XBZRLE, RAM_HOOK = 0x20, 0x40, 0x80
RAM_COMPRESS, RAM_MULTIFD_FLUSH = 0x100, 0x200
RAM_KINDS = {RAM_ZERO: 'ZERO', RAM_PAGE: 'PAGE', RAM_XBZRLE: 'XBZRLE',
             RAM_COMPRESS: 'COMPRESS_PAGE', RAM_EOS: 'EOS',
             RAM_MEM_SIZE: 'MEM_SIZE', RAM_MULTIFD_FLUSH: 'MULTIFD_FLUSH'}
RAM_POSTCOPY_KINDS = (RAM_ZERO, RAM_PAGE, RAM_COMPRESS, RAM_EOS)
MAX_PAGE_SIZE = 1 << 34

# MIG_CMD number -> (name, fixed payload length or None); §5.2.
MIG_CMDS = {1: ('OPEN_RETURN_PATH', 0), 2: ('PING', 4),
            3: ('POSTCOPY_ADVISE', None), 4: ('POSTCOPY_LISTEN', 0),
            5: ('POSTCOPY_RUN', 0), 6: ('POSTCOPY_RAM_DISCARD', None),
            7: ('PACKAGED', 4), 8: ('ENABLE_COLO', 0),
            9: ('POSTCOPY_RESUME', 0), 10: ('RECV_BITMAP', None),
            11: ('SWITCHOVER_START', 0)}
# Destination PostcopyState transitions (§7.3): cmd -> (allowed, new).
POSTCOPY_STEPS = {3: (('none',), 'advise'),
                  6: (('advise', 'discard'), 'discard'),
                  4: (('advise', 'discard'), 'listening'),
                  5: (('listening',), 'running')}
MAX_PACKAGE_DEPTH = 2

# Return-path message type -> (name, fixed payload length or None); §6.2.
RP_MSGS = {1: ('SHUT', 4), 2: ('PONG', 4), 3: ('REQ_PAGES_ID', None),
           4: ('REQ_PAGES', 12), 5: ('RECV_BITMAP', None),
           6: ('RESUME_ACK', 4), 7: ('SWITCHOVER_ACK', 0)}
RP_MAX_LEN = 512
RECV_BITMAP_ENDING = 0x0123456789abcdef

# vmstate types that decode to integers (§3.1): name -> (width, signed).
INT_TYPES = {'bool': (1, False), 'int32 le': (4, True), 'timer': (8, False),
             'CPU_Double_U': (8, False)}
for _bits in (8, 16, 32, 64):
    for _sign in ('int', 'uint'):
        _t = '%s%d' % (_sign, _bits)
        INT_TYPES[_t] = INT_TYPES[_t + ' equal'] = (_bits // 8, _sign == 'int')
MAX_DESC_DEPTH = 32


def _vmsd(name, minimum, version, fields, subsections=()):
    """A layout in VMDESCRIPTION form; a 4th field item = since version."""
    return {'vmsd_name': name, 'minimum_version': minimum, 'version': version,
            'fields': [dict(zip(('name', 'type', 'size', 'since'), f))
                       for f in fields],
            'subsections': list(subsections)}


# Built-in layouts, for streams without VMDESCRIPTION (postcopy).
BUILTIN_LAYOUTS = {
    'timer': _vmsd('timer', 1, 2, [  # §3.5; subsections only with -icount
        ('cpu_ticks_offset', 'int64', 8), ('unused', 'unused_buffer', 8),
        ('cpu_clock_offset', 'int64', 8, 2)], [
        _vmsd('timer/icount', 1, 1, [('qemu_icount_bias', 'int64', 8),
                                     ('qemu_icount', 'int64', 8)], [
            _vmsd('timer/icount/warp_timer', 1, 1, [
                ('vm_clock_warp_start', 'int64', 8),
                ('warp_timer', 'timer', 8)]),
            _vmsd('timer/icount/timers', 1, 1, [('rt_timer', 'timer', 8),
                                                ('vm_timer', 'timer', 8)]),
            _vmsd('timer/icount/shift', 1, 2, [
                ('icount_time_shift', 'int16', 2),
                ('last_delta', 'int64', 8)])])]),
    # §3.6, the 7.2 layout (10.x splits the buffer, same 104 bytes)
    'globalstate': _vmsd('globalstate', 1, 1, [
        ('size', 'uint32', 4), ('runstate', 'buffer', 100)]),
}


class StreamError(Exception):
    kind = 'corrupt'

    def __init__(self, offset, msg):
        super().__init__(msg)
        self.offset, self.msg, self.context = offset, msg, []

    def detail(self):
        return self.msg + ''.join(' (in %s)' % c for c in self.context)

    def __str__(self):
        return 'offset %d (%#x): %s: %s' % (self.offset, self.offset,
                                           self.kind, self.detail())


class Truncated(StreamError):
    kind = 'truncated'


class Corrupt(StreamError):
    kind = 'corrupt'


class Unsupported(StreamError):
    kind = 'unsupported'


def check(ok, offset, msg, *args):
    """Raise Corrupt(offset, msg % args) unless ok."""
    if not ok:
        raise Corrupt(offset, msg % args if args else msg)


def q(s):
    """Quote an idstr or name for the listing."""
    return json.dumps(s)


def is_pow2(v):
    return v > 0 and v & (v - 1) == 0


class Reader:
    """Bounded cursor over the file.  'inner' names the length-delimited
    blob it covers: running off the end of that is corruption."""

    def __init__(self, data, start=0, end=None, inner=None):
        self.data, self.pos, self.inner = data, start, inner
        self.end = len(data) if end is None else end

    def left(self):
        return self.end - self.pos

    def at_end(self):
        return self.pos >= self.end

    def need(self, n, what):
        left = self.end - self.pos
        if n <= left:
            return
        msg = 'need %d byte%s for %s, %d left' % (n, 's'[:n != 1], what, left)
        if self.inner:
            raise Corrupt(self.pos, '%s ends early: %s' % (self.inner, msg))
        raise Truncated(self.pos, msg)

    def take(self, n, what):
        self.need(n, what)
        self.pos += n
        return bytes(self.data[self.pos - n:self.pos])

    def skip(self, n, what):
        if self.end - self.pos < n:
            self.need(n, what)
        self.pos += n

    def uint(self, n, what):
        p = self.pos
        if self.end - p < n:
            self.need(n, what)
        self.pos = p + n
        return int.from_bytes(self.data[p:p + n], 'big')

    u8 = functools.partialmethod(uint, 1)
    u16 = functools.partialmethod(uint, 2)
    u32 = functools.partialmethod(uint, 4)
    u64 = functools.partialmethod(uint, 8)

    def cstr(self, what):
        """Counted string: u8 length, then that many bytes (no NUL)."""
        n = self.u8(what + ' length')
        return self.take(n, what).decode('ascii', 'backslashreplace')

    def peek(self, n):
        return bytes(self.data[self.pos:min(self.pos + n, self.end)])

    def sub(self, n, inner):
        """A reader over the next n bytes, which are consumed here."""
        self.need(n, inner)
        self.pos += n
        return Reader(self.data, self.pos - n, self.pos, inner)


Section = collections.namedtuple('Section', 'sid idstr instance version '
                                              'offset')


class LoadState:
    """What a destination remembers while loading (see the design note)."""

    def __init__(self, opts):
        self.opts = opts
        self.tps = 4096             # target page size; configuration may say
        self.quiet = opts.dump in ('state', 'desc')
        self.recovery = False
        self.sections = {}          # section id -> Section
        self.rp_open = False
        self.postcopy = 'none'      # none advise discard listening running
        self.advise_summary = None  # page size summary of a 16-byte ADVISE
        self.ignore_shared = opts.x_ignore_shared
        self.blocks = None          # idstr -> used_length, from MEM_SIZE
        self.last_block = {}        # channel -> idstr, for CONTINUE
        self.rp_block = None        # block of the last RP REQ_PAGES_ID
        self.package_depth = 0
        self.package_len = 0        # blob length of the PACKAGED just read
        self.vmdesc = {}            # (name, instance) -> [device desc, ...]
        self.vmdesc_json = None     # the VMDESCRIPTION read in sequence
        self.states = []            # decoded FULL sections (--dump state)
        # --memory-image: the main stream's RAM events in order, as
        # ('page', block, addr, bytes) / ('fill', block, addr, byte) /
        # ('barrier', 'EOS'|'MULTIFD_FLUSH'); None when not wanted.
        self.ram_events = [] if opts.memory_image else None
        self.multifd = []           # decoded multifd channels

    def line(self, depth, off, text):
        if not self.quiet:
            sys.stdout.write('%s%08x: %s\n' % ('  ' * depth, off, text))

    def lines(self, items):
        for item in items:
            self.line(*item)


# ---------------------------------------------------------------- header

def parse_header(r, st):
    magic = r.u32('magic')
    check(magic == QEVM_MAGIC, 0, 'not a migration stream: magic %#010x, '
          'expected 0x5145564d "QEVM" (return-path, preempt and recovery '
          'channels have no header: see --stream)', magic)
    version = r.u32('version')
    check(version == QEVM_VERSION, 4, 'stream version %d: only 3 is '
          'supported (2 is the obsolete COMPAT format)', version)
    st.line(0, 0, 'HEADER magic 0x5145564d "QEVM" version 3')
    if r.peek(1) == bytes([CONFIG]):
        parse_configuration(r, st)


def parse_configuration(r, st):
    """§2.5: vmstate "configuration" v1 -- no section header, no footer."""
    off = r.pos
    r.u8('CONFIGURATION type')
    n = r.u32('machine name length')
    check(n <= 256, off + 1, 'implausible machine name length %d', n)
    name = r.take(n, 'machine name').decode('ascii', 'backslashreplace')
    details = []
    while r.peek(1) == bytes([SUBSECTION]):
        soff = r.pos
        r.u8('subsection type')
        sname = r.cstr('subsection name')
        check(r.u32('subsection version') == 1, r.pos - 4,
              'subsection %s: version is not 1', q(sname))
        if sname == 'configuration/target-page-bits':
            bits = r.u32('target page bits')
            check(10 <= bits <= 16, r.pos - 4, 'target page bits %d', bits)
            st.tps = 1 << bits
            text = '%d (page size %#x)' % (bits, st.tps)
        elif sname == 'configuration/capabilities':
            count = r.u32('capability count')
            check(count <= 64, r.pos - 4, 'too many capabilities: %d', count)
            caps = [r.cstr('capability name') for _ in range(count)]
            st.ignore_shared |= 'x-ignore-shared' in caps
            text = ', '.join(caps) or '(none)'
        elif sname == 'configuration/uuid':
            u = r.take(16, 'VM UUID').hex()
            text = '-'.join((u[:8], u[8:12], u[12:16], u[16:20], u[20:]))
        else:
            raise Corrupt(soff, 'unknown subsection %s' % q(sname))
        details.append((1, soff, 'subsection %s v1: %s' % (sname, text)))
    st.line(0, off, 'CONFIGURATION machine %s' % q(name))
    st.lines(details)


# ------------------------------------------------------ top-level grammar

def parse_elements(r, st, depth, package=False):
    """Commands and sections until EOF (in a package: POSTCOPY_RUN)."""
    while True:
        check(not (package and r.at_end()), r.pos,
              'package ends without POSTCOPY_RUN')
        if r.at_end():
            raise Truncated(r.pos, 'the stream ends without EOF')
        off = r.pos
        typ = r.u8('element type')
        if typ == EOF:
            check(not package, off, 'EOF inside a PACKAGED blob')
            st.line(depth, off, 'EOF')
            return
        if typ in (START, FULL):
            parse_section_start_full(r, st, depth, off, typ)
        elif typ in (PART, END):
            parse_section_part_end(r, st, depth, off, typ)
        elif typ != COMMAND:
            raise Corrupt(off, 'unknown element type %#04x' % typ)
        elif parse_command(r, st, depth, off) == 'POSTCOPY_RUN' and package:
            check(r.at_end(), r.pos, '%d bytes after POSTCOPY_RUN in the '
                  'package', r.left())
            return


def in_section(e, name, sec, off):
    e.context.append('%s %s id %d at %#x' % (name, q(sec.idstr), sec.sid, off))
    return e


def parse_section_start_full(r, st, depth, off, typ):
    name = ELEMENTS[typ]
    sid = r.u32('section id')
    idstr = r.cstr('section idstr')
    instance, version = r.u32('instance id'), r.u32('version id')
    check(idstr, off + 5, '%s with an empty idstr', name)
    sec = Section(sid, idstr, instance, version, off)
    details = []
    try:
        if typ == FULL:
            check(idstr != 'ram', off, '"ram" sent as SECTION_FULL')
            text = parse_full_body(r, st, sec)
        else:
            st.sections[sid] = sec
            text, details = parse_ram_chunk(r, st, sec, depth + 1)
        parse_footer(r, sec)
    except StreamError as e:
        raise in_section(e, name, sec, off)
    st.line(depth, off, '%s id %d %s instance %d version %d: %s'
            % (name, sid, q(idstr), instance, version, text))
    st.lines(details)


def parse_section_part_end(r, st, depth, off, typ):
    name = ELEMENTS[typ]
    sid = r.u32('section id')
    sec, note = st.sections.get(sid), ''
    if sec is None:
        check(st.recovery, off + 1, '%s of section id %d, which no '
              'SECTION_START announced', name, sid)
        # A recovery connection continues the first one's "ram" section.
        sec = st.sections[sid] = Section(sid, 'ram', 0, 4, off)
        note = ' (assumed: announced on the first connection)'
    try:
        text, details = parse_ram_chunk(r, st, sec, depth + 1)
        parse_footer(r, sec)
    except StreamError as e:
        raise in_section(e, name, sec, off)
    st.line(depth, off, '%s id %d %s%s: %s' % (name, sid, q(sec.idstr), note,
                                              text))
    st.lines(details)


def parse_footer(r, sec):
    off = r.pos
    b = r.u8('section footer')
    check(b == FOOTER, off, 'missing section footer for %s: byte %#04x, '
          'expected 0x7e', q(sec.idstr), b)
    fid = r.u32('footer section id')
    check(fid == sec.sid, off + 1, 'mismatched section id in footer: %d, '
          'expected %d', fid, sec.sid)


# ------------------------------------------------------------------- RAM

class RamRecord:
    __slots__ = ('off', 'flags', 'kind', 'addr', 'block', 'size', 'fill')

    def describe(self):
        return '%s %s offset %#x flags %#x%s' % (
            self.kind, q(self.block), self.addr, self.flags,
            '' if self.fill is None else ' fill %d' % self.fill)


class RamChunk:
    """Summary of the RAM records of one section (or channel)."""

    def __init__(self):
        self.counts, self.data_bytes = {}, 0
        self.first = self.last = self.mem_size = self.eos = None

    def add(self, rec):
        self.counts[rec.kind] = self.counts.get(rec.kind, 0) + 1
        self.data_bytes += rec.size
        if rec.block is not None:
            self.first = self.first or rec
            self.last = rec

    def summary(self):
        c = self.counts
        text = ', '.join(['%d ZERO' % c.get('ZERO', 0),
                          '%d PAGE' % c.get('PAGE', 0)] +
                         ['%d %s' % (c[k], k) for k in
                          ('XBZRLE', 'COMPRESS_PAGE', 'MULTIFD_FLUSH')
                          if c.get(k)])
        text += ', %d data bytes' % self.data_bytes
        if self.mem_size:
            total, n = self.mem_size
            text = 'MEM_SIZE %#x (%d block%s); %s' % (total, n, 's'[:n != 1],
                                                     text)
        for label, rec in (('first', self.first), ('last', self.last)):
            if rec:
                text += '; %s @%#x %s+%#x' % (label, rec.off, q(rec.block),
                                              rec.addr)
        return text + ('' if self.eos is None else '; EOS @%#x' % self.eos)


def read_ram_record(r, st, channel):
    """One record (§4.3): be64 offset|flags, [idstr], payload."""
    rec = RamRecord()
    rec.off = r.pos
    hdr = r.uint(8, 'RAM record header')    # hot path: no partialmethod
    rec.flags, rec.addr = hdr & (st.tps - 1), hdr & ~(st.tps - 1)
    rec.block, rec.size, rec.fill = None, 0, None
    kind = rec.flags & ~RAM_CONTINUE
    rec.kind = RAM_KINDS.get(kind)
    if kind == RAM_HOOK:
        raise Unsupported(rec.off, 'RDMA hook record (RAM flag 0x80)')
    postcopy = st.postcopy in ('listening', 'running')
    if rec.kind is None or (postcopy and kind not in RAM_POSTCOPY_KINDS):
        raise Corrupt(rec.off, 'unknown combination of RAM flags %#x%s'
                      % (rec.flags, ' (postcopy mode)' if postcopy else ''))
    if kind in (RAM_EOS, RAM_MEM_SIZE, RAM_MULTIFD_FLUSH):
        return rec
    if rec.flags & RAM_CONTINUE:
        rec.block = st.last_block.get(channel)
        check(rec.block is not None, rec.off, 'CONTINUE record with no '
              'previous block on the %s channel', channel)
    else:
        rec.block = st.last_block[channel] = r.cstr('RAMBlock idstr')
    if st.blocks is not None:
        used = st.blocks.get(rec.block)
        if used is None or rec.addr >= used:     # (hot path: no check())
            check(used is not None, rec.off, 'unknown RAMBlock %s',
                  q(rec.block))
            raise Corrupt(rec.off, 'illegal RAM offset %#x in %s (used_length'
                          ' %#x)' % (rec.addr, q(rec.block), used))
    if kind == RAM_ZERO:
        rec.fill = r.uint(1, 'ZERO fill byte')
        if st.ram_events is not None:
            st.ram_events.append(('fill', rec.block, rec.addr, rec.fill))
    elif kind == RAM_PAGE:
        if st.ram_events is not None:
            st.ram_events.append(('page', rec.block, rec.addr,
                                  r.take(st.tps, 'page data')))
        else:
            r.skip(st.tps, 'page data')
        rec.size = st.tps
    elif st.ram_events is not None:
        raise Unsupported(rec.off, '--memory-image: %s records cannot be '
                          'decoded' % rec.kind)
    elif kind == RAM_XBZRLE:
        check(r.u8('XBZRLE encoding') == 1, r.pos - 1, 'XBZRLE encoding '
              'flag is not 1')
        rec.size = r.u16('XBZRLE length')
        check(rec.size <= st.tps, r.pos - 2, 'XBZRLE length %d', rec.size)
        r.skip(rec.size, 'XBZRLE data')
    else:
        rec.size = r.u32('compressed length')
        bound = st.tps + (st.tps >> 12) + (st.tps >> 14) + 13
        check(rec.size <= bound, r.pos - 4, 'compressed length %d > %d',
              rec.size, bound)
        r.skip(rec.size, 'compressed page')
    return rec


def parse_ram_chunk(r, st, sec, depth):
    """The body of a "ram" START/PART/END: records up to EOS (§4.4)."""
    if sec.idstr != 'ram':
        raise Unsupported(sec.offset, 'iterative section %s: only "ram" can '
                          'be decoded' % q(sec.idstr))
    check(sec.instance == 0 and sec.version == 4, sec.offset, '"ram" instance'
          ' %d version %d: the RAM loader needs 0 and 4', sec.instance,
          sec.version)
    chunk, details = RamChunk(), []
    while True:
        rec = read_ram_record(r, st, 'main')
        if rec.kind in ('EOS', 'MULTIFD_FLUSH') and \
                st.ram_events is not None:
            st.ram_events.append(('barrier', rec.kind))
        if rec.kind == 'EOS':
            chunk.eos = rec.off
            return chunk.summary(), details
        if rec.kind == 'MEM_SIZE':
            chunk.mem_size = parse_mem_size(r, st, rec, depth, details)
            continue
        chunk.add(rec)
        if rec.kind == 'MULTIFD_FLUSH':
            # 8.0+ (ferry: multifd-flush-after-each-section=off): the
            # multifd barrier, instead of the section's end (spec A.7).
            details.append((depth, rec.off, 'MULTIFD_FLUSH (multifd '
                            'barrier)'))
        elif st.opts.dump == 'pages' and rec.block is not None:
            details.append((depth, rec.off, rec.describe()))


def parse_mem_size(r, st, rec, depth, details):
    """§4.3: RAMBlock entries until their used lengths add up to the total."""
    total = left = rec.addr
    blocks = {}
    details.append((depth, rec.off, 'MEM_SIZE total %#x' % total))
    while left:
        off = r.pos
        name = r.cstr('RAMBlock idstr')
        used = r.u64('used_length of %s' % q(name))
        check(name and name not in blocks, off, 'empty or repeated RAMBlock '
              'idstr %s', q(name))
        text = 'block %s used_length %#x' % (q(name), used)
        if has_page_size_field(r, st, name, used):
            size = r.u64('page_size of %s' % q(name))
            check(is_pow2(size) and size & st.advise_summary, r.pos - 8,
                  'page size %#x of %s is not in the ADVISE summary %#x',
                  size, q(name), st.advise_summary)
            text += ' page_size %#x' % size
        if st.ignore_shared:
            text += ' gpa %#x' % r.u64('gpa of %s' % q(name))
        check(used <= left, off, 'block %s (%#x bytes) overruns the MEM_SIZE '
              'total: %#x left', q(name), used, left)
        left -= used
        blocks[name] = used
        details.append((depth + 1, off, text))
    st.blocks = blocks
    return total, len(blocks)


def has_page_size_field(r, st, name, used):
    """The page_size rule of the design note."""
    summary, host = st.advise_summary, st.tps
    if summary is None:
        return False
    if st.opts.hugepage_blocks is not None:
        return name in st.opts.hugepage_blocks
    if summary == host or not summary & host:
        return summary != host
    v = int.from_bytes(r.peek(8), 'big')   # if short, the read will fail
    return (is_pow2(v) and bool(v & summary) and host < v <= MAX_PAGE_SIZE
            and used % v == 0)


# ----------------------------------------------------- FULL section bodies

def parse_full_body(r, st, sec):
    start = r.pos
    desc, layout = pick_layout(st, sec)
    if desc is None:
        raise Unsupported(start, 'no layout for the body of %s: no '
                          'VMDESCRIPTION describes it and there is no '
                          'built-in one, so its end is unknown' % q(sec.idstr))
    value = decode_vmsd(r, desc, sec.version, 0)
    size = r.pos - start
    st.states.append({'offset': sec.offset, 'section_id': sec.sid,
                      'name': sec.idstr, 'instance_id': sec.instance,
                      'version': sec.version, 'layout': layout, 'size': size,
                      'state': value})
    text = '%d bytes (%s)' % (size, layout)
    if sec.idstr == 'globalstate' and isinstance(value.get('runstate'), str):
        text += ', runstate %s' % value['runstate']
    return text


def pick_layout(st, sec):
    pending = st.vmdesc.get((sec.idstr, sec.instance))
    if pending:
        desc = pending.pop(0)
        if desc.get('version', sec.version) == sec.version:
            return desc, 'vmdesc'
    desc = BUILTIN_LAYOUTS.get(sec.idstr)
    if desc and desc['minimum_version'] <= sec.version <= desc['version']:
        return desc, 'built-in'
    return None, None


def desc_int(r, d, key, default=None):
    v = d.get(key, default)
    check(isinstance(v, int) and not isinstance(v, bool) and v >= 0, r.pos,
          'VMDESCRIPTION: bad "%s" in %.200s', key, d)
    return v


def decode_vmsd(r, desc, version, depth):
    """Fields, then subsections (§3.2), as the description lays them out."""
    fields = desc.get('fields', [])
    check(depth <= MAX_DESC_DEPTH and isinstance(fields, list), r.pos,
          'VMDESCRIPTION: bad or too deeply nested "fields"')
    out = {}
    for f in fields:
        check(isinstance(f, dict) and isinstance(f.get('name'), str), r.pos,
              'VMDESCRIPTION: bad field %.200r', f)
        if desc_int(r, f, 'since', 0) > version:     # built-in layouts
            continue
        if 'array_len' in f:
            n, size = desc_int(r, f, 'array_len'), desc_int(r, f, 'size')
            check(n * size <= r.left(), r.pos, 'VMDESCRIPTION: array %s of '
                  '%d x %d bytes overruns the stream', q(f['name']), n, size)
            val = [decode_field(r, f, depth) for _ in range(min(n, 1 << 16))]
        else:
            val = decode_field(r, f, depth)
        if 'index' in f:
            out.setdefault(f['name'], []).append(val)
        else:
            out[f['name']] = val
    subs = decode_subsections(r, desc, depth)
    if subs:
        out['subsections'] = subs
    return out


def decode_field(r, f, depth):
    """One element; 'size' is what the source wrote for it."""
    size, typ, start = desc_int(r, f, 'size'), f.get('type'), r.pos
    if typ in ('struct', 'vstruct') and isinstance(f.get('struct'), dict):
        nested = f['struct']
        val = decode_vmsd(r, nested, desc_int(r, nested, 'version', 0),
                          depth + 1)
        check(r.pos - start == size, start, 'field %s: described as %d '
              'bytes, its struct decoded %d', q(f['name']), size,
              r.pos - start)
        return val
    raw = r.take(size, 'field %s' % q(f['name']))
    width, signed = INT_TYPES.get(typ, (None, False))
    if width == size:
        v = int.from_bytes(raw, 'big', signed=signed)
        return bool(v) if typ == 'bool' else v
    text = raw.rstrip(b'\0')
    if typ == 'buffer' and text and len(text) < size and \
            all(32 <= c < 127 for c in text):
        return text.decode('ascii')     # NUL-padded string, e.g. runstate
    return raw.hex()


def decode_subsections(r, desc, depth):
    """§3.4: peek for 0x05 + a name that starts with the parent's name."""
    parent, subs = desc.get('vmsd_name'), desc.get('subsections', [])
    if not isinstance(parent, str) or not isinstance(subs, list):
        return {}
    known = {s.get('vmsd_name'): s for s in subs if isinstance(s, dict)}
    found = {}
    while True:
        head = r.peek(2)
        if len(head) < 2 or head[0] != SUBSECTION or \
                head[1] < len(parent) + 1:
            return found
        name = r.peek(2 + head[1])[2:]
        if len(name) < head[1] or not name.startswith(parent.encode()):
            return found
        name = name.decode('ascii', 'backslashreplace')
        check(name in known, r.pos, 'unknown subsection %s of %s', q(name),
              q(parent))
        r.skip(2 + head[1], 'subsection header')
        version = r.u32('subsection version')
        check(version <= desc_int(r, known[name], 'version', 0), r.pos - 4,
              'subsection %s version %d is newer than its description',
              q(name), version)
        found[name] = decode_vmsd(r, known[name], version, depth + 1)


# -------------------------------------------------------------- commands

def parse_command(r, st, depth, off):
    """§5.1: be16 cmd, be16 len, payload; PACKAGED's blob follows it."""
    cmd, length = r.u16('command number'), r.u16('command length')
    check(cmd in MIG_CMDS, off + 1, 'MIG_CMD %#x unknown', cmd)
    name, fixed = MIG_CMDS[cmd]
    check(fixed in (None, length), off + 3, '%s received with bad length - '
          'expecting %s, got %d', name, fixed, length)
    if cmd in POSTCOPY_STEPS:
        allowed, new = POSTCOPY_STEPS[cmd]
        check(st.postcopy in allowed, off, '%s in postcopy state %s', name,
              st.postcopy)
        st.postcopy = new
    p = r.sub(length, '%s payload' % name)
    text = CMD_DECODERS.get(cmd, lambda p, st, off: '')(p, st, off)
    check(p.at_end(), p.pos, '%d unexpected bytes at the end of %s',
          p.left(), name)
    st.line(depth, off, 'COMMAND %s len %d%s' % (name, length,
                                                 text and ': ' + text))
    if name == 'PACKAGED':
        parse_package(r, st, depth, st.package_len)
    return name


def cmd_open_return_path(p, st, off):
    was_open, st.rp_open = st.rp_open, True
    return 'already open (ignored)' if was_open else ''


def cmd_ping(p, st, off):
    value = p.u32('PING value')
    check(st.rp_open, off, 'PING received with no return path open')
    return '%d%s' % (value, ' (package loaded)' if value == 0x42 else '')


def cmd_advise(p, st, off):
    if p.left() == 0:
        return 'no RAM postcopy (dirty-bitmaps only)'
    check(p.left() == 16, off + 3, 'POSTCOPY_ADVISE length %d, not 0 or 16',
          p.left())
    summary, tps = p.u64('page size summary'), p.u64('target page size')
    check(tps == st.tps, off + 13, 'ADVISE target page size %#x, the stream '
          'uses %#x', tps, st.tps)
    check(summary and summary % st.tps == 0, off + 5, 'bad ADVISE page size '
          'summary %#x', summary)
    st.advise_summary = summary
    return 'ram_pagesize_summary %#x target_page_size %#x' % (summary, tps)


def cmd_discard(p, st, off):
    """§5.3: u8 0, counted idstr, u8 0, then (be64 start, be64 len)*."""
    check(p.left() >= 20, off + 3, 'DISCARD length %d < 20', p.left())
    check(p.u8('discard version') == 0, p.pos - 1, 'DISCARD version is not 0')
    name = p.cstr('RAMBlock idstr')
    check(p.u8('terminator') == 0, p.pos - 1, 'DISCARD idstr not followed '
          'by 0')
    check(p.left() and p.left() % 16 == 0, p.pos, 'DISCARD ranges take %d '
          'bytes, not a multiple of 16', p.left())
    used = None if st.blocks is None else st.blocks.get(name, -1)
    check(used != -1, off, 'DISCARD of unknown block %s', q(name))
    ranges = []
    while not p.at_end():
        start, length = p.u64('range start'), p.u64('range length')
        check(start % st.tps == 0 and length % st.tps == 0 and
              (used is None or start + length <= used), p.pos - 16,
              'bad discard range [%#x, +%#x) of %s', start, length, q(name))
        ranges.append('[%#x, +%#x)' % (start, length))
    return '%s %s' % (q(name), ', '.join(ranges))


def cmd_packaged(p, st, off):
    st.package_len = p.u32('PACKAGED length')
    return 'blob %d bytes' % st.package_len


CMD_DECODERS = {
    1: cmd_open_return_path, 2: cmd_ping, 3: cmd_advise, 6: cmd_discard,
    7: cmd_packaged, 10: lambda p, st, off: q(p.cstr('RAMBlock idstr')),
    11: lambda p, st, off: '(10.0+; a 7.2 destination rejects it)'}


def parse_package(r, st, depth, n):
    """§5.9: the blob is a nested stream without header and EOF."""
    off = r.pos
    check(st.package_depth < MAX_PACKAGE_DEPTH, off, 'PACKAGED nested too '
          'deeply')
    blob = r.sub(n, 'PACKAGED blob')
    st.package_depth += 1
    try:
        parse_elements(blob, st, depth + 1, package=True)
    except StreamError as e:
        e.context.append('PACKAGED blob at %#x' % off)
        raise
    st.package_depth -= 1


# ----------------------------------------------------------- VMDESCRIPTION

def find_trailer(data):
    """EOF + VMDESCRIPTION ending exactly at end of file: its JSON, or None."""
    end = pos = len(data)
    while True:
        j = data.rfind(b'\x00\x06', 0, pos)
        if j < 0:
            return None
        pos = j + 1
        if j + 6 < end and data[j + 6] == 0x7b and \
                int.from_bytes(data[j + 2:j + 6], 'big') == end - j - 6:
            try:
                desc = json.loads(data[j + 6:].decode('utf-8'))
            except (ValueError, RecursionError):
                continue
            if isinstance(desc, dict):
                return desc


def parse_vmdescription(r, st):
    """§2.6: u8 0x06, be32 length, JSON; nothing may follow."""
    off = r.pos
    t = r.u8('byte after EOF')
    check(t == VMDESC, off, 'byte %#04x after EOF: only a VMDESCRIPTION '
          '(0x06) may follow it', t)
    n = r.u32('VMDESCRIPTION length')
    raw = r.take(n, 'VMDESCRIPTION JSON')
    try:
        desc = json.loads(raw.decode('utf-8'))
    except (ValueError, RecursionError) as e:
        raise Corrupt(off + 5, 'VMDESCRIPTION is not valid JSON: %s' % e)
    check(isinstance(desc, dict), off + 5, 'VMDESCRIPTION is not an object')
    check(r.at_end(), r.pos, '%d bytes after the VMDESCRIPTION', r.left())
    devices = desc.get('devices')
    st.vmdesc_json = desc
    st.line(0, off, 'VMDESCRIPTION len %d: page_size %s, %d devices' % (
        n, desc.get('page_size'),
        len(devices) if isinstance(devices, list) else 0))


# ---------------------------------------------------------------- streams

def analyze_main(r, st):
    trailer = find_trailer(r.data)
    devices = trailer.get('devices') if trailer else None
    for dev in devices if isinstance(devices, list) else []:
        if isinstance(dev, dict):
            key = (dev.get('name'), dev.get('instance_id'))
            st.vmdesc.setdefault(key, []).append(dev)
    parse_header(r, st)
    parse_elements(r, st, 0)
    if not r.at_end():
        parse_vmdescription(r, st)


def analyze_recovery(r, st):
    """§10.2: no header; RECV_BITMAPs, POSTCOPY_RESUME, then "ram" parts."""
    check(r.data[:4] != QEVM_MAGIC.to_bytes(4, 'big'), 0, 'QEVM header: a '
          'main stream, not a recovery stream')
    st.recovery, st.rp_open, st.postcopy = True, True, 'running'
    parse_elements(r, st, 0)
    check(r.at_end(), r.pos, '%d bytes after EOF', r.left())


def analyze_preempt(r, st):
    """§11: bare postcopy RAM records, ended (7.2) by EOS."""
    st.postcopy = 'running'
    chunk = RamChunk()
    while True:
        if r.at_end():
            raise Truncated(r.pos, 'the preempt channel ends without EOS')
        rec = read_ram_record(r, st, 'preempt')
        if rec.kind == 'EOS':
            st.line(0, rec.off, 'EOS (%s)' % chunk.summary())
            break
        chunk.add(rec)
        st.line(0, rec.off, rec.describe())
    check(r.at_end(), r.pos, '%d bytes after EOS', r.left())


def rp_page_request(p, st, named):
    start, length = p.u64('request start'), p.u32('request length')
    if named:
        st.rp_block = p.cstr('RAMBlock idstr')
    check(st.rp_block is not None, p.pos - 12, 'REQ_PAGES without a '
          'previous REQ_PAGES_ID')
    check(length and start % st.tps == 0 and length % st.tps == 0, p.pos,
          'page request [%#x, +%#x) is not whole pages', start, length)
    return 'start %#x len %#x %s%s' % (start, length, '' if named else
                                       'block ', q(st.rp_block))


def rp_recv_bitmap(p, r, st):
    """§10.3: the bitmap follows the message, outside its length."""
    name = p.cstr('RAMBlock idstr')
    size = r.u64('received bitmap size')
    check(size % 8 == 0, r.pos - 8, 'bitmap size %d is not a multiple of 8',
          size)
    received = bin(int.from_bytes(r.take(size, 'received bitmap'),
                                  'little')).count('1')
    mark = r.u64('bitmap end mark')
    check(mark == RECV_BITMAP_ENDING, r.pos - 8, 'bitmap end mark %#018x, '
          'expected %#018x', mark, RECV_BITMAP_ENDING)
    return '%s: bitmap %d bytes (%d pages), %d received, end mark ok' % (
        q(name), size, size * 8, received)


def rp_resume_ack(p, r, st):
    check(p.u32('RESUME_ACK value') == 1, p.pos - 4, 'RESUME_ACK value is '
          'not 1')
    return '1'


def rp_shut(p, r, st):
    v = p.u32('SHUT status')
    return '%d (%s)' % (v, 'ok' if v == 0 else 'destination failed')


RP_DECODERS = {
    1: rp_shut, 2: lambda p, r, st: '%d' % p.u32('PONG value'),
    3: lambda p, r, st: rp_page_request(p, st, True),
    4: lambda p, r, st: rp_page_request(p, st, False),
    5: rp_recv_bitmap, 6: rp_resume_ack,
    7: lambda p, r, st: '(8.1+; a 7.2 source rejects it)'}


def analyze_return_path(r, st):
    """§6: be16 type, be16 length, payload; SHUT is the last message."""
    shut = False
    while not r.at_end():
        off = r.pos
        check(not shut, off, '%d bytes after SHUT', r.left())
        typ, length = r.u16('RP message type'), r.u16('RP message length')
        check(typ in RP_MSGS, off, 'unknown return-path message type %d', typ)
        name, fixed = RP_MSGS[typ]
        check(length <= RP_MAX_LEN and fixed in (None, length), off + 2,
              'RP %s with bad length %d', name, length)
        p = r.sub(length, 'RP %s payload' % name)
        try:
            text = RP_DECODERS[typ](p, r, st)
            check(p.at_end(), p.pos, '%d unexpected bytes at the end',
                  p.left())
        except StreamError as e:
            e.context.append('RP %s at %#x' % (name, off))
            raise
        shut = typ == 1
        st.line(0, off, '%s len %d: %s' % (name, length, text))
    if not shut:
        st.line(0, r.pos, 'END of return path without SHUT')


# ------------------------------------------------------- multifd channels

MULTIFD_MAGIC, MULTIFD_VERSION = 0x11223344, 1
MULTIFD_HELLO_SIZE, MULTIFD_PAGES_MAX = 64, 128
MULTIFD_FLAG_SYNC, MULTIFD_COMP_SHIFT = 0x1, 1
# flags bits 1-3 (multifd-and-tls.md A.5); 10.x adds more methods.
MULTIFD_METHODS = {0: 'none', 1: 'zlib', 2: 'zstd'}
MULTIFD_KNOWN_FLAGS = 0xf


class MultifdPacket:
    __slots__ = ('off', 'num', 'flags', 'sync', 'block', 'normal', 'zero',
                 'size', 'pages')


class MultifdChannel:
    """One multifd connection: its hello, then its packets in order."""

    def __init__(self, name):
        self.name, self.id, self.uuid, self.method = name, None, None, None
        self.packets = []
        self.inflater = None        # zlib: one stream for the channel


def multifd_hdr_size(st):
    """The fixed header: 320 bytes + 128 offsets, whatever the counts."""
    return 320 + 8 * MULTIFD_PAGES_MAX


def parse_multifd_hello(r, st, ch):
    """A.4: magic, version, 16-byte uuid, channel id, reserved."""
    off = r.pos
    magic = r.u32('multifd hello magic')
    if magic == QEVM_MAGIC:
        raise Corrupt(off, 'a main stream ("QEVM"), not a multifd channel: '
                      'see --stream')
    check(magic == MULTIFD_MAGIC, off, 'not a multifd channel: magic '
          '%#010x, expected 0x11223344', magic)
    version = r.u32('multifd hello version')
    check(version == MULTIFD_VERSION, off + 4, 'multifd hello version %d, '
          'expected 1', version)
    u = r.take(16, 'multifd hello uuid').hex()
    ch.uuid = '-'.join((u[:8], u[8:12], u[12:16], u[16:20], u[20:]))
    ch.id = r.u8('multifd channel id')
    r.skip(39, 'multifd hello reserved bytes')
    st.line(0, off, 'HELLO magic 0x11223344 version 1 uuid %s channel %d'
            % (ch.uuid, ch.id))


def multifd_payload(r, st, ch, pk, method):
    """The pages of a packet with pages (A.5, A.6): a list of bytes, one
    per normal page, or None where they cannot be decoded (zstd)."""
    n, tps = pk.normal, st.tps
    if method == 'none':
        data = r.take(n * tps, 'multifd page data (%d pages)' % n)
        pk.size = len(data)
        return [data[i * tps:(i + 1) * tps] for i in range(n)]
    data = r.take(pk.size, '%s payload (next_packet_size)' % method)
    if method == 'zstd':
        return None                 # (no zstd in Python's library)
    if ch.inflater is None:
        ch.inflater = zlib.decompressobj()
    try:
        out = ch.inflater.decompress(data)
    except zlib.error as e:
        raise Corrupt(r.pos - pk.size, 'zlib payload of packet %d does not '
                      'inflate: %s' % (pk.num, e))
    check(not ch.inflater.eof and not ch.inflater.unused_data,
          r.pos - pk.size, 'zlib stream of the channel ended in packet %d '
          '(it must continue across packets)', pk.num)
    check(len(out) == n * tps, r.pos - pk.size, 'zlib payload of packet %d '
          'inflated to %d bytes, expected %d (%d pages)', pk.num, len(out),
          n * tps, n)
    return [out[i * tps:(i + 1) * tps] for i in range(n)]


def parse_multifd_packet(r, st, ch):
    """A.5: the 1344-byte header, then the payload."""
    off, pk = r.pos, MultifdPacket()
    h = r.sub(multifd_hdr_size(st), 'multifd packet header')
    h.inner = None                  # (a short header is a truncation)
    pk.off = off
    magic, version = h.u32('packet magic'), h.u32('packet version')
    check(magic == MULTIFD_MAGIC, off, 'multifd packet magic %#010x, '
          'expected 0x11223344', magic)
    check(version == MULTIFD_VERSION, off + 4, 'multifd packet version %d, '
          'expected 1', version)
    pk.flags = h.u32('packet flags')
    alloc, pk.normal = h.u32('pages_alloc'), h.u32('normal_pages')
    size, pk.num = h.u32('next_packet_size'), h.u64('packet_num')
    pk.zero = h.u32('zero_pages')
    h.skip(28, 'reserved')
    name = h.take(256, 'ramblock')[:255].split(b'\0')[0]
    offsets = [h.u64('page offset') for _ in range(MULTIFD_PAGES_MAX)]
    pk.sync = bool(pk.flags & MULTIFD_FLAG_SYNC)
    npages = pk.normal + pk.zero
    check(pk.flags & ~MULTIFD_KNOWN_FLAGS == 0, off + 8, 'multifd packet '
          'flags %#x: unknown bits', pk.flags)
    check(alloc <= MULTIFD_PAGES_MAX, off + 12, 'multifd packet with '
          'pages_alloc %d, at most %d', alloc, MULTIFD_PAGES_MAX)
    # (10.x sends pages_alloc 0 in empty SYNC packets.)
    check(npages <= alloc, off + 16,
          'multifd packet with %d normal + %d zero pages, pages_alloc %d',
          pk.normal, pk.zero, alloc)
    comp = (pk.flags >> MULTIFD_COMP_SHIFT) & 7
    if comp not in MULTIFD_METHODS:
        raise Unsupported(off + 8, 'multifd compression flags %#x: only '
                          'none, zlib and zstd are known' % pk.flags)
    method = MULTIFD_METHODS[comp]
    pk.block, pk.pages, pk.size = None, [], 0
    text = 'PACKET %d flags %#x (%s) pages_alloc %d normal %d zero %d' % (
        pk.num, pk.flags, method + ' SYNC' * pk.sync, alloc, pk.normal,
        pk.zero)
    if npages == 0:
        # next_packet_size, ramblock and offsets are stale here (A.5).
        ch.packets.append(pk)
        st.line(0, off, text + ': no pages')
        return
    if pk.normal:
        check(ch.method in (None, method), off + 8, 'multifd packet '
              'compression %s, earlier packets of the channel used %s',
              method, ch.method)
        ch.method = method
    pk.block = name.decode('ascii', 'backslashreplace')
    check(pk.block, off + 64, 'multifd packet with pages but no ramblock')
    used = None if st.blocks is None else st.blocks.get(pk.block)
    check(st.blocks is None or used is not None, off + 64, 'multifd packet '
          'for unknown RAMBlock %s', q(pk.block))
    for i, o in enumerate(offsets[:npages]):
        check(o % st.tps == 0 and (used is None or o < used),
              off + 320 + 8 * i, 'multifd page '
              'offset %#x of %s is not a page of the block%s', o,
              q(pk.block), '' if used is None else ' (used_length %#x)' %
              used)
    data = None
    if pk.normal:
        pk.size = size
        data = multifd_payload(r, st, ch, pk, method)
    for i, o in enumerate(offsets[:npages]):
        pk.pages.append((o, None if i >= pk.normal or data is None
                         else data[i], i >= pk.normal))
    st.line(0, off, text + ' %s %#x..%#x: %s' % (
        q(pk.block), min(offsets[:npages]), max(offsets[:npages]),
        '%d bytes %s' % (pk.size, 'raw' if method == 'none' else method +
                         (' (not decoded)' if data is None else ''))
        if pk.normal else 'no payload'))
    if st.opts.dump == 'pages':
        for i, (o, _, z) in enumerate(pk.pages):
            st.line(1, off + 320 + 8 * i, '%s %s offset %#x' % (
                'ZERO' if z else 'PAGE', q(pk.block), o))
    ch.packets.append(pk)


def analyze_multifd(r, st, name='-'):
    """A multifd channel capture: the hello, then packets to the end; the
    end of the file may only come at a packet boundary (A.8)."""
    ch = MultifdChannel(name)
    parse_multifd_hello(r, st, ch)
    st.multifd.append(ch)
    while not r.at_end():
        parse_multifd_packet(r, st, ch)
    pk = ch.packets
    st.line(0, r.pos, 'END of channel %d: %d packets (%d SYNC), %d normal '
            '+ %d zero pages, %d payload bytes%s' % (
                ch.id, len(pk), sum(p.sync for p in pk),
                sum(p.normal for p in pk), sum(p.zero for p in pk),
                sum(p.size for p in pk),
                ', compression ' + ch.method if ch.method else ''))


# ------------------------------------------------------- memory image

def image_block(st, opts):
    """The block --memory-image writes, and its size."""
    names = []
    if st.blocks is not None:
        names = list(st.blocks)
    for ch in st.multifd:
        for p in ch.packets:
            if p.block and p.block not in names:
                names.append(p.block)
    if opts.memory_block is not None:
        name = opts.memory_block
    elif len(names) == 1:
        name = names[0]
    else:
        raise Unsupported(0, '--memory-image: %s; name one with '
                          '--memory-block' % ('blocks %s' % ', '.join(
                              q(n) for n in names) if names else
                              'no RAMBlock in the input'))
    if st.blocks is not None:
        check(name in st.blocks, 0, '--memory-block %s: not in MEM_SIZE',
              q(name))
        return name, st.blocks[name]
    top = [o + st.tps for ch in st.multifd for p in ch.packets
           if p.block == name for o, _, _ in p.pages]
    return name, max(top, default=0)


def split_epochs(items, is_barrier):
    """items cut after each barrier: [[...], [...], ...]."""
    out = [[]]
    for it in items:
        out[-1].append(it)
        if is_barrier(it):
            out.append([])
    return out


def build_image(st, opts):
    """Guest RAM as a destination would hold it: the main stream's records
    and the channels' pages placed epoch by epoch, an epoch ending at each
    barrier (A.7: every channel's SYNC packet, and the main stream's EOS
    or, where it has them, MULTIFD_FLUSH)."""
    name, size = image_block(st, opts)
    image, tps = bytearray(size), st.tps
    events = st.ram_events or []
    kind = 'MULTIFD_FLUSH' if ('barrier', 'MULTIFD_FLUSH') in events \
        else 'EOS'
    epochs = [split_epochs(events, lambda e: e == ('barrier', kind))]
    epochs += [split_epochs(ch.packets, lambda p: p.sync)
               for ch in st.multifd]
    notes, undecoded = [], 0
    if st.ram_events is not None and st.multifd:
        for ch, ep in zip(st.multifd, epochs[1:]):
            if len(ep) != len(epochs[0]):
                notes.append('channel %d has %d SYNC packets, the main '
                             'stream %d %s barriers' % (
                                 ch.id, len(ep) - 1, len(epochs[0]) - 1,
                                 kind))
    for k in range(max(len(e) for e in epochs)):
        for e in epochs[0][k] if k < len(epochs[0]) else []:
            if e[0] == 'page' and e[1] == name:
                image[e[2]:e[2] + tps] = e[3]
            elif e[0] == 'fill' and e[1] == name:
                image[e[2]:e[2] + tps] = bytes([e[3]]) * tps
        for ep in epochs[1:]:
            for p in ep[k] if k < len(ep) else []:
                if p.block != name:
                    continue
                for o, data, zero in p.pages:
                    if zero:
                        image[o:o + tps] = bytes(tps)
                    elif data is None:
                        undecoded += 1
                    else:
                        image[o:o + tps] = data
    if undecoded:
        raise Unsupported(0, '--memory-image: %d zstd-compressed pages '
                          'cannot be decoded (no zstd in Python\'s '
                          'standard library)' % undecoded)
    return name, image, notes


ANALYZERS = {'main': analyze_main, 'recovery': analyze_recovery,
             'preempt': analyze_preempt, 'return-path': analyze_return_path,
             'multifd': analyze_multifd}


# ------------------------------------------------------------------- main

def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                 epilog='A bad stream gives exit status 1 and'
                                 ' "offset N (0xN): KIND: ..." on stderr.')
    ap.add_argument('file', nargs='?', help='the capture ("-" = stdin); '
                    'may be left out with --multifd')
    ap.add_argument('--stream', default='main', choices=sorted(ANALYZERS),
                    help='which channel FILE holds (default: main; '
                    'multifd: one multifd connection)')
    ap.add_argument('--multifd', metavar='CHANNEL', nargs='+',
                    action='extend', default=[],
                    help='captures of multifd connections (one file per '
                    'connection, hello included) to decode after FILE; '
                    'give FILE first')
    ap.add_argument('--memory-image', metavar='OUT',
                    help='write the guest RAM the input leaves on a '
                    'destination (one RAMBlock; unreceived pages zero): '
                    'the main stream\'s PAGE/ZERO records merged with the '
                    'multifd channels\' pages')
    ap.add_argument('--memory-block', metavar='NAME',
                    help='the RAMBlock for --memory-image (default: the '
                    'only one)')
    ap.add_argument('--dump', default='summary',
                    choices=('summary', 'pages', 'state', 'desc'),
                    help='one line per element (default); also each RAM '
                    'record; FULL sections decoded, as JSON; the '
                    'VMDESCRIPTION, as pretty JSON')
    ap.add_argument('--hugepage-blocks', metavar='NAME[,NAME]',
                    help='exactly these blocks have a MEM_SIZE page_size '
                    'field (if postcopy was advised); default: inferred')
    ap.add_argument('--x-ignore-shared', action='store_true',
                    help='block entries have a gpa field')
    ap.add_argument('--partial', action='store_true',
                    help='the capture was cut short: report where, exit 0')
    opts = ap.parse_args(argv)
    if opts.hugepage_blocks is not None:
        opts.hugepage_blocks = set(opts.hugepage_blocks.split(',')) - {''}
    if opts.dump == 'desc' and opts.stream != 'main':
        ap.error('--dump desc needs --stream main')
    if opts.file is None and not opts.multifd:
        ap.error('a FILE or --multifd CHANNEL... is needed')
    if (opts.multifd or opts.memory_image) and \
            opts.stream not in ('main', 'multifd'):
        ap.error('--multifd and --memory-image go with --stream main or '
                 'multifd')
    if opts.dump in ('state', 'desc') and opts.memory_image:
        ap.error('--memory-image does not go with --dump %s' % opts.dump)
    return opts


def analyze_all(data, channels, st):
    """FILE (if any), then each multifd channel, then the image."""
    opts = st.opts
    title = (data is not None) + len(channels) > 1 and not st.quiet
    if data is not None:
        if title:
            print('== %s: %s stream ==' % (opts.file, opts.stream))
        ANALYZERS[opts.stream](Reader(data), st)
    for name, cdata in channels:
        if title:
            print('== %s: multifd channel ==' % name)
        try:
            analyze_multifd(Reader(cdata), st, name)
        except StreamError as e:
            e.context.append('multifd channel file %s' % name)
            raise
    if opts.memory_image:
        name, image, notes = build_image(st, opts)
        try:
            with open(opts.memory_image, 'wb') as f:
                f.write(image)
        except OSError as e:
            raise Unsupported(0, 'cannot write %s: %s' % (
                opts.memory_image, e.strerror))
        for note in notes:
            print('note: %s' % note)
        print('MEMORY IMAGE %s %#x bytes -> %s' % (q(name), len(image),
                                                  opts.memory_image))


def analyze(data, opts, channels=()):
    """Analyse captures held in memory (@data: FILE's bytes or None;
    @channels: [(name, bytes)] of --multifd); returns the exit status."""
    st = LoadState(opts)
    try:
        analyze_all(data, list(channels), st)
    except Truncated as e:
        if not opts.partial:
            print(e, file=sys.stderr)
            return 1
        st.line(0, e.offset, 'TRUNCATED: ' + e.detail())
    except StreamError as e:
        print(e, file=sys.stderr)
        return 1
    if opts.dump == 'state':
        print(json.dumps(st.states, indent=2))
    elif opts.dump == 'desc':
        if st.vmdesc_json is None:
            print('offset %d (%#x): unsupported: --dump desc: the stream has '
                  'no VMDESCRIPTION (postcopy streams have none)'
                  % (len(data), len(data)), file=sys.stderr)
            return 1
        print(json.dumps(st.vmdesc_json, indent=2))
    return 0


def read_input(path):
    if path == '-':
        return sys.stdin.buffer.read()
    with open(path, 'rb') as f:
        return f.read()


def main(argv=None):
    opts = parse_args(argv)
    data, channels, path = None, [], opts.file
    try:
        if opts.file is not None:
            data = read_input(opts.file)
        for path in opts.multifd:
            channels.append((path, read_input(path)))
    except OSError as e:
        print('cannot read %s: %s' % (path, e.strerror), file=sys.stderr)
        return 1
    try:
        rc = analyze(data, opts, channels)
        sys.stdout.flush()
        return rc
    except BrokenPipeError:     # e.g. piped into head
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as e:      # an analyzer bug: say so, in one line
        print('internal error (analyzer bug): %s: %s' % (type(e).__name__, e),
              file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
