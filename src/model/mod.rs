//! The model runtime: ONNX Runtime through `ort`, CPU or CUDA.
//!
//! The model's input and output names and shapes are read from the ONNX file and checked against the window
//! length before any work; the contract is Enformer's as exported from enformer-pytorch: one input
//! `[batch, L, 4]` float32 (one-hot A,C,G,T), outputs per head `[batch, bins, tracks]`.

pub mod onehot;
pub mod runtime;
pub mod split;

use std::path::Path;
use std::str::FromStr;

use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::TensorRef;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{0}")]
    Runtime(String),
    #[error("cannot load model {path}: {msg} (is it an ONNX file? export one with scripts/export_enformer_onnx.py)")]
    Load { path: String, msg: String },
    #[error("model {path} does not fit: {msg}")]
    Contract { path: String, msg: String },
    #[error("cannot use CUDA device {device}: {msg}; fix: install the CUDA build of ONNX Runtime (`enformer-vep setup-ort --gpu`, or `bash scripts/setup-ort --gpu` for a checkout's target/release binary; needs CUDA 12 + cuDNN 9 and an NVIDIA driver), check `nvidia-smi`, or run with --device cpu")]
    Cuda { device: i32, msg: String },
    #[error("model run failed: {0}")]
    Run(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    Cpu,
    Cuda(i32),
}

impl FromStr for Device {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "cpu" => Ok(Device::Cpu),
            "cuda" | "gpu" => Ok(Device::Cuda(0)),
            _ => s
                .strip_prefix("cuda:")
                .and_then(|n| n.parse::<i32>().ok())
                .filter(|n| *n >= 0)
                .map(Device::Cuda)
                .ok_or_else(|| format!("device '{s}' is not cpu, cuda or cuda:N")),
        }
    }
}

impl std::fmt::Display for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Device::Cpu => f.write_str("cpu"),
            Device::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ModelOptions {
    pub device: Device,
    /// Intra-op threads (None: ONNX Runtime's default, all cores).
    pub threads: Option<usize>,
    pub head: String,
    pub window: usize,
}

pub struct Model {
    session: Session,
    input: String,
    output: String,
    pub bins: usize,
    pub tracks: usize,
    pub window: usize,
}

/// An ONNX Runtime session for one model file on the chosen device (CUDA registered or an error, never a
/// silent CPU fall-back).
pub(crate) fn session(path: &Path, opts: &ModelOptions) -> Result<Session, ModelError> {
    let shown = path.display().to_string();
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() && m.len() == 0 => {
            return Err(ModelError::Load { path: shown, msg: "the file is empty (0 bytes)".into() })
        }
        Ok(m) if m.is_file() => {}
        _ => return Err(ModelError::Load { path: shown, msg: "no such file".into() }),
    }
    let env = runtime::environment()?;
    let load_err = |msg: String| ModelError::Load { path: shown.clone(), msg };
    let mut builder = Session::builder(env).map_err(|e| load_err(e.to_string()))?;
    if let Device::Cuda(device) = opts.device {
        let ep = ort::ep::CUDA::default().with_device_id(device).build().error_on_failure();
        builder =
            builder.with_execution_providers([ep]).map_err(|e| ModelError::Cuda { device, msg: e.to_string() })?;
    }
    builder = builder.with_optimization_level(GraphOptimizationLevel::Level3).map_err(|e| load_err(e.to_string()))?;
    if let Some(n) = opts.threads {
        builder = builder.with_intra_threads(n.max(1)).map_err(|e| load_err(e.to_string()))?;
    }
    builder.commit_from_file(path).map_err(|e| load_err(e.to_string()))
}

pub(crate) fn dims(shape: &[i64]) -> String {
    let d: Vec<String> = shape.iter().map(|&x| if x < 0 { "?".to_string() } else { x.to_string() }).collect();
    format!("[{}]", d.join(", "))
}

impl Model {
    pub fn load(path: &Path, opts: &ModelOptions) -> Result<Model, ModelError> {
        let session = session(path, opts)?;
        Self::check_contract(session, &path.display().to_string(), opts)
    }

    fn check_contract(session: Session, path: &str, opts: &ModelOptions) -> Result<Model, ModelError> {
        let contract = |msg: String| ModelError::Contract { path: path.to_string(), msg };
        let [input] = session.inputs() else {
            let names: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
            return Err(contract(format!("expected one input [batch, {}, 4], found {names:?}", opts.window)));
        };
        let in_shape: Vec<i64> = input.dtype().tensor_shape().map(|s| s.to_vec()).unwrap_or_default();
        let expected_in = format!("[batch, {}, 4]", opts.window);
        if in_shape.len() != 3 || in_shape[2] != 4 || (in_shape[1] >= 0 && in_shape[1] as usize != opts.window) {
            return Err(contract(format!(
                "input '{}' has shape {} but the window needs {expected_in}; fix: use the --window the model was exported for, or the model made for this window",
                input.name(),
                dims(&in_shape)
            )));
        }
        let Some(output) = session.outputs().iter().find(|o| o.name() == opts.head) else {
            let names: Vec<&str> = session.outputs().iter().map(|o| o.name()).collect();
            return Err(contract(format!(
                "no output head '{}' (outputs: {}); fix: --head NAME",
                opts.head,
                names.join(", ")
            )));
        };
        let out_shape: Vec<i64> = output.dtype().tensor_shape().map(|s| s.to_vec()).unwrap_or_default();
        if out_shape.len() != 3 || out_shape[1] <= 0 || out_shape[2] <= 0 {
            return Err(contract(format!(
                "output '{}' has shape {}; expected [batch, bins, tracks] with fixed bins and tracks",
                output.name(),
                dims(&out_shape)
            )));
        }
        let (bins, tracks) = (out_shape[1] as usize, out_shape[2] as usize);
        crate::window::OutputGeometry::new(opts.window, bins).map_err(contract)?;
        let (input, output) = (input.name().to_string(), output.name().to_string());
        Ok(Model { session, input, output, bins, tracks, window: opts.window })
    }

    /// Runs a batch of one-hot windows (`batch * window * 4` floats) and returns `batch * bins * tracks`
    /// floats of the chosen head.
    pub fn run(&mut self, onehot: &[f32], batch: usize) -> Result<Vec<f32>, ModelError> {
        let run = |e: ort::Error| ModelError::Run(e.to_string());
        let tensor = TensorRef::from_array_view(([batch, self.window, 4], onehot)).map_err(run)?;
        let outputs = self.session.run(ort::inputs![self.input.as_str() => tensor]).map_err(run)?;
        let (shape, data) = outputs[self.output.as_str()].try_extract_tensor::<f32>().map_err(run)?;
        let expected = [batch as i64, self.bins as i64, self.tracks as i64];
        if shape[..] != expected[..] {
            return Err(ModelError::Run(format!("output shape {} instead of {}", dims(shape), dims(&expected))));
        }
        Ok(data.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_or_missing_model_file_is_named_before_loading_onnx_runtime() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.onnx");
        std::fs::write(&empty, b"").unwrap();
        let opts = ModelOptions { device: Device::Cpu, threads: None, head: "human".into(), window: 196_608 };
        let err = Model::load(&empty, &opts).err().unwrap().to_string();
        assert!(err.contains("empty.onnx") && err.contains("empty (0 bytes)"), "{err}");
        let err = Model::load(dir.path(), &opts).err().unwrap().to_string();
        assert!(err.contains("no such file"), "{err}");
    }

    #[test]
    fn devices_parse() {
        assert_eq!("cpu".parse::<Device>().unwrap(), Device::Cpu);
        assert_eq!("cuda".parse::<Device>().unwrap(), Device::Cuda(0));
        assert_eq!("cuda:3".parse::<Device>().unwrap(), Device::Cuda(3));
        assert!("cuda:-1".parse::<Device>().is_err());
        assert!("tpu".parse::<Device>().is_err());
    }
}
