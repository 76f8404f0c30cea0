#!/usr/bin/env python3
"""The statistics of QEMU's scripts/analyse-locks-simpletrace.py, computed
vectorised from columns instead of one Python call per record.

    python3 analyse_locks_columns.py [--threads N] TRACE-EVENTS TRACE

prints what that script prints (once its `timestamp[0]` is made
`timestamp`, which QEMU 10's module needs): lock counts per mutex, the
times from lock to locked (acquire) and from locked to unlock (held), and
the mutexes left locked. It reads the three mutex events with
simpletrace.load_columns, orders their records as the trace does (the
`record` column), groups them by mutex, and pairs each `locked` with the
last `lock` of its mutex before it, and each `unlock` with the last
`locked`, as the script's per-mutex state does.
"""

import argparse

import numpy as np

import simpletrace

EVENTS = ('qemu_mutex_lock', 'qemu_mutex_locked', 'qemu_mutex_unlock')
LOCK, LOCKED, UNLOCK = 0, 1, 2


def last_of(mask, group_start):
    """For each row, the index of the last row at or before it where
    `mask` holds, within its group; -1 where there is none."""
    rows = np.arange(len(mask))
    last = np.maximum.accumulate(np.where(mask, rows, -1))
    return np.where(last >= group_start, last, -1)


def analyse(events, trace, threads=None):
    """The report, as a list of lines."""
    tables = simpletrace.load_columns(events, trace, EVENTS, threads=threads)
    parts = [tables[name] for name in EVENTS]
    counts = [len(p['record']) for p in parts]
    kind = np.concatenate([np.full(n, k, np.int8) for k, n in enumerate(counts)])
    # Where each row came from, to find its file and line at the end.
    source = np.concatenate([np.arange(n) for n in counts])
    # The arguments by position, as the script takes them: mutex, file, line.
    args = [list(p.values())[3:6] for p in parts]
    record = np.concatenate([p['record'] for p in parts])
    ts = np.concatenate([p['timestamp_ns'].astype(np.int64) for p in parts])
    mutex = np.concatenate([a[0] for a in args])

    # Trace order, then grouped by mutex (stable: trace order within it).
    order = np.argsort(record, kind='stable')
    kind, source, ts, mutex = kind[order], source[order], ts[order], mutex[order]
    # The script lists mutexes by lock count, ties in the order it first
    # saw them.
    keys, first = np.unique(mutex, return_index=True)
    by_mutex = np.argsort(mutex, kind='stable')
    kind, source, ts, mutex = kind[by_mutex], source[by_mutex], ts[by_mutex], mutex[by_mutex]
    starts = np.searchsorted(mutex, keys)
    ends = np.append(starts[1:], len(mutex))
    group_start = np.repeat(starts, ends - starts)

    # The script's lock_time and locked_time start at 0.
    last_lock = last_of(kind == LOCK, group_start)
    last_locked = last_of(kind == LOCKED, group_start)
    acquire = ts - np.where(last_lock >= 0, ts[np.maximum(last_lock, 0)], 0)
    held = ts - np.where(last_locked >= 0, ts[np.maximum(last_locked, 0)], 0)

    lines = ['Total locks: %d, locked: %d, unlocked: %d' % tuple(counts)]
    per_kind = [np.add.reduceat((kind == k).astype(np.int64), starts) if len(starts) else []
                for k in (LOCK, LOCKED, UNLOCK)]
    seen = np.argsort(first, kind='stable')
    for g in sorted(seen.tolist(), key=lambda g: per_kind[LOCK][g]):
        s, e = starts[g], ends[g]
        k = kind[s:e]
        locks, locked, unlocked = (int(c[g]) for c in per_kind)
        lines.append('Lock: %#x locks: %d, locked: %d, unlocked: %d'
                     % (int(keys[g]), locks, locked, unlocked))
        for label, times in (('Acquire', acquire[s:e][k == LOCKED]),
                             ('Held', held[s:e][k == UNLOCK])):
            if len(times) > 0:
                lines.append('  %s Time: min:%d median:%d avg:%.2f max:%d'
                             % (label, times.min(), np.median(times), times.mean(), times.max()))
        if locks > locked:
            def loc(which):
                rows = np.flatnonzero(k == which)
                if len(rows) == 0:
                    # The script fails there too: it never saw that location.
                    raise KeyError('locked_loc' if which == LOCKED else 'lock_loc')
                row = source[s + rows[-1]]
                return (args[which][1][row], int(args[which][2][row]))
            lines.append('  LOCK HELD (%s:%s)' % loc(LOCKED))
            lines.append('  BLOCKED   (%s:%s)' % loc(LOCK))
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--threads', '-j', type=int, help='decoding threads (default: all CPUs)')
    parser.add_argument('events', help='the trace-events-all file')
    parser.add_argument('tracefile', help='the trace')
    args = parser.parse_args()
    print('\n'.join(analyse(args.events, args.tracefile, args.threads)))


if __name__ == '__main__':
    main()
