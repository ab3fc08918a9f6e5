//! Finding and loading ONNX Runtime's shared library (ort's `load-dynamic`).
//!
//! Order: `ORT_DYLIB_PATH` (the library file, or a folder holding it); `libonnxruntime.so` beside the
//! executable or in `../lib`; the checkout's `.ort/lib/` found from the executable's location (a
//! `target/release` binary, where plain `bash scripts/setup-ort` unpacks the PyPI wheel); the per-user data
//! folder (`$XDG_DATA_HOME/enformer-vep/lib`, else `~/.local/share/enformer-vep/lib`), where
//! `enformer-vep setup-ort` puts it for an installed binary, which has no checkout beside it; `/usr/local/lib`.
//! The library is loaded once per process with a call that returns an error (never a panic) when it is
//! missing or too old; `locate` finds it without loading, for steps that check before any work.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::ModelError;

pub const LIB_NAME: &str = "libonnxruntime.so";

/// The per-user folder `enformer-vep setup-ort` installs into: XDG's data home (ignored when relative, as
/// the XDG spec says), else `~/.local/share`. None without either variable.
pub fn user_lib_dir() -> Option<PathBuf> {
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))?;
    Some(data.join("enformer-vep/lib"))
}

/// `ORT_DYLIB_PATH` names the library file or a folder holding `libonnxruntime.so` (people point it at
/// `onnxruntime/capi/` as often as at the file in it).
fn from_variable(p: &Path) -> PathBuf {
    if p.is_dir() {
        p.join(LIB_NAME)
    } else {
        p.to_path_buf()
    }
}

/// Where we look, in order (the variable alone when set: a wrong value should fail, not be skipped).
pub fn candidates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH") {
        out.push(from_variable(Path::new(&p)));
        return out;
    }
    if let Ok(exe) = std::env::current_exe() {
        let exe = exe.canonicalize().unwrap_or(exe);
        if let Some(dir) = exe.parent() {
            out.push(dir.join(LIB_NAME));
            out.push(dir.join("../lib").join(LIB_NAME));
            // target/{release,debug}[/deps]/enformer-vep inside a checkout: its own library (maybe the
            // CUDA build) wins over the per-user one.
            for up in dir.ancestors().take(4) {
                out.push(up.join(".ort/lib").join(LIB_NAME));
            }
        }
    }
    if let Some(dir) = user_lib_dir() {
        out.push(dir.join(LIB_NAME));
    }
    out.push(PathBuf::from("/usr/local/lib").join(LIB_NAME));
    out
}

/// The library's path, or the error naming every place looked and the fix. Loads nothing.
pub fn locate() -> Result<PathBuf, ModelError> {
    let tried = candidates();
    if let Some(path) = tried.iter().find(|p| p.is_file()) {
        return Ok(path.clone());
    }
    let list = tried.iter().map(|p| format!("  {}", p.display())).collect::<Vec<_>>().join("\n");
    let user = user_lib_dir().map_or_else(|| "~/.local/share/enformer-vep/lib".into(), |d| d.display().to_string());
    Err(ModelError::Runtime(format!(
        "ONNX Runtime library ({LIB_NAME}) not found; looked in:\n{list}\nfix: run `enformer-vep setup-ort` (CPU; \
         `enformer-vep setup-ort --gpu` for CUDA), which puts it in {user} (needs python3 with pip and access \
         to PyPI; `--from DIR` copies it from a folder instead), or set ORT_DYLIB_PATH to a libonnxruntime.so \
         >= 1.17 or the folder holding it (e.g. onnxruntime/capi/ of `pip download onnxruntime`)"
    )))
}

static LOADED: OnceLock<Result<(PathBuf, ort::environment::Environment), String>> = OnceLock::new();

/// Loads the library and creates the ONNX Runtime environment (once per process).
pub fn environment() -> Result<&'static ort::environment::Environment, ModelError> {
    let result = LOADED.get_or_init(|| {
        let path = locate().map_err(|e| e.to_string())?;
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
