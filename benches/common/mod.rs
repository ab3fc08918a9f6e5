//! What the benchmarks share (each is its own crate; this file is included by `mod common;`). Their data
//! generator is the demo's, `enformer_vep::demo::Rng`.

/// The environment variable `name` parsed, or `default` when it is unset or does not parse.
pub fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}
