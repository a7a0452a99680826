//! A graph that grows one row at a time: the memtable's HNSW index, so a
//! query walks a graph instead of scanning every recent write, and a flush
//! hands the graph to its segment instead of building one again.
//!
//! Rows are added in order ([`GrowingGraph::push`], under the collection's
//! writer lock, as the memtable appends) with no links; writers then link
//! them ([`GrowingGraph::link_up_to`]) after they commit, several at once,
//! each claiming the next unlinked row, with the algorithm of `insert.rs`.
//! A row is *linked* once its insertion finished. A reader searches the
//! graph for the linked rows and scans the rest exactly
//! ([`GrowingGraph::unlinked`]), so what a query finds never depends on how
//! far linking has got. A row without a vector (a delete) is linked at
//! once and never gets an edge.

use std::sync::atomic::{AtomicU32, AtomicU8, AtomicUsize, Ordering};

use parking_lot::{Mutex, MutexGuard, RwLock};

use super::graph::Graph;
use super::insert::{level_of, surviving_list, Hnsw, Lists, Pairwise};
use super::topk::Scored;

const PENDING: u8 = 0;
const CLAIMED: u8 = 1;
const LINKED: u8 = 2;

/// One row's lists and state.
struct Node {
    level: u8,
    state: AtomicU8,
    lock: Mutex<()>,
    len0: AtomicU32,
    /// Base layer, `2M` slots.
    links0: Box<[AtomicU32]>,
    /// Layers `1..=level`.
    upper: Box<[RwLock<Vec<u32>>]>,
}

/// Rows in an append-only concurrent vector.
struct Nodes {
    nodes: boxcar::Vec<Node>,
    m: usize,
}

impl Lists for Nodes {
    fn len(&self) -> usize {
        self.nodes.count()
    }

    fn level(&self, row: u32) -> usize {
        self.nodes.get(row as usize).map_or(0, |n| n.level as usize)
    }

    fn neighbours(&self, row: u32, layer: usize, out: &mut Vec<u32>) {
        out.clear();
        let Some(node) = self.nodes.get(row as usize) else {
            return;
        };
        if layer == 0 {
            let len = (node.len0.load(Ordering::Acquire) as usize).min(node.links0.len());
            out.extend(node.links0[..len].iter().map(|a| a.load(Ordering::Relaxed)));
        } else if let Some(l) = node.upper.get(layer - 1) {
            out.extend_from_slice(&l.read());
        }
    }

    fn set_neighbours(&self, row: u32, layer: usize, list: &[u32]) {
        let Some(node) = self.nodes.get(row as usize) else {
            return;
        };
        if layer == 0 {
            let list = &list[..list.len().min(node.links0.len())];
            for (slot, &nb) in node.links0.iter().zip(list) {
                slot.store(nb, Ordering::Relaxed);
            }
            node.len0.store(list.len() as u32, Ordering::Release);
        } else if let Some(l) = node.upper.get(layer - 1) {
            *l.write() = list[..list.len().min(self.m)].to_vec();
        }
    }

    fn lock(&self, row: u32) -> MutexGuard<'_, ()> {
        match self.nodes.get(row as usize) {
            Some(n) => n.lock.lock(),
            // Rows are pushed before anyone links to them.
            None => unreachable_lock(),
        }
    }
}

/// A lock nobody else takes, for a row that does not exist (never reached:
/// walks skip rows at or past `len`).
fn unreachable_lock() -> MutexGuard<'static, ()> {
    static SPARE: Mutex<()> = Mutex::new(());
    SPARE.lock()
}

/// The store-wide threads that link writes into memtable graphs (one per
/// core); `None` if they cannot be started (writers
/// then link on their own threads).
fn linking_pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: std::sync::OnceLock<Option<rayon::ThreadPool>> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("chromite-link-{i}"))
            .build()
            .inspect_err(|e| {
                tracing::warn!("cannot start the linking threads ({e}); writers link on their own")
            })
            .ok()
    })
    .as_ref()
}

/// Marks a claimed row linked when dropped.
struct Linked<'a>(Option<&'a Node>);

impl Drop for Linked<'_> {
    fn drop(&mut self) {
        if let Some(n) = self.0 {
            n.state.store(LINKED, Ordering::Release);
        }
    }
}

/// See the module docs.
pub(crate) struct GrowingGraph {
    hnsw: Hnsw<Nodes>,
    /// The next row no writer has claimed.
    next: AtomicUsize,
    /// Every row below it is linked (a lower bound, advanced lazily).
    linked_below: AtomicUsize,
}

impl GrowingGraph {
    /// An empty graph with `m` neighbours per upper layer (`2m` in the base
    /// layer) and beam width `ef_construction` for inserts.
    pub(crate) fn new(m: usize, ef_construction: usize) -> GrowingGraph {
        let m = m.max(2);
        GrowingGraph {
            hnsw: Hnsw::new(
                Nodes {
                    nodes: boxcar::Vec::new(),
                    m,
                },
                m,
                ef_construction.max(m),
            ),
            next: AtomicUsize::new(0),
            linked_below: AtomicUsize::new(0),
        }
    }

    /// `M`.
    pub(crate) fn m(&self) -> usize {
        self.hnsw.m
    }

    /// Rows added so far.
    pub(crate) fn len(&self) -> usize {
        self.hnsw.lists.len()
    }

    /// Heap bytes a row takes (its node and base-layer slots; upper layers,
    /// one row in `M`, are left out).
    pub(crate) fn row_bytes(&self) -> usize {
        std::mem::size_of::<Node>() + 2 * self.hnsw.m * std::mem::size_of::<AtomicU32>()
    }

    /// Adds the next row, unlinked; one without a vector is never linked
    /// to. Callers add rows one at a time, in row order.
    pub(crate) fn push(&self, has_vector: bool) {
        let row = self.len() as u64;
        let level = level_of(row, self.hnsw.m) as u8;
        self.hnsw.lists.nodes.push(Node {
            level,
            state: AtomicU8::new(if has_vector { PENDING } else { LINKED }),
            lock: Mutex::new(()),
            len0: AtomicU32::new(0),
            links0: (0..2 * self.hnsw.m).map(|_| AtomicU32::new(0)).collect(),
            upper: (0..level).map(|_| RwLock::new(Vec::new())).collect(),
        });
    }

    fn state(&self, row: usize) -> u8 {
        self.hnsw
            .lists
            .nodes
            .get(row)
            .map_or(LINKED, |n| n.state.load(Ordering::Acquire))
    }

    /// Claims the next pending row below `end`, if any.
    fn claim(&self, end: usize) -> Option<usize> {
        loop {
            let row = self.next.load(Ordering::Acquire);
            if row >= end.min(self.len()) {
                return None;
            }
            if self
                .next
                .compare_exchange(row, row + 1, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                let node = self.hnsw.lists.nodes.get(row)?;
                if node
                    .state
                    .compare_exchange(PENDING, CLAIMED, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    return Some(row);
                }
            }
        }
    }

    /// Links every row below `end` that no one has claimed yet (a writer
    /// calls it with the end of its own batch, after committing; rows other
    /// writers are linking are left to them).
    ///
    /// The work runs on the store-wide pool of linking threads (one per
    /// core) while the caller waits: a writer is held until its rows are
    /// indexed, so writes cannot outrun the index, and however many
    /// writers there are, linking takes at most the pool's threads, which
    /// leaves queries their share of the CPU. (At a lowered priority, as
    /// graph builds run, queries beside upserts kept 36% of their solo rate
    /// but upserts only 10%; at normal priority 25% and 25%.)
    pub(crate) fn link_up_to(&self, metric: &impl Pairwise, end: usize) {
        if self.next.load(Ordering::Acquire) >= end.min(self.len()) {
            return;
        }
        match linking_pool() {
            // Every pool thread takes rows until none is left below `end`,
            // so one large batch (or a replayed WAL) is linked in parallel.
            Some(pool) => pool.install(|| {
                use rayon::prelude::*;
                (0..rayon::current_num_threads())
                    .into_par_iter()
                    .for_each(|_| self.link_here(metric, end))
            }),
            None => self.link_here(metric, end),
        }
    }

    fn link_here(&self, metric: &impl Pairwise, end: usize) {
        while let Some(row) = self.claim(end) {
            // Marked linked even if the insert unwinds, so a flush waiting
            // in `link_all` never waits for a row no one will finish (the
            // row may then lack links: it can be missed, never wrong).
            let _done = Linked(self.hnsw.lists.nodes.get(row));
            self.hnsw.insert(metric, row as u32);
        }
    }

    /// Links every row below `end` and waits for rows others are linking
    /// (a flush, before it hands the graph to its segment).
    pub(crate) fn link_all(&self, metric: &impl Pairwise, end: usize) {
        self.link_up_to(metric, end);
        for row in 0..end.min(self.len()) {
            while self.state(row) != LINKED {
                std::thread::yield_now();
            }
        }
    }

    /// The rows below `len` that are not linked yet, ascending (a reader
    /// scans them exactly).
    pub(crate) fn unlinked(&self, len: usize) -> Vec<u32> {
        let len = len.min(self.len());
        let mut from = self.linked_below.load(Ordering::Acquire);
        while from < len && self.state(from) == LINKED {
            from += 1;
        }
        self.linked_below.fetch_max(from, Ordering::AcqRel);
        (from..len)
            .filter(|&r| self.state(r) != LINKED)
            .map(|r| r as u32)
            .collect()
    }

    /// The `ef` rows (below `len`) nearest to the point `dq` measures, by
    /// a graph walk; nearest first. Unlinked rows may be among them.
    pub(crate) fn search(
        &self,
        metric: &impl Pairwise,
        dq: impl Fn(u32) -> f32,
        ef: usize,
        len: usize,
    ) -> Vec<Scored> {
        let mut found = self.hnsw.search(metric, dq, ef);
        found.retain(|s| (s.row as usize) < len);
        found
    }

    /// The row's neighbours in `layer`, into `out`.
    #[cfg(test)]
    fn neighbours(&self, row: u32, layer: usize, out: &mut Vec<u32>) {
        self.hnsw.lists.neighbours(row, layer, out)
    }

    /// The graph of the rows `keep` (linked rows, each once), renumbered:
    /// `keep[i]` becomes row `i` (a flush keeps the memtable's current
    /// puts, in the segment's row order). A dropped row's place in a kept
    /// row's list goes to the dropped row's own kept neighbours
    /// ([`surviving_list`]), so the graph stays connected around it.
    pub(crate) fn restrict(&self, metric: &impl Pairwise, keep: &[u32]) -> Graph {
        let Some((entry, _)) = self.hnsw.entry() else {
            return Graph::default();
        };
        if keep.is_empty() {
            return Graph::default();
        }
        let lists = &self.hnsw.lists;
        let mut new_of = vec![u32::MAX; lists.len()];
        for (i, &r) in keep.iter().enumerate() {
            new_of[r as usize] = i as u32;
        }
        let kept = |r: u32| new_of.get(r as usize).is_some_and(|&i| i != u32::MAX);
        let levels: Vec<u8> = keep.iter().map(|&r| lists.level(r) as u8).collect();
        // The entry point, or the highest kept row when it was dropped.
        let entry = if kept(entry) {
            new_of[entry as usize]
        } else {
            (0..keep.len())
                .max_by_key(|&i| (levels[i], std::cmp::Reverse(i)))
                .unwrap_or(0) as u32
        };
        let top = levels[entry as usize] as usize;
        let read = |r: u32, layer: usize, out: &mut Vec<u32>| lists.neighbours(r, layer, out);
        let mut bufs = (Vec::new(), Vec::new());
        Graph::from_lists(&levels, entry, top, |row, layer, out| {
            let r = keep[row as usize];
            let dist = |x: u32| metric.between(r, x);
            let list = surviving_list(
                r,
                layer,
                self.hnsw.cap(layer),
                &read,
                &kept,
                &dist,
                &mut bufs,
            );
            out.extend(list.iter().map(|&x| new_of[x as usize]));
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::distance::l2_squared;

    struct Rows(Vec<Vec<f32>>);

    impl Pairwise for Rows {
        fn between(&self, a: u32, b: u32) -> f32 {
            l2_squared(&self.0[a as usize], &self.0[b as usize])
        }
        fn prefetch(&self, _: u32) {}
    }

    fn data(n: usize) -> Rows {
        Rows(
            (0..n)
                .map(|i| {
                    (0..8)
                        .map(|j| ((i * 31 + j * 7) as f32 * 0.37).sin())
                        .collect()
                })
                .collect(),
        )
    }

    #[test]
    fn rows_are_searchable_once_linked_and_listed_as_unlinked_before() {
        let rows = data(600);
        let g = GrowingGraph::new(8, 40);
        for _ in 0..600 {
            g.push(true);
        }
        assert_eq!(g.unlinked(600).len(), 600);
        g.link_up_to(&rows, 400);
        assert_eq!(g.unlinked(600), (400..600).collect::<Vec<u32>>());
        // Linked rows are found by the walk: each row's own vector first.
        for r in (0..400u32).step_by(13) {
            let q = &rows.0[r as usize];
            let found = g.search(&rows, |x| l2_squared(q, &rows.0[x as usize]), 40, 400);
            assert_eq!(found[0].row, r);
            assert!(found.iter().all(|s| s.row < 400));
        }
        g.link_all(&rows, 600);
        assert!(g.unlinked(600).is_empty());
    }

    #[test]
    fn writers_link_concurrently() {
        let rows = data(2000);
        let g = GrowingGraph::new(8, 40);
        for _ in 0..2000 {
            g.push(true);
        }
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| g.link_up_to(&rows, 2000));
            }
        });
        assert!(g.unlinked(2000).is_empty());
        let mut hits = 0;
        for r in (0..2000u32).step_by(17) {
            let q = &rows.0[r as usize];
            let found = g.search(&rows, |x| l2_squared(q, &rows.0[x as usize]), 40, 2000);
            hits += usize::from(found[0].row == r);
        }
        assert!(hits >= 115, "{hits} of 118 rows found themselves");
    }

    #[test]
    fn a_restricted_graph_keeps_its_rows_reachable() {
        let rows = data(3000);
        let g = GrowingGraph::new(8, 60);
        for _ in 0..3000 {
            g.push(true);
        }
        g.link_all(&rows, 3000);
        // Drop every third row and reverse the order of the rest.
        let keep: Vec<u32> = (0..3000u32).filter(|r| r % 3 != 1).rev().collect();
        let graph = g.restrict(&rows, &keep);
        graph.validate().unwrap();
        assert_eq!(graph.n as usize, keep.len());
        let mut found_self = 0;
        for (i, &r) in keep.iter().enumerate().step_by(11) {
            let q = &rows.0[r as usize];
            let hits = graph.search(
                |x| l2_squared(q, &rows.0[keep[x as usize] as usize]),
                |_| {},
                40,
                None,
            );
            found_self += usize::from(hits[0].row as usize == i);
        }
        let tried = keep.len().div_ceil(11);
        assert!(found_self * 100 >= tried * 98, "{found_self} of {tried}");
    }

    #[test]
    fn rows_without_vectors_are_never_linked_to() {
        let rows = data(100);
        let g = GrowingGraph::new(4, 20);
        for r in 0..100 {
            g.push(r % 3 != 0);
        }
        g.link_all(&rows, 100);
        let mut buf = Vec::new();
        for r in 0..100u32 {
            g.neighbours(r, 0, &mut buf);
            assert!(
                buf.iter().all(|&nb| nb % 3 != 0),
                "row {r} links to a delete"
            );
            if r % 3 == 0 {
                assert!(buf.is_empty());
            }
        }
    }
}
