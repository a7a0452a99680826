//! seeded_merge: what a merge's graph costs when it keeps its largest
//! input's graph (`SegmentGraph::build_seeded`) against a build from
//! scratch (`SegmentGraph::build`), on the same merged column, side by
//! side in one run: build seconds (wall and process CPU) and recall@10 at
//! the default ef_search against exact search.
//!
//! The merge: a base segment of BASE rows (its graph built first, not
//! timed) loses DROP_PERCENT of its rows to newer versions, and NEW fresh
//! rows join it, the way a flush is merged into the big segment under
//! upserts.
//!
//! ```text
//! cargo run --release -p chromite-benches --bin seeded_merge
//! env: BASE (100000) NEW (10000) DROP_PERCENT (10) DIM (384) THREADS (2) QUERIES (200)
//! ```

use std::time::Instant;

use chromite_benches::{env_usize, gaussian_mixture, ground_truth, process_cpu_seconds, recall};
use chromite_engine::index::SegmentGraph;
use chromite_engine::{HnswConfig, Space};

const K: usize = 10;

fn timed<T>(f: impl FnOnce() -> T) -> (T, f64, Option<f64>) {
    let cpu0 = process_cpu_seconds();
    let t = Instant::now();
    let out = f();
    let wall = t.elapsed().as_secs_f64();
    let cpu = cpu0.and_then(|c0| Some(process_cpu_seconds()? - c0));
    (out, wall, cpu)
}

fn main() {
    let base_n = env_usize("BASE", 100_000);
    let new_n = env_usize("NEW", 10_000);
    let drop_pct = env_usize("DROP_PERCENT", 10);
    let dim = env_usize("DIM", 384);
    let threads = env_usize("THREADS", 2);
    let queries = env_usize("QUERIES", 200);
    let cfg = HnswConfig {
        num_threads: threads,
        ..HnswConfig::default()
    };
    for space in [Space::Cosine, Space::L2] {
        let all = gaussian_mixture(base_n + new_n, queries, dim, false, 7);
        let base = SegmentGraph::build(&all.vectors[..base_n * dim], dim, space, &cfg)
            .expect("base graph");
        // The merged column: the surviving base rows in order, then the new
        // rows (a merge writes rows by order key: older first).
        let dropped = |r: usize| (r * 7919) % 100 < drop_pct;
        let order: Vec<usize> = (0..base_n)
            .filter(|&r| !dropped(r))
            .chain(base_n..base_n + new_n)
            .collect();
        let mut new_of = vec![u32::MAX; base_n];
        for (new, &old) in order.iter().enumerate() {
            if old < base_n {
                new_of[old] = new as u32;
            }
        }
        let mut merged = all.clone();
        merged.vectors = order
            .iter()
            .flat_map(|&r| all.vectors[r * dim..(r + 1) * dim].iter().copied())
            .collect();
        let truth = ground_truth(&merged, space, K, None, threads);
        let (seeded, s_wall, s_cpu) = timed(|| {
            SegmentGraph::build_seeded(&merged.vectors, dim, space, &cfg, &base, &new_of, &|| false)
                .expect("seeded build")
                .expect("not cancelled")
        });
        let (full, f_wall, f_cpu) =
            timed(|| SegmentGraph::build(&merged.vectors, dim, space, &cfg).expect("full build"));
        let search = |g: &SegmentGraph| -> Vec<Vec<(u32, f32)>> {
            (0..merged.query_count())
                .map(|i| g.search(&merged.vectors, merged.query(i), K, cfg.ef_search, None))
                .collect()
        };
        let r_seeded = recall(&search(&seeded), &truth);
        let r_full = recall(&search(&full), &truth);
        let cpu = |c: Option<f64>| c.map_or("n/a".to_string(), |c| format!("{c:.2}"));
        println!(
            "RESULT space={space:?} base={base_n} dropped={}% new={new_n} rows={} threads={threads} \
             seeded: wall_s={s_wall:.2} cpu_s={} recall@{K}={r_seeded:.4} | \
             full: wall_s={f_wall:.2} cpu_s={} recall@{K}={r_full:.4}",
            drop_pct,
            order.len(),
            cpu(s_cpu),
            cpu(f_cpu),
        );
    }
}
