//! Pass 1 of merge: which sequences the scored variants need, whether the cache (or the legacy folder) has
//! them all, and what the ensembles look like. Existence checks only: cheap.

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::cache::store::{Source, Store};
use crate::ensemble::{Role, Strand};
use crate::orient::Status;
use crate::tables::variants::VariantReader;

use super::{MergeOptions, MissingEntries};

pub(crate) struct Plan {
    pub rows_in: u64,
    /// Variants with status ok.
    pub variants: usize,
    /// Every distinct sequence they need, sorted, and whether our cache has it.
    pub needed: Vec<String>,
    pub ours: Vec<bool>,
    /// Whether any variant has reverse-complement members, and the shifts used.
    pub rc: bool,
    pub shifts: BTreeSet<i32>,
    /// Things worth saying that do not stop the merge.
    pub warnings: Vec<String>,
}

pub(crate) fn plan(opts: &MergeOptions, store: &Store) -> anyhow::Result<Plan> {
    let mut seen_paths: Vec<PathBuf> = Vec::new();
    for path in &opts.variants {
        let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
        anyhow::ensure!(
            !seen_paths.contains(&canonical),
            "--variants {} is given twice: its rows would be scored twice; fix: pass each variants file once",
            path.display()
        );
        seen_paths.push(canonical);
    }
    let mut plan = Plan {
        rows_in: 0,
        variants: 0,
        needed: Vec::new(),
        ours: Vec::new(),
        rc: false,
        shifts: BTreeSet::new(),
        warnings: Vec::new(),
    };
    for path in &opts.variants {
        // Variants whose alt sequences are their ref sequences score 0 everywhere: only an edited or foreign
        // variants table can hold them, and they must not pass unnoticed.
        let mut same: Vec<u64> = Vec::new();
        for batch in VariantReader::open(path)? {
            for row in batch? {
                plan.rows_in += 1;
                if row.status != Some(Status::Ok) {
                    continue;
                }
                let Some(members) = row.sequences.as_ref().filter(|m| !m.is_empty()) else {
                    anyhow::bail!(
                        "{}, input line {}: a scored variant without sequences; fix: re-run extract-seqs with this version",
                        path.display(),
                        row.line
                    );
                };
                plan.variants += 1;
                let ids = |role: Role| members.iter().filter(|m| m.role == role).map(|m| &m.seq_id).collect::<Vec<_>>();
                if ids(Role::Ref) == ids(Role::Alt) {
                    same.push(row.line);
                }
                for m in members {
                    plan.rc |= m.strand == Strand::Reverse;
                    plan.shifts.insert(m.shift);
                    plan.needed.push(m.seq_id.clone());
                }
            }
        }
        if let Some(first) = same.first() {
            plan.warnings.push(format!(
                "{}: {} scored variant(s) have the same ref and alt sequences (e.g. input line {first}), so every statistic is 0 for them; was this variants.parquet edited? fix: re-run extract-seqs",
                path.display(),
                same.len()
            ));
        }
    }
    plan.needed.sort_unstable();
    plan.needed.dedup();
    let refs: Vec<&str> = plan.needed.iter().map(String::as_str).collect();
    let found = store.locate_many(&refs);
    plan.ours = found.iter().map(|&s| s == Source::Ours).collect();
    let missing: Vec<String> =
        refs.iter().zip(&found).filter(|(_, s)| **s == Source::Absent).map(|(id, _)| id.to_string()).collect();
    if !missing.is_empty() {
        return Err(MissingEntries::new(missing, plan.variants, store.namespace(), Vec::new()).into());
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::{Cache, Fingerprint, NEncoding, StoreMode};
    use crate::ensemble::Member;
    use crate::tables::variants::{VariantRow, VariantWriter};

    #[test]
    fn twice_the_same_file_is_refused_and_identical_ref_and_alt_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let fp = Fingerprint::new("ab".repeat(32), "human", NEncoding::Zeros, 196_608, StoreMode::Float32);
        let ns = Cache::open(&dir.path().join("c")).unwrap().namespace(&fp);
        let id = "cd".repeat(32);
        ns.write_entry(&id, b"x").unwrap();
        let member = |role| Member { role, shift: 0, strand: Strand::Forward, seq_id: id.clone() };
        let v = dir.path().join("v.parquet");
        let mut w = VariantWriter::create(&v, vec![]).unwrap();
        w.push(VariantRow {
            line: 7,
            status: Some(Status::Ok),
            sequences: Some(vec![member(Role::Ref), member(Role::Alt)]),
            ..Default::default()
        })
        .unwrap();
        w.finish().unwrap();
        let opts = |variants: Vec<PathBuf>| MergeOptions {
            variants,
            cache: dir.path().join("c"),
            fingerprint: fp.clone(),
            out: dir.path().join("s.parquet"),
            stats: vec![crate::score::Stat::Sad],
            targets: None,
            tracks: None,
            center_bins: 10,
            legacy: None,
        };
        let store = Store::new(ns, None, 10);
        let p = plan(&opts(vec![v.clone()]), &store).unwrap();
        assert_eq!(p.warnings.len(), 1);
        assert!(p.warnings[0].contains("v.parquet") && p.warnings[0].contains("input line 7"), "{:?}", p.warnings);
        let err = plan(&opts(vec![v.clone(), v]), &store).err().unwrap().to_string();
        assert!(err.contains("is given twice"), "{err}");
    }
}
