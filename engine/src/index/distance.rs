//! Chroma's three distances (`../shared/chroma-api.md` §7.1), computed in f32.
//!
//! The two kernels every distance is made of, squared Euclidean distance and
//! the dot product, have an AVX2+FMA version for x86-64 and a portable
//! version. The choice is made once, at the first call, by runtime CPU
//! detection (`is_x86_feature_detected!`) and cached in a [`OnceLock`]; this
//! file holds the crate's only SIMD `unsafe`.
//!
//! The portable version keeps eight independent partial sums so that the
//! compiler can vectorise it with whatever the target baseline offers (SSE2,
//! NEON). Summation order differs between the versions, so results agree to
//! rounding, not bit for bit.

use std::sync::OnceLock;

use crate::types::Space;

/// Squared Euclidean distance. `a` and `b` must have the same length.
#[inline]
pub fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    (kernels().l2_squared)(a, b)
}

/// Dot product. `a` and `b` must have the same length.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    (kernels().dot)(a, b)
}

/// `Σ w[i] · c[i]`: f32 weights against byte codes (the kernel of
/// [`super::sq8`]'s distances). `w` and `c` must have the same length.
#[inline]
pub fn dot_u8(w: &[f32], c: &[u8]) -> f32 {
    debug_assert_eq!(w.len(), c.len());
    (kernels().dot_u8)(w, c)
}

/// Euclidean norm.
#[inline]
pub fn norm(a: &[f32]) -> f32 {
    dot(a, a).sqrt()
}

/// The distance between `a` and `b` in `space`, as Chroma reports it:
/// l2 is squared, cosine is `1 - cos`, ip is `1 - dot`.
pub fn distance(space: Space, a: &[f32], b: &[f32]) -> f32 {
    match space {
        Space::L2 => l2_squared(a, b),
        Space::Ip => 1.0 - dot(a, b),
        Space::Cosine => {
            let denom = norm(a) * norm(b);
            if denom == 0.0 {
                1.0
            } else {
                1.0 - dot(a, b) / denom
            }
        }
    }
}

/// Chroma's distance from one fixed query to many vectors, with the
/// query's norm computed once. [`QueryDistance::to`] returns exactly (bit
/// for bit) what `distance(space, query, v)` returns; passing a stored
/// norm to [`QueryDistance::to_with_norm`] does too, when the norm was
/// computed with [`norm`].
#[derive(Debug, Clone, Copy)]
pub struct QueryDistance<'q> {
    space: Space,
    query: &'q [f32],
    query_norm: f32,
}

impl<'q> QueryDistance<'q> {
    /// Prepares `query` for distances in `space`.
    pub fn new(space: Space, query: &'q [f32]) -> Self {
        let query_norm = if space == Space::Cosine {
            norm(query)
        } else {
            0.0
        };
        QueryDistance {
            space,
            query,
            query_norm,
        }
    }

    /// The space distances are computed in.
    pub fn space(&self) -> Space {
        self.space
    }

    /// The distance from the query to `v`.
    #[inline]
    pub fn to(&self, v: &[f32]) -> f32 {
        match self.space {
            Space::Cosine => self.to_with_norm(v, norm(v)),
            Space::L2 => l2_squared(self.query, v),
            Space::Ip => 1.0 - dot(self.query, v),
        }
    }

    /// The distance from the query to `v`, whose norm is `v_norm` (used
    /// by cosine only).
    #[inline]
    pub fn to_with_norm(&self, v: &[f32], v_norm: f32) -> f32 {
        match self.space {
            Space::Cosine => {
                let denom = self.query_norm * v_norm;
                if denom == 0.0 {
                    1.0
                } else {
                    1.0 - dot(self.query, v) / denom
                }
            }
            Space::L2 => l2_squared(self.query, v),
            Space::Ip => 1.0 - dot(self.query, v),
        }
    }
}

/// Asks the CPU to start loading `v` into cache (a hint; no effect on
/// results). Scans and graph searches call it for the next vectors they
/// will read, so memory fetches overlap with arithmetic: at 384 dimensions
/// a vector is 24 cache lines and searches are bound by memory, not FLOPs.
#[inline]
pub fn prefetch<T>(v: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        const LINE: usize = 64;
        let (p, len) = (v.as_ptr() as *const i8, std::mem::size_of_val(v));
        let mut i = 0;
        while i < len {
            #[allow(unsafe_code)]
            // SAFETY: prefetching is a hint that never faults or changes
            // memory; the address is inside `v` anyway (`i < len` bytes).
            // SSE (which provides `prefetcht0`) is part of the x86-64
            // baseline.
            unsafe {
                _mm_prefetch::<_MM_HINT_T0>(p.add(i))
            };
            i += LINE;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = v;
}

/// The name of the kernel set in use (`"avx2+fma"` or `"portable"`), for
/// benchmarks and logs.
pub fn kernel_name() -> &'static str {
    kernels().name
}

/// The distance kernels chosen for this CPU.
struct Kernels {
    name: &'static str,
    l2_squared: fn(&[f32], &[f32]) -> f32,
    dot: fn(&[f32], &[f32]) -> f32,
    dot_u8: fn(&[f32], &[u8]) -> f32,
}

static KERNELS: OnceLock<Kernels> = OnceLock::new();

#[inline]
fn kernels() -> &'static Kernels {
    KERNELS.get_or_init(detect)
}

fn detect() -> Kernels {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            return Kernels {
                name: "avx2+fma",
                l2_squared: avx2::l2_squared,
                dot: avx2::dot,
                dot_u8: avx2::dot_u8,
            };
        }
    }
    Kernels {
        name: "portable",
        l2_squared: portable::l2_squared,
        dot: portable::dot,
        dot_u8: portable::dot_u8,
    }
}

/// Portable kernels: eight partial sums the compiler can vectorise. Public
/// so benchmarks can compare them with the dispatched (SIMD) ones.
pub mod portable {
    const LANES: usize = 8;

    /// Squared Euclidean distance over the common prefix of `a` and `b`.
    pub fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let (a, b) = (&a[..n], &b[..n]);
        let mut acc = [0.0f32; LANES];
        let (ac, at) = a.split_at(n - n % LANES);
        let (bc, bt) = b.split_at(n - n % LANES);
        for (x, y) in ac.chunks_exact(LANES).zip(bc.chunks_exact(LANES)) {
            for i in 0..LANES {
                let d = x[i] - y[i];
                acc[i] += d * d;
            }
        }
        let mut sum: f32 = acc.iter().sum();
        for (x, y) in at.iter().zip(bt) {
            sum += (x - y) * (x - y);
        }
        sum
    }

    /// Dot product over the common prefix of `a` and `b`.
    pub fn dot(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let (a, b) = (&a[..n], &b[..n]);
        let mut acc = [0.0f32; LANES];
        let (ac, at) = a.split_at(n - n % LANES);
        let (bc, bt) = b.split_at(n - n % LANES);
        for (x, y) in ac.chunks_exact(LANES).zip(bc.chunks_exact(LANES)) {
            for i in 0..LANES {
                acc[i] += x[i] * y[i];
            }
        }
        let mut sum: f32 = acc.iter().sum();
        for (x, y) in at.iter().zip(bt) {
            sum += x * y;
        }
        sum
    }

    /// `Σ w[i] · c[i]` over the common prefix of `w` and `c`.
    pub fn dot_u8(w: &[f32], c: &[u8]) -> f32 {
        let n = w.len().min(c.len());
        let (w, c) = (&w[..n], &c[..n]);
        let mut acc = [0.0f32; LANES];
        let (wc, wt) = w.split_at(n - n % LANES);
        let (cc, ct) = c.split_at(n - n % LANES);
        for (x, y) in wc.chunks_exact(LANES).zip(cc.chunks_exact(LANES)) {
            for i in 0..LANES {
                acc[i] += x[i] * y[i] as f32;
            }
        }
        let mut sum: f32 = acc.iter().sum();
        for (x, y) in wt.iter().zip(ct) {
            sum += x * *y as f32;
        }
        sum
    }
}

/// AVX2+FMA kernels. The public functions here are safe to call only
/// because [`detect`] hands them out after checking the CPU supports both
/// features; they are private to this file for that reason.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    #[allow(unsafe_code)]
    pub fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
        // SAFETY: `detect` selects this function only when
        // `is_x86_feature_detected!` reported both AVX2 and FMA.
        unsafe { l2_squared_impl(a, b) }
    }

    #[allow(unsafe_code)]
    pub fn dot(a: &[f32], b: &[f32]) -> f32 {
        // SAFETY: `detect` selects this function only when
        // `is_x86_feature_detected!` reported both AVX2 and FMA.
        unsafe { dot_impl(a, b) }
    }

    #[allow(unsafe_code)]
    pub fn dot_u8(w: &[f32], c: &[u8]) -> f32 {
        // SAFETY: `detect` selects this function only when
        // `is_x86_feature_detected!` reported both AVX2 and FMA.
        unsafe { dot_u8_impl(w, c) }
    }

    /// Sums the eight lanes of `v`.
    #[allow(unsafe_code)]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn hsum(v: __m256) -> f32 {
        let lo = _mm256_castps256_ps128(v);
        let hi = _mm256_extractf128_ps(v, 1);
        let s = _mm_add_ps(lo, hi);
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 0b01));
        _mm_cvtss_f32(s)
    }

    #[allow(unsafe_code)]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn l2_squared_impl(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc = [_mm256_setzero_ps(); 4];
        let mut i = 0;
        // SAFETY (all loads below): every load reads 8 floats starting at
        // index `i + off` with `i + off + 8 <= n`, so it stays inside both
        // slices; `loadu` has no alignment requirement.
        while i + 32 <= n {
            for (k, acc) in acc.iter_mut().enumerate() {
                let off = i + 8 * k;
                let d = _mm256_sub_ps(_mm256_loadu_ps(pa.add(off)), _mm256_loadu_ps(pb.add(off)));
                *acc = _mm256_fmadd_ps(d, d, *acc);
            }
            i += 32;
        }
        while i + 8 <= n {
            let d = _mm256_sub_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)));
            acc[0] = _mm256_fmadd_ps(d, d, acc[0]);
            i += 8;
        }
        let s = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
        let mut sum = hsum(s);
        for j in i..n {
            let d = a[j] - b[j];
            sum += d * d;
        }
        sum
    }

    #[allow(unsafe_code)]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn dot_impl(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc = [_mm256_setzero_ps(); 4];
        let mut i = 0;
        // SAFETY (all loads below): every load reads 8 floats starting at
        // index `i + off` with `i + off + 8 <= n`, so it stays inside both
        // slices; `loadu` has no alignment requirement.
        while i + 32 <= n {
            for (k, acc) in acc.iter_mut().enumerate() {
                let off = i + 8 * k;
                *acc = _mm256_fmadd_ps(
                    _mm256_loadu_ps(pa.add(off)),
                    _mm256_loadu_ps(pb.add(off)),
                    *acc,
                );
            }
            i += 32;
        }
        while i + 8 <= n {
            acc[0] = _mm256_fmadd_ps(
                _mm256_loadu_ps(pa.add(i)),
                _mm256_loadu_ps(pb.add(i)),
                acc[0],
            );
            i += 8;
        }
        let s = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
        let mut sum = hsum(s);
        for j in i..n {
            sum += a[j] * b[j];
        }
        sum
    }

    #[allow(unsafe_code)]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn dot_u8_impl(w: &[f32], c: &[u8]) -> f32 {
        let n = w.len().min(c.len());
        let (pw, pc) = (w.as_ptr(), c.as_ptr());
        let mut acc = [_mm256_setzero_ps(); 4];
        let mut i = 0;
        // SAFETY (all loads below): each step reads 8 floats of `w` and 8
        // bytes of `c` starting at index `i + off` with `i + off + 8 <= n`,
        // so it stays inside both slices; `loadu`/`loadl_epi64` have no
        // alignment requirement.
        while i + 32 <= n {
            for (k, acc) in acc.iter_mut().enumerate() {
                let off = i + 8 * k;
                let bytes = _mm_loadl_epi64(pc.add(off) as *const __m128i);
                let codes = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes));
                *acc = _mm256_fmadd_ps(_mm256_loadu_ps(pw.add(off)), codes, *acc);
            }
            i += 32;
        }
        while i + 8 <= n {
            let bytes = _mm_loadl_epi64(pc.add(i) as *const __m128i);
            let codes = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes));
            acc[0] = _mm256_fmadd_ps(_mm256_loadu_ps(pw.add(i)), codes, acc[0]);
            i += 8;
        }
        let s = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
        let mut sum = hsum(s);
        for j in i..n {
            sum += w[j] * c[j] as f32;
        }
        sum
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The observed values of chroma-api.md §7.1: query [1,1] over a=[1,0], b=[0,2], c=[3,4].
    #[test]
    fn matches_chroma_observed_values() {
        let q = [1.0, 1.0];
        let (a, b, c) = ([1.0, 0.0], [0.0, 2.0], [3.0, 4.0]);
        assert_eq!(distance(Space::L2, &q, &a), 1.0);
        assert_eq!(distance(Space::L2, &q, &b), 2.0);
        assert_eq!(distance(Space::L2, &q, &c), 13.0);
        assert!((distance(Space::Cosine, &q, &c) - 0.010050476).abs() < 1e-6);
        assert!((distance(Space::Cosine, &q, &a) - 0.29289323).abs() < 1e-6);
        assert_eq!(distance(Space::Ip, &q, &c), -6.0);
        assert_eq!(distance(Space::Ip, &q, &b), -1.0);
        assert_eq!(distance(Space::Ip, &q, &a), 0.0);
    }

    /// A small deterministic generator (xorshift) so the test needs no crate.
    fn values(seed: &mut u64, n: usize) -> Vec<f32> {
        (0..n)
            .map(|_| {
                *seed ^= *seed << 13;
                *seed ^= *seed >> 7;
                *seed ^= *seed << 17;
                ((*seed >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0
            })
            .collect()
    }

    fn reference_l2(a: &[f32], b: &[f32]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (*x as f64 - *y as f64).powi(2))
            .sum()
    }

    fn reference_dot(a: &[f32], b: &[f32]) -> f64 {
        a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
    }

    /// Every kernel (the dispatched one, which is AVX2 on capable CPUs, and
    /// the portable one) agrees with an f64 reference on lengths that are
    /// and are not multiples of 8 and 32, including the empty slice.
    #[test]
    fn kernels_agree_with_reference_on_all_lengths() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        for len in (0..80).chain([127, 128, 129, 383, 384, 385, 767, 768, 1536]) {
            let a = values(&mut seed, len);
            let b = values(&mut seed, len);
            let (l2, ip) = (reference_l2(&a, &b), reference_dot(&a, &b));
            // f32 rounding over `len` terms of magnitude <= 16.
            let tol = 1e-5 * (len as f64 + 1.0) * 16.0;
            for (name, got_l2, got_dot) in [
                ("dispatched", l2_squared(&a, &b), dot(&a, &b)),
                (
                    "portable",
                    portable::l2_squared(&a, &b),
                    portable::dot(&a, &b),
                ),
            ] {
                assert!(
                    (got_l2 as f64 - l2).abs() <= tol,
                    "{name} l2 len {len}: {got_l2} vs {l2}"
                );
                assert!(
                    (got_dot as f64 - ip).abs() <= tol,
                    "{name} dot len {len}: {got_dot} vs {ip}"
                );
            }
        }
    }

    #[test]
    fn byte_code_kernels_agree_with_reference_on_all_lengths() {
        let mut seed = 0x1234_5678_9ABC_DEF0u64;
        for len in (0..80).chain([127, 128, 129, 383, 384, 385, 1024]) {
            let w = values(&mut seed, len);
            let c: Vec<u8> = values(&mut seed, len)
                .iter()
                .map(|x| ((x + 2.0) * 63.0) as u8)
                .collect();
            let want: f64 = w.iter().zip(&c).map(|(a, b)| *a as f64 * *b as f64).sum();
            let tol = 1e-5 * (len as f64 + 1.0) * 2.0 * 255.0;
            for (name, got) in [
                ("dispatched", dot_u8(&w, &c)),
                ("portable", portable::dot_u8(&w, &c)),
            ] {
                assert!(
                    (got as f64 - want).abs() <= tol,
                    "{name} len {len}: {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn kernel_is_reported() {
        let name = kernel_name();
        assert!(name == "avx2+fma" || name == "portable");
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            assert_eq!(name, "avx2+fma");
        }
    }

    #[test]
    fn query_distance_is_bit_identical_to_distance() {
        let mut seed = 42u64;
        for len in [1, 7, 8, 33, 384] {
            let q = values(&mut seed, len);
            for space in [Space::L2, Space::Cosine, Space::Ip] {
                let qd = QueryDistance::new(space, &q);
                for _ in 0..5 {
                    let v = values(&mut seed, len);
                    let want = distance(space, &q, &v);
                    assert_eq!(qd.to(&v).to_bits(), want.to_bits());
                    assert_eq!(qd.to_with_norm(&v, norm(&v)).to_bits(), want.to_bits());
                }
            }
        }
    }

    #[test]
    fn cosine_of_zero_vector_is_one() {
        assert_eq!(distance(Space::Cosine, &[0.0, 0.0], &[1.0, 2.0]), 1.0);
    }
}
