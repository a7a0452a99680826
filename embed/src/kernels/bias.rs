//! A projection's bias added in place: `x[r, j] += bias[j]` for a fresh matmul result,
//! instead of candle's broadcast add into a new buffer; and [`RowKernel`], the in-place
//! op that any row kernel taking such a bias runs through (this one, GELU's).

use super::{on_cpu_f32, slice, slice_mut};
use candle_core::{CpuStorage, InplaceOp1, InplaceOp2, Layout, Result, Tensor};

/// `xs[i] += bias[i mod bias.len()]` (nothing for an empty bias).
pub fn bias_add_in_place(xs: &mut [f32], bias: &[f32]) {
    if bias.is_empty() {
        return;
    }
    for row in xs.chunks_exact_mut(bias.len()) {
        for (x, b) in row.iter_mut().zip(bias) {
            *x += b;
        }
    }
}

/// An in-place op over the rows of a tensor with an optional per-column bias:
/// `kernel(xs, bias)`, `bias` empty when there is none.
pub(super) struct RowKernel {
    pub(super) name: &'static str,
    pub(super) kernel: fn(&mut [f32], &[f32]),
}

impl InplaceOp1 for RowKernel {
    fn name(&self) -> &'static str {
        self.name
    }

    fn cpu_fwd(&self, s: &mut CpuStorage, l: &Layout) -> Result<()> {
        (self.kernel)(slice_mut(s, l, self.name)?, &[]);
        Ok(())
    }
}

impl InplaceOp2 for RowKernel {
    fn name(&self) -> &'static str {
        self.name
    }

    fn cpu_fwd(&self, s: &mut CpuStorage, l: &Layout, b: &CpuStorage, bl: &Layout) -> Result<()> {
        let bias = slice(b, bl, self.name)?;
        let xs = slice_mut(s, l, self.name)?;
        if bias.is_empty() || xs.len() % bias.len() != 0 {
            candle_core::bail!(
                "{}: bias of {} for rows of {:?}",
                self.name,
                bias.len(),
                l.shape()
            );
        }
        (self.kernel)(xs, bias);
        Ok(())
    }
}

impl RowKernel {
    /// Runs the kernel in `x`'s own storage with `bias`, when both are on the CPU fast path
    /// and `bias` is one row's width; otherwise hands `x` back for candle's ops.
    pub(super) fn run_owned(
        &self,
        x: Tensor,
        bias: Option<&Tensor>,
    ) -> Result<std::result::Result<Tensor, Tensor>> {
        let fits = on_cpu_f32(&x)
            && match bias {
                Some(b) => on_cpu_f32(b) && b.dims() == [x.dim(candle_core::D::Minus1)?],
                None => true,
            };
        if !fits {
            return Ok(Err(x));
        }
        match bias {
            Some(b) => x.inplace_op2(b, self)?,
            None => x.inplace_op1(self)?,
        }
        Ok(Ok(x))
    }
}

const BIAS_ADD: RowKernel = RowKernel {
    name: "chromite-bias-add-in-place",
    kernel: bias_add_in_place,
};

/// `x + bias` (bias broadcast over the last dimension) for an `x` the caller owns
/// outright (a fresh matmul result): on CPU it is added in `x`'s own storage.
pub fn bias_add_owned(x: Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    let Some(bias) = bias else {
        return Ok(x);
    };
    match BIAS_ADD.run_owned(x, Some(bias))? {
        Ok(done) => Ok(done),
        Err(x) => x.broadcast_add(bias),
    }
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
