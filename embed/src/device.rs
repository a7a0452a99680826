//! Where the model runs. CPU in f32 by default; with the `cuda` cargo feature the first CUDA
//! device is used when one is present (still f32: the reference tolerances of the tests are
//! for f32), and the CPU otherwise.

use candle_core::{DType, Device};

/// The compute dtype of weights and activations.
pub const DTYPE: DType = DType::F32;

/// The device to load models on.
pub fn default_device() -> Device {
    #[cfg(feature = "cuda")]
    {
        if let Ok(d) = Device::cuda_if_available(0) {
            return d;
        }
    }
    Device::Cpu
}

/// A short human-readable name of `device`, for logs and `model_info`.
pub fn describe(device: &Device) -> &'static str {
    match device {
        Device::Cpu => "cpu",
        Device::Cuda(_) => "cuda",
        Device::Metal(_) => "metal",
    }
}
