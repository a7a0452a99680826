//! A segment written before format 3 (by the previous main: no sparse
//! section, header version 2, reserved word 0) still opens, and sparse
//! searches over it, which read its records instead of posting lists,
//! give the same ids and scores as over the format-3 segment it was made
//! from, alone and beside a new format-3 segment.

mod common;
use std::path::{Path, PathBuf};

use chromite_engine::schema::ValueTypes;
use chromite_engine::search::{Key, Knn, QueryVector, Rank, SearchPayload};
use chromite_engine::*;
use common::*;

fn sv(indices: Vec<u32>, values: Vec<f32>) -> SparseVector {
    SparseVector {
        indices,
        values,
        tokens: None,
    }
}

fn add(c: &Collection, ids: &[&str], vectors: Vec<SparseVector>) {
    let embs: Vec<Vec<f32>> = ids.iter().map(|_| vec![1.0, 0.0]).collect();
    let embs: Vec<&[f32]> = embs.iter().map(|e| e.as_slice()).collect();
    let mut b = batch(ids, &embs);
    b.metadatas = Some(
        vectors
            .into_iter()
            .map(|v| Some(upd(&[("s", Some(MetadataValue::SparseVector(v)))])))
            .collect(),
    );
    c.add(b).unwrap();
}

fn search(c: &Collection) -> Vec<(String, u32)> {
    let payload = SearchPayload {
        rank: Some(Rank::Knn(Knn {
            query: QueryVector::Sparse(sv(vec![1, 4, 9], vec![1.0, 0.5, 2.0])),
            key: "s".into(),
            limit: 10,
            default: None,
            return_rank: false,
        })),
        select: vec![Key::Score],
        ..Default::default()
    };
    let h = c.search(&[payload]).unwrap().remove(0);
    h.ids
        .into_iter()
        .zip(h.scores.unwrap())
        .map(|(id, s)| (id, s.unwrap().to_bits()))
        .collect()
}

/// Rewrites the segment at `path` as format 2: the sparse section cut
/// off, version 2, the reserved word 0, the header checksum redone.
fn downgrade(path: &Path) {
    let mut b = std::fs::read(path).unwrap();
    let u64_at = |b: &[u8], o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
    let records_end = (u64_at(&b, 32) + u64_at(&b, 40)) as usize;
    assert!(
        records_end < b.len(),
        "the format-3 segment has a sparse section"
    );
    b.truncate(records_end);
    b[8..12].copy_from_slice(&2u32.to_le_bytes());
    b[56..60].copy_from_slice(&0u32.to_le_bytes());
    let crc = crc32fast::hash(&b[..60]);
    b[60..64].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(path, b).unwrap();
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    v.sort();
    v
}

#[test]
fn a_format_2_segment_opens_and_searches_like_format_3() {
    let dir = tempfile::tempdir().unwrap();
    let mut schema = Schema::default();
    schema
        .keys
        .insert("s".into(), ValueTypes::sparse_index(true));
    let spec = CollectionSpec {
        schema: Some(schema),
        ..Default::default()
    };
    let (id, want) = {
        let db = open_small(dir.path(), 1 << 20);
        let info = db
            .create_collection(DEFAULT_TENANT, DEFAULT_DATABASE, "old", spec, false)
            .unwrap();
        let c = db.collection(info.id).unwrap();
        add(
            &c,
            &["a", "b", "c", "d"],
            vec![
                sv(vec![1, 4], vec![0.5, 2.0]),
                sv(vec![4, 9], vec![2.0, 4.5]),
                sv(vec![2], vec![1.0]),
                sv(vec![1, 9], vec![3.0, 0.25]),
            ],
        );
        c.flush().unwrap();
        let want = search(&c);
        assert_eq!(want.len(), 3);
        (info.id, want)
    };
    let cdir = dir.path().join("collections").join(id.to_string());
    let segs = segments(&cdir);
    assert_eq!(segs.len(), 1);
    downgrade(&segs[0]);
    let db = open_small(dir.path(), 1 << 20);
    let c = db.collection(id).unwrap();
    assert_eq!(search(&c), want, "the format-2 segment searches as before");
    // Beside a new format-3 segment: the old one is scanned, the new one
    // read through its posting lists, and BM25 counts both.
    add(&c, &["e"], vec![sv(vec![9], vec![1.0])]);
    c.flush().unwrap();
    assert_eq!(segments(&cdir).len(), 2);
    let got = search(&c);
    assert_eq!(got.len(), 4);
    assert!(got.iter().any(|(id, _)| id == "e"));
    // Compaction rewrites both into one format-3 segment: same answer.
    c.compact().unwrap();
    assert_eq!(search(&c), got);
}
