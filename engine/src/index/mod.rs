//! Vector search: Chroma's distances (SIMD), exact top-k, and per immutable
//! segment an HNSW graph (built by our own construction, `build.rs`, and
//! searched in a compact form)
//! with a filter-aware planner and checksummed persistence.
//!
//! The engine calls, per segment: [`SegmentGraph::build`] off the write
//! path, [`SegmentGraph::save`] / [`SegmentGraph::load`] with the segment,
//! and [`SegmentGraph::query`] with the [`RowSet`] of live, matching
//! rows; [`exact_query`] serves segments without a usable graph and
//! [`exact_top_k`] the memtable.

mod build;
mod column;
pub mod distance;
mod exact;
mod graph;
mod graph_file;
mod growing;
mod hnsw;
mod insert;
mod planner;
mod segment_graph;
mod sq8;
pub mod topk;
mod visited;

pub use crate::row_set::{Row, RowMask, RowSet};
pub use column::VectorColumn;
pub use exact::exact_top_k;
pub use graph_file::HEADER_LEN as GRAPH_FILE_HEADER_LEN;
pub(crate) use growing::GrowingGraph;
pub(crate) use hnsw::degree;
pub(crate) use insert::{pair_distance, Pairwise};
pub use planner::{
    plan, Plan, EXACT_MAX_ROWS, GRAPH_VISIT_COST, MIN_GRAPH_SELECTIVITY, MIN_GRAPH_SELECTIVITY_IP,
    VISITS_PER_EF,
};
pub(crate) use segment_graph::exact_query_normed;
pub use segment_graph::{exact_query, SegmentGraph};
