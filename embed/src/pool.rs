//! Pooling token states into one vector per text, Matryoshka truncation and L2
//! normalisation — the sentence-transformers `Pooling` and `Normalize` modules.

use crate::error::Error;
use candle_core::{DType, Result, Tensor, D};

/// How token states become one vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// Mean over the real (unmasked) tokens.
    Mean,
    /// The first token (`[CLS]` / `<s>`).
    Cls,
}

impl Pooling {
    /// Parses a pooling name as used in configs (`mean`, `cls`).
    pub fn from_name(name: &str) -> Option<Pooling> {
        match name.to_ascii_lowercase().as_str() {
            "mean" | "mean_tokens" | "avg" => Some(Pooling::Mean),
            "cls" | "cls_token" => Some(Pooling::Cls),
            _ => None,
        }
    }

    /// Pools `hidden` (`[batch, seq, hidden]`) with `mask` (`f32 [batch, seq]`) into
    /// `[batch, hidden]`. Mean pooling divides by the token count clamped at 1e-9, like
    /// sentence-transformers.
    pub fn apply(self, hidden: &Tensor, mask: &Tensor) -> Result<Tensor> {
        match self {
            Pooling::Cls => hidden.narrow(1, 0, 1)?.squeeze(1),
            Pooling::Mean => {
                let mask = mask.to_dtype(hidden.dtype())?;
                let summed = hidden.broadcast_mul(&mask.unsqueeze(D::Minus1)?)?.sum(1)?;
                let count = mask.sum_keepdim(1)?.clamp(1e-9, f64::INFINITY)?;
                summed.broadcast_div(&count)?.to_dtype(DType::F32)
            }
        }
    }
}

/// Truncates `v` to `dim` values (Matryoshka) and L2-normalises what is left, in that order
/// (normalising first and truncating after would give a vector that is not unit length).
/// Zero vectors stay zero (the norm is clamped at 1e-12 like `torch.nn.functional.normalize`).
pub fn truncate_normalize(mut v: Vec<f32>, dim: usize) -> Vec<f32> {
    v.truncate(dim);
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    for x in &mut v {
        *x /= norm;
    }
    v
}

/// Checks a requested output dimension against the model's full dimension and its
/// Matryoshka list, returning the dimension to use.
pub fn check_dim(
    requested: Option<usize>,
    full: usize,
    matryoshka: &[usize],
) -> std::result::Result<usize, Error> {
    match requested {
        None => Ok(full),
        Some(d) if d == full || matryoshka.contains(&d) => Ok(d),
        Some(d) if matryoshka.is_empty() => Err(Error::InvalidRequest(format!(
            "dimension {d} is not available: this model only produces {full}-dimensional vectors"
        ))),
        Some(d) => Err(Error::InvalidRequest(format!(
            "dimension {d} is not available: this model supports {matryoshka:?} (its matryoshka_dimensions) and {full}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn mean_pool_ignores_padding() {
        let h = Tensor::new(&[[[1f32, 2.], [3., 4.], [100., 100.]]], &Device::Cpu).unwrap();
        let m = Tensor::new(&[[1f32, 1., 0.]], &Device::Cpu).unwrap();
        assert_eq!(
            Pooling::Mean
                .apply(&h, &m)
                .unwrap()
                .to_vec2::<f32>()
                .unwrap(),
            vec![vec![2., 3.]]
        );
        assert_eq!(
            Pooling::Cls
                .apply(&h, &m)
                .unwrap()
                .to_vec2::<f32>()
                .unwrap(),
            vec![vec![1., 2.]]
        );
    }

    #[test]
    fn truncate_then_normalize() {
        let v = truncate_normalize(vec![3., 4., 12.], 2);
        assert_eq!(v, vec![0.6, 0.8]);
        assert_eq!(truncate_normalize(vec![0., 0.], 2), vec![0., 0.]);
    }

    #[test]
    fn dims_outside_the_list_are_rejected() {
        assert_eq!(check_dim(None, 64, &[16, 32]).unwrap(), 64);
        assert_eq!(check_dim(Some(32), 64, &[16, 32]).unwrap(), 32);
        assert_eq!(check_dim(Some(64), 64, &[]).unwrap(), 64);
        let e = check_dim(Some(20), 64, &[16, 32]).unwrap_err().to_string();
        assert!(e.contains("20") && e.contains("[16, 32]"), "{e}");
        assert!(check_dim(Some(8), 64, &[]).is_err());
    }
}
