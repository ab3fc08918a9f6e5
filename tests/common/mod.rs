//! Helpers shared by the integration tests: run the binary, find the shared real data, read Parquet back
//! independently of the crate's own readers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use arrow_array::{
    Array, BinaryArray, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray, UInt32Array, UInt64Array,
};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_enformer-vep"));
    c.arg("--quiet");
    c
}

pub fn run_ok(args: &[&str]) -> Output {
    let out = bin().args(args).output().expect("binary runs");
    assert!(out.status.success(), "{args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    out
}

/// `../shared/data/real/` beside the checkout, or None (with a message) when absent.
pub fn real_data() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/real");
    if dir.is_dir() {
        tally("real-data");
        Some(dir)
    } else {
        eprintln!("SKIP: {} is absent (tests on real public data need it; see README)", dir.display());
        tally("skip real-data");
        None
    }
}

/// The test venv's python (numpy, zstandard, pandas, pyarrow; `bash scripts/pyenv`, which scripts/test runs
/// first), or None with a SKIP message.
pub fn python() -> Option<PathBuf> {
    let p = std::env::var_os("ENFORMER_VEP_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-test/bin/python"));
    if p.exists() {
        Some(p)
    } else {
        eprintln!("SKIP: {} is absent (run `bash scripts/pyenv`; scripts/test does)", p.display());
        tally("skip numpy checks (no test venv)");
        None
    }
}

/// Records that the current test used the real data, or skipped a check (`skip ...`), in the file named by
/// `ENFORMER_VEP_TEST_TALLY`: cargo swallows a passing test's SKIP lines, so `scripts/test` counts these
/// instead and prints how many real-data tests ran and which checks were skipped.
pub fn tally(what: &str) {
    use std::io::Write;
    let Some(path) = std::env::var_os("ENFORMER_VEP_TEST_TALLY") else { return };
    let test = std::thread::current().name().unwrap_or("?").to_string();
    if let Ok(mut f) = std::fs::OpenOptions::new().append(true).create(true).open(path) {
        // One short line per write: appends of it do not interleave.
        let _ = f.write_all(format!("{what}\t{}\t{test}\n", env!("CARGO_CRATE_NAME")).as_bytes());
    }
}

/// The shared folder is read-only: link the FASTA into a temp folder so its `.fai` can be created there.
pub fn linked_genome(real: &Path, name: &str, dir: &Path) -> PathBuf {
    let link = dir.join(name);
    std::os::unix::fs::symlink(real.join("genome").join(name), &link).unwrap();
    link
}

pub fn read_batches(path: &Path) -> Vec<RecordBatch> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap().map(|b| b.unwrap()).collect()
}

pub fn strings(batches: &[RecordBatch], col: &str) -> Vec<Option<String>> {
    batches
        .iter()
        .flat_map(|b| {
            let a = b.column_by_name(col).unwrap_or_else(|| panic!("no column {col}"));
            let a = a.as_any().downcast_ref::<StringArray>().unwrap();
            (0..a.len()).map(|i| a.is_valid(i).then(|| a.value(i).to_string())).collect::<Vec<_>>()
        })
        .collect()
}

pub fn i64s(batches: &[RecordBatch], col: &str) -> Vec<Option<i64>> {
    batches
        .iter()
        .flat_map(|b| {
            let a = b.column_by_name(col).unwrap().as_any().downcast_ref::<Int64Array>().unwrap().clone();
            (0..a.len()).map(move |i| a.is_valid(i).then(|| a.value(i))).collect::<Vec<_>>()
        })
        .collect()
}

pub fn u64s(batches: &[RecordBatch], col: &str) -> Vec<u64> {
    batches
        .iter()
        .flat_map(|b| b.column_by_name(col).unwrap().as_any().downcast_ref::<UInt64Array>().unwrap().values().to_vec())
        .collect()
}

pub fn u32s(batches: &[RecordBatch], col: &str) -> Vec<Option<u32>> {
    batches
        .iter()
        .flat_map(|b| {
            let a = b.column_by_name(col).unwrap().as_any().downcast_ref::<UInt32Array>().unwrap().clone();
            (0..a.len()).map(move |i| a.is_valid(i).then(|| a.value(i))).collect::<Vec<_>>()
        })
        .collect()
}

pub fn f64s(batches: &[RecordBatch], col: &str) -> Vec<Option<f64>> {
    batches
        .iter()
        .flat_map(|b| {
            let a = b.column_by_name(col).unwrap().as_any().downcast_ref::<Float64Array>().unwrap().clone();
            (0..a.len()).map(move |i| a.is_valid(i).then(|| a.value(i))).collect::<Vec<_>>()
        })
        .collect()
}

pub fn bools(batches: &[RecordBatch], col: &str) -> Vec<Option<bool>> {
    batches
        .iter()
        .flat_map(|b| {
            let a = b.column_by_name(col).unwrap().as_any().downcast_ref::<BooleanArray>().unwrap().clone();
            (0..a.len()).map(move |i| a.is_valid(i).then(|| a.value(i))).collect::<Vec<_>>()
        })
        .collect()
}

/// The FASTA read the naive way (whole file, lines concatenated, upper-cased): an independent reading to
/// check windows against.
pub fn naive_fasta(path: &Path) -> Vec<(String, Vec<u8>)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    for line in text.lines() {
        if let Some(h) = line.strip_prefix('>') {
            out.push((h.split_whitespace().next().unwrap().to_string(), Vec::new()));
        } else if let Some(last) = out.last_mut() {
            last.1.extend(line.trim_end().bytes().map(|b| b.to_ascii_uppercase()));
        }
    }
    out
}

/// The window by the convention's formula, built base by base.
pub fn naive_window(seq: &[u8], pos_1based: i64, len: i64) -> Vec<u8> {
    let start = pos_1based - len / 2;
    (start..start + len).map(|i| if i >= 0 && (i as usize) < seq.len() { seq[i as usize] } else { b'N' }).collect()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// All (seq_id, sequence) rows of a sequence table, decoded here independently of the tool's reader (the
/// README's description of the three forms: `sequence` text, `packed` two bits a base, or a patch of an earlier
/// row's window by `bases` at `base_offset`).
pub fn sequence_rows(path: &Path) -> Vec<(String, String)> {
    let b = read_batches(path);
    let n = b.iter().map(|b| b.num_rows()).sum::<usize>();
    let has = |c: &str| b.first().is_some_and(|b| b.column_by_name(c).is_some());
    let texts = strings(&b, "sequence");
    let packs: Vec<Option<Vec<u8>>> = if has("packed") {
        b.iter()
            .flat_map(|b| {
                let a = b.column_by_name("packed").unwrap().as_any().downcast_ref::<BinaryArray>().unwrap().clone();
                (0..a.len()).map(move |i| a.is_valid(i).then(|| a.value(i).to_vec())).collect::<Vec<_>>()
            })
            .collect()
    } else {
        vec![None; n]
    };
    let patches = if has("bases") { strings(&b, "bases") } else { vec![None; n] };
    let (base_ids, offsets) = if has("base_seq_id") {
        (strings(&b, "base_seq_id"), u32s(&b, "base_offset"))
    } else {
        (vec![None; n], vec![None; n])
    };
    let mut rows: Vec<(String, String)> = Vec::with_capacity(n);
    for (i, id) in strings(&b, "seq_id").into_iter().enumerate() {
        let id = id.unwrap();
        let window = match (&texts[i], &packs[i], &patches[i]) {
            (Some(t), None, None) => t.clone(),
            (None, Some(p), None) => {
                let len = u32::from_le_bytes(p[..4].try_into().unwrap()) as usize;
                let window: String =
                    (0..len).map(|k| ['A', 'C', 'G', 'T'][(p[4 + k / 4] >> (2 * (k % 4))) as usize & 3]).collect();
                window
            }
            (None, None, Some(patch)) => {
                let base = base_ids[i].as_ref().unwrap();
                let at = offsets[i].unwrap() as usize;
                let (_, base) = rows.iter().rev().find(|(k, _)| k == base).expect("a patch's base precedes it");
                format!("{}{patch}{}", &base[..at], &base[at + patch.len()..])
            }
            other => panic!("{}: row {id} has not exactly one form: {other:?}", path.display()),
        };
        rows.push((id, window));
    }
    rows
}

/// Sets the immutable attribute on a folder for the guard's lifetime (where the filesystem and user allow):
/// the only way to make a folder read-only for root, as tests often run in containers.
pub struct ImmutableDir(PathBuf);

impl ImmutableDir {
    pub fn try_new(dir: &Path) -> Option<Self> {
        let ok = Command::new("chattr").arg("+i").arg(dir).output().map(|o| o.status.success()).unwrap_or(false);
        ok.then(|| ImmutableDir(dir.to_path_buf()))
    }
}

impl Drop for ImmutableDir {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").arg(&self.0).output();
    }
}

/// The committed tiny Enformer model (same contract as the full one, 16 tracks).
pub fn tiny_model() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/models/tiny_enformer.onnx")
}

/// Every file under `dir`, recursively (none when `dir` does not exist).
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// One statistic column of a scores.parquet: a list of per-track values per variant.
pub fn stat_lists(path: &Path, stat: &str) -> Vec<Vec<f32>> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::Float32Type;
    read_batches(path)
        .iter()
        .flat_map(|b| {
            let list = b.column_by_name(stat).unwrap().as_list::<i32>().clone();
            (0..list.len()).map(|i| list.value(i).as_primitive::<Float32Type>().values().to_vec()).collect::<Vec<_>>()
        })
        .collect()
}

/// `enformer-vep run` with the tiny model; returns its printed counts.
pub fn run_tiny(vcf: &Path, genome: &Path, cache: &Path, out: &Path, extra: &[&str]) -> serde_json::Value {
    let model = tiny_model();
    let mut args = vec![
        "run",
        "--variants",
        vcf.to_str().unwrap(),
        "--genome",
        genome.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
        "--cache",
        cache.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    serde_json::from_slice(&run_ok(&args).stdout).unwrap()
}
