//! What the run's steps recorded about themselves: extract-seqs' `manifest.json`, the check-cache and predict
//! JSON summaries and merge's report, found in a work folder (`run`'s `SCORES.work/`, or a workflow's results
//! folder) by their content rather than their names, since `run`, Snakemake and Nextflow name them
//! differently. From them the report shows how many sequences were needed, cached, computed and failed, and
//! the wall and busy time of each step's stages.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// Where the step records were looked for and what was found there.
#[derive(Debug, Default)]
pub struct Steps {
    /// The work folder looked in (None: none was given and the default does not exist).
    pub work_dir: Option<PathBuf>,
    /// extract-seqs' manifest and the folder it was in (where its `variants_file` is).
    pub manifest: Option<(PathBuf, Value)>,
    pub checks: Vec<Value>,
    pub predicts: Vec<Value>,
    pub merge: Option<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Manifest,
    Check,
    Predict,
    Merge,
}

/// A step's JSON by its keys (`namespace.json` and anything else: None).
fn kind(v: &Value) -> Option<Kind> {
    let has = |k: &str| v.get(k).is_some();
    if has("status_counts") && has("shards") {
        Some(Kind::Manifest)
    } else if has("missing") && has("todo") && has("cached") {
        Some(Kind::Check)
    } else if has("computed") && has("failed") && has("cached") {
        Some(Kind::Predict)
    } else if has("scored") && has("rows_in") {
        Some(Kind::Merge)
    } else {
        None
    }
}

/// The `*.json` files of `dir` and of its subfolders one level down (`extract/`, `todo/`, `predict/`), in
/// name order. An unreadable or non-JSON file is skipped: a results folder holds other files too.
pub fn find(dir: &Path) -> Steps {
    let mut steps = Steps { work_dir: Some(dir.to_path_buf()), ..Steps::default() };
    let mut files: Vec<PathBuf> = Vec::new();
    let list = |d: &Path| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> =
            std::fs::read_dir(d).into_iter().flatten().filter_map(|e| e.ok()).map(|e| e.path()).collect();
        v.sort();
        v
    };
    for entry in list(dir) {
        if entry.is_dir() {
            files.extend(list(&entry).into_iter().filter(|p| is_json(p)));
        } else if is_json(&entry) {
            files.push(entry);
        }
    }
    for path in files {
        let Some(v) = read_json(&path) else { continue };
        match kind(&v) {
            Some(Kind::Manifest) if steps.manifest.is_none() => {
                steps.manifest = Some((path.parent().unwrap_or(Path::new(".")).to_path_buf(), v))
            }
            Some(Kind::Check) => steps.checks.push(v),
            Some(Kind::Predict) => steps.predicts.push(v),
            Some(Kind::Merge) if steps.merge.is_none() => steps.merge = Some(v),
            _ => {}
        }
    }
    steps
}

fn is_json(p: &Path) -> bool {
    p.is_file() && p.extension().is_some_and(|e| e == "json") && p.metadata().is_ok_and(|m| m.len() < 16 << 20)
}

fn read_json(p: &Path) -> Option<Value> {
    serde_json::from_str::<Value>(&std::fs::read_to_string(p).ok()?).ok().filter(Value::is_object)
}

impl Steps {
    pub fn is_empty(&self) -> bool {
        self.manifest.is_none() && self.checks.is_empty() && self.predicts.is_empty() && self.merge.is_none()
    }

    /// extract-seqs' `variants.parquet` (every input row with its status), when its manifest was found and
    /// the file is still there.
    pub fn variants_file(&self) -> Option<PathBuf> {
        let (dir, m) = self.manifest.as_ref()?;
        let p = dir.join(m.get("variants_file")?.as_str()?);
        p.is_file().then_some(p)
    }

    /// Sequences: (label, count) rows, when check-cache or predict summaries were found.
    pub fn sequences(&self) -> Vec<(String, String)> {
        let sum = |vs: &[Value], k: &str| vs.iter().filter_map(|v| v.get(k)?.as_u64()).sum::<u64>();
        let mut rows = Vec::new();
        if !self.checks.is_empty() {
            let n = self.checks.len();
            rows.push((
                format!("sequences needed ({n} shard{})", if n == 1 { "" } else { "s" }),
                sum(&self.checks, "sequences").to_string(),
            ));
            let legacy = sum(&self.checks, "legacy");
            let cached = sum(&self.checks, "cached") + sum(&self.predicts, "cached");
            let of_legacy = if legacy > 0 { format!(" ({legacy} from the legacy cache)") } else { String::new() };
            rows.push(("cached (not computed)".into(), format!("{cached}{of_legacy}")));
        }
        if !self.predicts.is_empty() || !self.checks.is_empty() {
            rows.push(("computed".into(), sum(&self.predicts, "computed").to_string()));
            rows.push(("failed".into(), sum(&self.predicts, "failed").to_string()));
        }
        rows
    }

    /// Per step: [step, jobs, wall s, busy s per stage], summed over the step's jobs (shards).
    pub fn timings(&self) -> Vec<[String; 4]> {
        let mut rows = Vec::new();
        let mut add = |step: &str, records: Vec<&Value>| {
            if records.is_empty() {
                return;
            }
            let wall: f64 =
                records.iter().filter_map(|v| v.pointer("/timing/wall_s").or_else(|| v.get("seconds"))?.as_f64()).sum();
            // Stage names in the order of the first record, busy times summed over all.
            let mut stages: Vec<(String, f64)> = Vec::new();
            for v in &records {
                for s in v.pointer("/timing/stages").and_then(Value::as_array).into_iter().flatten() {
                    let (Some(name), Some(busy)) =
                        (s.get("stage").and_then(Value::as_str), s.get("busy_s").and_then(Value::as_f64))
                    else {
                        continue;
                    };
                    match stages.iter_mut().find(|(n, _)| n == name) {
                        Some(e) => e.1 += busy,
                        None => stages.push((name.to_string(), busy)),
                    }
                }
            }
            let mut busy: Vec<String> = stages.iter().map(|(n, b)| format!("{n} {} s", secs(*b))).collect();
            if step == "predict" {
                let computed: u64 = records.iter().filter_map(|v| v.get("computed")?.as_u64()).sum();
                if computed > 0 && wall > 0.0 {
                    busy.push(format!("{:.2} sequences/s", computed as f64 / wall));
                }
                if let Some(d) = records.iter().find_map(|v| v.get("device")?.as_str()) {
                    busy.push(format!("device {d}"));
                }
            }
            rows.push([step.to_string(), records.len().to_string(), secs(wall), busy.join(", ")]);
        };
        add("extract-seqs", self.manifest.iter().map(|(_, v)| v).collect());
        add("check-cache", self.checks.iter().collect());
        add("predict", self.predicts.iter().collect());
        add("merge", self.merge.iter().collect());
        rows
    }
}

/// Seconds with milliseconds below 10 s (a small run's stages take a few ms), tenths above.
fn secs(s: f64) -> String {
    if s < 10.0 {
        format!("{s:.3}")
    } else {
        format!("{s:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn records_are_told_apart_by_their_keys_and_summed() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("extract")).unwrap();
        std::fs::create_dir_all(d.join("todo")).unwrap();
        let timing = |w: f64, s: &str, b: f64| json!({"wall_s": w, "stages": [{"stage": s, "busy_s": b}]});
        let files = [
            (
                "extract/manifest.json",
                json!({"status_counts": {}, "shards": [], "variants_file": "variants.parquet", "timing": timing(1.0, "parse", 0.5)}),
            ),
            (
                "todo/a.summary.json",
                json!({"sequences": 10, "cached": 4, "missing": 6, "legacy": 1, "todo": "t", "timing": timing(0.5, "lookup", 0.25)}),
            ),
            (
                "todo/b.summary.json",
                json!({"sequences": 5, "cached": 5, "missing": 0, "legacy": 0, "todo": "t", "timing": timing(0.25, "lookup", 0.5)}),
            ),
            ("todo/a.predict.json", json!({"computed": 5, "cached": 0, "failed": 1, "seconds": 2.0, "device": "cpu"})),
            ("merge.json", json!({"scored": 3, "rows_in": 4, "timing": timing(0.5, "read", 0.125)})),
            ("namespace.json", json!({"namespace": "x"})),
        ];
        for (name, v) in &files {
            std::fs::write(d.join(name), v.to_string()).unwrap();
        }
        std::fs::write(d.join("todo/broken.json"), "{").unwrap();
        let s = find(d);
        assert!(!s.is_empty());
        assert_eq!((s.checks.len(), s.predicts.len(), s.merge.is_some()), (2, 1, true));
        assert_eq!(s.variants_file(), None, "the manifest's variants.parquet is not there");
        let seq: Vec<String> = s.sequences().into_iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(
            seq,
            [
                "sequences needed (2 shards)=15",
                "cached (not computed)=9 (1 from the legacy cache)",
                "computed=5",
                "failed=1"
            ]
        );
        let t = s.timings();
        assert_eq!(t[1], ["check-cache".to_string(), "2".into(), "0.750".into(), "lookup 0.750 s".into()]);
        assert_eq!(t[2][3], "2.50 sequences/s, device cpu");
        assert_eq!(
            t.iter().map(|r| r[0].as_str()).collect::<Vec<_>>(),
            ["extract-seqs", "check-cache", "predict", "merge"]
        );
        assert!(find(&d.join("absent")).is_empty());
    }
}
