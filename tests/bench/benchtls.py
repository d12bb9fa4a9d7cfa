"""benchtls: TLS for the benchmarks, the same on ferry and on QEMU 7.2.

Shared by the benchmarks in tests/bench, like benchimpls.py: --tls
none|x509|psk; credentials made at run time (certtool from gnutls-bin,
os.urandom) into a directory of the run; the -object arguments of each
side and the migrate-set-parameters each side needs; and host_info(), the
machine facts the headers print.

    creds = benchtls.make(args.tls, tmpdir)     # None for 'none'
    dst cmdline += creds.dst_args()             # -object tls-creds-...
    src cmdline += creds.src_args()
    dst: migrate-set-parameters creds.dst_params()   before the source
    src: migrate-set-parameters creds.src_params()   connects

The migration goes over a unix socket, so the source names the host the
destination's certificate must carry: tls-hostname "localhost" (the
server certificate has dns_name localhost and ip_address 127.0.0.1).
QEMU 7.2 needs a hostname for PSK as well, so it is set in both modes.
"""
import os
import re
import shutil
import subprocess

MODES = ('none', 'x509', 'psk')
CREDS_ID = 'tls0'
HOSTNAME = 'localhost'
TLS_HELP = ('TLS on the migration: none (default), x509 (a CA, server '
            'and client certificates, ECDSA, made with certtool from '
            'gnutls-bin), psk (a random 32-byte key in keys.psk); both '
            'sides get the tls-creds-* object and tls-creds=%s' % CREDS_ID)


class TLSError(Exception):
    pass


def add_arguments(ap):
    ap.add_argument('--tls', choices=MODES, default='none', help=TLS_HELP)
    ap.add_argument('--tls-priority', metavar='STR',
                    help='GnuTLS priority string for both objects '
                    '(priority=STR; default: none given, i.e. "NORMAL"). '
                    'With PSK, TLS 1.3 cannot use AES-256-GCM (SHA-384) '
                    'with the SHA-256 key and picks CHACHA20-POLY1305; '
                    '"NORMAL:-CHACHA20-POLY1305" makes it AES-128-GCM')


CA_TEMPLATE = '''cn = ferry bench CA
ca
cert_signing_key
expiration_days = 2
'''
SERVER_TEMPLATE = '''cn = localhost
dns_name = localhost
ip_address = 127.0.0.1
tls_www_server
signing_key
encryption_key
expiration_days = 2
'''
CLIENT_TEMPLATE = '''cn = ferry bench source
organization = ferry bench
tls_www_client
signing_key
encryption_key
expiration_days = 2
'''


class Creds:
    """Credentials of one mode in @base/server and @base/client."""

    def __init__(self, mode, base, priority=None):
        self.mode = mode
        self.priority = priority
        self.server = os.path.join(base, 'server')
        self.client = os.path.join(base, 'client')
        self.qom_type = 'tls-creds-' + mode

    def _object(self, path, endpoint):
        opt = '%s,id=%s,dir=%s,endpoint=%s' % (self.qom_type, CREDS_ID,
                                               path, endpoint)
        if self.priority:
            # A comma in an option value is doubled.
            opt += ',priority=' + self.priority.replace(',', ',,')
        return ['-object', opt]

    def dst_args(self):
        return self._object(self.server, 'server')

    def src_args(self):
        return self._object(self.client, 'client')

    def dst_params(self):
        return {'tls-creds': CREDS_ID}

    def src_params(self):
        return {'tls-creds': CREDS_ID, 'tls-hostname': HOSTNAME}


def _certtool(args, cwd):
    try:
        r = subprocess.run(['certtool'] + args, cwd=cwd,
                           stdin=subprocess.DEVNULL, capture_output=True)
    except FileNotFoundError:
        raise TLSError('certtool not found (apt install gnutls-bin)')
    if r.returncode:
        raise TLSError('certtool %s failed (%d):\n%s' %
                       (' '.join(args), r.returncode,
                        r.stderr.decode(errors='replace')))
    return r.stdout


def _privkey(cwd, out):
    _certtool(['--generate-privkey', '--key-type=ecdsa', '--outfile', out],
              cwd)


def make(mode, tmpdir, priority=None):
    """Makes the credentials of @mode under @tmpdir/tls; None for 'none'.
    @priority: a GnuTLS priority string for both objects, or None.
    Raises TLSError when certtool is missing or fails."""
    if mode == 'none':
        return None
    if mode not in MODES:
        raise TLSError('unknown TLS mode %r' % mode)
    base = os.path.join(tmpdir, 'tls')
    creds = Creds(mode, base, priority)
    for d in (creds.server, creds.client):
        os.makedirs(d, mode=0o700)
    if mode == 'psk':
        line = 'qemu:%s\n' % os.urandom(32).hex()
        for d in (creds.server, creds.client):
            with open(os.path.join(d, 'keys.psk'), 'w') as f:
                f.write(line)
        return creds
    for name, text in (('ca.info', CA_TEMPLATE),
                       ('server.info', SERVER_TEMPLATE),
                       ('client.info', CLIENT_TEMPLATE)):
        with open(os.path.join(base, name), 'w') as f:
            f.write(text)
    _privkey(base, 'ca-key.pem')
    _certtool(['--generate-self-signed', '--load-privkey', 'ca-key.pem',
               '--template', 'ca.info', '--outfile', 'ca-cert.pem'], base)
    for who, d in (('server', creds.server), ('client', creds.client)):
        key = os.path.join(d, who + '-key.pem')
        _privkey(base, key)
        _certtool(['--generate-certificate', '--load-privkey', key,
                   '--load-ca-certificate', 'ca-cert.pem',
                   '--load-ca-privkey', 'ca-key.pem',
                   '--template', who + '.info',
                   '--outfile', os.path.join(d, who + '-cert.pem')], base)
        shutil.copy(os.path.join(base, 'ca-cert.pem'), d)
    # The destination's DH parameters: without dh-params.pem QEMU 7.2
    # generates 2048-bit ones when the object is made (seconds of CPU at
    # start-up); ferry and QEMU load the same well-known group instead.
    # TLS 1.3 with ECDHE does not use them either way.
    with open(os.path.join(creds.server, 'dh-params.pem'), 'wb') as f:
        f.write(_certtool(['--get-dh-params', '--sec-param', 'medium'],
                          base))
    return creds


def read_first(path):
    """A small file's contents, stripped; None if it cannot be read."""
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def host_info():
    """THP mode, CPU model and count, /dev/kvm: what the headers print."""
    thp = read_first('/sys/kernel/mm/transparent_hugepage/enabled')
    m = re.search(r'\[(\w+)\]', thp or '')
    model = None
    flags = ''
    try:
        with open('/proc/cpuinfo') as f:
            for ln in f:
                key, _, val = ln.partition(':')
                key = key.strip()
                if key == 'model name' and model is None:
                    model = val.strip()
                elif key == 'flags' and not flags:
                    flags = val
    except OSError:
        pass
    return {'thp': m.group(1) if m else None,
            'cpu_model': model,
            'aes_ni': ' aes ' in ' %s ' % flags.strip() if flags else None,
            'cpus': os.cpu_count(),
            'kvm': os.path.exists('/dev/kvm')}


def describe_tls(mode, priority=None):
    return 'TLS %s' % (mode if mode == 'none' else
                       '%s (tls-creds-%s on both sides, tls-hostname %s, '
                       'priority %s)' % (mode, mode, HOSTNAME,
                                         priority or 'default'))


def describe_host(host):
    return ('THP %s, CPU %s x %d%s, /dev/kvm %s' %
            (host['thp'], host['cpu_model'] or '?', host['cpus'],
             {True: ' (AES-NI)', False: ' (no AES-NI)', None: ''}[
                 host['aes_ni']],
             'present' if host['kvm'] else 'absent'))


def describe(mode, host, priority=None):
    """One header line: the TLS mode and the host settings."""
    return '%s; host: %s' % (describe_tls(mode, priority),
                             describe_host(host))
