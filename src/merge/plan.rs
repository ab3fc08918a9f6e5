//! Pass 1 of merge: which sequences the scored variants need, whether the cache (or the legacy folder) has
//! them all, and what the ensembles look like. Existence checks only: cheap.

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::cache::Namespace;
use crate::ensemble::Strand;
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
}

pub(crate) fn plan(opts: &MergeOptions, ns: &Namespace) -> anyhow::Result<Plan> {
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
    let mut plan =
        Plan { rows_in: 0, variants: 0, needed: Vec::new(), ours: Vec::new(), rc: false, shifts: BTreeSet::new() };
    for path in &opts.variants {
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
                for m in members {
                    plan.rc |= m.strand == Strand::Reverse;
                    plan.shifts.insert(m.shift);
                    plan.needed.push(m.seq_id.clone());
                }
            }
        }
    }
    plan.needed.sort_unstable();
    plan.needed.dedup();
    let refs: Vec<&str> = plan.needed.iter().map(String::as_str).collect();
    plan.ours = ns.contains_many(&refs);
    let mut missing: Vec<String> =
        refs.iter().zip(&plan.ours).filter(|(_, ok)| !**ok).map(|(id, _)| id.to_string()).collect();
    if let Some(legacy) = &opts.legacy {
        let ids: Vec<&str> = missing.iter().map(String::as_str).collect();
        let found = legacy.contains_many(&ids);
        missing = missing.into_iter().zip(found).filter(|(_, f)| !f).map(|(id, _)| id).collect();
    }
    if !missing.is_empty() {
        return Err(MissingEntries::new(missing, plan.variants, ns).into());
    }
    Ok(plan)
}
