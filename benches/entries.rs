//! Cache entries: write/read time and size per store mode for one [896, 5313] Enformer output, against the
//! legacy tool's gzip-pickle of the same array (timed by Python in `scripts/bench_legacy_entry.py`, run from
//! here so both are measured in the same session).
//!
//! `cargo bench --bench entries` (needs `bash scripts/pyenv` for the baseline)

use std::time::Instant;

use enformer_vep::cache::entry::{decode, encode, Identity};
use enformer_vep::cache::{npy, StoreMode};

const BINS: usize = 896;
const TRACKS: usize = 5313;
const REPS: usize = 10;

fn main() -> anyhow::Result<()> {
    // A realistic output: positive (softplus), smooth along bins, a wide dynamic range across tracks.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let output: Vec<f32> = (0..BINS * TRACKS)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let track_scale = 0.05 + ((i % TRACKS) as f32 * 0.618).fract() * 40.0;
            track_scale * (0.5 + (state >> 40) as f32 / (1u64 << 24) as f32)
        })
        .collect();
    let dir = tempfile::tempdir()?;
    println!(
        "## cache entry for one [{BINS}, {TRACKS}] output ({:.1} MB as float32)",
        (BINS * TRACKS * 4) as f64 / 1e6
    );
    let key = enformer_vep::window::seq_id(b"bench");
    let id = Identity { seq_id: &key, namespace: "bench" };
    let mut ours_f32 = (0.0, 0.0);
    for store in [StoreMode::Float32, StoreMode::Float16, StoreMode::Summary] {
        let t = Instant::now();
        let mut bytes = Vec::new();
        for i in 0..REPS {
            bytes = encode(store, &output, BINS, TRACKS, 443..453, &id)?;
            let p = dir.path().join(format!("{i}.npy.zst"));
            enformer_vep::fsutil::write_atomic(&p, &bytes)?;
        }
        let write = t.elapsed().as_secs_f64() / REPS as f64;
        let t = Instant::now();
        for i in 0..REPS {
            let b = std::fs::read(dir.path().join(format!("{i}.npy.zst")))?;
            std::hint::black_box(decode(&b, store, BINS, TRACKS, &id)?);
        }
        let read = t.elapsed().as_secs_f64() / REPS as f64;
        if store == StoreMode::Float32 {
            ours_f32 = (write, read);
        }
        println!(
            "{:<8} write {:>7.1} ms  read+verify {:>6.1} ms  size {:>9.1} kB",
            store.as_str(),
            write * 1e3,
            read * 1e3,
            bytes.len() as f64 / 1e3
        );
    }

    let npy_path = dir.path().join("output.npy");
    let mut npy_bytes = npy::header(npy::Dtype::F32, &[BINS, TRACKS]);
    npy_bytes.extend(output.iter().flat_map(|v| v.to_le_bytes()));
    std::fs::write(&npy_path, npy_bytes)?;
    let python = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-test/bin/python");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/bench_legacy_entry.py");
    match std::process::Command::new(&python).arg(&script).arg(&npy_path).arg("3").output() {
        Ok(out) if out.status.success() => {
            let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
            let (w, r) = (v["write_s"].as_f64().unwrap_or(0.0), v["read_s"].as_f64().unwrap_or(0.0));
            println!(
                "legacy   write {:>7.1} ms  read        {:>6.1} ms  size {:>9.1} kB  (Python pickle + gzip)",
                w * 1e3,
                r * 1e3,
                v["bytes"].as_f64().unwrap_or(0.0) / 1e3
            );
            println!("float32 vs legacy: write {:.1}x faster, read {:.1}x faster", w / ours_f32.0, r / ours_f32.1);
        }
        _ => println!("legacy baseline skipped: run `bash scripts/pyenv` first (needs {})", python.display()),
    }
    Ok(())
}
