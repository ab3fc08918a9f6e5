//! Which output channels the scores keep, and their names.

use regex::Regex;

use super::targets::{read_targets, Track};
use std::path::Path;

/// All tracks' metadata (from the targets file, or numbered) and the channels kept, in channel order.
pub(crate) fn select(
    targets: Option<&Path>,
    pattern: Option<&str>,
    tracks: usize,
) -> anyhow::Result<(Vec<Track>, Vec<usize>)> {
    let meta = match targets {
        Some(p) => {
            let t = read_targets(p)?;
            anyhow::ensure!(
                tracks == 0 || t.len() == tracks,
                "targets file {} lists {} tracks but the model outputs {tracks}; fix: pass the targets file of this model's head",
                p.display(),
                t.len()
            );
            t
        }
        None => {
            (0..tracks).map(|c| Track { channel: c, identifier: c.to_string(), description: String::new() }).collect()
        }
    };
    let keep: Vec<usize> = match pattern {
        None => (0..tracks).collect(),
        Some(pattern) => {
            let re = Regex::new(pattern)
                .map_err(|e| anyhow::anyhow!("--tracks '{pattern}' is not a valid regular expression: {e}"))?;
            let k: Vec<usize> = meta
                .iter()
                .filter(|t| re.is_match(&t.identifier) || re.is_match(&t.description))
                .map(|t| t.channel)
                .collect();
            anyhow::ensure!(!k.is_empty() || tracks == 0, "--tracks '{pattern}' matches no track");
            k
        }
    };
    Ok((meta, keep))
}
