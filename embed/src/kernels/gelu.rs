//! The exact GELU, `x·Φ(x) = ½·x·(1 + erf(x/√2))`, vectorised.
//!
//! candle's `gelu_erf` calls a scalar `erff` per element, about a sixth of all-MiniLM-L6-v2's
//! CPU time. Here erf is evaluated branch-free, so the compiler vectorises the loop
//! (eight lanes with AVX2):
//! * `|t| < 1`: `erf(t) = t·P(t²)`, `P` of degree 6 (absolute error 1.3e-9);
//! * `1 ≤ |t| < 4`: `erf(t) = ±(1 − e^{−t²}·Q(1/|t| − 0.625))`, `Q` of degree 10 fitted to
//!   `erfc(t)·e^{t²}` (relative error 4.4e-9), with the vectorisable [`exp_neg`];
//! * `|t| ≥ 4`: `±1` (`erfc(4) = 1.5e-8`, below half an f32 ulp of 1).
//!
//! Both fits are least squares at Chebyshev nodes against Python's double-precision
//! `math.erf`/`math.erfc`, rounded to f32:
//!
//! ```text
//! n = lambda a, b, k: (a+b)/2 + (b-a)/2*np.cos((2*np.arange(k)+1)*np.pi/(2*k))
//! t = n(0, 1, 800);        P = np.polyfit(t*t, [math.erf(v)/v for v in t], 6)
//! u = n(0.25, 1, 1200);    Q = np.polyfit(u - 0.625, [math.erfc(1/v)*math.exp(1/v**2) for v in u], 10)
//! ```
//!
//! The GELU that results is within f32 rounding of the exact one: its error is at most
//! 2.4e-7·max(1, |x|) over `[-10, 10]` (the tests check a dense grid against an f64
//! reference), like candle's libm-based version; the tanh approximation is off by up to
//! 4.7e-4.

use super::bias::RowKernel;
use super::{exp_neg, horner, on_cpu_f32, slice};
use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};

/// `P`, highest degree first: `erf(t) ≈ t·P(t²)` for `|t| < 1`.
const SMALL: [f32; 7] = [
    7.933_494e-5,
    -8.034_846_4e-4,
    5.191_218_6e-3,
    -2.685_54e-2,
    0.112_836_26,
    -0.376_126_3,
    std::f32::consts::FRAC_2_SQRT_PI, // the fit lands on 2/√π exactly in f32
];

/// `Q`, highest degree first: `erfc(t)·e^{t²} ≈ Q(1/t − 0.625)` for `1 ≤ t ≤ 4`.
const LARGE: [f32; 11] = [
    -3.335_385e-2,
    2.602_523_4e-2,
    4.619_344_6e-3,
    -2.692_462_7e-2,
    4.322_212e-2,
    -4.694_257_3e-2,
    2.333_048_4e-2,
    4.376_692e-2,
    -0.172_394_77,
    0.382_283_78,
    0.305_953,
];

/// erf in f32, branch-free.
#[inline(always)]
fn erf<const FMA: bool>(t: f32) -> f32 {
    let a = t.abs();
    let small = t * horner::<FMA, 7>(&SMALL, a * a);
    let c = a.clamp(1.0, 4.0);
    let tail = exp_neg::<FMA>(-(c * c)) * horner::<FMA, 11>(&LARGE, 1.0 / c - 0.625);
    let large = (1.0 - tail).copysign(t);
    let large = if a >= 4.0 { 1f32.copysign(t) } else { large };
    // NaN fails `a < 1` and stays NaN through the large branch.
    if a < 1.0 {
        small
    } else {
        large
    }
}

#[inline(always)]
fn gelu_with<const FMA: bool>(x: f32) -> f32 {
    (erf::<FMA>(x * std::f32::consts::FRAC_1_SQRT_2) + 1.0) * 0.5 * x
}

/// GELU of one value.
pub fn gelu_erf(x: f32) -> f32 {
    gelu_with::<false>(x)
}

/// `xs[i] = gelu(xs[i] + bias[i mod bias.len()])` (no bias when `bias` is empty).
pub fn bias_gelu_in_place(xs: &mut [f32], bias: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    if super::avx2_fma() {
        #[allow(unsafe_code)]
        // SAFETY: `avx2_fma()` checked that this CPU has AVX2 and FMA.
        unsafe {
            bias_gelu_avx2(xs, bias)
        };
        return;
    }
    bias_gelu_portable::<false>(xs, bias)
}

/// Sixteen values at a time: two independent vectors in flight, since one GELU is a long
/// chain of dependent steps.
#[inline(always)]
fn gelu_run<const FMA: bool>(xs: &mut [f32], bias: Option<&[f32]>) {
    const W: usize = 16;
    let mut chunks = xs.chunks_exact_mut(W);
    match bias {
        Some(bias) => {
            let mut bs = bias.chunks_exact(W);
            for (c, b) in (&mut chunks).zip(&mut bs) {
                for i in 0..W {
                    c[i] = gelu_with::<FMA>(c[i] + b[i]);
                }
            }
            for (x, b) in chunks.into_remainder().iter_mut().zip(bs.remainder()) {
                *x = gelu_with::<FMA>(*x + b);
            }
        }
        None => {
            for c in &mut chunks {
                for x in c.iter_mut() {
                    *x = gelu_with::<FMA>(*x);
                }
            }
            for x in chunks.into_remainder() {
                *x = gelu_with::<FMA>(*x);
            }
        }
    }
}

#[inline(always)]
fn bias_gelu_portable<const FMA: bool>(xs: &mut [f32], bias: &[f32]) {
    if bias.is_empty() {
        gelu_run::<FMA>(xs, None);
    } else {
        for row in xs.chunks_mut(bias.len()) {
            gelu_run::<FMA>(row, Some(bias));
        }
    }
}

/// The portable loop compiled for AVX2+FMA, where it vectorises eight lanes wide.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
#[target_feature(enable = "avx2,fma")]
unsafe fn bias_gelu_avx2(xs: &mut [f32], bias: &[f32]) {
    bias_gelu_portable::<true>(xs, bias)
}

struct Gelu;

impl CustomOp1 for Gelu {
    fn name(&self) -> &'static str {
        "chromite-gelu-erf"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let mut out = slice(s, l, self.name())?.to_vec();
        bias_gelu_in_place(&mut out, &[]);
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }
}

const BIAS_GELU: RowKernel = RowKernel {
    name: "chromite-bias-gelu-erf-in-place",
    kernel: bias_gelu_in_place,
};

/// JinaBERT's gated feed-forward input: `gelu(g[.., ..n]) ⊙ g[.., n..]` for rows of `2n`.
struct GeGlu {
    inner: usize,
}

impl CustomOp1 for GeGlu {
    fn name(&self) -> &'static str {
        "chromite-geglu"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let g = slice(s, l, self.name())?;
        let n = self.inner;
        let mut dims = l.dims().to_vec();
        match dims.last_mut() {
            Some(last) if *last == 2 * n && n > 0 => *last = n,
            _ => candle_core::bail!("{}: rows of {:?}, want 2 × {n}", self.name(), l.dims()),
        }
        let mut out = Vec::with_capacity(g.len() / 2);
        for row in g.chunks_exact(2 * n) {
            out.extend_from_slice(&row[..n]);
        }
        bias_gelu_in_place(&mut out, &[]);
        for (o, row) in out.chunks_exact_mut(n).zip(g.chunks_exact(2 * n)) {
            for (x, p) in o.iter_mut().zip(&row[n..]) {
                *x *= p;
            }
        }
        Ok((CpuStorage::F32(out), Shape::from_dims(&dims)))
    }
}

/// `gelu(g[.., ..inner]) ⊙ g[.., inner..]`, the gated (GEGLU) feed-forward input of a
/// `[.., 2·inner]` projection: one pass on CPU, candle's ops elsewhere.
pub fn geglu(g: &Tensor, inner: usize) -> Result<Tensor> {
    if on_cpu_f32(g) {
        return g.apply_op1_no_bwd(&GeGlu { inner });
    }
    let d = candle_core::D::Minus1;
    g.narrow(d, 0, inner)?.gelu_erf()? * g.narrow(d, inner, inner)?
}

/// The exact GELU of `x` (a new tensor).
pub fn gelu(x: &Tensor) -> Result<Tensor> {
    if on_cpu_f32(x) {
        x.apply_op1_no_bwd(&Gelu)
    } else {
        x.gelu_erf()
    }
}

/// `gelu(x + bias)` with `bias` broadcast over the last dimension, computed in `x`'s own
/// storage on CPU. `x` must be a tensor the caller owns outright (a fresh matmul output):
/// on CPU its storage is overwritten.
pub fn bias_gelu_owned(x: Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    match BIAS_GELU.run_owned(x, bias)? {
        Ok(done) => Ok(done),
        Err(x) => match bias {
            Some(b) => x.broadcast_add(b)?.gelu_erf(),
            None => x.gelu_erf(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn reference(x: f32) -> f64 {
        let x = x as f64;
        0.5 * x * (1.0 + candle_core::cpu::erf::erf_f64(x / std::f64::consts::SQRT_2))
    }

    fn grid() -> impl Iterator<Item = f32> {
        (-100_000..=100_000).map(|i| i as f32 * 1e-4)
    }

    #[test]
    fn within_f32_rounding_of_the_exact_gelu() {
        let mut worst = 0f64;
        for x in grid().chain([1.0, -1.0, 2f32.sqrt(), 4.0 * 2f32.sqrt(), 1e-30, -1e-30]) {
            let bound = 2.4e-7 * (x.abs() as f64).max(1.0);
            for (got, how) in [(gelu_erf(x), "two-step"), (gelu_with::<true>(x), "fused")] {
                let err = (got as f64 - reference(x)).abs();
                assert!(
                    err <= bound,
                    "{how} gelu({x}) = {got} want {}",
                    reference(x)
                );
                worst = worst.max(err / bound);
            }
        }
        // The tanh approximation, a common slip, fails the same bound by far.
        let tanh = |x: f32| {
            let x = x as f64;
            0.5 * x
                * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x.powi(3))).tanh())
        };
        assert!(grid().any(|x| (tanh(x) - reference(x)).abs() > 100.0 * 2.4e-7));
        assert!(worst > 0.0);
    }

    #[test]
    fn special_values() {
        assert_eq!(gelu_erf(0.0), 0.0);
        assert_eq!(gelu_erf(f32::INFINITY), f32::INFINITY);
        assert!(gelu_erf(f32::NAN).is_nan());
        assert_eq!(gelu_erf(50.0), 50.0);
        assert_eq!(gelu_erf(-50.0), 0.0);
        // erf's own branches meet without a step.
        for t in [1.0f32, 4.0] {
            let below = erf::<false>(f32::from_bits(t.to_bits() - 1));
            assert!(
                (erf::<false>(t) - below).abs() <= 2.0 * f32::EPSILON,
                "erf step at {t}"
            );
        }
    }

    #[test]
    fn simd_and_portable_loops_agree_with_the_scalar() {
        let xs: Vec<f32> = (0..1003).map(|i| (i as f32 * 0.37).sin() * 6.0).collect();
        let bias: Vec<f32> = (0..17).map(|i| i as f32 * 0.05 - 0.4).collect();
        let xs = &xs[..17 * 59];
        let mut fast = xs.to_vec();
        bias_gelu_in_place(&mut fast, &bias);
        let mut portable = xs.to_vec();
        bias_gelu_portable::<false>(&mut portable, &bias);
        for (i, x) in xs.iter().enumerate() {
            let want = gelu_erf(x + bias[i % 17]);
            assert_eq!(portable[i], want);
            assert!((fast[i] - want).abs() <= 2.4e-7 * want.abs().max(1.0));
        }
    }

    #[test]
    fn geglu_matches_candle() {
        let dev = Device::Cpu;
        let g = Tensor::from_vec(
            (0..3 * 2 * 10)
                .map(|i| (i as f32 * 0.53).sin() * 4.0)
                .collect::<Vec<_>>(),
            (3, 2, 10),
            &dev,
        )
        .unwrap();
        let d = candle_core::D::Minus1;
        let want =
            (g.narrow(d, 0, 5).unwrap().gelu_erf().unwrap() * g.narrow(d, 5, 5).unwrap()).unwrap();
        let got = geglu(&g, 5).unwrap();
        assert_eq!(got.dims(), &[3, 2, 5]);
        assert!(super::super::max_abs_diff(&got, &want) < 1e-6);
        assert!(geglu(&g, 4).is_err());
    }

    #[test]
    fn tensor_ops_match_candle() {
        let dev = Device::Cpu;
        let x = Tensor::from_vec(
            (0..6 * 8)
                .map(|i| (i as f32 * 0.91).cos() * 3.0)
                .collect::<Vec<_>>(),
            (6, 8),
            &dev,
        )
        .unwrap();
        let b =
            Tensor::from_vec((0..8).map(|i| i as f32 * 0.1).collect::<Vec<_>>(), 8, &dev).unwrap();
        let want = x.broadcast_add(&b).unwrap().gelu_erf().unwrap();
        let close = |a: &Tensor, b: &Tensor| {
            let d = super::super::max_abs_diff(a, b);
            assert!(d < 1e-6, "{d}");
        };
        close(&gelu(&x.broadcast_add(&b).unwrap()).unwrap(), &want);
        let owned = x
            .matmul(&Tensor::eye(8, candle_core::DType::F32, &dev).unwrap())
            .unwrap();
        close(&bias_gelu_owned(owned, Some(&b)).unwrap(), &want);
        // A bias that does not fit the rows is an error, not a wrong answer.
        let bad = Tensor::zeros(3, candle_core::DType::F32, &dev).unwrap();
        assert!(bias_gelu_owned(x.copy().unwrap(), Some(&bad)).is_err());
    }
}
