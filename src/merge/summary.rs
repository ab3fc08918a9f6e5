//! The "at a glance" columns of `scores.parquet`: per variant and statistic, the track with the largest
//! |value| (over all kept tracks, and within each assay class when the targets file names them), so that a
//! pandas or dplyr user sees the strongest effect and where it is without unpacking the list columns.

use super::targets::Track;

/// Assay classes by the prefix of a targets description (`DNASE:CD14-positive monocyte`), in column order.
pub const CLASSES: [&str; 4] = ["DNASE", "ATAC", "CHIP", "CAGE"];

/// The assay class of a track description, or None (no targets file, or another prefix).
pub fn class_of(description: &str) -> Option<&'static str> {
    let prefix = description.split(':').next()?.trim();
    CLASSES.into_iter().find(|c| c.eq_ignore_ascii_case(prefix))
}

/// One group of tracks summarised together: all kept tracks (`class` None) or one assay class.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub class: Option<&'static str>,
    /// Positions in the statistics' lists (not model channels).
    pub positions: Vec<usize>,
}

impl Group {
    /// The column-name prefix of this group for statistic `stat`: `SAD` or `SAD_DNASE`.
    pub fn prefix(&self, stat: &str) -> String {
        match self.class {
            None => stat.to_string(),
            Some(c) => format!("{stat}_{c}"),
        }
    }
}

/// The groups to summarise for the kept tracks: all of them, then each class that has at least one track
/// (so a run without a targets file, or with `--tracks '^CAGE:'`, gets no empty class columns).
pub fn groups(kept: &[Track]) -> Vec<Group> {
    let mut out = vec![Group { class: None, positions: (0..kept.len()).collect() }];
    for c in CLASSES {
        let positions: Vec<usize> =
            kept.iter().enumerate().filter(|(_, t)| class_of(&t.description) == Some(c)).map(|(i, _)| i).collect();
        if !positions.is_empty() {
            out.push(Group { class: Some(c), positions });
        }
    }
    out
}

/// The position (in `values`) of the largest |value| among `positions`, NaN skipped, the first on ties
/// (as numpy's `nanargmax`); None when there is no such value.
pub fn top(values: &[f32], positions: &[usize]) -> Option<usize> {
    let mut best: Option<(usize, f32)> = None;
    for &p in positions {
        let a = values.get(p).map(|v| v.abs()).filter(|a| !a.is_nan());
        if let Some(a) = a {
            if best.is_none_or(|(_, b)| a > b) {
                best = Some((p, a));
            }
        }
    }
    best.map(|(p, _)| p)
}

/// Column suffixes per group, in order: max |value|, the signed value there, its list position, identifier,
/// description.
pub const SUFFIXES: [&str; 5] =
    ["max_abs", "max_abs_value", "max_abs_track", "max_abs_identifier", "max_abs_description"];

#[cfg(test)]
mod tests {
    use super::*;

    fn track(i: usize, d: &str) -> Track {
        Track { channel: i, identifier: format!("ENCFF{i}"), description: d.to_string() }
    }

    #[test]
    fn classes_come_from_the_description_prefix() {
        assert_eq!(class_of("DNASE:CD14-positive monocyte"), Some("DNASE"));
        assert_eq!(class_of("CHIP:H3K27ac:liver"), Some("CHIP"));
        assert_eq!(class_of("cage:x"), Some("CAGE"));
        assert_eq!(class_of(""), None);
        assert_eq!(class_of("RNA:x"), None);
    }

    #[test]
    fn groups_skip_absent_classes() {
        let kept = [track(0, "CAGE:a"), track(1, "DNASE:b"), track(2, "CAGE:c")];
        let g = groups(&kept);
        assert_eq!(g.len(), 3);
        assert_eq!(g[0].positions, vec![0, 1, 2]);
        assert_eq!((g[1].class, g[1].positions.clone()), (Some("DNASE"), vec![1]));
        assert_eq!((g[2].class, g[2].positions.clone()), (Some("CAGE"), vec![0, 2]));
        assert_eq!(g[2].prefix("SAD"), "SAD_CAGE");
        assert_eq!(groups(&[track(0, "")]).len(), 1);
    }

    #[test]
    fn top_takes_the_largest_magnitude_skips_nan_and_keeps_the_first_tie() {
        assert_eq!(top(&[1.0, -3.0, 2.0], &[0, 1, 2]), Some(1));
        assert_eq!(top(&[1.0, -3.0, 2.0], &[0, 2]), Some(2));
        assert_eq!(top(&[f32::NAN, 0.5], &[0, 1]), Some(1));
        assert_eq!(top(&[2.0, -2.0], &[0, 1]), Some(0));
        assert_eq!(top(&[f32::NAN], &[0]), None);
        assert_eq!(top(&[], &[]), None);
    }
}
