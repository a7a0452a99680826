//! Shared by the `index_*` tests: a seeded Gaussian-mixture generator and
//! recall against exact search.

#![allow(dead_code)]

use chromite_engine::index::exact_top_k;
use chromite_engine::Space;

/// SplitMix64: small, seeded, good enough for test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f32 {
        let u1 = (self.unit() as f64).max(1e-12);
        let u2 = self.unit() as f64;
        ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// A mixture of `clusters` Gaussians in `dim` dimensions: centres N(0, 1),
/// spread `sigma` around them. `n` data rows and `q` queries from the same
/// mixture. With `scale_norms`, each row is multiplied by a factor in
/// [0.25, 4) so norms vary widely (for unnormalised inner product).
pub struct Mixture {
    pub dim: usize,
    pub data: Vec<f32>,
    pub queries: Vec<Vec<f32>>,
}

pub fn mixture(
    n: usize,
    q: usize,
    dim: usize,
    clusters: usize,
    sigma: f32,
    scale_norms: bool,
    seed: u64,
) -> Mixture {
    let mut rng = Rng::new(seed);
    let centres: Vec<f32> = (0..clusters * dim).map(|_| rng.normal()).collect();
    let sample = |rng: &mut Rng| -> Vec<f32> {
        let c = rng.below(clusters);
        let scale = if scale_norms {
            0.25 * 16f32.powf(rng.unit())
        } else {
            1.0
        };
        (0..dim)
            .map(|j| (centres[c * dim + j] + sigma * rng.normal()) * scale)
            .collect()
    };
    let mut data = Vec::with_capacity(n * dim);
    for _ in 0..n {
        data.extend(sample(&mut rng));
    }
    let queries = (0..q).map(|_| sample(&mut rng)).collect();
    Mixture { dim, data, queries }
}

/// Mean recall@k of `got` against exact search over `rows`.
pub fn recall(
    m: &Mixture,
    space: Space,
    k: usize,
    rows: &[u32],
    mut got: impl FnMut(&[f32]) -> Vec<(u32, f32)>,
) -> f64 {
    let mut hits = 0usize;
    let mut total = 0usize;
    for q in &m.queries {
        let truth = exact_top_k(&m.data, m.dim, space, q, k, rows.iter().copied());
        let found = got(q);
        assert!(found.len() <= k);
        total += truth.len();
        hits += found
            .iter()
            .filter(|(r, _)| truth.iter().any(|(t, _)| t == r))
            .count();
    }
    hits as f64 / total.max(1) as f64
}

/// The k-NN configuration the tests build with (Chroma's defaults, 2 threads).
pub fn config() -> chromite_engine::HnswConfig {
    chromite_engine::HnswConfig {
        num_threads: 2,
        ..Default::default()
    }
}
