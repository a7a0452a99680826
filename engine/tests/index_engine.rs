//! The HNSW graphs inside the store: segments get a graph from the
//! background builder and are searched through it (recall, exact Chroma
//! distances, filters, tombstones); reopening loads intact graph files
//! without rebuilding; a damaged graph file is rejected, the segment is
//! searched exactly and the graph rebuilt; `ef_search` changes take
//! effect; deleting a large share of a segment vacuums it.

mod index_support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chromite_engine::index::distance::distance;
use chromite_engine::index::exact_top_k;
use chromite_engine::*;
use index_support::{mixture, Mixture};

const N: usize = 5_000;
const DIM: usize = 32;
const K: usize = 10;
const WAIT: Duration = Duration::from_secs(120);

fn open_db(dir: &Path) -> Db {
    Db::open_with(
        dir,
        Options {
            memtable_bytes: 1 << 30,
            background: false,
            ..Options::default()
        },
    )
    .unwrap()
}

fn create(db: &Db, name: &str, space: Space) -> Collection {
    let mut spec = CollectionSpec::default();
    spec.config.hnsw.space = space;
    spec.config.hnsw.num_threads = 2;
    let info = db
        .create_collection(DEFAULT_TENANT, DEFAULT_DATABASE, name, spec, false)
        .unwrap();
    db.collection(info.id).unwrap()
}

fn reopen(db: &Db, name: &str) -> Collection {
    let info = db
        .get_collection_by_name(DEFAULT_TENANT, DEFAULT_DATABASE, name)
        .unwrap();
    db.collection(info.id).unwrap()
}

/// Rows `r0..`, metadata `{"bucket": i % 10}`, in batches of 1000, then a
/// flush: one segment of N rows.
fn load(c: &Collection, m: &Mixture) {
    for start in (0..N).step_by(1000) {
        let end = (start + 1000).min(N);
        c.add(RecordBatch {
            ids: (start..end).map(|i| format!("r{i}")).collect(),
            embeddings: Some(
                (start..end)
                    .map(|i| m.data[i * DIM..(i + 1) * DIM].to_vec())
                    .collect(),
            ),
            metadatas: Some(
                (start..end)
                    .map(|i| {
                        Some(
                            [(
                                "bucket".to_string(),
                                Some(MetadataValue::Int((i % 10) as i64)),
                            )]
                            .into_iter()
                            .collect(),
                        )
                    })
                    .collect(),
            ),
            ..Default::default()
        })
        .unwrap();
    }
    c.flush().unwrap();
}

fn query(c: &Collection, q: &[f32], k: usize, r#where: Option<serde_json::Value>) -> QueryResult {
    c.query(QueryRequest {
        query_embeddings: vec![q.to_vec()],
        n_results: k,
        selection: Selection {
            r#where: r#where.map(|w| Where::parse(&w).unwrap()),
            ..Default::default()
        },
        include: Include {
            distances: true,
            metadatas: true,
            ..Default::default()
        },
    })
    .unwrap()
}

fn row_of(id: &str) -> u32 {
    id[1..].parse().unwrap()
}

/// Mean recall@K over the mixture's queries against exact search over
/// `rows`, checking on the way that every returned row is in `rows`, that
/// distances are Chroma's (recomputed from the vectors) and ascending, and
/// that `min(K, rows)` results come back.
fn recall(
    c: &Collection,
    m: &Mixture,
    space: Space,
    rows: &[u32],
    w: Option<serde_json::Value>,
) -> f64 {
    let mut hits = 0;
    let mut total = 0;
    for q in &m.queries {
        let truth = exact_top_k(&m.data, DIM, space, q, K, rows.iter().copied());
        let res = query(c, q, K, w.clone());
        let ids = &res.ids[0];
        let dists = &res.distances.as_ref().unwrap()[0];
        assert_eq!(ids.len(), K.min(rows.len()));
        for (id, d) in ids.iter().zip(dists) {
            let r = row_of(id);
            assert!(rows.binary_search(&r).is_ok(), "{id} is not allowed");
            let v = &m.data[r as usize * DIM..(r as usize + 1) * DIM];
            assert_eq!(*d, distance(space, q, v), "distance of {id}");
        }
        assert!(
            dists.windows(2).all(|w| w[0] <= w[1]),
            "not ascending: {dists:?}"
        );
        total += truth.len();
        hits += ids
            .iter()
            .filter(|id| truth.iter().any(|(t, _)| *t == row_of(id)))
            .count();
    }
    hits as f64 / total.max(1) as f64
}

fn all_rows() -> Vec<u32> {
    (0..N as u32).collect()
}

fn graph_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "graph") {
                out.push(p);
            }
        }
    }
    out
}

fn check_space(space: Space, seed: u64) {
    let dir = tempfile::tempdir().unwrap();
    let db = open_db(dir.path());
    let m = mixture(N, 50, DIM, 32, 0.6, space == Space::Ip, seed);
    let c = create(&db, "col", space);
    load(&c, &m);
    assert!(c.wait_for_graphs(WAIT), "graph never published");
    let s = c.graph_status();
    assert_eq!((s.segments, s.ready, s.builds, s.loads), (1, 1, 1, 0));
    assert_eq!(graph_files(dir.path()).len(), 1);

    let r = recall(&c, &m, space, &all_rows(), None);
    assert!(r >= 0.95, "{space:?} recall@10 {r}");
    // 10% of the rows: planned per segment, never fewer than k results.
    let bucket3: Vec<u32> = (0..N as u32).filter(|i| i % 10 == 3).collect();
    let r = recall(
        &c,
        &m,
        space,
        &bucket3,
        Some(serde_json::json!({"bucket": 3})),
    );
    assert!(r >= 0.95, "{space:?} filtered recall@10 {r}");
    // 50%.
    let low: Vec<u32> = (0..N as u32).filter(|i| i % 10 < 5).collect();
    let r = recall(
        &c,
        &m,
        space,
        &low,
        Some(serde_json::json!({"bucket": {"$lt": 5}})),
    );
    assert!(r >= 0.95, "{space:?} 50% recall@10 {r}");
    // A k far beyond the rows (a client's n_results or Knn limit) gets
    // every row, and never sizes a beam by itself.
    let all = query(&c, &m.queries[0], u32::MAX as usize, None);
    assert_eq!(all.ids[0].len(), N);
}

#[test]
fn l2_segments_are_searched_through_their_graph() {
    check_space(Space::L2, 1);
}

#[test]
fn cosine_segments_are_searched_through_their_graph() {
    check_space(Space::Cosine, 2);
}

#[test]
fn ip_with_unnormalised_vectors_ranks_like_brute_force() {
    check_space(Space::Ip, 3);
}

#[test]
fn reopening_loads_intact_graphs_without_rebuilding() {
    let dir = tempfile::tempdir().unwrap();
    let m = mixture(N, 20, DIM, 32, 0.6, false, 4);
    {
        let db = open_db(dir.path());
        let c = create(&db, "col", Space::L2);
        load(&c, &m);
        assert!(c.wait_for_graphs(WAIT));
        assert_eq!(c.graph_status().builds, 1);
    }
    let before = std::fs::read(&graph_files(dir.path())[0]).unwrap();
    let db = open_db(dir.path());
    let c = reopen(&db, "col");
    assert!(c.wait_for_graphs(WAIT));
    let s = c.graph_status();
    assert_eq!((s.ready, s.loads, s.builds, s.rejected), (1, 1, 0, 0));
    assert_eq!(std::fs::read(&graph_files(dir.path())[0]).unwrap(), before);
    let r = recall(&c, &m, Space::L2, &all_rows(), None);
    assert!(r >= 0.95, "recall@10 after reopen {r}");
}

/// `rejected`: whether the damaged file counts as rejected (a missing
/// file is simply built).
fn damaged_graph_is_rebuilt(rejected: u64, damage: impl Fn(&Path)) {
    let dir = tempfile::tempdir().unwrap();
    let m = mixture(N, 20, DIM, 32, 0.6, false, 5);
    {
        let db = open_db(dir.path());
        let c = create(&db, "col", Space::L2);
        load(&c, &m);
        assert!(c.wait_for_graphs(WAIT));
    }
    let files = graph_files(dir.path());
    assert_eq!(files.len(), 1);
    damage(&files[0]);

    let db = open_db(dir.path());
    let c = reopen(&db, "col");
    // Answered at once, graph or not: exact while the graph is rebuilt.
    let truth = exact_top_k(&m.data, DIM, Space::L2, &m.queries[0], K, 0..N as u32);
    let res = query(&c, &m.queries[0], K, None);
    assert_eq!(res.ids[0].len(), K);
    assert_eq!(row_of(&res.ids[0][0]), truth[0].0);

    assert!(c.wait_for_graphs(WAIT), "graph never rebuilt");
    let s = c.graph_status();
    assert_eq!(
        (s.ready, s.loads, s.builds, s.rejected),
        (1, 0, 1, rejected)
    );
    let r = recall(&c, &m, Space::L2, &all_rows(), None);
    assert!(r >= 0.95, "recall@10 after rebuild {r}");
    drop(c);
    drop(db);

    // The rebuilt file was saved: the next open loads it.
    let db = open_db(dir.path());
    let c = reopen(&db, "col");
    assert!(c.wait_for_graphs(WAIT));
    let s = c.graph_status();
    assert_eq!((s.loads, s.builds, s.rejected), (1, 0, 0));
}

#[test]
fn a_flipped_byte_in_a_graph_file_leads_to_a_rebuild() {
    damaged_graph_is_rebuilt(1, |p| {
        let mut b = std::fs::read(p).unwrap();
        let mid = b.len() / 2;
        b[mid] ^= 0x5a;
        std::fs::write(p, b).unwrap();
    });
}

#[test]
fn a_truncated_graph_file_leads_to_a_rebuild() {
    damaged_graph_is_rebuilt(1, |p| {
        let len = std::fs::metadata(p).unwrap().len();
        std::fs::OpenOptions::new()
            .write(true)
            .open(p)
            .unwrap()
            .set_len(len / 3)
            .unwrap();
    });
}

#[test]
fn a_missing_graph_file_is_built_again() {
    damaged_graph_is_rebuilt(0, |p| std::fs::remove_file(p).unwrap());
}

#[test]
fn deleted_records_are_never_returned_and_vacuum_frees_them() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_db(dir.path());
    let m = mixture(N, 30, DIM, 32, 0.6, false, 6);
    let c = create(&db, "col", Space::Cosine);
    load(&c, &m);
    assert!(c.wait_for_graphs(WAIT));
    let seg_bytes = |dir: &Path| -> u64 {
        walk_files(dir)
            .iter()
            .filter(|p| p.extension().is_some_and(|x| x == "seg"))
            .map(|p| std::fs::metadata(p).unwrap().len())
            .sum()
    };
    let before = seg_bytes(dir.path());

    // Delete 30% of the rows (buckets 0, 1, 2).
    let gone: Vec<String> = (0..N)
        .filter(|i| i % 10 < 3)
        .map(|i| format!("r{i}"))
        .collect();
    let deleted = c
        .delete(DeleteRequest {
            selection: Selection {
                ids: Some(gone.clone()),
                ..Default::default()
            },
            limit: None,
        })
        .unwrap();
    assert_eq!(deleted, gone.len());
    let kept: Vec<u32> = (0..N as u32).filter(|i| i % 10 >= 3).collect();
    // Tombstones in the memtable hide graph rows at once.
    let r = recall(&c, &m, Space::Cosine, &kept, None);
    assert!(r >= 0.95, "recall@10 with deletes pending {r}");

    // Flushing the tombstones leaves a segment 30% dead: it is vacuumed.
    c.maintain().unwrap();
    assert_eq!(c.segment_count(), 1);
    assert_eq!(c.count().unwrap(), kept.len());
    assert!(c.wait_for_graphs(WAIT));
    let s = c.graph_status();
    assert_eq!((s.segments, s.ready, s.builds), (1, 1, 2));
    let after = seg_bytes(dir.path());
    assert!(
        after < before * 8 / 10,
        "segments {before} -> {after} bytes"
    );
    assert_eq!(
        graph_files(dir.path()).len(),
        1,
        "the old graph file is gone"
    );
    let r = recall(&c, &m, Space::Cosine, &kept, None);
    assert!(r >= 0.95, "recall@10 after vacuum {r}");
}

fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn a_small_share_of_deletes_does_not_vacuum() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_db(dir.path());
    let m = mixture(N, 1, DIM, 32, 0.6, false, 7);
    let c = create(&db, "col", Space::L2);
    load(&c, &m);
    let gone: Vec<String> = (0..N)
        .filter(|i| i % 10 == 0)
        .map(|i| format!("r{i}"))
        .collect();
    c.delete(DeleteRequest {
        selection: Selection {
            ids: Some(gone),
            ..Default::default()
        },
        limit: None,
    })
    .unwrap();
    c.maintain().unwrap();
    assert_eq!(
        c.segment_count(),
        2,
        "10% dead is below the vacuum threshold"
    );
    assert_eq!(c.count().unwrap(), N - N / 10);
}

#[test]
fn ef_search_changes_take_effect() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_db(dir.path());
    let m = mixture(N, 50, DIM, 8, 1.5, false, 8);
    let c = create(&db, "col", Space::L2);
    load(&c, &m);
    assert!(c.wait_for_graphs(WAIT));
    let id = c.info().id;
    let set = |ef: usize| {
        db.modify_collection(
            id,
            None,
            None,
            Some(ConfigUpdate {
                ef_search: Some(ef),
                ..Default::default()
            }),
        )
        .unwrap();
    };
    set(10);
    let narrow = recall(&c, &m, Space::L2, &all_rows(), None);
    set(400);
    let wide = recall(&c, &m, Space::L2, &all_rows(), None);
    eprintln!("recall@10: ef_search 10 -> {narrow}, 400 -> {wide}");
    assert!(wide >= 0.99, "ef_search 400: recall {wide}");
    assert!(
        narrow < wide,
        "ef_search 10 ({narrow}) should find less than 400 ({wide})"
    );
}

#[test]
fn a_memtable_that_stops_growing_is_flushed_and_indexed() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open_with(
        dir.path(),
        Options {
            memtable_bytes: 1 << 30,
            background: true,
            idle_flush: Some(IdleFlush {
                after: Duration::from_millis(200),
                min_bytes: 1,
            }),
            ..Options::default()
        },
    )
    .unwrap();
    let m = mixture(N, 20, DIM, 32, 0.6, false, 9);
    let c = create(&db, "col", Space::L2);
    // `load` flushes explicitly; write without it here.
    c.add(RecordBatch {
        ids: (0..N).map(|i| format!("r{i}")).collect(),
        embeddings: Some(m.data.chunks_exact(DIM).map(<[f32]>::to_vec).collect()),
        ..Default::default()
    })
    .unwrap();
    let until = std::time::Instant::now() + WAIT;
    while c.segment_count() == 0 && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(c.segment_count(), 1, "the quiet memtable was never flushed");
    assert!(c.wait_for_graphs(WAIT));
    assert_eq!(c.graph_status().ready, 1);
    let r = recall(&c, &m, Space::L2, &all_rows(), None);
    assert!(r >= 0.95, "recall@10 {r}");
}

/// Rows `r0..rN` of the mixture as two flushed segments of N/2 rows.
fn two_segments(c: &Collection, m: &Mixture) {
    for half in [0..N / 2, N / 2..N] {
        c.add(RecordBatch {
            ids: half.clone().map(|i| format!("r{i}")).collect(),
            embeddings: Some(
                half.map(|i| m.data[i * DIM..(i + 1) * DIM].to_vec())
                    .collect(),
            ),
            ..Default::default()
        })
        .unwrap();
        c.flush().unwrap();
    }
}

#[test]
fn a_merged_segment_is_indexed_before_it_replaces_the_old_ones() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_db(dir.path());
    let m = mixture(N, 20, DIM, 32, 0.6, false, 10);
    let c = create(&db, "col", Space::L2);
    // Two segments of N/2 rows each, then a full merge.
    two_segments(&c, &m);
    assert!(c.wait_for_graphs(WAIT));
    c.compact().unwrap();
    assert_eq!(c.segment_count(), 1);
    // No waiting: the merged segment came with its graph.
    let s = c.graph_status();
    assert_eq!((s.segments, s.ready, s.builds), (1, 1, 3));
    let r = recall(&c, &m, Space::L2, &all_rows(), None);
    assert!(r >= 0.95, "recall@10 {r}");
}

/// Upserts rows `ids` of the mixture with the vectors of rows `from..`
/// (so an id moves to where another row lives) and records them in `truth`.
fn move_rows(
    c: &Collection,
    m: &Mixture,
    ids: std::ops::Range<usize>,
    from: usize,
    truth: &mut [Vec<f32>],
) {
    let vecs: Vec<Vec<f32>> = ids
        .clone()
        .map(|i| {
            let r = (from + i - ids.start) % N;
            m.data[r * DIM..(r + 1) * DIM]
                .iter()
                .map(|x| x * 1.01)
                .collect()
        })
        .collect();
    for (i, v) in ids.clone().zip(&vecs) {
        truth[i] = v.clone();
    }
    c.upsert(RecordBatch {
        ids: ids.map(|i| format!("r{i}")).collect(),
        embeddings: Some(vecs),
        ..Default::default()
    })
    .unwrap();
}

/// Recall@K against brute force over `truth` (the current vector of every
/// row), checking that each returned distance is the one of the id's
/// current vector, so an overridden older version can never be returned.
fn recall_current(c: &Collection, m: &Mixture, truth: &[Vec<f32>]) -> f64 {
    let flat: Vec<f32> = truth.iter().flatten().copied().collect();
    let (mut hits, mut total) = (0, 0);
    for q in &m.queries {
        let want = exact_top_k(&flat, DIM, Space::L2, q, K, 0..N as u32);
        let res = query(c, q, K, None);
        let dists = &res.distances.as_ref().unwrap()[0];
        assert_eq!(res.ids[0].len(), K);
        for (id, d) in res.ids[0].iter().zip(dists) {
            let v = &truth[row_of(id) as usize];
            assert_eq!(
                *d,
                distance(Space::L2, q, v),
                "{id} came back with an old vector"
            );
        }
        total += want.len();
        hits += res.ids[0]
            .iter()
            .filter(|id| want.iter().any(|(t, _)| *t == row_of(id)))
            .count();
    }
    hits as f64 / total as f64
}

#[test]
fn overwritten_rows_of_indexed_segments_are_never_returned() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_db(dir.path());
    let m = mixture(N, 20, DIM, 32, 0.6, false, 11);
    let c = create(&db, "col", Space::L2);
    load(&c, &m);
    assert!(c.wait_for_graphs(WAIT));
    let mut truth: Vec<Vec<f32>> = m.data.chunks(DIM).map(<[f32]>::to_vec).collect();

    // Overwrites in the memtable, queried between writes as it grows.
    for (batch, from) in [(0..300, 2_000), (300..700, 4_000), (100..400, 3_000)] {
        move_rows(&c, &m, batch, from, &mut truth);
        let r = recall_current(&c, &m, &truth);
        assert!(r >= 0.95, "recall@10 with overwrites in the memtable: {r}");
    }
    assert_eq!(c.count().unwrap(), N);

    // Flushed: a newer segment now overrides rows of the indexed one.
    c.flush().unwrap();
    move_rows(&c, &m, 650..900, 1_000, &mut truth);
    let r = recall_current(&c, &m, &truth);
    assert!(
        r >= 0.95,
        "recall@10 with overwrites in a newer segment: {r}"
    );
    assert_eq!(c.count().unwrap(), N);

    // The same after reopening.
    c.flush().unwrap();
    drop(c);
    drop(db);
    let db = open_db(dir.path());
    let c = reopen(&db, "col");
    assert_eq!(c.segment_count(), 3);
    assert_eq!(c.count().unwrap(), N);
    let r = recall_current(&c, &m, &truth);
    assert!(r >= 0.95, "recall@10 after reopening: {r}");
}

/// Rows no graph indexes yet — the memtable's, and a small segment's
/// (always scanned) — are ranked with Chroma's distances bit for bit in
/// every space, with norms taken once per row for cosine.
#[test]
fn memtable_and_scanned_segment_distances_are_exact() {
    let m = mixture(1_500, 20, DIM, 16, 0.7, true, 31);
    for space in [Space::Cosine, Space::L2, Space::Ip] {
        let dir = tempfile::tempdir().unwrap();
        let db = open_db(dir.path());
        let c = create(&db, "fresh", space);
        let row = |i: usize| m.data[i * DIM..(i + 1) * DIM].to_vec();
        let add = |range: std::ops::Range<usize>| {
            c.add(RecordBatch {
                ids: range.clone().map(|i| format!("r{i}")).collect(),
                embeddings: Some(range.map(row).collect()),
                ..Default::default()
            })
            .unwrap();
        };
        add(0..1_000);
        c.flush().unwrap(); // 1,000 rows: a segment the planner always scans
        add(1_000..1_500); // left in the memtable
        assert_eq!(c.segment_count(), 1);
        for q in &m.queries {
            let r = query(&c, q, 1_500, None);
            let mut want: Vec<(f32, String)> = (0..1_500)
                .map(|i| (distance(space, q, &row(i)), format!("r{i}")))
                .collect();
            want.sort_by(|a, b| a.0.total_cmp(&b.0));
            let got = r.distances.unwrap()[0].clone();
            assert_eq!(got.len(), 1_500);
            for (id, d) in r.ids[0].iter().zip(&got) {
                let i: usize = id[1..].parse().unwrap();
                assert_eq!(
                    d.to_bits(),
                    distance(space, q, &row(i)).to_bits(),
                    "{space:?} {id}"
                );
            }
            let want_d: Vec<f32> = want.iter().map(|w| w.0).collect();
            assert_eq!(got, want_d, "{space:?}: order");
        }
    }
}

/// A merge right after reopening, while intact graph files are still
/// loading, builds the merged segment's graph before swapping it in: only
/// rows with no graph anywhere (in memory or on disk) may be swapped in
/// unindexed.
#[test]
fn a_merge_at_open_does_not_drop_graphs_that_are_loading() {
    let dir = tempfile::tempdir().unwrap();
    let m = mixture(N, 20, DIM, 32, 0.6, false, 12);
    {
        let db = open_db(dir.path());
        let c = create(&db, "col", Space::L2);
        two_segments(&c, &m);
        assert!(c.wait_for_graphs(WAIT));
        assert_eq!(graph_files(dir.path()).len(), 2);
    }
    let db = open_db(dir.path());
    let c = reopen(&db, "col");
    c.compact().unwrap();
    assert_eq!(c.segment_count(), 1);
    let s = c.graph_status();
    assert_eq!((s.segments, s.ready), (1, 1), "{s:?}");
}

/// A memtable large enough for a graph is searched through the graph it
/// grows as writes arrive (with exact distances and the recall of a
/// segment's graph), and a flush hands that graph to the segment: the
/// segment is indexed the moment it is published, with no build queued,
/// including when some of the memtable's rows were overwritten in it.
#[test]
fn a_memtable_grows_a_graph_and_its_segment_keeps_it() {
    for space in [Space::L2, Space::Cosine] {
        let dir = tempfile::tempdir().unwrap();
        let open = || {
            Db::open_with(
                dir.path(),
                Options {
                    memtable_bytes: 1 << 30,
                    background: false,
                    memtable_graph: true,
                    ..Options::default()
                },
            )
            .unwrap()
        };
        let db = open();
        let m = mixture(N, 50, DIM, 32, 0.6, false, 17);
        let c = create(&db, "grown", space);
        let add = |range: std::ops::Range<usize>, from: usize| {
            c.upsert(RecordBatch {
                ids: range.clone().map(|i| format!("r{i}")).collect(),
                embeddings: Some(
                    range
                        .map(|i| m.data[(i + from) * DIM..(i + from + 1) * DIM].to_vec())
                        .collect(),
                ),
                ..Default::default()
            })
            .unwrap();
        };
        // Rows 0..500 first get other rows' vectors, then their own: the
        // graph holds 500 rows the flush must drop.
        add(0..500, 1_000);
        for start in (0..N).step_by(1000) {
            add(start..(start + 1000).min(N), 0);
        }
        assert_eq!(c.segment_count(), 0);
        let r = recall(&c, &m, space, &all_rows(), None);
        assert!(r >= 0.95, "{space:?} memtable recall@10 {r}");

        c.flush().unwrap();
        let s = c.graph_status();
        assert_eq!((s.segments, s.ready, s.builds), (1, 1, 1), "{space:?}");
        assert_eq!(graph_files(dir.path()).len(), 1);
        let r = recall(&c, &m, space, &all_rows(), None);
        assert!(r >= 0.95, "{space:?} recall@10 of the kept graph {r}");

        // The kept graph is saved like a built one and loads after reopening.
        drop(c);
        drop(db);
        let db = open();
        let c = reopen(&db, "grown");
        assert!(c.wait_for_graphs(WAIT));
        let s = c.graph_status();
        assert_eq!((s.ready, s.builds, s.loads), (1, 0, 1), "{space:?}");
    }
}

/// Rows at equal distances are ranked by insertion order whether the
/// memtable is walked or scanned: an upsert keeps its id's order but gets
/// a new slot, and the walk must not rank it by slot.
#[test]
fn a_memtable_walk_breaks_ties_like_a_scan() {
    let m = mixture(N, 1, DIM, 32, 0.6, false, 29);
    let tie: Vec<f32> = m.data[..DIM].to_vec();
    let results = [false, true].map(|graph| {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open_with(
            dir.path(),
            Options {
                memtable_bytes: 1 << 30,
                background: false,
                memtable_graph: graph,
                ..Options::default()
            },
        )
        .unwrap();
        let c = create(&db, "ties", Space::L2);
        let put = |ids: Vec<String>, vectors: Vec<Vec<f32>>| {
            c.upsert(RecordBatch {
                ids,
                embeddings: Some(vectors),
                ..Default::default()
            })
            .unwrap();
        };
        for start in (0..N).step_by(1000) {
            put(
                (start..start + 1000).map(|i| format!("r{i}")).collect(),
                (start..start + 1000)
                    .map(|i| {
                        m.data[i * DIM..(i + 1) * DIM]
                            .iter()
                            .map(|x| x + 5.0)
                            .collect()
                    })
                    .collect(),
            );
        }
        put(
            (0..12).map(|i| format!("t{i}")).collect(),
            vec![tie.clone(); 12],
        );
        // Later slots, earlier orders.
        put(
            (0..6).map(|i| format!("t{i}")).collect(),
            vec![tie.clone(); 6],
        );
        let r = query(&c, &tie, 10, None);
        (r.ids[0].clone(), r.distances.unwrap()[0].clone())
    });
    let want: Vec<String> = (0..10).map(|i| format!("t{i}")).collect();
    assert_eq!(results[0].0, want, "scan");
    assert_eq!(results[1], results[0], "walk against scan");
}
