//! How the export's threads share one trace: contiguous runs of its
//! chunks, handed out while the chunks are still being cut, and split
//! again when a thread runs out of work.
//!
//! Each run covers a range of byte offsets, and owns the chunks that start
//! in it; the runs cover the whole trace without overlapping. The export
//! starts with a run per thread, of about equal bytes, so that each
//! thread's rows are one stretch of the trace in file order. Cutting the
//! trace into chunks is a walk over every record header from the start
//! (a tenth of a second for 500 MB): the threads start at once and each
//! waits only for its run's first chunk to be cut, instead of all of them
//! waiting for the whole walk. A thread done with its run splits the run
//! with the most bytes left at its middle and takes the second half
//! ([`Runs::split`]): two cores rarely go at the same speed for long on a
//! shared machine, and an even split by bytes left one thread working
//! alone for up to a quarter of the export.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// The runs of one trace's chunks (`C`: a chunk as the threads take it),
/// and the chunks cut so far.
#[derive(Debug)]
pub(crate) struct Runs<C> {
    state: Mutex<State<C>>,
    /// Signalled when a chunk is cut, the cutting ends, or the work is
    /// abandoned.
    changed: Condvar,
    /// The trace's length in bytes.
    len: usize,
    /// The least a run must have left to be split: two chunks' bytes, so
    /// that both halves have about a chunk at least.
    min_split: usize,
}

#[derive(Debug)]
struct State<C> {
    /// The chunks cut so far, in file order, each with where it ends.
    chunks: Vec<(usize, C)>,
    /// Every chunk is cut (or the cutting failed).
    cut: bool,
    /// The export failed: hand out nothing more.
    abandoned: bool,
    runs: Vec<Run>,
}

/// A run: the chunks whose first byte is in `from..to`.
#[derive(Debug, Clone, Copy)]
struct Run {
    from: usize,
    to: usize,
    /// The index of its next chunk to hand out, once found.
    next: Option<usize>,
}

impl<C> State<C> {
    /// Where chunk `i` starts (the end of the one before it; chunk 0 holds
    /// the trace's header too).
    fn start(&self, i: usize) -> usize {
        match i.checked_sub(1) {
            None => 0,
            Some(before) => self.chunks.get(before).map_or(usize::MAX, |&(end, _)| end),
        }
    }

    /// The index of the first chunk that starts at `from` or after, once
    /// known: the one after the first chunk that ends at `from` or after
    /// (which may be the next to be cut).
    fn first_from(&self, from: usize) -> Option<usize> {
        if from == 0 {
            return Some(0);
        }
        let before = self.chunks.partition_point(|&(end, _)| end < from);
        (before < self.chunks.len()).then_some(before + 1)
    }

    /// Where the chunks not yet cut start.
    fn cut_to(&self) -> usize {
        self.chunks.last().map_or(0, |&(end, _)| end)
    }

    /// The first byte of `run` not yet handed out.
    fn position(&self, run: &Run) -> usize {
        match run.next {
            Some(i) if i < self.chunks.len() => self.start(i),
            Some(_) => self.cut_to(),
            None => run.from,
        }
    }
}

impl<C> Runs<C> {
    /// `runs` runs of about `len / runs` bytes each over a trace of `len`
    /// bytes cut into chunks of about `chunk_bytes`.
    pub(crate) fn new(len: usize, runs: usize, chunk_bytes: usize) -> Runs<C> {
        let runs = runs.max(1);
        let bound = |k: usize| {
            if k >= runs {
                usize::MAX
            } else {
                // At most len * runs / runs: no overflow in u128.
                usize::try_from(len as u128 * k as u128 / runs as u128).unwrap_or(usize::MAX)
            }
        };
        let state = State {
            runs: (0..runs)
                .map(|k| Run {
                    from: bound(k),
                    to: bound(k + 1),
                    next: None,
                })
                .collect(),
            chunks: Vec::new(),
            cut: false,
            abandoned: false,
        };
        Runs {
            state: Mutex::new(state),
            changed: Condvar::new(),
            len,
            min_split: chunk_bytes.saturating_mul(2).max(2),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<C>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next chunk cut, in file order, ending at byte `end` (from the
    /// one thread that cuts); false when the export is abandoned (cut no
    /// more).
    pub(crate) fn push(&self, end: usize, chunk: C) -> bool {
        let mut state = self.lock();
        if state.abandoned {
            return false;
        }
        state.chunks.push((end, chunk));
        drop(state);
        self.changed.notify_all();
        true
    }

    /// Every chunk is cut, or the cutting failed.
    pub(crate) fn cut_done(&self) {
        self.lock().cut = true;
        self.changed.notify_all();
    }

    /// Abandons the work when dropped, unless [`Abandon::disarm`]ed
    /// first: a thread that panics (or returns early) releases the others
    /// instead of leaving them waiting for chunks or working on.
    pub(crate) fn abandon_unless_done(&self) -> Abandon<'_, C> {
        Abandon { runs: Some(self) }
    }

    /// Hands out nothing more: the export failed.
    pub(crate) fn abandon(&self) {
        let mut state = self.lock();
        state.abandoned = true;
        state.cut = true;
        drop(state);
        self.changed.notify_all();
    }

    /// Splits the run with the most bytes not yet handed out at the middle
    /// of those bytes, if it has two chunks' worth: the new run (its
    /// index) is the second half. None when no run has that much left.
    pub(crate) fn split(&self) -> Option<usize> {
        let mut state = self.lock();
        if state.abandoned {
            return None;
        }
        let (victim, left, position) = state
            .runs
            .iter()
            .enumerate()
            .map(|(k, run)| {
                let position = state.position(run);
                let end = run.to.min(self.len);
                (k, end.saturating_sub(position), position)
            })
            .max_by_key(|&(_, left, _)| left)?;
        if left < self.min_split {
            return None;
        }
        let middle = position + left / 2;
        let to = state.runs.get(victim)?.to;
        if let Some(run) = state.runs.get_mut(victim) {
            run.to = middle;
        }
        state.runs.push(Run {
            from: middle,
            to,
            next: None,
        });
        Some(state.runs.len() - 1)
    }

    /// The runs' indexes in file order.
    pub(crate) fn in_file_order(&self) -> Vec<usize> {
        let state = self.lock();
        let mut order: Vec<usize> = (0..state.runs.len()).collect();
        order.sort_by_key(|&k| state.runs.get(k).map_or(usize::MAX, |r| r.from));
        order
    }
}

impl<C: Clone> Runs<C> {
    /// The next chunk of run `run`, waiting for it to be cut; none when the
    /// run has no more (or the export is abandoned).
    pub(crate) fn next(&self, run: usize) -> Option<C> {
        let mut state = self.lock();
        loop {
            if state.abandoned {
                return None;
            }
            let Run { from, to, next } = *state.runs.get(run)?;
            let found = next.or_else(|| state.first_from(from));
            match found {
                Some(i) if i < state.chunks.len() => {
                    if state.start(i) >= to {
                        return None;
                    }
                    let chunk = state.chunks.get(i).map(|(_, c)| c.clone());
                    if let Some(r) = state.runs.get_mut(run) {
                        r.next = Some(i + 1);
                    }
                    return chunk;
                }
                _ if state.cut => return None,
                // The next chunk, once cut.
                Some(i) => {
                    if let Some(r) = state.runs.get_mut(run) {
                        r.next = Some(i);
                    }
                }
                None => {}
            }
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// Abandons its runs when dropped armed ([`Runs::abandon_unless_done`]).
#[derive(Debug)]
pub(crate) struct Abandon<'a, C> {
    runs: Option<&'a Runs<C>>,
}

impl<C> Abandon<'_, C> {
    /// The thread finished its part: nothing to abandon.
    pub(crate) fn disarm(mut self) {
        self.runs = None;
    }
}

impl<C> Drop for Abandon<'_, C> {
    fn drop(&mut self) {
        if let Some(runs) = self.runs {
            runs.abandon();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Runs;

    /// Chunks (their indexes) of `size` bytes up to `len`, all cut.
    fn cut(runs: &Runs<usize>, len: usize, size: usize) {
        for (index, end) in (size..=len).step_by(size).enumerate() {
            assert!(runs.push(end, index));
        }
        runs.cut_done();
    }

    fn drain(runs: &Runs<usize>, run: usize) -> Vec<usize> {
        std::iter::from_fn(|| runs.next(run)).collect()
    }

    /// The first runs share the chunks by bytes, contiguous, each once.
    #[test]
    fn runs_share_the_chunks_by_bytes() {
        let runs = Runs::new(1000, 2, 100);
        cut(&runs, 1000, 100);
        assert_eq!(drain(&runs, 0), [0, 1, 2, 3, 4]);
        assert_eq!(drain(&runs, 1), [5, 6, 7, 8, 9]);
        assert_eq!(runs.next(0), None);
        assert_eq!(runs.split(), None, "nothing left");
        assert_eq!(runs.in_file_order(), [0, 1]);
    }

    /// A run waits for its chunks to be cut, and ends when the cutting
    /// does.
    #[test]
    fn runs_wait_for_the_cut() {
        let runs = Runs::new(1000, 2, 100);
        std::thread::scope(|scope| {
            let second = scope.spawn(|| drain(&runs, 1));
            let first = scope.spawn(|| drain(&runs, 0));
            cut(&runs, 1000, 100);
            assert_eq!(first.join().unwrap(), [0, 1, 2, 3, 4]);
            assert_eq!(second.join().unwrap(), [5, 6, 7, 8, 9]);
        });
        // More runs than chunks: the empty ones end at once.
        let runs = Runs::new(150, 4, 100);
        cut(&runs, 150, 100);
        assert_eq!(drain(&runs, 0), [0]);
        assert!(drain(&runs, 1).is_empty());
        assert!(drain(&runs, 2).is_empty());
        assert!(drain(&runs, 3).is_empty());
        // A trace of no chunks.
        let runs = Runs::new(0, 2, 100);
        runs.cut_done();
        assert!(drain(&runs, 0).is_empty());
        assert!(drain(&runs, 1).is_empty());
    }

    /// A thread out of work takes the second half of what the busiest run
    /// has left; every chunk is still handed out once, each run's in file
    /// order.
    #[test]
    fn a_split_takes_the_second_half_of_the_longest_run() {
        let runs = Runs::new(2000, 2, 100);
        cut(&runs, 2000, 100);
        // Run 0 is slow: one chunk; run 1 all of its ten.
        assert_eq!(runs.next(0), Some(0));
        assert_eq!(drain(&runs, 1), (10..20).collect::<Vec<_>>());
        // Run 0 has 900 bytes left (100..1000): the new run takes 550..1000.
        let stolen = runs.split().unwrap();
        assert_eq!(stolen, 2);
        assert_eq!(drain(&runs, stolen), [6, 7, 8, 9]);
        assert_eq!(drain(&runs, 0), [1, 2, 3, 4, 5]);
        assert_eq!(runs.in_file_order(), [0, 2, 1]);
        // Less than two chunks left nowhere: no split.
        assert_eq!(runs.split(), None);
    }

    /// A run split before its chunks are cut gets them as they are.
    #[test]
    fn a_run_can_be_split_before_it_is_cut() {
        let runs = Runs::new(1000, 1, 100);
        let stolen = runs.split().unwrap();
        std::thread::scope(|scope| {
            let second = scope.spawn(|| drain(&runs, stolen));
            let first = scope.spawn(|| drain(&runs, 0));
            cut(&runs, 1000, 100);
            assert_eq!(first.join().unwrap(), [0, 1, 2, 3, 4]);
            assert_eq!(second.join().unwrap(), [5, 6, 7, 8, 9]);
        });
    }

    /// A thread that panics while others wait for chunks releases them.
    #[test]
    fn a_panic_abandons_the_runs() {
        let runs = Runs::new(1000, 2, 100);
        std::thread::scope(|scope| {
            let waiting = scope.spawn(|| drain(&runs, 1));
            let cutter = scope.spawn(|| {
                let _guard = runs.abandon_unless_done();
                assert!(runs.push(100, 0));
                panic!("the cutter fails");
            });
            assert!(cutter.join().is_err());
            assert!(waiting.join().unwrap().is_empty());
        });
        assert!(!runs.push(200, 1));
        // Disarmed, it abandons nothing.
        let runs = Runs::new(1000, 1, 100);
        runs.abandon_unless_done().disarm();
        assert!(runs.push(100, 0));
    }

    /// Nothing is handed out once the export is abandoned, and no waiting
    /// run stays blocked.
    #[test]
    fn abandoning_releases_waiting_runs() {
        let runs = Runs::new(1000, 2, 100);
        std::thread::scope(|scope| {
            let waiting = scope.spawn(|| drain(&runs, 1));
            assert!(runs.push(100, 0));
            runs.abandon();
            assert!(!runs.push(200, 1));
            assert!(waiting.join().unwrap().is_empty());
        });
        assert_eq!(runs.next(0), None);
        assert_eq!(runs.split(), None);
    }
}
