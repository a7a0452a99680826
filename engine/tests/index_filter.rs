//! Filtered and tombstoned search through the planner: exact on small
//! filtered sets, never a rejected or deleted row, and always
//! `min(k, matches)` results.

mod index_support;

use std::sync::Arc;

use chromite_engine::index::{exact_query, exact_top_k, RowMask, RowSet, SegmentGraph};
use chromite_engine::Space;
use index_support::{config, mixture, recall, Rng};

const N: usize = 5_000;
const DIM: usize = 32;
const K: usize = 10;

#[test]
fn small_filtered_sets_equal_brute_force() {
    let m = mixture(N, 30, DIM, 32, 0.5, true, 11);
    for space in [Space::L2, Space::Cosine, Space::Ip] {
        let g = SegmentGraph::build(&m.data, DIM, space, &config()).unwrap();
        let mut rng = Rng::new(5);
        for size in [0usize, 1, 3, 9, 10, 11, 50, 400] {
            let mut rows: Vec<u32> = (0..size).map(|_| rng.below(N) as u32).collect();
            rows.sort_unstable();
            rows.dedup();
            for q in &m.queries {
                let want = exact_top_k(&m.data, DIM, space, q, K, rows.iter().copied());
                assert_eq!(want.len(), K.min(rows.len()));
                let set = RowSet::Rows(rows.clone());
                assert_eq!(g.query(&m.data, q, K, 100, &set), want);
                // The same rows as "all but a mask" take the same path.
                let mut mask = RowMask::new(N);
                (0..N as u32)
                    .filter(|r| rows.binary_search(r).is_err())
                    .for_each(|r| mask.set(r as usize));
                let except = RowSet::Except(Arc::new(mask));
                assert_eq!(g.query(&m.data, q, K, 100, &except), want);
                assert_eq!(exact_query(&m.data, DIM, space, q, K, &set), want);
            }
        }
    }
}

#[test]
fn filtered_graph_search_keeps_recall_and_never_leaks() {
    let m = mixture(N, 50, DIM, 32, 1.0, false, 12);
    let g = SegmentGraph::build(&m.data, DIM, Space::L2, &config()).unwrap();
    for modulus in [2u32, 10] {
        let rows: Vec<u32> = (0..N as u32).filter(|r| r % modulus == 0).collect();
        let allowed = |r: u32| rows.binary_search(&r).is_ok();
        // The graph path itself (bypassing the planner), filtered.
        let r = recall(&m, Space::L2, K, &rows, |q| {
            let found = g.search(&m.data, q, K, 100, Some(&allowed));
            assert!(found.iter().all(|(row, _)| allowed(*row)));
            found
        });
        eprintln!("filtered graph search, 1/{modulus} of rows: recall@{K} {r:.4}");
        assert!(r >= 0.95, "1/{modulus}: recall {r}");
        // The planned query: full k, only matching rows.
        for q in &m.queries {
            let got = g.query(&m.data, q, K, 100, &RowSet::Rows(rows.clone()));
            assert_eq!(got.len(), K);
            assert!(got.iter().all(|(row, _)| allowed(*row)));
        }
    }
}

/// Selections too large for an f32 scan but too selective for the graph
/// are scanned on the 8-bit codes and rescored: every returned distance is
/// still Chroma's exact one, and recall stays near 1.
#[test]
fn large_scanned_selections_keep_recall_and_exact_distances() {
    use chromite_engine::index::{distance::distance, plan, Plan, EXACT_MAX_ROWS};
    let m = mixture(N, 40, DIM, 32, 0.7, true, 14);
    let rows: Vec<u32> = (0..N as u32).filter(|r| r % 2 == 1).collect();
    assert!(rows.len() > EXACT_MAX_ROWS);
    for space in [Space::L2, Space::Cosine, Space::Ip] {
        assert_eq!(plan(space, N, rows.len(), K, 100), Plan::Exact);
        let g = SegmentGraph::build(&m.data, DIM, space, &config()).unwrap();
        let r = recall(&m, space, K, &rows, |q| {
            let got = g.query(&m.data, q, K, 100, &RowSet::Rows(rows.clone()));
            assert_eq!(got.len(), K);
            for w in got.windows(2) {
                assert!(w[0].1 <= w[1].1);
            }
            for &(row, d) in &got {
                assert!(row % 2 == 1);
                let v = &m.data[row as usize * DIM..(row as usize + 1) * DIM];
                assert_eq!(d, distance(space, q, v), "{space:?} row {row}");
            }
            got
        });
        eprintln!("{space:?}: scanned half of the rows, recall@{K} {r:.4}");
        assert!(r >= 0.99, "{space:?}: recall {r}");
    }
}

#[test]
fn a_mask_leaving_few_rows_returns_each_of_them() {
    let m = mixture(N, 10, DIM, 32, 0.5, false, 13);
    let g = SegmentGraph::build(&m.data, DIM, Space::L2, &config()).unwrap();
    // Three rows left, far apart in the graph, by a mask over all others.
    let mut mask = RowMask::new(N);
    (0..N as u32)
        .filter(|&r| r != 7 && r != 2_500 && r != 4_999)
        .for_each(|r| mask.set(r as usize));
    let set = RowSet::Except(Arc::new(mask));
    assert_eq!(set.len(N), 3);
    for q in &m.queries {
        let got = g.query(&m.data, q, K, 100, &set);
        let mut rows: Vec<u32> = got.iter().map(|(r, _)| *r).collect();
        rows.sort_unstable();
        assert_eq!(rows, vec![7, 2_500, 4_999]);
    }
}

#[test]
fn tombstoned_rows_are_never_returned() {
    let m = mixture(N, 40, DIM, 32, 0.5, true, 14);
    for space in [Space::L2, Space::Cosine, Space::Ip] {
        let g = SegmentGraph::build(&m.data, DIM, space, &config()).unwrap();
        // Delete each query's true nearest 20 rows and a random third of the rest.
        let mut rng = Rng::new(99);
        let mut deleted = vec![false; N];
        for q in &m.queries {
            for (r, _) in exact_top_k(&m.data, DIM, space, q, 20, 0..N as u32) {
                deleted[r as usize] = true;
            }
        }
        for d in deleted.iter_mut() {
            if rng.below(3) == 0 {
                *d = true;
            }
        }
        let mut mask = RowMask::new(N);
        (0..N).filter(|&r| deleted[r]).for_each(|r| mask.set(r));
        let sel = RowSet::Except(Arc::new(mask));
        for q in &m.queries {
            let got = g.query(&m.data, q, K, 100, &sel);
            assert_eq!(got.len(), K);
            assert!(
                got.iter().all(|(r, _)| !deleted[*r as usize]),
                "{space:?} returned a deleted row"
            );
        }
    }
    // Fewer live rows than k: all of them, nothing deleted.
    let g = SegmentGraph::build(&m.data, DIM, Space::L2, &config()).unwrap();
    let mut mask = RowMask::new(N);
    (4..N).for_each(|r| mask.set(r));
    let got = g.query(
        &m.data,
        &m.queries[0],
        K,
        100,
        &RowSet::Except(Arc::new(mask)),
    );
    let mut rows: Vec<u32> = got.iter().map(|(r, _)| *r).collect();
    rows.sort_unstable();
    assert_eq!(rows, vec![0, 1, 2, 3]);
}
