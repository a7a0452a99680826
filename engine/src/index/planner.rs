//! Which rows a search may return, and the per-segment choice between the
//! graph and an exact scan (a pure function, testable without data).
//!
//! A filtered graph search computes distances for matching rows only (see
//! `graph.rs`), so it costs about an unfiltered search, as long as enough
//! rows match to keep the graph connected; a scan costs one distance per
//! matching row, in row order (on the 8-bit codes above
//! [`EXACT_MAX_ROWS`] rows, exactly on f32 below). The planner scans small or very selective selections
//! and compares the two costs otherwise. Whatever it picks,
//! [`super::SegmentGraph::query`] returns `min(k, matches)` rows: a graph
//! search that comes back short is redone exactly.

use crate::types::Space;

/// How one segment is searched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Exact scan over the matching rows.
    Exact,
    /// HNSW search, filtered when not every row may be returned.
    Graph,
}

/// Below this many matching rows a scan is always chosen: it is cheaper than
/// any graph walk and exact.
pub const EXACT_MAX_ROWS: usize = 2048;

/// Below this share of matching rows the filtered graph search (ACORN-1
/// expansion, see `graph.rs`) loses its way: at 1% on 100k×384 clustered
/// rows it found 44% of the true top 10, at 10% 99.9%.
pub const MIN_GRAPH_SELECTIVITY: f64 = 0.05;

/// Distances a graph search computes per unit of `ef` (measured about
/// 15–25 with `max_neighbors` 16 on clustered data). A filtered search
/// computes distances for matching rows only, so it costs about the same.
pub const VISITS_PER_EF: usize = 20;

/// What one graph visit costs in rows of a scan. Both compute distances on
/// the 8-bit codes (`sq8.rs`); measured on 100k×384 rows, a scan took about
/// 50 ns per row and a graph search about 320 ns per visit.
pub const GRAPH_VISIT_COST: usize = 6;

/// The same threshold for inner product. Its graph has few edges (see
/// `hnsw.rs`), and filtered searches on it lose recall sooner: on 100k×384
/// rows whose norms vary 4×, recall@10 was 0.9985 at 50% and 0.85 at 10%.
pub const MIN_GRAPH_SELECTIVITY_IP: f64 = 0.3;

/// Chooses how to search a segment of `total` rows in `space` when
/// `matching` of them may be returned, for `k` results at `ef_search`.
pub fn plan(space: Space, total: usize, matching: usize, k: usize, ef_search: usize) -> Plan {
    let matching = matching.min(total);
    if matching <= EXACT_MAX_ROWS {
        return Plan::Exact;
    }
    if matching == total {
        return Plan::Graph;
    }
    let min_selectivity = match space {
        Space::Ip => MIN_GRAPH_SELECTIVITY_IP,
        Space::L2 | Space::Cosine => MIN_GRAPH_SELECTIVITY,
    };
    if (matching as f64) < min_selectivity * total as f64 {
        return Plan::Exact;
    }
    // A scan computes `matching` distances in row order; the graph about
    // VISITS_PER_EF * ef, each a cache miss, and reads neighbour lists
    // besides: GRAPH_VISIT_COST scanned rows apiece.
    let graph = VISITS_PER_EF
        .saturating_mul(GRAPH_VISIT_COST)
        .saturating_mul(ef_search.max(k));
    if matching <= graph {
        Plan::Exact
    } else {
        Plan::Graph
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_or_selective_filters_scan_and_broad_ones_use_the_graph() {
        assert_eq!(plan(Space::L2, 100, 100, 10, 100), Plan::Exact);
        assert_eq!(plan(Space::L2, 100_000, 100_000, 10, 100), Plan::Graph);
        assert_eq!(plan(Space::L2, 100_000, 50_000, 10, 100), Plan::Graph);
        assert_eq!(plan(Space::L2, 100_000, 20_000, 10, 100), Plan::Graph);
        // A tenth of 100k rows is cheaper to scan than a beam of 100.
        assert_eq!(plan(Space::L2, 100_000, 10_000, 10, 100), Plan::Exact);
        assert_eq!(plan(Space::L2, 100_000, 4_000, 10, 100), Plan::Exact);
        assert_eq!(plan(Space::L2, 100_000, 1_000, 10, 100), Plan::Exact);
        assert_eq!(plan(Space::L2, 1_000_000, 100_000, 10, 100), Plan::Graph);
        // Scanning is cheaper than a wide beam over a small segment.
        assert_eq!(plan(Space::L2, 10_000, 5_000, 10, 400), Plan::Exact);
        assert_eq!(plan(Space::L2, 100_000, 10_000, 10, 10), Plan::Graph);
        assert_eq!(plan(Space::L2, 0, 0, 10, 100), Plan::Exact);
        // Inner product scans filtered selections below half the segment.
        assert_eq!(plan(Space::Ip, 100_000, 10_000, 10, 100), Plan::Exact);
        assert_eq!(plan(Space::Ip, 100_000, 60_000, 10, 100), Plan::Graph);
        assert_eq!(plan(Space::Ip, 100_000, 100_000, 10, 100), Plan::Graph);
    }
}
