//! Compaction: a pure policy ([`choose`]) decides which adjacent segments
//! to merge; the executor (`merge.rs`) carries it out. Merging a run that
//! starts at the oldest segment also drops tombstones and the records they
//! delete, which is how deleted data gives its disk space back. A second
//! pure policy ([`choose_vacuum`]) rewrites a segment once a large share of
//! its rows is dead (deleted or overwritten in newer segments), so deletes
//! free space and searches stop wading through them even when the size
//! policy has nothing to merge.

pub(crate) mod merge;
mod policy;

pub use policy::{choose, choose_vacuum, Choice, Policy};
