//! The Basenji/Enformer track table `targets_human.txt`: tab-separated, header
//! `index genome identifier file clip scale sum_stat description`, one row per output channel in order.

use std::path::Path;

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Track {
    pub channel: usize,
    pub identifier: String,
    pub description: String,
}

pub fn read_targets(path: &Path) -> anyhow::Result<Vec<Track>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read targets file {}: {e}", path.display()))?;
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = lines.next() else { anyhow::bail!("targets file {} is empty", path.display()) };
    let cols: Vec<&str> = header.split('\t').map(str::trim).collect();
    let find = |name: &str| cols.iter().position(|c| c.eq_ignore_ascii_case(name));
    let (Some(id_col), Some(desc_col)) = (find("identifier"), find("description")) else {
        anyhow::bail!(
            "targets file {}: header must have 'identifier' and 'description' columns (tab-separated, as targets_human.txt: index genome identifier file clip scale sum_stat description); saw: {}",
            path.display(),
            cols.join(", ")
        );
    };
    let mut tracks = Vec::new();
    for (i, line) in lines {
        let f: Vec<&str> = line.split('\t').collect();
        let (Some(id), Some(desc)) = (f.get(id_col), f.get(desc_col)) else {
            anyhow::bail!(
                "targets file {}, line {}: {} fields, header has {}",
                path.display(),
                i + 1,
                f.len(),
                cols.len()
            );
        };
        tracks.push(Track {
            channel: tracks.len(),
            identifier: id.trim().to_string(),
            description: desc.trim().to_string(),
        });
    }
    Ok(tracks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_shared_targets_file() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/real/targets/targets_human.txt");
        if !p.exists() {
            eprintln!("SKIP: {} absent", p.display());
            return;
        }
        let t = read_targets(&p).unwrap();
        assert_eq!(t.len(), 5313);
        let count = |prefix: &str| t.iter().filter(|x| x.description.starts_with(prefix)).count();
        assert_eq!((count("DNASE:"), count("ATAC:"), count("CHIP:"), count("CAGE:")), (674, 10, 3991, 638));
        assert_eq!(t[0].channel, 0);
    }
}
