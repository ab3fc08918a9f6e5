//! Which kept tracks of a `scores.parquet` a user means: the tracks merge recorded in the file's metadata, and
//! the selectors `plot --track` and `export --track` share (a position in the scores' lists, an identifier, or
//! a regular expression on identifier and description), so both commands read a selector the same way.

use regex::Regex;

use crate::merge::Track;

/// A selector that matches no kept track (or is not a valid regular expression).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("--track '{selector}' matches no kept track{why}; fix: give a position 0..{kept} in the scores' lists, an identifier, or a regular expression on identifier and description (the tracks are listed in the scores.tracks.tsv beside the scores)")]
pub struct NoTrack {
    pub selector: String,
    pub kept: usize,
    /// Empty, or why the selector is not a regular expression.
    pub why: String,
}

/// The kept tracks from the scores' `enformer_vep.tracks` metadata value (a JSON list written by merge).
pub fn kept_tracks(json: &str) -> Result<Vec<Track>, String> {
    let tracks: Vec<serde_json::Value> =
        serde_json::from_str(json).map_err(|e| format!("unreadable tracks metadata: {e}"))?;
    tracks
        .iter()
        .map(|t| {
            Some(Track {
                channel: usize::try_from(t.get("channel")?.as_u64()?).ok()?,
                identifier: t.get("identifier")?.as_str()?.to_string(),
                description: t.get("description")?.as_str()?.to_string(),
            })
        })
        .collect::<Option<Vec<Track>>>()
        .ok_or_else(|| "tracks metadata lacks channel/identifier/description".to_string())
}

/// Positions (in the kept tracks) of the selectors, in order, without repeats; None: no selector. A selector
/// is tried as a position, then as an exact identifier, then as a regular expression.
pub fn select_tracks(selectors: &[String], kept: &[Track]) -> Result<Option<Vec<usize>>, NoTrack> {
    if selectors.is_empty() {
        return Ok(None);
    }
    let none = |s: &str, why: String| NoTrack { selector: s.to_string(), kept: kept.len(), why };
    let mut out: Vec<usize> = Vec::new();
    for s in selectors {
        let found: Vec<usize> = if let Ok(i) = s.trim().parse::<usize>() {
            (i < kept.len()).then_some(i).into_iter().collect()
        } else if let Some(i) = kept.iter().position(|t| t.identifier == *s) {
            vec![i]
        } else {
            let re = Regex::new(s).map_err(|e| none(s, format!(" (not a regular expression: {e})")))?;
            (0..kept.len()).filter(|&i| re.is_match(&kept[i].identifier) || re.is_match(&kept[i].description)).collect()
        };
        if found.is_empty() {
            return Err(none(s, String::new()));
        }
        for i in found {
            if !out.contains(&i) {
                out.push(i);
            }
        }
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(i: usize, id: &str, d: &str) -> Track {
        Track { channel: i + 10, identifier: id.into(), description: d.into() }
    }

    #[test]
    fn tracks_by_position_identifier_or_regex() {
        let kept = [t(0, "ENCFF1", "DNASE:liver"), t(1, "ENCFF2", "CAGE:liver"), t(2, "ENCFF3", "CAGE:brain")];
        let sel = |s: &[&str]| select_tracks(&s.iter().map(|x| x.to_string()).collect::<Vec<_>>(), &kept);
        assert_eq!(sel(&[]).unwrap(), None);
        assert_eq!(sel(&["2", "ENCFF1"]).unwrap(), Some(vec![2, 0]));
        assert_eq!(sel(&["^CAGE:", "ENCFF3"]).unwrap(), Some(vec![1, 2]));
        let e = sel(&["7"]).unwrap_err();
        assert_eq!((e.selector.as_str(), e.kept), ("7", 3));
        assert!(sel(&["(("]).unwrap_err().to_string().contains("not a regular expression"));
    }

    #[test]
    fn tracks_metadata_round_trips() {
        let kept = vec![t(0, "A", "x"), t(1, "B", "y")];
        assert_eq!(kept_tracks(&serde_json::to_string(&kept).unwrap()).unwrap(), kept);
        assert!(kept_tracks("[{\"channel\":1}]").is_err());
        assert!(kept_tracks("nope").is_err());
    }
}
