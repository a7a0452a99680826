//! Writes the fixture `data/graph-format-1-store`: a store made by main at
//! b972af4 (graph files in format 1), one cosine collection "legacy" of
//! 3,000 rows of dimension 4 in one segment with its graph, plus 10 rows
//! left in the WAL. Row i is [sin(i), cos(i), sin(2i), 1 + (i mod 7)/7].
use chromite_engine::*;
fn main() {
    let dir = std::env::args().nth(1).expect("DIR");
    let db = Db::open(&dir).unwrap();
    let mut spec = CollectionSpec::default();
    spec.config.hnsw.space = Space::Cosine;
    let info = db.create_collection(DEFAULT_TENANT, DEFAULT_DATABASE, "legacy", spec, false).unwrap();
    let c = db.collection(info.id).unwrap();
    let row = |i: usize| { let x = i as f32; vec![x.sin(), x.cos(), (2.0 * x).sin(), 1.0 + (i % 7) as f32 / 7.0] };
    let add = |r: std::ops::Range<usize>| c.add(RecordBatch { ids: r.clone().map(|i| format!("r{i}")).collect(), embeddings: Some(r.map(row).collect()), ..Default::default() }).unwrap();
    add(0..3000);
    c.flush().unwrap();
    assert!(c.wait_for_graphs(std::time::Duration::from_secs(120)));
    add(3000..3010);
}
