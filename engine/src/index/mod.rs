//! Vector search: distance functions and, per immutable segment, an HNSW
//! graph (hnsw_rs) with checked persistence; brute force for the memtable.

pub mod distance;
