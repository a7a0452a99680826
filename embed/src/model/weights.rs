//! The tensors of a checkpoint, by name, with checked shapes and errors that name the file.

use crate::device::DTYPE;
use crate::error::Error;
use candle_core::{Device, Tensor};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// All tensors of a model's safetensors file(s), converted to the compute dtype on use.
pub struct Weights {
    tensors: HashMap<String, Tensor>,
    files: Vec<PathBuf>,
    device: Device,
}

impl Weights {
    /// Reads every tensor of `files` (kept on the CPU until used).
    pub fn load(files: &[PathBuf], device: &Device) -> Result<Self, Error> {
        let mut tensors = HashMap::new();
        for f in files {
            let t = candle_core::safetensors::load(f, &Device::Cpu)
                .map_err(|e| Error::load(f, format!("cannot read safetensors: {e}")))?;
            tensors.extend(t);
        }
        Ok(Weights {
            tensors,
            files: files.to_vec(),
            device: device.clone(),
        })
    }

    /// Builds from in-memory tensors (tests and benches).
    pub fn from_tensors(tensors: HashMap<String, Tensor>, device: &Device) -> Self {
        Weights {
            tensors,
            files: vec![PathBuf::from("<memory>")],
            device: device.clone(),
        }
    }

    /// The device tensors are moved to.
    pub fn device(&self) -> &Device {
        &self.device
    }

    fn where_(&self) -> &Path {
        self.files
            .first()
            .map(PathBuf::as_path)
            .unwrap_or(Path::new("<no file>"))
    }

    /// Whether a tensor of that name exists.
    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    /// All tensor names (for layout detection).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    /// The first of `prefixes` such that `prefix + probe` names a tensor.
    pub fn find_prefix<'a>(&self, prefixes: &[&'a str], probe: &str) -> Option<&'a str> {
        prefixes
            .iter()
            .copied()
            .find(|p| self.contains(&format!("{p}{probe}")))
    }

    /// A tensor with the given shape, as f32 on the model's device.
    pub fn get(&self, name: &str, shape: &[usize]) -> Result<Tensor, Error> {
        let t = self.get_any(name)?;
        if t.dims() != shape {
            return Err(Error::load(
                self.where_(),
                format!("tensor {name} has shape {:?}, expected {shape:?}", t.dims()),
            ));
        }
        Ok(t)
    }

    /// A tensor of any shape, as f32 on the model's device.
    pub fn get_any(&self, name: &str) -> Result<Tensor, Error> {
        let t = self
            .tensors
            .get(name)
            .ok_or_else(|| Error::load(self.where_(), format!("tensor {name} is missing")))?;
        t.to_dtype(DTYPE)
            .and_then(|t| t.to_device(&self.device))
            .map_err(|e| Error::load(self.where_(), format!("tensor {name}: {e}")))
    }

    /// A tensor if present.
    pub fn get_opt(&self, name: &str, shape: &[usize]) -> Result<Option<Tensor>, Error> {
        if self.contains(name) {
            self.get(name, shape).map(Some)
        } else {
            Ok(None)
        }
    }

    /// An error about the checkpoint (names the file).
    pub fn error(&self, detail: impl std::fmt::Display) -> Error {
        Error::load(self.where_(), detail)
    }
}
