//! A split model: Enformer's conv tower and everything after it (transformer, crop, heads) as two ONNX files,
//! named by a small manifest JSON that `--model` takes (written by `scripts/split_onnx.py`, or by
//! `scripts/export_enformer_onnx.py --split`).
//!
//! Why: a base change alters the tower's output only within its receptive field (a few of the 1,536 positions
//! of 128 bp), so a substitution's tower output is its base window's with those positions recomputed from a
//! short grid-aligned sub-window; only the rest (the transformer) runs in full. The manifest pins both parts by
//! SHA-256 (checked here at load), so the manifest's own SHA-256, which the cache fingerprint takes as the
//! model's, names the exact pair of files: a split model's entries live in their own namespace, never mixed
//! with the monolithic model's (they differ by float rounding).

use std::ops::Range;
use std::path::Path;

use ort::session::Session;
use ort::value::TensorRef;
use serde::Deserialize;

use super::{dims, session, ModelError, ModelOptions};

pub const FORMAT: &str = "enformer-vep split model";
pub const VERSION: u32 = 1;
/// A manifest is a few hundred bytes; anything much larger is not one.
const MAX_MANIFEST: u64 = 1 << 20;

#[derive(Debug, Deserialize)]
struct Manifest {
    format: String,
    version: u32,
    tower: Part,
    rest: Part,
    window: usize,
    stride: usize,
    positions: usize,
    channels: usize,
    margin: usize,
}

#[derive(Debug, Deserialize)]
struct Part {
    file: String,
    sha256: String,
}

/// Whether `--model` names a split model's manifest (`*.json`) rather than an ONNX file.
pub fn is_manifest(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

/// Where a substitution's tower output is recomputed, in tower positions: `kept` are the positions the
/// changed bases can reach (spliced into the base's tower output), `sub` the sub-window the tower runs on:
/// `kept` widened by the margin, so every kept position sees only real neighbours, never the sub-window's
/// zero padding (at the window's own ends the full tower pads the same way, so clamping there is exact).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patch {
    pub kept: Range<usize>,
    pub sub: Range<usize>,
}

pub(crate) fn patch_for(span: &Range<usize>, stride: usize, margin: usize, positions: usize) -> Patch {
    let first = span.start / stride;
    let last = span.end.saturating_sub(1).max(span.start) / stride;
    let kept = first.saturating_sub(margin)..(last + margin + 1).min(positions);
    let sub = kept.start.saturating_sub(margin)..(kept.end + margin).min(positions);
    Patch { kept, sub }
}

pub struct SplitModel {
    tower: Session,
    rest: Session,
    tower_input: String,
    tower_output: String,
    rest_input: String,
    rest_output: String,
    pub bins: usize,
    pub tracks: usize,
    pub window: usize,
    /// Bases per tower position (128).
    pub stride: usize,
    /// Tower positions of a full window (1,536).
    pub positions: usize,
    pub channels: usize,
    /// Tower positions on each side that one base change can reach.
    pub margin: usize,
}

fn read_manifest(path: &Path, window: usize) -> Result<Manifest, ModelError> {
    let shown = path.display().to_string();
    let contract = |msg: String| ModelError::Contract { path: shown.clone(), msg };
    let fix = "fix: pass the manifest written by scripts/split_onnx.py (or export --split) beside its two .onnx files";
    let text = match std::fs::metadata(path) {
        Ok(m) if m.is_file() && m.len() <= MAX_MANIFEST => {
            std::fs::read(path).map_err(|e| ModelError::Load { path: shown.clone(), msg: e.to_string() })?
        }
        Ok(m) if m.is_file() => return Err(contract(format!("{} bytes is no split-model manifest; {fix}", m.len()))),
        _ => return Err(ModelError::Load { path: shown, msg: "no such file".into() }),
    };
    let m: Manifest = serde_json::from_slice(&text).map_err(|e| {
        contract(format!("not a split-model manifest ({e}); a monolithic model is an .onnx file; {fix}"))
    })?;
    if m.format != FORMAT || m.version != VERSION {
        return Err(contract(format!(
            "format '{}' version {} is not '{FORMAT}' version {VERSION}; {fix}",
            m.format, m.version
        )));
    }
    if m.window != window {
        return Err(contract(format!(
            "the split model is for a {}-bp window, not {window}; fix: use the --window it was made for",
            m.window
        )));
    }
    if m.stride == 0 || m.channels == 0 || m.margin == 0 || m.positions.checked_mul(m.stride) != Some(window) {
        return Err(contract(format!(
            "inconsistent geometry (stride {}, positions {}, channels {}, margin {} for a {window}-bp window); {fix}",
            m.stride, m.positions, m.channels, m.margin
        )));
    }
    let dir = parts_dir(path);
    for part in [&m.tower, &m.rest] {
        let file = dir.join(&part.file);
        let got = crate::cache::fingerprint::sha256_file(&file).map_err(|e| ModelError::Load {
            path: file.display().to_string(),
            msg: format!("{e} (named by the split-model manifest {shown}); {fix}"),
        })?;
        if !got.eq_ignore_ascii_case(&part.sha256) {
            return Err(contract(format!(
                "{} has SHA-256 {got} but the manifest names {}: the parts and the manifest must come from the same \
                 split; fix: re-run scripts/split_onnx.py on the monolithic model",
                file.display(),
                part.sha256
            )));
        }
    }
    Ok(m)
}

/// The parts sit beside the manifest, found through a symbolic link to it: workflow engines (Nextflow) stage
/// the one `--model` file into a work folder as a link, without the files it names.
/// A manifest that is no link keeps the path the user gave, so messages name the parts as the user knows them.
fn parts_dir(manifest: &Path) -> std::path::PathBuf {
    let is_link = std::fs::symlink_metadata(manifest).is_ok_and(|m| m.file_type().is_symlink());
    let real = match is_link {
        true => std::fs::canonicalize(manifest).unwrap_or_else(|_| manifest.to_path_buf()),
        false => manifest.to_path_buf(),
    };
    real.parent().unwrap_or(Path::new(".")).to_path_buf()
}

fn shape_of(outlet: &ort::value::ValueType) -> Vec<i64> {
    outlet.tensor_shape().map(|s| s.to_vec()).unwrap_or_default()
}

impl SplitModel {
    pub fn load(manifest: &Path, opts: &ModelOptions) -> Result<SplitModel, ModelError> {
        let m = read_manifest(manifest, opts.window)?;
        let dir = parts_dir(manifest);
        let (tower_path, rest_path) = (dir.join(&m.tower.file), dir.join(&m.rest.file));
        let (tower, rest) = (session(&tower_path, opts)?, session(&rest_path, opts)?);
        let contract = |p: &Path, msg: String| ModelError::Contract { path: p.display().to_string(), msg };

        let ([t_in], [t_out]) = (tower.inputs(), tower.outputs()) else {
            return Err(contract(&tower_path, "the tower needs one input and one output".into()));
        };
        let (ti, to) = (shape_of(t_in.dtype()), shape_of(t_out.dtype()));
        if ti.len() != 3 || ti[2] != 4 || to.len() != 3 || to[2] != m.channels as i64 {
            return Err(contract(
                &tower_path,
                format!(
                    "tower shapes {} -> {}; expected [batch, length, 4] -> [batch, length/{}, {}]",
                    dims(&ti),
                    dims(&to),
                    m.stride,
                    m.channels
                ),
            ));
        }
        let [r_in] = rest.inputs() else {
            return Err(contract(&rest_path, "the rest needs one input (the tower output)".into()));
        };
        let ri = shape_of(r_in.dtype());
        let want_in = [m.positions as i64, m.channels as i64];
        if ri.len() != 3 || (ri[1] >= 0 && ri[1] != want_in[0]) || ri[2] != want_in[1] {
            return Err(contract(
                &rest_path,
                format!("rest input {}; expected [batch, {}, {}]", dims(&ri), m.positions, m.channels),
            ));
        }
        let Some(r_out) = rest.outputs().iter().find(|o| o.name() == opts.head) else {
            let names: Vec<&str> = rest.outputs().iter().map(|o| o.name()).collect();
            return Err(contract(
                &rest_path,
                format!("no output head '{}' (outputs: {}); fix: --head NAME", opts.head, names.join(", ")),
            ));
        };
        let ro = shape_of(r_out.dtype());
        if ro.len() != 3 || ro[1] <= 0 || ro[2] <= 0 {
            return Err(contract(&rest_path, format!("output {}; expected [batch, bins, tracks]", dims(&ro))));
        }
        let (bins, tracks) = (ro[1] as usize, ro[2] as usize);
        crate::window::OutputGeometry::new(opts.window, bins).map_err(|e| contract(&rest_path, e))?;
        Ok(SplitModel {
            tower_input: t_in.name().to_string(),
            tower_output: t_out.name().to_string(),
            rest_input: r_in.name().to_string(),
            rest_output: r_out.name().to_string(),
            tower,
            rest,
            bins,
            tracks,
            window: opts.window,
            stride: m.stride,
            positions: m.positions,
            channels: m.channels,
            margin: m.margin,
        })
    }

    /// Floats of one full window's tower output.
    pub fn tower_len(&self) -> usize {
        self.positions * self.channels
    }

    /// Tower outputs `[batch, len/stride, channels]` of `batch` one-hot windows of `len` bases each.
    pub fn tower(&mut self, onehot: &[f32], batch: usize, len: usize) -> Result<Vec<f32>, ModelError> {
        let run = |e: ort::Error| ModelError::Run(e.to_string());
        let tensor = TensorRef::from_array_view(([batch, len, 4], onehot)).map_err(run)?;
        let outputs = self.tower.run(ort::inputs![self.tower_input.as_str() => tensor]).map_err(run)?;
        let (shape, data) = outputs[self.tower_output.as_str()].try_extract_tensor::<f32>().map_err(run)?;
        let expected = [batch as i64, (len / self.stride) as i64, self.channels as i64];
        if shape[..] != expected[..] {
            return Err(ModelError::Run(format!("tower output {} instead of {}", dims(shape), dims(&expected))));
        }
        Ok(data.to_vec())
    }

    /// The heads' `[batch, bins, tracks]` from `batch` full tower outputs.
    pub fn rest(&mut self, towers: &[f32], batch: usize) -> Result<Vec<f32>, ModelError> {
        let run = |e: ort::Error| ModelError::Run(e.to_string());
        let tensor = TensorRef::from_array_view(([batch, self.positions, self.channels], towers)).map_err(run)?;
        let outputs = self.rest.run(ort::inputs![self.rest_input.as_str() => tensor]).map_err(run)?;
        let (shape, data) = outputs[self.rest_output.as_str()].try_extract_tensor::<f32>().map_err(run)?;
        let expected = [batch as i64, self.bins as i64, self.tracks as i64];
        if shape[..] != expected[..] {
            return Err(ModelError::Run(format!("output shape {} instead of {}", dims(shape), dims(&expected))));
        }
        Ok(data.to_vec())
    }

    /// Where to recompute the tower for a substitution over window bases `span`.
    pub fn patch(&self, span: &Range<usize>) -> Patch {
        patch_for(span, self.stride, self.margin, self.positions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_patch_covers_the_reach_of_the_span_and_its_context() {
        // The tiny model's numbers: an SNV at 98,303 (position 767), margin 4.
        let p = patch_for(&(98_303..98_304), 128, 4, 1536);
        assert_eq!(p, Patch { kept: 763..772, sub: 759..776 });
        // A span over a position boundary reaches from the first position's to the last's.
        assert_eq!(patch_for(&(127..129), 128, 4, 1536).kept, 0..6);
        // Clamped at the window's ends.
        assert_eq!(patch_for(&(0..1), 128, 4, 1536), Patch { kept: 0..5, sub: 0..9 });
        let end = 1536 * 128;
        assert_eq!(patch_for(&(end - 1..end), 128, 4, 1536), Patch { kept: 1531..1536, sub: 1527..1536 });
    }

    #[test]
    fn a_bad_manifest_is_named_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.split.json");
        let err = |text: &str| {
            std::fs::write(&path, text).unwrap();
            read_manifest(&path, 196_608).err().unwrap().to_string()
        };
        assert!(err("{").contains("not a split-model manifest"));
        let good = |tower_sha: &str| {
            format!(
                r#"{{"format": "{FORMAT}", "version": 1, "tower": {{"file": "t.onnx", "sha256": "{tower_sha}"}},
                "rest": {{"file": "r.onnx", "sha256": "00"}}, "window": 196608, "stride": 128, "positions": 1536,
                "channels": 48, "margin": 4}}"#
            )
        };
        assert!(err(&good("00")).contains("t.onnx"), "a missing part is named");
        std::fs::write(dir.path().join("t.onnx"), b"x").unwrap();
        let e = err(&good("00"));
        assert!(e.contains("t.onnx has SHA-256") && e.contains("re-run scripts/split_onnx.py"), "{e}");
        let e = err(&good("00").replace("\"positions\": 1536", "\"positions\": 1000"));
        assert!(e.contains("inconsistent geometry"), "{e}");
        assert!(err(&good("00").replace("196608", "131072")).contains("131072-bp window"));
        assert!(is_manifest(&path) && !is_manifest(Path::new("m.onnx")));
        // Through a link in another folder (a workflow's staging), the parts are still found beside the target.
        let staged = tempfile::tempdir().unwrap();
        let link = staged.path().join("m.split.json");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        std::fs::write(&path, good("00")).unwrap();
        assert!(read_manifest(&link, 196_608).err().unwrap().to_string().contains("t.onnx has SHA-256"));
    }
}
