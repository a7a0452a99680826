//! Which rows a search may return, and the per-segment choice between the
//! graph and an exact scan (a pure function, testable without data).
//!
//! A filtered HNSW search walks the graph through rows the filter rejects,
//! so its cost grows roughly as `1 / selectivity`; an exact scan over the
//! matching rows costs one distance per match. The planner compares the two
//! estimates. Whatever it picks, [`super::SegmentGraph::query`] returns
//! `min(k, matches)` rows: a graph search that comes back short is redone
//! exactly.

/// The rows of a segment a search may return. Deleted rows (tombstones) must
/// already be left out: omitted from `Rows`, rejected by `Predicate`.
#[derive(Clone, Copy)]
pub enum Selection<'a> {
    /// Every row of the segment.
    All,
    /// Exactly these rows, sorted ascending without duplicates.
    Rows(&'a [u32]),
    /// The rows `allowed` accepts; `matching` estimates how many there are
    /// (it drives the plan only; results never depend on it).
    Predicate {
        /// Whether a row may be returned.
        allowed: &'a dyn Fn(u32) -> bool,
        /// Estimated number of accepted rows.
        matching: usize,
    },
}

impl std::fmt::Debug for Selection<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Selection::All => f.write_str("All"),
            Selection::Rows(r) => write!(f, "Rows({} rows)", r.len()),
            Selection::Predicate { matching, .. } => write!(f, "Predicate(~{matching} rows)"),
        }
    }
}

/// How one segment is searched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Exact scan over the matching rows.
    Exact,
    /// HNSW search, filtered when the selection is not [`Selection::All`].
    Graph,
}

/// Below this many matching rows a scan is always chosen: it is cheaper than
/// any graph walk and exact.
pub const EXACT_MAX_ROWS: usize = 2048;

/// Distances an unfiltered graph search computes per unit of `ef`
/// (measured about 15–25 with `max_neighbors` 16 on clustered data).
pub const VISITS_PER_EF: usize = 20;

/// Chooses how to search a segment of `total` rows when `matching` of them
/// may be returned, for `k` results at `ef_search`.
pub fn plan(total: usize, matching: usize, k: usize, ef_search: usize) -> Plan {
    let matching = matching.min(total);
    if matching <= EXACT_MAX_ROWS {
        return Plan::Exact;
    }
    if matching == total {
        return Plan::Graph;
    }
    // Graph cost ~ VISITS_PER_EF * ef * total / matching distances;
    // scan cost = matching distances.
    let ef = ef_search.max(k) as f64;
    let graph = VISITS_PER_EF as f64 * ef * total as f64 / matching as f64;
    if (matching as f64) <= graph {
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
        assert_eq!(plan(100, 100, 10, 100), Plan::Exact);
        assert_eq!(plan(100_000, 100_000, 10, 100), Plan::Graph);
        assert_eq!(plan(100_000, 50_000, 10, 100), Plan::Graph);
        assert_eq!(plan(100_000, 10_000, 10, 100), Plan::Exact);
        assert_eq!(plan(100_000, 1_000, 10, 100), Plan::Exact);
        assert_eq!(plan(1_000_000, 100_000, 10, 100), Plan::Graph);
        // A larger ef makes the graph dearer.
        assert_eq!(plan(100_000, 50_000, 10, 2000), Plan::Exact);
        assert_eq!(plan(0, 0, 10, 100), Plan::Exact);
    }
}
