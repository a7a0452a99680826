//! The graph file: an intact file loads as the same index without a
//! rebuild; a damaged, truncated, foreign or mismatched file is an error
//! naming the file (never a panic or exit), after which exact search still
//! serves the segment.

mod index_support;

use std::path::Path;

use chromite_engine::index::{exact_query, RowSet, SegmentGraph, GRAPH_FILE_HEADER_LEN};
use chromite_engine::{Error, Space};
use index_support::{config, mixture};

const N: usize = 2_000;
const DIM: usize = 16;

fn corrupted_naming(path: &Path, err: Error) {
    match err {
        Error::Corrupted { path: p, detail } => {
            assert_eq!(p, path);
            assert!(!detail.is_empty());
        }
        other => panic!("expected Corrupted, got {other:?}"),
    }
}

#[test]
fn intact_file_loads_the_same_graph_without_rebuilding() {
    let dir = tempfile::tempdir().unwrap();
    let m = mixture(N, 20, DIM, 16, 0.5, true, 21);
    for space in [Space::L2, Space::Cosine, Space::Ip] {
        let g = SegmentGraph::build(&m.data, DIM, space, &config()).unwrap();
        let path = dir.path().join(format!("seg-{space:?}.graph"));
        g.save(&path).unwrap();
        assert!(!dir.path().join(format!("seg-{space:?}.graph.tmp")).exists());
        let loaded = SegmentGraph::load(&path, &m.data, DIM, space).unwrap();
        assert_eq!(loaded, g);
        for q in &m.queries {
            assert_eq!(
                loaded.search(&m.data, q, 10, 100, None),
                g.search(&m.data, q, 10, 100, None)
            );
        }
        // Loaded against a different column of the same shape, the graph is
        // still the saved one: loading reads the file, it never rebuilds.
        let zeros = vec![0.0f32; N * DIM];
        let other = SegmentGraph::load(&path, &zeros, DIM, space).unwrap();
        assert_eq!(other.len(), g.len());
        assert_eq!(
            (other.max_neighbors(), other.ef_construction()),
            (g.max_neighbors(), g.ef_construction())
        );
        // Its norms and 8-bit codes come from the column it was loaded
        // with; its graph is the file's, so saving it again writes the same
        // bytes.
        let again = dir.path().join(format!("seg-{space:?}-again.graph"));
        other.save(&again).unwrap();
        assert_eq!(
            std::fs::read(&again).unwrap(),
            std::fs::read(&path).unwrap()
        );
    }
}

#[test]
fn damaged_files_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let m = mixture(N, 5, DIM, 16, 0.5, false, 22);
    let g = SegmentGraph::build(&m.data, DIM, Space::L2, &config()).unwrap();
    let path = dir.path().join("seg.graph");
    g.save(&path).unwrap();
    let good = std::fs::read(&path).unwrap();

    // A flipped bit in the header, in the body, and at the very end.
    for at in [3, GRAPH_FILE_HEADER_LEN + 5, good.len() / 2, good.len() - 1] {
        let mut bad = good.clone();
        bad[at] ^= 0x10;
        std::fs::write(&path, &bad).unwrap();
        corrupted_naming(
            &path,
            SegmentGraph::load(&path, &m.data, DIM, Space::L2).unwrap_err(),
        );
    }
    // Truncated (a torn write), empty, and foreign files.
    for bytes in [
        &good[..good.len() - 7],
        &good[..10],
        &[][..],
        b"not a graph at all, just some text".as_slice(),
    ] {
        std::fs::write(&path, bytes).unwrap();
        corrupted_naming(
            &path,
            SegmentGraph::load(&path, &m.data, DIM, Space::L2).unwrap_err(),
        );
    }
    // An intact file for another segment shape or space.
    std::fs::write(&path, &good).unwrap();
    corrupted_naming(
        &path,
        SegmentGraph::load(&path, &m.data, DIM, Space::Ip).unwrap_err(),
    );
    corrupted_naming(
        &path,
        SegmentGraph::load(&path, &m.data[..(N - 1) * DIM], DIM, Space::L2).unwrap_err(),
    );
    corrupted_naming(
        &path,
        SegmentGraph::load(&path, &m.data, DIM / 2, Space::L2).unwrap_err(),
    );
    // A missing file is an I/O error naming it.
    let missing = dir.path().join("missing.graph");
    match SegmentGraph::load(&missing, &m.data, DIM, Space::L2).unwrap_err() {
        Error::Io { path, .. } => assert_eq!(path, missing),
        other => panic!("expected Io, got {other:?}"),
    }
    // Meanwhile the segment is served exactly; a rebuilt graph saves over the bad file.
    std::fs::write(&path, b"garbage").unwrap();
    let q = &m.queries[0];
    assert_eq!(
        exact_query(&m.data, DIM, Space::L2, q, 10, &RowSet::All).len(),
        10
    );
    let rebuilt = SegmentGraph::build(&m.data, DIM, Space::L2, &config()).unwrap();
    rebuilt.save(&path).unwrap();
    assert_eq!(
        SegmentGraph::load(&path, &m.data, DIM, Space::L2).unwrap(),
        rebuilt
    );
}
