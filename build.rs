//! Records the git revision for `--version` (`ENFORMER_VEP_GIT_REV`): `git rev-parse --short HEAD` when
//! building from a git checkout that is this crate's own, else "unknown" (a tarball, or no git installed).
//! Reruns only when HEAD moves: git's HEAD file and the branch's ref file (found through git, since in a
//! worktree `.git` is a file and the refs live in the main repository), not on every source change.

use std::path::{Path, PathBuf};
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && !text.trim().is_empty()).then(|| text.trim().to_string())
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    // A tarball unpacked inside some other repository must not take that repository's revision.
    let ours = git(&["rev-parse", "--show-toplevel"])
        .and_then(|top| Path::new(&top).canonicalize().ok())
        .is_some_and(|top| manifest_dir.canonicalize().is_ok_and(|m| m == top));
    let rev = if ours { git(&["rev-parse", "--short", "HEAD"]) } else { None };
    if ours {
        let mut watched = vec![git(&["rev-parse", "--git-path", "HEAD"])];
        if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
            watched.push(git(&["rev-parse", "--git-path", &branch]));
        }
        // A packed ref moves in packed-refs; a missing file would make cargo rerun this every build.
        watched.push(git(&["rev-parse", "--git-path", "packed-refs"]));
        for path in watched.into_iter().flatten() {
            let path = manifest_dir.join(path);
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
    println!("cargo:rustc-env=ENFORMER_VEP_GIT_REV={}", rev.as_deref().unwrap_or("unknown"));
}
