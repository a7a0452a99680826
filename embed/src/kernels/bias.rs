//! A projection's bias added in place: `x[r, j] += bias[j]` for a fresh matmul result,
//! instead of candle's broadcast add into a new buffer.

use super::{on_cpu_f32, slice, slice_mut};
use candle_core::{CpuStorage, InplaceOp2, Layout, Result, Tensor};

/// `xs[i] += bias[i mod bias.len()]`.
pub fn bias_add_in_place(xs: &mut [f32], bias: &[f32]) {
    for row in xs.chunks_exact_mut(bias.len()) {
        for (x, b) in row.iter_mut().zip(bias) {
            *x += b;
        }
    }
}

struct BiasAdd;

impl InplaceOp2 for BiasAdd {
    fn name(&self) -> &'static str {
        "chromite-bias-add-in-place"
    }

    fn cpu_fwd(&self, s: &mut CpuStorage, l: &Layout, b: &CpuStorage, bl: &Layout) -> Result<()> {
        let bias = slice(b, bl, self.name())?;
        let xs = slice_mut(s, l, self.name())?;
        if bias.is_empty() || xs.len() % bias.len() != 0 {
            candle_core::bail!("bias of {} for rows of {:?}", bias.len(), l.shape());
        }
        bias_add_in_place(xs, bias);
        Ok(())
    }
}

/// `x + bias` (bias broadcast over the last dimension) for an `x` the caller owns
/// outright (a fresh matmul result): on CPU it is added in `x`'s own storage.
pub fn bias_add_owned(x: Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    let Some(bias) = bias else {
        return Ok(x);
    };
    let fits =
        on_cpu_f32(&x) && on_cpu_f32(bias) && bias.dims() == [x.dim(candle_core::D::Minus1)?];
    if !fits {
        return x.broadcast_add(bias);
    }
    x.inplace_op2(bias, &BiasAdd)?;
    Ok(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};

    #[test]
    fn matches_candle_broadcast_add() {
        let dev = Device::Cpu;
        let x = Tensor::from_vec(
            (0..2 * 3 * 5).map(|i| i as f32 * 0.5).collect::<Vec<_>>(),
            (2, 3, 5),
            &dev,
        )
        .unwrap();
        let b = Tensor::from_vec(vec![1f32, -2., 3., -4., 5.], 5, &dev).unwrap();
        let want = x
            .broadcast_add(&b)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let got = bias_add_owned(x.copy().unwrap(), Some(&b)).unwrap();
        assert_eq!(got.flatten_all().unwrap().to_vec1::<f32>().unwrap(), want);
        // No bias: unchanged. A bias that does not fit the rows: candle's error.
        assert_eq!(
            bias_add_owned(x.copy().unwrap(), None)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap(),
            x.flatten_all().unwrap().to_vec1::<f32>().unwrap()
        );
        let bad = Tensor::zeros(4, DType::F32, &dev).unwrap();
        assert!(bias_add_owned(x, Some(&bad)).is_err());
    }
}
