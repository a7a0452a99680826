//! The set of rows a graph walk has seen: one array of generation stamps
//! per thread, reused by every walk on it (searches in `graph.rs`, inserts
//! in `build.rs`), so a walk clears nothing.

use std::cell::RefCell;

/// Rows seen by the current walk, by generation stamp.
#[derive(Default)]
pub(crate) struct Visited {
    stamps: Vec<u16>,
    generation: u16,
}

impl Visited {
    fn reset(&mut self, n: usize) {
        if self.stamps.len() < n {
            self.stamps.resize(n, 0);
        }
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.stamps.fill(0);
            self.generation = 1;
        }
    }

    /// Marks `row`; false if it was already marked in this walk.
    #[inline]
    pub(crate) fn insert(&mut self, row: u32) -> bool {
        let s = &mut self.stamps[row as usize];
        if *s == self.generation {
            false
        } else {
            *s = self.generation;
            true
        }
    }
}

thread_local! {
    static VISITED: RefCell<Visited> = RefCell::new(Visited::default());
}

/// Runs `walk` with this thread's visited set, emptied, for rows `0..n`.
/// Walks must not nest.
pub(crate) fn with_visited<T>(n: usize, walk: impl FnOnce(&mut Visited) -> T) -> T {
    VISITED.with(|cell| {
        let mut visited = cell.borrow_mut();
        visited.reset(n);
        walk(&mut visited)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_walk_starts_empty() {
        for _ in 0..70_000 {
            with_visited(3, |v| {
                assert!(v.insert(2));
                assert!(!v.insert(2));
            });
        }
    }
}
