"""Analyzers written against either module (ours or QEMU's), so that both
can be run on the same trace and what they saw compared; and a writer of
small version-4 traces."""

import gzip
import struct
from pathlib import Path


def is_string(ty):
    """Whether QEMU's simple backend stores an argument of C type `ty` as a
    string."""
    ty = ty.lstrip()
    return ty.startswith(('const char*', 'char*', 'const char *', 'char *')) and ty.count('*') == 1


def formatter(module):
    """An Analyzer2 of `module` printing each record as simpletrace.py's
    main does, into `.lines`."""

    class Formatter(module.Analyzer2):
        def __init__(self):
            self.last = None
            self.lines = []

        def catchall(self, *rec_args, event, timestamp_ns, pid, event_id):
            if self.last is None:
                self.last = timestamp_ns
            delta = timestamp_ns - self.last
            self.last = timestamp_ns
            fields = [f'{name}={value}' if is_string(ty) else f'{name}=0x{value:x}'
                      for value, (ty, name) in zip(rec_args, event.args)]
            self.lines.append(f'{event.name} {delta / 1000:0.3f} pid={pid} ' + ' '.join(fields) + '\n')

        def text(self):
            return ''.join(self.lines)

    return Formatter()


def old_style(module, handlers, sink):
    """An old-style Analyzer of `module` recording into `sink` (a list):
    begin, end, catchall calls, and a method per entry of `handlers`
    (event name -> (leading parameters: 0 arguments only, 1 timestamp, 2
    timestamp and pid; the event's argument count))."""
    namespace = {name: exact_handler(name, lead, nargs, sink)
                 for name, (lead, nargs) in handlers.items()}

    def begin(self):
        sink.append('begin')

    def catchall(self, event, rec):
        sink.append(('catchall', event.name, rec))

    def end(self):
        sink.append('end')

    namespace.update(begin=begin, catchall=catchall, end=end)
    return type('OldStyle', (module.Analyzer,), namespace)()


def exact_handler(name, lead, nargs, sink):
    """A method with exactly `lead` + `nargs` named parameters after self
    (old-style handlers are told apart by their count), recording its name
    and arguments into `sink`."""
    params = ['t', 'p'][:lead] + [f'a{i}' for i in range(nargs)]
    namespace = {'sink': sink}
    exec(f'def {name}(self, {", ".join(params)}):\n'
         f'    sink.append(({name!r}, {", ".join(params)}))\n', namespace)
    return namespace[name]


def read_golden(path):
    path = Path(path)
    if path.suffix == '.gz':
        return gzip.decompress(path.read_bytes()).decode('utf-8', 'surrogateescape')
    return path.read_bytes().decode('utf-8', 'surrogateescape')


# Version-4 traces, built record by record (little-endian).

def header(version=4):
    return struct.pack('<QQQ', 0xffffffffffffffff, 0xf2b177cb0aa429b4, version)


def mapping(event_id, name):
    name = name.encode()
    return struct.pack('<QQI', 0, event_id, len(name)) + name


def event(event_id, timestamp, pid, *args):
    payload = b''
    for a in args:
        if isinstance(a, bytes):
            payload += struct.pack('<I', len(a)) + a
        else:
            payload += struct.pack('<Q', a & 0xffffffffffffffff)
    return struct.pack('<QQQII', 1, event_id, timestamp, 24 + len(payload), pid) + payload


def dropped(timestamp, pid, count):
    return event(0xfffffffffffffffe, timestamp, pid, count)


def event_v3(event_id, timestamp, *args):
    """A record of versions 2 and 3: no type word, no pid."""
    payload = b''
    for a in args:
        if isinstance(a, bytes):
            payload += struct.pack('<I', len(a)) + a
        else:
            payload += struct.pack('<Q', a & 0xffffffffffffffff)
    return struct.pack('<QQII', event_id, timestamp, 24 + len(payload), 0) + payload


def header_v0():
    """Version 0's header: a 64-byte record of its own."""
    return header(0) + b'\0' * 40


def event_v0(event_id, timestamp, *args):
    """A record of version 0: 64 bytes, six argument words."""
    words = list(args) + [0] * (6 - len(args))
    return struct.pack('<QQ6Q', event_id, timestamp, *(w & 0xffffffffffffffff for w in words))
