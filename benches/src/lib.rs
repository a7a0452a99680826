//! Shared helpers for the criterion benchmarks in `benches/`: reproducible
//! data sets, exact ground truth and recall.
//!
//! The vector data is a Gaussian mixture that looks like embeddings: 256
//! cluster centres in a 32-dimensional latent space, mapped to `dim`
//! dimensions by a fixed random linear map, plus isotropic noise. Every
//! number comes from a seeded ChaCha generator (`StdRng` of rand 0.8), so a
//! seed gives the same data on every machine.

use chromite_engine::index::exact_top_k;
use chromite_engine::Space;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};

/// Latent dimension of the mixture.
pub const LATENT_DIM: usize = 32;
/// Number of mixture components.
pub const CLUSTERS: usize = 256;

/// Vectors and queries drawn from the same mixture.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Dimension of every vector.
    pub dim: usize,
    /// `n * dim` floats, row-major: the segment's vector column.
    pub vectors: Vec<f32>,
    /// `q * dim` floats, row-major; not among `vectors`.
    pub queries: Vec<f32>,
}

impl Dataset {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.vectors.len() / self.dim
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.vectors.is_empty()
    }

    /// Query `i`.
    pub fn query(&self, i: usize) -> &[f32] {
        &self.queries[i * self.dim..(i + 1) * self.dim]
    }

    /// Number of queries.
    pub fn query_count(&self) -> usize {
        self.queries.len() / self.dim
    }
}

/// `n` vectors and `q` queries of dimension `dim` from the mixture seeded
/// with `seed`. Within-cluster spread is 0.5 (latent), noise 0.05 per
/// output dimension. With `spread_norms`, every vector is scaled by a
/// log-uniform factor in [0.5, 2), so norms vary 4×, as unnormalised
/// embeddings do (used for inner product).
pub fn gaussian_mixture(n: usize, q: usize, dim: usize, spread_norms: bool, seed: u64) -> Dataset {
    let mut rng = StdRng::seed_from_u64(seed);
    let normal = |rng: &mut StdRng| -> f32 { StandardNormal.sample(rng) };
    let centres: Vec<f32> = (0..CLUSTERS * LATENT_DIM)
        .map(|_| normal(&mut rng))
        .collect();
    let map_scale = 1.0 / (LATENT_DIM as f32).sqrt();
    let map: Vec<f32> = (0..dim * LATENT_DIM)
        .map(|_| normal(&mut rng) * map_scale)
        .collect();
    let sample = |rng: &mut StdRng, out: &mut Vec<f32>| {
        let c = rng.gen_range(0..CLUSTERS);
        let latent: Vec<f32> = (0..LATENT_DIM)
            .map(|j| centres[c * LATENT_DIM + j] + 0.5 * normal(rng))
            .collect();
        let scale = if spread_norms {
            0.5 * 4f32.powf(rng.gen::<f32>())
        } else {
            1.0
        };
        for i in 0..dim {
            let row = &map[i * LATENT_DIM..(i + 1) * LATENT_DIM];
            let x: f32 = row.iter().zip(&latent).map(|(a, b)| a * b).sum();
            out.push((x + 0.05 * normal(rng)) * scale);
        }
    };
    let mut vectors = Vec::with_capacity(n * dim);
    for _ in 0..n {
        sample(&mut rng, &mut vectors);
    }
    let mut queries = Vec::with_capacity(q * dim);
    for _ in 0..q {
        sample(&mut rng, &mut queries);
    }
    Dataset {
        dim,
        vectors,
        queries,
    }
}

/// The rows a filter of selectivity `fraction` admits: a fixed hash of the
/// row number, so the selection is uncorrelated with the clusters.
pub fn filter_rows(n: usize, fraction: f64) -> Vec<u32> {
    let cut = (fraction * 1_000_000.0) as u64;
    (0..n as u32)
        .filter(|&r| (r as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) % 1_000_000 < cut)
        .collect()
}

/// Exact top-`k` rows of every query among `rows` (all rows if `None`),
/// computed on `threads` threads.
pub fn ground_truth(
    ds: &Dataset,
    space: Space,
    k: usize,
    rows: Option<&[u32]>,
    threads: usize,
) -> Vec<Vec<u32>> {
    let q = ds.query_count();
    let threads = threads.max(1);
    let mut out = vec![Vec::new(); q];
    std::thread::scope(|s| {
        for (t, chunk) in out.chunks_mut(q.div_ceil(threads).max(1)).enumerate() {
            let base = t * q.div_ceil(threads).max(1);
            s.spawn(move || {
                for (i, slot) in chunk.iter_mut().enumerate() {
                    let query = ds.query(base + i);
                    let found = match rows {
                        Some(r) => {
                            exact_top_k(&ds.vectors, ds.dim, space, query, k, r.iter().copied())
                        }
                        None => {
                            exact_top_k(&ds.vectors, ds.dim, space, query, k, 0..ds.len() as u32)
                        }
                    };
                    *slot = found.into_iter().map(|(r, _)| r).collect();
                }
            });
        }
    });
    out
}

/// Mean recall of `found` (one result list per query) against `truth`.
pub fn recall(found: &[Vec<(u32, f32)>], truth: &[Vec<u32>]) -> f64 {
    let mut hits = 0usize;
    let mut total = 0usize;
    for (f, t) in found.iter().zip(truth) {
        total += t.len();
        hits += f.iter().filter(|(r, _)| t.contains(r)).count();
    }
    hits as f64 / total.max(1) as f64
}

/// CPU seconds (user + system) this process has used, from
/// `/proc/self/stat` (Linux; `None` elsewhere). On a shared machine the
/// wall clock overstates costs; CPU time does not.
pub fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields overall, in clock ticks (100 per second on Linux).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// Runs `f` repeatedly for at least `min_secs` of wall time; returns
/// `(calls per wall second, calls per CPU second)`. Call it while no other
/// thread of the process is busy, so CPU time is this thread's.
pub fn rate(min_secs: f64, mut f: impl FnMut(usize)) -> (f64, Option<f64>) {
    let cpu0 = process_cpu_seconds();
    let t = std::time::Instant::now();
    let mut calls = 0usize;
    while t.elapsed().as_secs_f64() < min_secs {
        for _ in 0..16 {
            f(calls);
            calls += 1;
        }
    }
    let wall = t.elapsed().as_secs_f64();
    let cpu = match (cpu0, process_cpu_seconds()) {
        (Some(a), Some(b)) if b > a => Some(calls as f64 / (b - a)),
        _ => None,
    };
    (calls as f64 / wall, cpu)
}

/// An integer from the environment, or `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixture_is_reproducible_and_filters_have_the_asked_selectivity() {
        let a = gaussian_mixture(100, 5, 16, true, 7);
        let b = gaussian_mixture(100, 5, 16, true, 7);
        assert_eq!(a.vectors, b.vectors);
        assert_eq!(a.queries, b.queries);
        assert_ne!(a.vectors, gaussian_mixture(100, 5, 16, true, 8).vectors);
        for f in [0.5, 0.1, 0.01] {
            let got = filter_rows(100_000, f).len() as f64 / 100_000.0;
            assert!((got - f).abs() < f * 0.1, "{f}: {got}");
        }
    }
}
