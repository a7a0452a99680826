//! Compaction: a pure policy ([`choose`]) decides which adjacent segments
//! to merge; the executor (`merge.rs`) carries it out. Merging a run that
//! starts at the oldest segment also drops tombstones and the records they
//! delete, which is how deleted data gives its disk space back.

pub(crate) mod merge;

use std::ops::Range;

/// Compaction policy parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Merge once a collection has at least this many segments.
    pub trigger: usize,
    /// Merge at most this many segments at once.
    pub max_merge: usize,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            trigger: 4,
            max_merge: 8,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_trigger_does_nothing() {
        let p = Policy {
            trigger: 4,
            max_merge: 3,
        };
        assert_eq!(choose(&[], &p), Choice::DoNothing);
        assert_eq!(choose(&[1, 2, 3], &p), Choice::DoNothing);
    }

    #[test]
    fn picks_smallest_adjacent_run() {
        let p = Policy {
            trigger: 4,
            max_merge: 2,
        };
        assert_eq!(choose(&[100, 5, 6, 50], &p), Choice::Merge(1..3));
        assert_eq!(choose(&[1, 1, 1, 1], &p), Choice::Merge(0..2));
        let p = Policy {
            trigger: 2,
            max_merge: 10,
        };
        assert_eq!(choose(&[7, 8, 9], &p), Choice::Merge(0..3));
    }
}
