//! Fused CPU kernels for the encoder's element-wise work.
//!
//! candle runs every element-wise step as its own pass with its own output buffer, and its
//! exact GELU calls a scalar `erff` per element. On CPU (f32, contiguous tensors) the
//! encoders use these kernels instead; on other devices, dtypes or layouts each function
//! falls back to the candle ops it replaces, so the maths is the same everywhere:
//! * [`bias`]: a projection's bias, added in place;
//! * [`gelu`]: the exact (erf) GELU, vectorised ([`gelu::gelu_erf`]), also fused with a
//!   projection bias and with JinaBERT's gate ([`gelu::geglu`]);
//! * [`norm`]: `LayerNorm(x + bias + residual)` in one pass, in place;
//! * [`softmax`]: attention's `softmax(scale · scores + bias)` in one pass, in place.
//!
//! SIMD versions are chosen at run time (`is_x86_feature_detected!`); each kernel keeps a
//! portable version and is tested against an f64 reference or the candle ops it replaces.

pub mod bias;
pub mod gelu;
pub mod norm;
pub mod softmax;

use candle_core::{CpuStorage, DType, Layout, Result, Tensor};

/// Whether `t` can take the CPU fast path: f32, on the CPU, laid out contiguously.
fn on_cpu_f32(t: &Tensor) -> bool {
    t.device().is_cpu() && t.dtype() == DType::F32 && t.is_contiguous()
}

/// The contiguous f32 elements `layout` describes in `storage`.
fn slice<'a>(storage: &'a CpuStorage, layout: &Layout, op: &str) -> Result<&'a [f32]> {
    let all = storage.as_slice::<f32>()?;
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&all[start..end]),
        None => candle_core::bail!("{op}: tensor is not contiguous"),
    }
}

/// The contiguous f32 elements `layout` describes in `storage`, mutably.
fn slice_mut<'a>(storage: &'a mut CpuStorage, layout: &Layout, op: &str) -> Result<&'a mut [f32]> {
    let (start, end) = match layout.contiguous_offsets() {
        Some(range) => range,
        None => candle_core::bail!("{op}: tensor is not contiguous"),
    };
    match storage {
        CpuStorage::F32(all) => Ok(&mut all[start..end]),
        _ => candle_core::bail!("{op}: expected f32"),
    }
}

/// Whether this CPU has AVX2 and FMA (checked once).
#[cfg(target_arch = "x86_64")]
fn avx2_fma() -> bool {
    use std::sync::OnceLock;
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(|| is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"))
}

/// The contiguous f32 elements of a CPU tensor, from its read guard
/// (`Tensor::storage_and_layout`).
fn cpu_f32<'a>(storage: &'a candle_core::Storage, layout: &Layout, op: &str) -> Result<&'a [f32]> {
    match storage {
        candle_core::Storage::Cpu(cpu) => slice(cpu, layout, op),
        _ => candle_core::bail!("{op}: tensor is not on the CPU"),
    }
}

/// `a·b + c`, fused into one rounding when `FMA` (the AVX2+FMA builds of the kernels, where
/// it is one instruction) and as two operations otherwise (where a fused one would be a
/// slow library call).
#[inline(always)]
fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// `e^z` for `z ≤ 0`, within about one ulp; `0` below `-87` (where `e^z` is no longer a
/// normal f32), NaN for NaN. Branch-free, so loops over it vectorise: Cody–Waite reduction
/// `z = n·ln2 + r`, `|r| ≤ ln2/2`, a degree-7 Taylor polynomial for `e^r`, and `2^n` built
/// in the exponent bits.
#[inline(always)]
fn exp_neg<const FMA: bool>(z: f32) -> f32 {
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Rounds to the nearest integer by the 1.5·2^23 trick.
    const ROUND: f32 = 12_582_912.0;
    const TAYLOR: [f32; 8] = [
        1.0 / 5040.0,
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
        1.0,
        1.0,
    ];
    let zc = z.max(-87.0);
    let shifted = madd::<FMA>(zc, LOG2_E, ROUND);
    let n = shifted - ROUND;
    let r = madd::<FMA>(-n, LN2_LO, madd::<FMA>(-n, LN2_HI, zc));
    let p = horner::<FMA, 8>(&TAYLOR, r);
    // `shifted`'s low mantissa bits hold `n` (two's complement): `2^n` from integer ops
    // alone, which vectorise (a float → int cast does not).
    let e = p * f32::from_bits(shifted.to_bits().wrapping_add(127) << 23);
    if z < -87.0 {
        0.0
    } else if z.is_nan() {
        z
    } else {
        e
    }
}

/// The polynomial with coefficients `c` (highest degree first) at `x`.
#[inline(always)]
fn horner<const FMA: bool, const N: usize>(c: &[f32; N], x: f32) -> f32 {
    let mut r = c[0];
    for &k in &c[1..] {
        r = madd::<FMA>(r, x, k);
    }
    r
}

/// The largest of `xs` (`-inf` for none) in eight partial maxima (vectorisable).
#[inline(always)]
fn max8(xs: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; 8];
    let chunks = xs.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for i in 0..8 {
            acc[i] = if c[i] > acc[i] { c[i] } else { acc[i] };
        }
    }
    let mut m = acc.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
    for &x in rest {
        m = m.max(x);
    }
    m
}

/// The sum of `xs` in eight partial sums (vectorisable; not in sequential order).
#[inline(always)]
fn sum8(xs: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut acc = [0f32; 8];
    let chunks = xs.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for i in 0..8 {
            acc[i] += f(c[i]);
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for &x in rest {
        s += f(x);
    }
    s
}

/// The largest absolute difference between two tensors of one shape (for tests).
#[cfg(test)]
pub(crate) fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    (a - b)
        .and_then(|d| d.abs())
        .and_then(|d| d.max_all())
        .and_then(|d| d.to_scalar::<f32>())
        .expect("tensors of one shape")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_neg_is_within_two_ulps() {
        for i in 0..=200_000 {
            let z = -(i as f32) * 4.3e-4;
            let want = (z as f64).exp();
            let (got, fused) = (exp_neg::<false>(z) as f64, exp_neg::<true>(z) as f64);
            assert!(
                (fused - want).abs() <= 2.0 * f32::EPSILON as f64 * want,
                "fused exp({z})"
            );
            assert!(
                (got - want).abs() <= 2.0 * f32::EPSILON as f64 * want,
                "exp({z}) = {got} want {want}"
            );
        }
        assert_eq!(exp_neg::<false>(0.0), 1.0);
        assert_eq!(exp_neg::<false>(-100.0), 0.0);
        assert_eq!(exp_neg::<false>(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp_neg::<false>(-f32::MAX), 0.0);
        assert!(exp_neg::<false>(f32::NAN).is_nan());
    }

    #[test]
    fn sum8_sums_every_element() {
        let xs: Vec<f32> = (1..=21).map(|i| i as f32).collect();
        assert_eq!(sum8(&xs, |x| x), 231.0);
        assert_eq!(sum8(&xs, |x| x * x), 3311.0);
        assert_eq!(sum8(&[], |x| x), 0.0);
        assert_eq!(max8(&xs), 21.0);
        assert_eq!(max8(&xs[..5]), 5.0);
        assert_eq!(max8(&[-3.0; 9]), -3.0);
        assert_eq!(max8(&[]), f32::NEG_INFINITY);
    }
}
