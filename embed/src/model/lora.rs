//! LoRA task adapters of jina-embeddings-v3.
//!
//! The original checkpoint stores every adapted weight as a torch parametrization:
//! `<name>.parametrizations.weight.original` (the base weight) plus `…weight.0.lora_A` and
//! `…weight.0.lora_B`, stacked over the tasks (`[T, …]`, order = `lora_adaptations`).
//! With `scale = lora_alpha / lora_rank` the weight of task `t` is
//! * linear `[out, in]`: `W + scale · B[t] A[t]` with `A: [T, r, in]`, `B: [T, out, r]`;
//! * embedding `[V, H]`: `W + scale · A[t] B[t]` with `A: [T, V, r]`, `B: [T, r, H]`
//!   (fan-in/fan-out swapped, as in the original `LoRAParametrization`).
//!
//! Two ways to apply them, chosen by [`LoraMode`]:
//! * [`LoraMode::PerBatch`]: keep `W`, add the low-rank term on the fly:
//!   `x Wᵀ + scale · (x A[t]ᵀ) B[t]ᵀ` — no extra weight memory, `r·(in+out)` extra
//!   multiply-adds per token and projection;
//! * [`LoraMode::Merged`]: materialise `W + scale · B[t] A[t]` once per task and cache it —
//!   plain matmuls afterwards, one extra copy of the weights per task used.

use super::weights::Weights;
use crate::error::Error;
use candle_core::{Result, Tensor};
use candle_nn::{Linear, Module};

/// How LoRA adapters are applied (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LoraMode {
    /// Low-rank term computed on the fly for each batch.
    #[default]
    PerBatch,
    /// Adapter merged into a cached copy of the weights, once per task.
    Merged,
}

/// Stacked adapters of one weight.
#[derive(Debug, Clone)]
pub struct Adapters {
    a: Tensor,
    b: Tensor,
    scale: f64,
}

impl Adapters {
    /// Number of tasks.
    pub fn tasks(&self) -> usize {
        self.a.dims()[0]
    }
}

fn check_task(lora: &Adapters, t: usize) -> Result<()> {
    if t >= lora.tasks() {
        candle_core::bail!("task adapter {t} out of range ({} adapters)", lora.tasks());
    }
    Ok(())
}

/// A linear layer with optional task adapters.
#[derive(Debug, Clone)]
pub struct LoraLinear {
    base: Linear,
    lora: Option<Adapters>,
}

impl LoraLinear {
    /// A linear without adapters.
    pub fn plain(base: Linear) -> Self {
        LoraLinear { base, lora: None }
    }

    /// Loads `prefix` (`[out, in]`): either a parametrized weight with adapters or a plain
    /// `prefix.weight`, and `prefix.bias` if present.
    pub fn load(
        w: &Weights,
        prefix: &str,
        out_dim: usize,
        in_dim: usize,
        scale: f64,
    ) -> std::result::Result<Self, Error> {
        let param = format!("{prefix}.parametrizations.weight");
        let bias = w.get_opt(&format!("{prefix}.bias"), &[out_dim])?;
        if !w.contains(&format!("{param}.original")) {
            let weight = w.get(&format!("{prefix}.weight"), &[out_dim, in_dim])?;
            return Ok(LoraLinear {
                base: Linear::new(weight, bias),
                lora: None,
            });
        }
        let weight = w.get(&format!("{param}.original"), &[out_dim, in_dim])?;
        let a = w.get_any(&format!("{param}.0.lora_A"))?;
        let b = w.get_any(&format!("{param}.0.lora_B"))?;
        let (ad, bd) = (a.dims().to_vec(), b.dims().to_vec());
        let ok = ad.len() == 3
            && bd.len() == 3
            && ad[0] == bd[0]
            && ad[2] == in_dim
            && bd[1] == out_dim
            && ad[1] == bd[2];
        if !ok {
            return Err(w.error(format!(
                "{param}: lora_A {ad:?} / lora_B {bd:?} do not fit a [{out_dim}, {in_dim}] linear \
                 (expected [T, r, {in_dim}] and [T, {out_dim}, r])"
            )));
        }
        Ok(LoraLinear {
            base: Linear::new(weight, bias),
            lora: Some(Adapters { a, b, scale }),
        })
    }

    /// The adapters, if any.
    pub fn adapters(&self) -> Option<&Adapters> {
        self.lora.as_ref()
    }

    /// `x Wᵀ + b`, plus `scale · (x A[t]ᵀ) B[t]ᵀ` when `task` is given and adapters exist.
    pub fn forward(&self, x: &Tensor, task: Option<usize>) -> Result<Tensor> {
        let y = self.base.forward(x)?;
        let (Some(t), Some(lora)) = (task, &self.lora) else {
            return Ok(y);
        };
        check_task(lora, t)?;
        let dims = x.dims().to_vec();
        let in_dim = dims[dims.len() - 1];
        let rows = x.elem_count() / in_dim;
        let x2 = x.reshape((rows, in_dim))?;
        let low = x2
            .matmul(&lora.a.get(t)?.t()?)?
            .matmul(&lora.b.get(t)?.t()?)?;
        let mut out_shape = dims;
        let last = out_shape.len() - 1;
        out_shape[last] = low.dim(1)?;
        y + (low * lora.scale)?.reshape(out_shape)?
    }

    /// The plain linear for `task`: `W + scale · B[t] A[t]` (or `W` itself).
    pub fn merged(&self, task: Option<usize>) -> Result<Linear> {
        let (Some(t), Some(lora)) = (task, &self.lora) else {
            return Ok(self.base.clone());
        };
        check_task(lora, t)?;
        let delta = (lora.b.get(t)?.matmul(&lora.a.get(t)?)? * lora.scale)?;
        Ok(Linear::new(
            (self.base.weight() + delta)?,
            self.base.bias().cloned(),
        ))
    }
}

/// An embedding table with optional task adapters.
#[derive(Debug, Clone)]
pub struct LoraEmbedding {
    table: Tensor,
    lora: Option<Adapters>,
}

impl LoraEmbedding {
    /// Loads `prefix` (`[num, dim]`), parametrized or plain.
    pub fn load(
        w: &Weights,
        prefix: &str,
        num: usize,
        dim: usize,
        scale: f64,
    ) -> std::result::Result<Self, Error> {
        let param = format!("{prefix}.parametrizations.weight");
        if !w.contains(&format!("{param}.original")) {
            return Ok(LoraEmbedding {
                table: w.get(&format!("{prefix}.weight"), &[num, dim])?,
                lora: None,
            });
        }
        let table = w.get(&format!("{param}.original"), &[num, dim])?;
        let a = w.get_any(&format!("{param}.0.lora_A"))?;
        let b = w.get_any(&format!("{param}.0.lora_B"))?;
        let (ad, bd) = (a.dims().to_vec(), b.dims().to_vec());
        let ok = ad.len() == 3
            && bd.len() == 3
            && ad[0] == bd[0]
            && ad[1] == num
            && bd[2] == dim
            && ad[2] == bd[1];
        if !ok {
            return Err(w.error(format!(
                "{param}: lora_A {ad:?} / lora_B {bd:?} do not fit a [{num}, {dim}] embedding \
                 (expected [T, {num}, r] and [T, r, {dim}])"
            )));
        }
        Ok(LoraEmbedding {
            table,
            lora: Some(Adapters { a, b, scale }),
        })
    }

    /// A table without adapters.
    pub fn plain(table: Tensor) -> Self {
        LoraEmbedding { table, lora: None }
    }

    /// The adapters, if any.
    pub fn adapters(&self) -> Option<&Adapters> {
        self.lora.as_ref()
    }

    /// Rows `ids` (`u32 [n]`) of the task's table, `[n, dim]`.
    pub fn forward(&self, ids: &Tensor, task: Option<usize>) -> Result<Tensor> {
        let rows = self.table.index_select(ids, 0)?;
        let (Some(t), Some(lora)) = (task, &self.lora) else {
            return Ok(rows);
        };
        check_task(lora, t)?;
        let low = lora
            .a
            .get(t)?
            .index_select(ids, 0)?
            .matmul(&lora.b.get(t)?)?;
        rows + (low * lora.scale)?
    }

    /// The full table of `task`: `W + scale · A[t] B[t]`.
    pub fn merged(&self, task: Option<usize>) -> Result<Tensor> {
        let (Some(t), Some(lora)) = (task, &self.lora) else {
            return Ok(self.table.clone());
        };
        check_task(lora, t)?;
        self.table.clone() + (lora.a.get(t)?.matmul(&lora.b.get(t)?)? * lora.scale)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn t(v: &[f32], shape: &[usize]) -> Tensor {
        Tensor::from_vec(v.to_vec(), shape, &Device::Cpu).unwrap()
    }

    #[test]
    fn linear_orientation_and_per_batch_equals_merged() {
        // W [2,3], one task, rank 1: A [1,1,3], B [1,2,1].
        let w = t(&[1., 0., 0., 0., 1., 0.], &[2, 3]);
        let a = t(&[1., 2., 3.], &[1, 1, 3]);
        let b = t(&[10., 20.], &[1, 2, 1]);
        let lin = LoraLinear {
            base: Linear::new(w, None),
            lora: Some(Adapters { a, b, scale: 0.5 }),
        };
        // B·A = [[10,20,30],[20,40,60]]; W + 0.5·BA = [[6,10,15],[10,21,30]].
        let m = lin.merged(Some(0)).unwrap();
        assert_eq!(
            m.weight().to_vec2::<f32>().unwrap(),
            vec![vec![6., 10., 15.], vec![10., 21., 30.]]
        );
        let x = t(&[1., 1., 1., 0., 2., 1.], &[1, 2, 3]);
        let y1 = lin.forward(&x, Some(0)).unwrap().to_vec3::<f32>().unwrap();
        let y2 = m.forward(&x).unwrap().to_vec3::<f32>().unwrap();
        assert_eq!(y1, y2);
        assert_eq!(y1[0][0], vec![31., 61.]);
        // No task: base weights.
        assert_eq!(
            lin.forward(&x, None).unwrap().to_vec3::<f32>().unwrap()[0][0],
            vec![1., 1.]
        );
        assert!(lin.forward(&x, Some(1)).is_err());
    }

    #[test]
    fn embedding_orientation() {
        // table [3,2], A [1,3,1], B [1,1,2]: A·B = outer(a, b).
        let table = t(&[0.; 6], &[3, 2]);
        let a = t(&[1., 2., 3.], &[1, 3, 1]);
        let b = t(&[1., -1.], &[1, 1, 2]);
        let e = LoraEmbedding {
            table,
            lora: Some(Adapters { a, b, scale: 0.25 }),
        };
        let ids = Tensor::new(&[2u32, 0], &Device::Cpu).unwrap();
        assert_eq!(
            e.forward(&ids, Some(0)).unwrap().to_vec2::<f32>().unwrap(),
            vec![vec![0.75, -0.75], vec![0.25, -0.25]]
        );
        let full = e.merged(Some(0)).unwrap().to_vec2::<f32>().unwrap();
        assert_eq!(full[1], vec![0.5, -0.5]);
    }
}
