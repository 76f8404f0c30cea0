"""QEMU's ``simpletrace.py`` API, on simpletrace's Rust decoder.

Analysis scripts written for QEMU's ``scripts/simpletrace.py`` (subclasses
of :class:`Analyzer` or :class:`Analyzer2` driven by :func:`process` or
:func:`run`) work unchanged with this module, several times faster: the
trace is memory-mapped and decoded in Rust, and only the records of events
that have a handler become Python objects.

Which handler an event gets, and how it is called, is decided once per
event when the run starts (after ``begin()``), not per record; see
``docs/python.md`` for that and the other differences from the original.

To run an unchanged script that does ``import simpletrace`` on this module,
even one sitting beside QEMU's own ``simpletrace.py``::

    simpletrace-runscript SCRIPT [ARGS...]

(``python3 -m simpletrace.runscript`` does the same, except from a folder
that itself holds a ``simpletrace.py``, which ``-m`` puts first.)

and ``python3 -m simpletrace [--no-header] TRACE-EVENTS TRACE`` prints a
trace exactly as ``simpletrace.py`` does.

:func:`load_columns` (numpy) and :func:`load_dataframes` (pandas) load the
records of chosen events as columns, without a Python object per record.
"""

import inspect
import io
import os
import stat
import sys
import warnings

from . import _native
from ._native import Arguments, Event, SimpleException  # noqa: F401 (the event types, public)

# QEMU's list exactly, so that `from simpletrace import *` gives what it
# gives there; the columnar functions are imported by name.
__all__ = ['Analyzer', 'Analyzer2', 'process', 'run']

# The warning QEMU's module gives for the positional Analyzer, in the same
# words, so that filters written for it match.
_DEPRECATED = "Use of deprecated Analyzer class. Refer to Analyzer2 instead."


class TruncatedTraceWarning(UserWarning):
    """The trace ends in the middle of a record (QEMU was killed while it
    wrote it): every record before the cut was handled, and ``end()`` was
    called."""


class Analyzer:
    """A trace analyzer with positional handlers (deprecated in QEMU in
    favour of :class:`Analyzer2`, and still supported).

    :func:`process` calls ``begin()``, then for each record the method named
    like its event, if there is one, else ``catchall(event, rec)`` with
    ``rec = (event_id, timestamp_ns, pid, *args)``, then ``end()``. As a
    context manager, ``begin()`` runs on entry and ``end()`` on an exit
    without an exception.

    A handler takes the event's arguments; or the timestamp (ns) and the
    arguments; or the timestamp, the pid and the arguments. Which one is
    told by how many parameters it declares::

        def runstate_set(self, new_state): ...
        def runstate_set(self, timestamp, new_state): ...
        def runstate_set(self, timestamp, pid, new_state): ...

    Integer arguments are ints (the raw unsigned 64-bit value); strings are
    ``bytes``.
    """

    def begin(self):
        """Called before the first record."""

    def catchall(self, event, rec):
        """Called for a record whose event has no method of its own."""

    def end(self):
        """Called after the last record (not when handling raised)."""

    def _process_event(self, rec_args, *, event, event_id, timestamp_ns, pid, **kwargs):
        # Only for callers that hand records over one at a time (a
        # subclass calling it through super()); process() resolves each
        # event's handler once and calls it from Rust.
        warnings.warn(_DEPRECATED, DeprecationWarning)
        cache = getattr(self, '_fn_cache', None)
        if cache is None:
            cache = self._fn_cache = {}
        if event_id not in cache:
            cache[event_id] = _positional_entry(self, event)
        entry = cache[event_id]
        if entry is not None:
            _call(entry, rec_args, event, event_id, timestamp_ns, pid)

    def __enter__(self):
        self.begin()
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        if exc_type is None:
            self.end()
        return False


class Analyzer2(Analyzer):
    """A trace analyzer whose handlers take keyword arguments.

    For each record, the method named like its event, or else ``catchall``,
    is called with the event's arguments, and the keywords ``event`` (the
    event object), ``event_id`` (its name; ``"dropped"`` for dropped-events
    records), ``timestamp_ns`` and ``pid``. Accept ``**kwargs`` so that
    keywords added later do no harm::

        def runstate_set(self, new_state, **kwargs): ...
        def runstate_set(self, new_state, *, timestamp_ns, pid, **kwargs): ...
    """

    def catchall(self, *rec_args, event, timestamp_ns, pid, event_id, **kwargs):
        """Called for a record whose event has no method of its own."""

    def _process_event(self, rec_args, *, event, **kwargs):
        # As Analyzer._process_event: for records handed over one at a time.
        entry = _keyword_entry(self, event)
        if entry is not None:
            code, fn = entry
            fn(*rec_args, event=event, **kwargs)


def _is(method, function):
    """Whether the bound `method` is `function`, unchanged."""
    return getattr(method, '__func__', None) is function


def _positional_entry(analyzer, event):
    """The handler of `event` for an old-style Analyzer: None (nothing to
    call), or (calling convention, callable)."""
    fn = getattr(analyzer, event.name, None)
    if fn is None:
        catchall = analyzer.catchall
        if _is(catchall, Analyzer.catchall):
            return None
        return (_native.CALL_EVENT_RECORD, catchall)
    try:
        # Parameters beyond `self` and the event's arguments.
        extra = len(inspect.getfullargspec(fn).args) - 1 - len(event.args)
    except Exception as e:  # a handler that is no function: raised when
        return (_native.CALL_RAISE, e)  # the event's first record comes
    if extra == 1:
        return (_native.CALL_TIMESTAMP_ARGS, fn)
    if extra == 2:
        return (_native.CALL_TIMESTAMP_PID_ARGS, fn)
    return (_native.CALL_ARGS, fn)


def _keyword_entry(analyzer, event):
    """The handler of `event` for an Analyzer2: None, or (convention,
    callable)."""
    fn = getattr(analyzer, event.name, None)
    if fn is None:
        fn = analyzer.catchall
    if _is(fn, Analyzer2.catchall):
        return None
    return (_native.CALL_KEYWORDS, fn)


def _call(entry, rec_args, event, event_id, timestamp_ns, pid):
    """Calls an old-style entry in Python (records handed over one at a
    time)."""
    code, fn = entry
    if code == _native.CALL_ARGS:
        fn(*rec_args)
    elif code == _native.CALL_TIMESTAMP_ARGS:
        fn(timestamp_ns, *rec_args)
    elif code == _native.CALL_TIMESTAMP_PID_ARGS:
        fn(timestamp_ns, pid, *rec_args)
    elif code == _native.CALL_EVENT_RECORD:
        fn(event, (event_id, timestamp_ns, pid, *rec_args))
    else:
        raise fn


def _handler_table(analyzer, decls):
    """One entry per slot (each declaration, then dropped-events records):
    None, or (calling convention, callable); and whether the analyzer is
    an old-style one."""
    slots = decls.events + [decls.dropped]
    method = getattr(type(analyzer), '_process_event', None)
    own = '_process_event' in getattr(analyzer, '__dict__', {})
    if not own and method is Analyzer._process_event:
        return [_positional_entry(analyzer, e) for e in slots], True
    if not own and method is Analyzer2._process_event:
        return [_keyword_entry(analyzer, e) for e in slots], False
    # An analyzer with its own _process_event gets every record through it.
    entry = (_native.CALL_PROCESS_EVENT, analyzer._process_event)
    return [entry] * len(slots), False


def _declarations(events):
    """The declarations of `events`: a path, a list of event objects, or an
    open text file."""
    if isinstance(events, (str, os.PathLike)):
        return _native.Declarations.from_path(os.fspath(events))
    if isinstance(events, (list, tuple)):
        return _native.Declarations.from_events(events)
    text = events.read()
    if isinstance(text, str):
        text = text.encode('utf-8', 'surrogateescape')
    return _native.Declarations.from_text(str(getattr(events, 'name', '<trace-events>')), text)


def _mappable_fd(log):
    """The descriptor of `log` when its bytes can be read from there (a
    regular file at its start), else None."""
    if os.name != 'posix' or not isinstance(log, (io.FileIO, io.BufferedReader, io.BufferedRandom)):
        return None
    try:
        if log.tell() != 0:
            return None
        fd = log.fileno()
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
    except (OSError, ValueError):
        return None
    return fd


def _open(decls, log, read_header, fd=None):
    """The trace `log` (a path or an open binary file; `fd` its descriptor
    when its bytes can be read from there), its header checked."""
    if isinstance(log, (str, os.PathLike)):
        return _native.Trace.open(decls, path=os.fspath(log), read_header=read_header)
    name = str(getattr(log, 'name', '<trace>'))
    if fd is None:
        return _native.Trace.open(decls, reader=log, name=name, read_header=read_header)
    return _native.Trace.open(decls, fd=fd, name=name, read_header=read_header)


def process(events, log, analyzer, read_header=True):
    """Runs `analyzer` over the records of a trace.

    `events`: the trace-events file (``trace-events-all``) as a path, an
    open text file, or a list of already-parsed events (tracetool's
    ``Event`` objects, handed back to the handlers as they are). `log`: the
    trace, as a path or an open binary file. `read_header`: whether the
    trace starts with its header (False for a trace without one, whose
    event ids are positions in `events`).

    A trace whose header is wrong raises ValueError; one that cannot be
    read further, SimpleException naming the record and byte offset (every
    record before it has been handled, and ``end()`` is not called). A
    trace cut off in the middle of a record gives a TruncatedTraceWarning
    after its last complete record, and ``end()`` is called.
    """
    decls = _declarations(events)
    fd = None if isinstance(log, (str, os.PathLike)) else _mappable_fd(log)
    try:
        trace = _open(decls, log, read_header, fd)
        with analyzer:
            table, old_style = _handler_table(analyzer, decls)
            if old_style:
                # Once per run, where QEMU's module warns once per record.
                warnings.warn(_DEPRECATED, DeprecationWarning)
            result = trace.dispatch(table)
            if result.warning:
                warnings.warn(result.warning, TruncatedTraceWarning, stacklevel=2)
    finally:
        if fd is not None:
            # Read through a descriptor of its own: the file is left at its
            # end, as reading it would leave it, and its buffer in step.
            log.seek(0, io.SEEK_END)


def _patterns(names):
    """`names` (a comma-separated string, or an iterable of names and
    globs) as one comma-separated list."""
    if isinstance(names, str):
        return names
    names = list(names)
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"event names are strings, not {type(name).__name__}")
    return ','.join(names)


def _threads(threads):
    if threads is None:
        try:
            return len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            return os.cpu_count() or 1
    if not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive int, not {threads!r}")
    return threads


def _load(events, log, names, read_header, threads):
    """The native tables of the chosen events, warning as process() does."""
    patterns = _patterns(names)
    decls = _declarations(events)
    fd = None if isinstance(log, (str, os.PathLike)) else _mappable_fd(log)
    try:
        trace = _open(decls, log, read_header, fd)
        tables, _records, warning = trace.columns(patterns, _threads(threads))
    finally:
        if fd is not None:
            log.seek(0, io.SEEK_END)
    if warning:
        warnings.warn(warning, TruncatedTraceWarning, stacklevel=3)
    return tables


def _strings(np, payload, strings):
    """A string column from `(codes, distinct)`: an object array of bytes
    (records with the same string share one bytes object), or a pyarrow
    LargeBinaryArray (`strings='arrow'`)."""
    codes, distinct = payload
    codes = np.frombuffer(codes, dtype=np.uint32)
    if strings == 'arrow':
        import pyarrow as pa
        return pa.array(distinct, type=pa.large_binary()).take(pa.array(codes))
    table = np.empty(len(distinct), dtype=object)
    table[:] = distinct
    return table[codes]


# The columns every table starts with, before the arguments.
_RECORD_COLUMNS = ('timestamp_ns', 'pid', 'record')


def load_columns(events, log, names, read_header=True, *, threads=None, strings='bytes'):
    """Loads the records of chosen events as numpy arrays.

    `events`, `log` and `read_header` are as for :func:`process`. `names`
    chooses the events: a list of event names and globs, or one
    comma-separated string of them, as ``simpletrace --events`` takes them
    (``qemu_mutex_*``, ``-qemu_mutex_unlock``: the last pattern matching a
    name decides); ``Dropped_Event`` chooses the dropped-events records
    (``*`` does too). A name that is not declared raises ValueError (with
    the declared name it likely meant). `threads`: how many threads decode
    the trace (default: the CPUs this process may use).

    Returns ``{event name: {column name: array}}`` for each chosen event
    (declaration order, ``Dropped_Event`` last), every array one value per
    record, in trace order: ``timestamp_ns`` (uint64), ``pid`` (uint32),
    ``record`` (uint64: the record's position in the trace, counting every
    record from 0, mappings included; it orders records across events),
    then each argument under its declared name (``arg_pid`` for an
    argument named ``pid``, and so for the other two): int64 for signed C
    types (sign-extended), uint64 for unsigned ones and pointers, bool for
    ``bool``, and for strings an object array of ``bytes`` (or, with
    ``strings='arrow'``, a ``pyarrow.LargeBinaryArray``). The values are
    those ``simpletrace json`` gives. Numeric arrays are read-only views of
    one buffer each: no Python object is made per record.

    A bad trace raises SimpleException naming the byte offset; one cut off
    in the middle of a record gives a TruncatedTraceWarning and the
    records before the cut.
    """
    if strings not in ('bytes', 'arrow'):
        raise ValueError(f"strings must be 'bytes' or 'arrow', not {strings!r}")
    import numpy as np
    result = {}
    for name, columns in _load(events, log, names, read_header, threads):
        table = {}
        for i, (column, dtype, payload) in enumerate(columns):
            if i >= len(_RECORD_COLUMNS) and column in _RECORD_COLUMNS:
                # An argument named like a column of every record.
                column = 'arg_' + column
            if dtype == 'bytes':
                table[column] = _strings(np, payload, strings)
            else:
                table[column] = np.frombuffer(payload, dtype=np.dtype(dtype))
        result[name] = table
    return result


def load_dataframes(events, log, names, read_header=True, *, threads=None):
    """:func:`load_columns` as pandas DataFrames: ``{event name:
    DataFrame}``, one row per record and one column per array (strings as
    ``bytes`` objects). Needs pandas."""
    try:
        import pandas as pd
    except ImportError as e:
        raise ImportError(
            "simpletrace.load_dataframes needs pandas (pip install pandas); "
            "simpletrace.load_columns gives the same columns as numpy arrays") from e
    tables = load_columns(events, log, names, read_header, threads=threads)
    return {name: pd.DataFrame(columns, copy=False) for name, columns in tables.items()}


def run(analyzer):
    """Runs `analyzer` over the trace named on the command line:
    ``[--no-header] <trace-events> <trace-file>``; anything else raises
    SimpleException with the usage line."""
    args = sys.argv[1:]
    if len(args) == 2:
        no_header = False
    elif len(args) == 3 and args[0] == '--no-header':
        no_header = True
        args = args[1:]
    else:
        raise SimpleException(f'usage: {sys.argv[0]} [--no-header] <trace-events> <trace-file>\n')
    events_path, trace_path = args
    with open(events_path, 'r') as events_file, open(trace_path, 'rb') as trace_file:
        process(events_file, trace_file, analyzer, read_header=not no_header)
