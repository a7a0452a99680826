//! fragmented_store: how fast an idle store left fragmented by crashes gets
//! back to its live size on disk (issue 11: "≤ 1.5× its live bytes on disk
//! within a minute of idling").
//!
//! A child process (this binary with `write`) builds the fragmented store:
//! ROWS records, then upserts over the same ids, flushed into SEGMENTS
//! segments (TOTAL_ROWS rows in all, so most rows are dead), with merges
//! off; as soon as the last flush returns it is killed with SIGKILL, so
//! most segments have no graph yet. Then this process opens the store with
//! the server's default options, touches nothing, and prints the
//! collection's gauges every second until every graph is built and the
//! store has stayed within 1.5× of its live bytes, or MAX_SECONDS pass.
//!
//! ```text
//! cargo run --release -p chromite-benches --bin fragmented_store -- [DIR]
//! env: ROWS (100000) DIM (384) SEGMENTS (25) TOTAL_ROWS (4.6 × ROWS) MAX_SECONDS (300)
//! ```

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chromite_benches::{env_usize, gaussian_mixture};
use chromite_engine::compaction::Policy;
use chromite_engine::{
    CollectionConfig, CollectionSpec, Db, Options, RecordBatch, Space, DEFAULT_DATABASE,
    DEFAULT_TENANT,
};
use rand::{rngs::StdRng, Rng, SeedableRng};

const NAME: &str = "fragmented";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("write") => {
            let dir = PathBuf::from(args.next().ok_or("write DIR")?);
            write(&dir)
        }
        other => {
            let dir = match other {
                Some(d) => PathBuf::from(d),
                None => std::env::temp_dir().join(format!("fragmented-{}", std::process::id())),
            };
            measure(&dir)
        }
    }
}

/// The child: writes the fragmented store, says "ready", then waits to be killed.
fn write(dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let rows = env_usize("ROWS", 100_000);
    let dim = env_usize("DIM", 384);
    let segments = env_usize("SEGMENTS", 25).max(2);
    let total = env_usize("TOTAL_ROWS", rows * 46 / 10).max(rows);
    let db = Db::open_with(
        dir,
        Options {
            // Flushed by hand below; never merged.
            memtable_bytes: usize::MAX,
            idle_flush: None,
            write_stall: None,
            compaction: Policy {
                trigger: usize::MAX,
                max_merge: 2,
                vacuum_percent: 0,
            },
            ..Options::default()
        },
    )?;
    let spec = CollectionSpec {
        config: CollectionConfig {
            hnsw: chromite_engine::HnswConfig {
                space: Space::Cosine,
                ..Default::default()
            },
            ..Default::default()
        },
        ..Default::default()
    };
    let info = db.create_collection(DEFAULT_TENANT, DEFAULT_DATABASE, NAME, spec, false)?;
    let col = db.collection(info.id)?;
    let data = gaussian_mixture(rows, 0, dim, false, 7);
    let mut rng = StdRng::seed_from_u64(11);
    let per_segment = total.div_ceil(segments);
    let batch = 1000;
    let mut written = 0;
    let mut since_flush = 0;
    while written < total {
        let n = batch.min(total - written);
        let ids: Vec<usize> = if written < rows {
            (written..(written + n).min(rows)).collect()
        } else {
            (0..n).map(|_| rng.gen_range(0..rows)).collect()
        };
        let embeddings = ids
            .iter()
            .map(|&i| {
                // An upsert writes a slightly different vector.
                let mut v = data.vectors[i * dim..(i + 1) * dim].to_vec();
                v[written % dim] += 0.01;
                v
            })
            .collect();
        col.upsert(RecordBatch {
            ids: ids.iter().map(|i| format!("id-{i}")).collect(),
            embeddings: Some(embeddings),
            ..Default::default()
        })?;
        written += ids.len();
        since_flush += ids.len();
        if since_flush >= per_segment || written >= total {
            col.flush()?;
            since_flush = 0;
        }
    }
    println!(
        "ready {} segments, {written} rows written",
        col.segment_count()
    );
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

/// The parent: makes the store (killing the writer), then watches it idle.
fn measure(dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let max_seconds = env_usize("MAX_SECONDS", 300) as u64;
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    let t0 = Instant::now();
    let mut child = Command::new(std::env::current_exe()?)
        .arg("write")
        .arg(dir)
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    child.kill()?; // SIGKILL
    child.wait()?;
    if !line.starts_with("ready") {
        return Err(format!("writer failed: {line:?}").into());
    }
    println!(
        "writer: {} in {:.1} s, killed -9",
        line.trim(),
        t0.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let db = Db::open(dir)?;
    let info = db.get_collection_by_name(DEFAULT_TENANT, DEFAULT_DATABASE, NAME)?;
    let col = db.collection(info.id)?;
    println!(
        "opened in {:.2} s; idling (no reads, no writes)",
        t.elapsed().as_secs_f64()
    );
    println!("  t_s  segments  unindexed  pending  disk_MB  live_MB  disk/live");
    let mut first_within: Option<f64> = None;
    loop {
        let s = col.stats();
        let secs = t.elapsed().as_secs_f64();
        let ratio = s.disk_bytes as f64 / s.live_bytes.max(1) as f64;
        println!(
            "{secs:5.0}  {:8}  {:9}  {:7}  {:7.1}  {:7.1}  {ratio:9.2}",
            s.segments,
            s.unindexed_rows,
            s.pending_builds,
            s.disk_bytes as f64 / 1e6,
            s.live_bytes as f64 / 1e6,
        );
        if ratio <= 1.5 {
            first_within.get_or_insert(secs);
        } else {
            first_within = None;
        }
        let settled = s.unindexed_rows == 0 && s.pending_builds == 0;
        if (settled && first_within.is_some()) || secs > max_seconds as f64 {
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    match first_within {
        Some(s) => println!("RESULT within 1.5x of live bytes after {s:.0} s of idling"),
        None => println!("RESULT not within 1.5x of live bytes after {max_seconds} s"),
    }
    println!("records: {}", col.count()?);
    Ok(())
}
