//! Finding and loading ONNX Runtime's shared library (ort's `load-dynamic`).
//!
//! Order: `ORT_DYLIB_PATH`; `libonnxruntime.so` beside the executable or in `../lib`; the checkout's
//! `.ort/lib/` (where `scripts/setup-ort` unpacks the PyPI wheel) found from the executable's location. The
//! library is loaded once per process with a call that returns an error (never a panic) when it is missing
//! or too old.

use std::path::PathBuf;
use std::sync::OnceLock;

use super::ModelError;

pub const LIB_NAME: &str = "libonnxruntime.so";

/// Where we look, in order (the env variable first when set).
pub fn candidates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH") {
        out.push(PathBuf::from(p));
        return out;
    }
    if let Ok(exe) = std::env::current_exe() {
        let exe = exe.canonicalize().unwrap_or(exe);
        if let Some(dir) = exe.parent() {
            out.push(dir.join(LIB_NAME));
            out.push(dir.join("../lib").join(LIB_NAME));
            // target/{release,debug}[/deps]/enformer-vep inside a checkout.
            for up in dir.ancestors().take(4) {
                out.push(up.join(".ort/lib").join(LIB_NAME));
            }
        }
    }
    out.push(PathBuf::from("/usr/local/lib").join(LIB_NAME));
    out
}

static LOADED: OnceLock<Result<(PathBuf, ort::environment::Environment), String>> = OnceLock::new();

/// Loads the library and creates the ONNX Runtime environment (once per process).
pub fn environment() -> Result<&'static ort::environment::Environment, ModelError> {
    let result = LOADED.get_or_init(|| {
        let tried = candidates();
        let Some(path) = tried.iter().find(|p| p.is_file()).cloned() else {
            let list = tried.iter().map(|p| format!("  {}", p.display())).collect::<Vec<_>>().join("\n");
            return Err(format!(
                "ONNX Runtime library ({LIB_NAME}) not found; looked in:\n{list}\nfix: run `bash scripts/setup-ort` in the enformer-vep checkout (or `--gpu` for CUDA), or set ORT_DYLIB_PATH to a libonnxruntime.so >= 1.17 (e.g. from `pip download onnxruntime` → onnxruntime/capi/)"
            ));
        };
        match ort::init_from(&path) {
            Ok(builder) => match builder.with_name("enformer-vep").build() {
                Ok(env) => Ok((path, env)),
                Err(e) => Err(format!("cannot start ONNX Runtime from {}: {e}", path.display())),
            },
            Err(e) => Err(format!("cannot load ONNX Runtime from {}: {e}", path.display())),
        }
    });
    result.as_ref().map(|(_, env)| env).map_err(|e| ModelError::Runtime(e.clone()))
}
