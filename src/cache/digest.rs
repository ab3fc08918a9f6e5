//! The model's SHA-256, computed once per model file instead of once per job.
//!
//! The cache namespace names the model by the SHA-256 of its ONNX file (1 GB for Enformer). On a cluster, every
//! check-cache, predict and merge job hashing it again reads terabytes from the shared filesystem. So
//! `enformer-vep namespace` hashes it once and writes a small JSON file ([`NamespaceRecord`]) with the digest
//! and what identified the file when it was hashed (size, modification and status-change times). A step given
//! that file (`--namespace-file`) trusts the digest while the model file still has that size and those times
//! (one `stat`), and hashes the model again when it does not (a copy, a `touch`, a new model): a changed model
//! is always detected, at worst at the cost the steps paid before.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::fingerprint::{sha256_file, Fingerprint};

/// What identified the model file when it was hashed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStamp {
    pub size: u64,
    pub mtime_ns: u64,
    pub ctime_ns: u64,
}

impl FileStamp {
    pub fn of(path: &Path) -> std::io::Result<FileStamp> {
        use std::os::unix::fs::MetadataExt;
        // Through a symbolic link (Nextflow stages inputs as links): the model file itself.
        let m = std::fs::metadata(path)?;
        let ns = |s: i64, n: i64| (s.max(0) as u64).saturating_mul(1_000_000_000).saturating_add(n.max(0) as u64);
        Ok(FileStamp {
            size: m.len(),
            mtime_ns: ns(m.mtime(), m.mtime_nsec()),
            ctime_ns: ns(m.ctime(), m.ctime_nsec()),
        })
    }
}

/// `namespace.json`: the namespace a set of model flags names, and the model digest it rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespaceRecord {
    /// The namespace id (the cache folder's name under `v1/`).
    pub namespace: String,
    pub fingerprint: Fingerprint,
    /// The model file as given when it was hashed (for people; steps check the stamp, not the path).
    pub model: String,
    pub model_stamp: FileStamp,
}

#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    #[error("cannot read model {path}: {source}")]
    Model { path: String, source: std::io::Error },
    #[error("cannot read namespace file {path}: {reason}; fix: run `enformer-vep namespace` to write it")]
    Record { path: String, reason: String },
    #[error("{record} was written for {theirs} but this step's flags give {ours}; fix: pass the same --head, --n-encoding, --store, --window and --center-bins as `enformer-vep namespace` got, or run it again with these")]
    Flags { record: String, theirs: String, ours: String },
    #[error("model {model} is not the file {record} was written for (its SHA-256 differs); fix: run `enformer-vep namespace` again for this model")]
    ModelChanged { model: String, record: String },
}

/// How a step came by the model's digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Digested {
    /// From the namespace file, the model file unchanged since (no hashing).
    Recorded,
    /// The model file's stamp differs (a copy, a touch), so it was hashed again, and matched.
    Rehashed,
}

impl NamespaceRecord {
    /// Hashes `model` and records the namespace of `fingerprint_for(sha256)`.
    pub fn create(
        model: &Path,
        fingerprint_for: impl FnOnce(String) -> Fingerprint,
    ) -> Result<NamespaceRecord, DigestError> {
        let err = |source| DigestError::Model { path: model.display().to_string(), source };
        // Stamp first: a model replaced while it is hashed then shows a different stamp to every step,
        // which hashes it again.
        let model_stamp = FileStamp::of(model).map_err(err)?;
        let fingerprint = fingerprint_for(sha256_file(model).map_err(err)?);
        Ok(NamespaceRecord {
            namespace: fingerprint.id(),
            fingerprint,
            model: model.display().to_string(),
            model_stamp,
        })
    }

    pub fn read(path: &Path) -> Result<NamespaceRecord, DigestError> {
        let err = |reason: String| DigestError::Record { path: path.display().to_string(), reason };
        let (bytes, _) = super::readfile::read_regular(path, 1 << 20, super::readfile::Symlinks::Follow)
            .map_err(|e| err(e.to_string()))?;
        let record: NamespaceRecord =
            serde_json::from_slice(&bytes).map_err(|e| err(format!("not a namespace file: {e}")))?;
        if record.fingerprint.id() != record.namespace {
            return Err(err("its namespace id does not match its fingerprint (edited by hand?)".into()));
        }
        Ok(record)
    }

    /// The fingerprint of `model` with the flags `fingerprint_for` adds, from this record when it applies:
    /// the flags must name the record's namespace, and the model must be the file the record hashed (same
    /// stamp; otherwise it is hashed again and must have the recorded digest).
    pub fn fingerprint_for_model(
        &self,
        record_path: &Path,
        model: &Path,
        fingerprint_for: impl Fn(String) -> Fingerprint,
    ) -> Result<(Fingerprint, Digested), DigestError> {
        let ours = fingerprint_for(self.fingerprint.model_sha256.clone());
        if ours != self.fingerprint {
            let show = |fp: &Fingerprint| {
                format!(
                    "--head {} --n-encoding {} --store {} --window {}{}",
                    fp.head,
                    fp.n_encoding.as_str(),
                    fp.store.as_str(),
                    fp.window,
                    fp.summary_center_bins.map(|k| format!(" --center-bins {k}")).unwrap_or_default()
                )
            };
            return Err(DigestError::Flags {
                record: record_path.display().to_string(),
                theirs: show(&self.fingerprint),
                ours: show(&ours),
            });
        }
        let err = |source| DigestError::Model { path: model.display().to_string(), source };
        if FileStamp::of(model).map_err(err)? == self.model_stamp {
            return Ok((ours, Digested::Recorded));
        }
        if sha256_file(model).map_err(err)? == self.fingerprint.model_sha256 {
            Ok((ours, Digested::Rehashed))
        } else {
            Err(DigestError::ModelChanged {
                model: model.display().to_string(),
                record: record_path.display().to_string(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::{NEncoding, StoreMode};

    #[test]
    fn the_digest_is_trusted_while_the_model_is_unchanged_and_a_changed_model_is_always_caught() {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("m.onnx");
        std::fs::write(&model, b"model bytes").unwrap();
        let fp = |store| move |sha: String| Fingerprint::new(sha, "human", NEncoding::Zeros, 2048, store);
        let record = NamespaceRecord::create(&model, fp(StoreMode::Float32)).unwrap();
        let path = dir.path().join("namespace.json");
        std::fs::write(&path, serde_json::to_vec(&record).unwrap()).unwrap();
        let record = NamespaceRecord::read(&path).unwrap();
        let (got, how) = record.fingerprint_for_model(&path, &model, fp(StoreMode::Float32)).unwrap();
        assert_eq!((got.id(), how), (record.namespace.clone(), Digested::Recorded));
        // Other flags: refused, naming both.
        let e = record.fingerprint_for_model(&path, &model, fp(StoreMode::Summary)).unwrap_err().to_string();
        assert!(e.contains("--store float32") && e.contains("--store summary"), "{e}");
        // Touched (same bytes): hashed again, accepted.
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
        std::fs::File::options().write(true).open(&model).unwrap().set_modified(later).unwrap();
        assert_eq!(record.fingerprint_for_model(&path, &model, fp(StoreMode::Float32)).unwrap().1, Digested::Rehashed);
        // Same size, other bytes, mtime set back to the recorded one: the status-change time still differs.
        std::thread::sleep(std::time::Duration::from_millis(30));
        std::fs::write(&model, b"MODEL BYTES").unwrap();
        let back = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(record.model_stamp.mtime_ns);
        std::fs::File::options().write(true).open(&model).unwrap().set_modified(back).unwrap();
        assert!(matches!(
            record.fingerprint_for_model(&path, &model, fp(StoreMode::Float32)),
            Err(DigestError::ModelChanged { .. })
        ));
        // An edited record is refused.
        let mut edited: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        edited["fingerprint"]["head"] = "mouse".into();
        std::fs::write(&path, serde_json::to_vec(&edited).unwrap()).unwrap();
        assert!(matches!(NamespaceRecord::read(&path), Err(DigestError::Record { .. })));
    }
}
