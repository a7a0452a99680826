//! The compaction policies: pure functions from the segments' sizes (and
//! dead rows) to a decision, unit-tested without any I/O.

use std::ops::Range;

/// Compaction policy parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Merge once a collection has at least this many segments.
    pub trigger: usize,
    /// Merge at most this many segments at once.
    pub max_merge: usize,
    /// Vacuum a segment once more than this percentage of its rows is dead
    /// (0 turns vacuuming off).
    pub vacuum_percent: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            trigger: 4,
            max_merge: 8,
            vacuum_percent: 20,
        }
    }
}

/// What the policy decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// Leave the segments alone.
    DoNothing,
    /// Merge the segments at these positions (oldest first) into one.
    Merge(Range<usize>),
}

/// Chooses a merge from the segments' sizes in bytes (oldest first): once
/// there are `trigger` segments, the adjacent run of up to `max_merge`
/// segments with the smallest total size (the oldest such run on ties).
pub fn choose(sizes: &[u64], policy: &Policy) -> Choice {
    let n = sizes.len();
    if n < policy.trigger.max(2) {
        return Choice::DoNothing;
    }
    let width = policy.max_merge.clamp(2, n);
    let mut best: Option<(u64, usize)> = None;
    for start in 0..=n - width {
        let total: u64 = sizes[start..start + width].iter().sum();
        if best.is_none_or(|(b, _)| total < b) {
            best = Some((total, start));
        }
    }
    match best {
        Some((_, start)) => Choice::Merge(start..start + width),
        None => Choice::DoNothing,
    }
}

/// Chooses a vacuum from each segment's `(rows, dead rows)` (oldest
/// first), where a dead row is one a newer segment overrides with a newer
/// version or a tombstone: the oldest segment whose dead share passes
/// `percent` is merged with every newer segment, which drops its dead rows
/// (and, from the oldest segment on, the tombstones too).
pub fn choose_vacuum(dead: &[(usize, usize)], percent: u32) -> Choice {
    if percent == 0 {
        return Choice::DoNothing;
    }
    let n = dead.len();
    for (i, &(rows, d)) in dead.iter().enumerate() {
        if i + 1 < n && rows > 0 && d as u128 * 100 > rows as u128 * percent as u128 {
            return Choice::Merge(i..n);
        }
    }
    Choice::DoNothing
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vacuums_the_oldest_segment_past_the_dead_share() {
        assert_eq!(choose_vacuum(&[(100, 20), (50, 0)], 20), Choice::DoNothing);
        assert_eq!(
            choose_vacuum(&[(100, 21), (50, 0)], 20),
            Choice::Merge(0..2)
        );
        assert_eq!(
            choose_vacuum(&[(100, 0), (100, 50), (10, 5), (10, 0)], 20),
            Choice::Merge(1..4)
        );
        // The newest segment has no newer one to be overridden by.
        assert_eq!(choose_vacuum(&[(100, 0)], 20), Choice::DoNothing);
        assert_eq!(choose_vacuum(&[(100, 90), (1, 0)], 0), Choice::DoNothing);
        assert_eq!(choose_vacuum(&[], 20), Choice::DoNothing);
    }

    #[test]
    fn below_trigger_does_nothing() {
        let p = Policy {
            trigger: 4,
            max_merge: 3,
            ..Policy::default()
        };
        assert_eq!(choose(&[], &p), Choice::DoNothing);
        assert_eq!(choose(&[1, 2, 3], &p), Choice::DoNothing);
    }

    #[test]
    fn picks_smallest_adjacent_run() {
        let p = Policy {
            trigger: 4,
            max_merge: 2,
            ..Policy::default()
        };
        assert_eq!(choose(&[100, 5, 6, 50], &p), Choice::Merge(1..3));
        assert_eq!(choose(&[1, 1, 1, 1], &p), Choice::Merge(0..2));
        let p = Policy {
            trigger: 2,
            max_merge: 10,
            ..Policy::default()
        };
        assert_eq!(choose(&[7, 8, 9], &p), Choice::Merge(0..3));
    }
}
