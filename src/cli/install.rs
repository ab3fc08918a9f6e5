//! Subcommands for installing and integrating the binary rather than scoring: `setup-ort` (ONNX Runtime
//! for an installed binary), `completions` and `man` (clap's own description of the CLI, rendered).

use std::path::PathBuf;

use clap::{Args, CommandFactory};

use crate::model::runtime;

/// scripts/setup-ort, built in: an installed binary has no checkout to run it from, and one script keeps the
/// two ways of installing the library identical (versions, wheel layout).
const SETUP_ORT: &str = include_str!("../../scripts/setup-ort");

#[derive(Debug, Args)]
#[command(args_override_self = true)]
pub struct SetupOrtArgs {
    /// The CUDA build (onnxruntime-gpu: CUDA 12, cuDNN 9) instead of the CPU one.
    #[arg(long)]
    pub gpu: bool,
    /// Copy libonnxruntime*.so from this folder (an unpacked wheel's onnxruntime/capi/, or a checkout's
    /// .ort/lib/) instead of downloading the wheel from PyPI.
    #[arg(long, value_name = "DIR")]
    pub from: Option<PathBuf>,
    /// Install here instead of the per-user folder (then set ORT_DYLIB_PATH to it).
    #[arg(long, value_name = "DIR")]
    pub dest: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell.
    #[arg(value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

pub fn setup_ort(a: SetupOrtArgs) -> anyhow::Result<i32> {
    let dest = match a.dest.clone().or_else(runtime::user_lib_dir) {
        Some(d) => d,
        None => {
            eprintln!("error: neither XDG_DATA_HOME (absolute) nor HOME is set; give --dest DIR");
            return Ok(2);
        }
    };
    let mut cmd = std::process::Command::new("bash");
    // `bash -c SCRIPT NAME ARGS...`: NAME becomes $0 in the script's messages.
    cmd.arg("-c").arg(SETUP_ORT).arg("enformer-vep setup-ort").arg("--dest").arg(&dest);
    if a.gpu {
        cmd.arg("--gpu");
    }
    if let Some(from) = &a.from {
        cmd.arg("--from").arg(from);
    }
    let status = cmd.status().map_err(|e| anyhow::anyhow!("cannot run bash for setup-ort: {e}"))?;
    if !status.success() {
        eprintln!("error: setup-ort failed (python3 with pip and access to PyPI are needed; or use --from DIR)");
        return Ok(status.code().unwrap_or(1));
    }
    // Load what the steps would load: a library that is found but does not load is reported now.
    match runtime::environment() {
        Ok(_) => {
            let used = runtime::locate()?;
            eprintln!("setup-ort: the model steps will load {}", used.display());
            if a.dest.is_some() && !used.starts_with(&dest) {
                eprintln!("note: set ORT_DYLIB_PATH={} to use the copy in --dest", dest.display());
            }
            Ok(0)
        }
        Err(e) => Err(e.into()),
    }
}

pub fn completions(a: CompletionsArgs) -> anyhow::Result<i32> {
    let mut cmd = super::Cli::command();
    clap_complete::generate(a.shell, &mut cmd, "enformer-vep", &mut std::io::stdout());
    Ok(0)
}

pub fn man() -> anyhow::Result<i32> {
    clap_mangen::Man::new(super::Cli::command()).render(&mut std::io::stdout())?;
    Ok(0)
}
