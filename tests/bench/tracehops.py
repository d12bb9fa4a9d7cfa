"""Where a postcopy fault's time goes, from ferry's own trace events.

postcopy-latency.py --hops runs ferry with "-msg timestamp=on" and a few
trace events on both sides (one host, so the wall-clock timestamps of the
two processes compare), then splits each sampled fault into the steps it
took:

  fault     destination: the fault thread reads the fault
            (postcopy_fault) and sends the request (postcopy_request)
  return    the request crosses the return path: the source's
            return-path thread has parsed it (rp_req_pages)
  send      the source has written the page: the return-path thread
            itself (ram_urgent_direct, or ram_urgent_preempt on the
            preempt channel), or the migration thread, which took it from
            the queue (ram_urgent_page); or the page was already on its
            way (ram_request_already_sent)
  arrive    until the destination placed the page (postcopy_request_done)
  resume    the rest of the harness's extra latency: the faulting thread
            runs again and the read returns (extra latency minus fault to
            placement; method noise included, may be negative)

Tracing costs time itself: use it to see which step dominates, not for
the latency figures.  Standard library only.
"""
import re

SRC_EVENTS = ('rp_req_pages', 'ram_urgent_page', 'ram_urgent_direct',
              'ram_urgent_preempt', 'ram_request_already_sent')
DST_EVENTS = ('postcopy_fault', 'postcopy_request', 'postcopy_request_done')
STEPS = ('fault', 'return', 'send', 'arrive', 'resume')
SENT = ('ram_urgent_direct', 'ram_urgent_preempt', 'ram_urgent_page',
        'ram_request_already_sent')

LINE = re.compile(r'\d+@(\d+\.\d+):(\w+) (\S+) (0x[0-9a-f]+)')


def trace_args(side, path):
    """Command-line arguments that trace @side ('src' or 'dst')."""
    args = ['-msg', 'timestamp=on', '-D', path]
    for ev in (SRC_EVENTS if side == 'src' else DST_EVENTS):
        args += ['-trace', ev]
    return args


def _load(path):
    """{offset: {event: first time in us}} of one trace file."""
    by = {}
    try:
        f = open(path)
    except OSError:
        return by
    with f:
        for line in f:
            m = LINE.match(line)
            if not m:
                continue
            ev = by.setdefault(int(m.group(4), 16), {})
            ev.setdefault(m.group(2), float(m.group(1)) * 1e6)
    return by


def split(src_trace, dst_trace, samples):
    """
    @samples: [(guest address, extra latency us)] of one run's faults.
    Returns {step: [us, ...]}, plus 'already' (pages the push had sent
    before the request came) and 'queued' (taken by the migration thread)
    counts.
    """
    src, dst = _load(src_trace), _load(dst_trace)
    out = {s: [] for s in STEPS}
    out['already'] = out['queued'] = 0
    for addr, extra in samples:
        d, s = dst.get(addr, {}), src.get(addr, {})
        fault = d.get('postcopy_fault')
        req = d.get('postcopy_request')
        done = d.get('postcopy_request_done')
        rp = s.get('rp_req_pages')
        sent = next((s[e] for e in SENT if e in s), None)
        if None in (fault, req, done, rp):
            continue
        out['fault'].append(req - fault)
        out['return'].append(rp - req)
        if sent is not None:
            out['send'].append(sent - rp)
            out['arrive'].append(done - sent)
        out['resume'].append(extra - (done - fault))
        out['already'] += 'ram_request_already_sent' in s
        out['queued'] += 'ram_urgent_page' in s
    return out


def merge(parts):
    total = {s: [] for s in STEPS}
    total['already'] = total['queued'] = 0
    for p in parts:
        for k in total:
            total[k] += p[k]
    return total
