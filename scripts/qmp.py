#!/usr/bin/env python3
"""A small QMP client for ferry (and QEMU), standard library only.

As a library:
    from qmp import QMP
    q = QMP('/tmp/src.qmp')            # or QMP(('127.0.0.1', 4444))
    q.cmd('query-status')              -> {'status': 'running', ...}
    q.wait_event('STOP', timeout=10)   -> the event dict

As a command:
    scripts/qmp.py SOCKET COMMAND ['{"arg": value}']
prints the "return" value as JSON, or the error and exits 1.
"""
import json
import select
import socket
import sys
import time


class QMPError(Exception):
    def __init__(self, error):
        super().__init__('%s: %s' % (error.get('class'), error.get('desc')))
        self.error = error


class QMP:
    def __init__(self, address, timeout=30.0):
        family = socket.AF_UNIX if isinstance(address, str) else \
            socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock.connect(address)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                if time.monotonic() > deadline:
                    raise
                # Wait for the server to create its socket (poll).
                select.select([], [], [], 0.02)
        self.buf = b''
        self.events = []
        self.timeout = timeout
        self.greeting = self._read()
        self.cmd('qmp_capabilities')

    def _read(self, deadline=None):
        deadline = deadline or time.monotonic() + self.timeout
        while b'\n' not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError('no QMP message within the deadline')
            r, _, _ = select.select([self.sock], [], [], left)
            if r:
                data = self.sock.recv(65536)
                if not data:
                    raise EOFError('QMP connection closed')
                self.buf += data
        line, self.buf = self.buf.split(b'\n', 1)
        return json.loads(line)

    def cmd_raw(self, name, args=None):
        req = {'execute': name}
        if args is not None:
            req['arguments'] = args
        self.sock.sendall(json.dumps(req).encode() + b'\n')
        while True:
            msg = self._read()
            if 'event' in msg:
                self.events.append(msg)
            else:
                return msg

    def cmd(self, name, args=None, **kwargs):
        if kwargs:
            args = dict(args or {}, **kwargs)
        rsp = self.cmd_raw(name, args)
        if 'error' in rsp:
            raise QMPError(rsp['error'])
        return rsp['return']

    def wait_event(self, name, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for i, ev in enumerate(self.events):
                if ev['event'] == name:
                    return self.events.pop(i)
            self.events.append(self._read(deadline))

    def pump(self, timeout):
        """Waits up to @timeout seconds for messages; returns the events
        that arrived (they also stay queued for wait_event)."""
        deadline = time.monotonic() + timeout
        new = []
        while True:
            if b'\n' not in self.buf:
                left = deadline - time.monotonic()
                r, _, _ = select.select([self.sock], [], [], max(left, 0))
                if not r:
                    return new
                data = self.sock.recv(65536)
                if not data:
                    raise EOFError('QMP connection closed')
                self.buf += data
                continue
            msg = self._read()
            if 'event' in msg:
                self.events.append(msg)
                new.append(msg)

    def close(self):
        self.sock.close()


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    addr = sys.argv[1]
    if ':' in addr and not addr.startswith('/'):
        host, port = addr.rsplit(':', 1)
        addr = (host, int(port))
    args = json.loads(sys.argv[3]) if len(sys.argv) > 3 else None
    q = QMP(addr)
    try:
        print(json.dumps(q.cmd(sys.argv[2], args), indent=2))
    except QMPError as e:
        print(e, file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
