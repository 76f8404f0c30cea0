//! Timestamps: a cheap raw counter read on the hot path, converted to
//! nanoseconds of the host's monotonic clock by the writer thread.
//!
//! The raw counter is `quanta`'s: the CPU's time-stamp counter where it is
//! reliable (about 10 ns to read here, against 24 ns for
//! `clock_gettime`), the monotonic clock itself otherwise. The writer keeps
//! a few anchors, pairs of (raw, monotonic ns) read back to back, renewed
//! every 250 ms, and converts each record from the newest anchor not later
//! than it, so timestamps follow `CLOCK_MONOTONIC` (what QEMU records)
//! even as NTP slews it.

use std::collections::VecDeque;
use std::time::Duration;

/// Nanoseconds of the monotonic clock (`CLOCK_MONOTONIC`), the clock QEMU
/// stamps its records with.
pub fn monotonic_ns() -> u64 {
    #[cfg(unix)]
    {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
        (t.tv_sec as u64)
            .wrapping_mul(1_000_000_000)
            .wrapping_add(t.tv_nsec as u64)
    }
    #[cfg(not(unix))]
    {
        use std::sync::OnceLock;
        use std::time::Instant;
        static START: OnceLock<Instant> = OnceLock::new();
        START.get_or_init(Instant::now).elapsed().as_nanos() as u64
    }
}

/// The raw counter, shared by producers and the writer.
#[derive(Debug, Clone)]
pub(crate) struct RawClock(quanta::Clock);

impl RawClock {
    pub fn new() -> Self {
        RawClock(quanta::Clock::new())
    }

    #[inline(always)]
    pub fn raw(&self) -> u64 {
        self.0.raw()
    }
}

#[derive(Debug, Clone, Copy)]
struct Anchor {
    raw: u64,
    ns: u64,
}

/// How often the writer renews its anchor.
const ANCHOR_EVERY: Duration = Duration::from_millis(250);
/// Anchors kept: records wait in a ring for milliseconds, not seconds.
const ANCHORS_KEPT: usize = 16;

/// Converts raw counter values to monotonic nanoseconds (writer side).
#[derive(Debug)]
pub(crate) struct Converter {
    clock: RawClock,
    anchors: VecDeque<Anchor>,
}

impl Converter {
    pub fn new(clock: RawClock) -> Self {
        let mut c = Converter {
            clock,
            anchors: VecDeque::with_capacity(ANCHORS_KEPT),
        };
        c.anchor_now();
        c
    }

    fn anchor_now(&mut self) {
        // Bracket the clock reading with two counter readings and take the
        // middle, halving the error from the reading's own duration.
        let before = self.clock.raw();
        let ns = monotonic_ns();
        let after = self.clock.raw();
        let raw = before + after.wrapping_sub(before) / 2;
        if self.anchors.len() == ANCHORS_KEPT {
            self.anchors.pop_front();
        }
        self.anchors.push_back(Anchor { raw, ns });
    }

    /// Renews the anchor if the last one is older than 250 ms.
    pub fn refresh(&mut self) {
        let now = self.clock.raw();
        let last = self.anchors.back().map_or(0, |a| a.raw);
        if self.clock.0.delta_as_nanos(last, now) >= ANCHOR_EVERY.as_nanos() as u64 {
            self.anchor_now();
        }
    }

    /// The monotonic time of a raw reading.
    #[inline]
    pub fn to_ns(&self, raw: u64) -> u64 {
        // Nearly every record is newer than the newest anchor.
        if let Some(a) = self.anchors.back()
            && raw >= a.raw
        {
            return a.ns + self.clock.0.delta_as_nanos(a.raw, raw);
        }
        let anchor = self
            .anchors
            .iter()
            .rev()
            .find(|a| a.raw <= raw)
            .or(self.anchors.front())
            .copied()
            .unwrap_or(Anchor { raw, ns: raw });
        if raw >= anchor.raw {
            anchor.ns + self.clock.0.delta_as_nanos(anchor.raw, raw)
        } else {
            anchor
                .ns
                .saturating_sub(self.clock.0.delta_as_nanos(raw, anchor.raw))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converted_times_track_the_monotonic_clock() {
        let clock = RawClock::new();
        let conv = Converter::new(clock.clone());
        for _ in 0..5 {
            let before = monotonic_ns();
            let raw = clock.raw();
            let after = monotonic_ns();
            let ns = conv.to_ns(raw);
            // Within the reading window, give or take calibration error.
            assert!(
                ns + 50_000 >= before && ns <= after + 50_000,
                "{before} <= {ns} <= {after}"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}
