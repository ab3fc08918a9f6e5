//! Contig-name reconciliation: a table says `20`, the FASTA says `chr20`; `MT` vs `chrM`; PLINK's numeric
//! `23`/`24`/`26` for X/Y/MT. An exact match always wins; the canonical form is used only when it is unique in
//! the genome (a FASTA with both `chrM` and `MT` gets exact matching only for those).

use std::collections::HashMap;

/// `chr20` → `20`, `chrM`/`M`/`chrMT`/`26` → `MT`, `23` → `X`, `24` → `Y`; case-insensitive.
pub fn canonical(name: &str) -> String {
    let upper = name.trim().to_ascii_uppercase();
    let stripped = upper.strip_prefix("CHR").unwrap_or(&upper);
    match stripped {
        "M" | "26" => "MT".to_string(),
        "23" => "X".to_string(),
        "24" => "Y".to_string(),
        other => other.to_string(),
    }
}

#[derive(Debug, Default)]
pub struct ContigIndex {
    exact: HashMap<String, usize>,
    canonical: HashMap<String, Option<usize>>,
}

impl ContigIndex {
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let mut index = ContigIndex::default();
        for (i, name) in names.into_iter().enumerate() {
            index.exact.insert(name.to_string(), i);
            index.canonical.entry(canonical(name)).and_modify(|slot| *slot = None).or_insert(Some(i));
        }
        index
    }

    pub fn resolve(&self, name: &str) -> Option<usize> {
        if let Some(&i) = self.exact.get(name) {
            return Some(i);
        }
        self.canonical.get(&canonical(name)).copied().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconciles_common_namings() {
        let idx = ContigIndex::new(["chr1", "chr20", "chrX", "chrM"]);
        assert_eq!(idx.resolve("20"), Some(1));
        assert_eq!(idx.resolve("chr20"), Some(1));
        assert_eq!(idx.resolve("CHR20"), Some(1));
        assert_eq!(idx.resolve("MT"), Some(3));
        assert_eq!(idx.resolve("26"), Some(3));
        assert_eq!(idx.resolve("23"), Some(2));
        assert_eq!(idx.resolve("x"), Some(2));
        assert_eq!(idx.resolve("2"), None);
        assert_eq!(idx.resolve("chr2"), None);

        let ensembl = ContigIndex::new(["1", "20", "MT"]);
        assert_eq!(ensembl.resolve("chr20"), Some(1));
        assert_eq!(ensembl.resolve("chrM"), Some(2));
    }

    #[test]
    fn ambiguous_canonical_names_need_an_exact_match() {
        let idx = ContigIndex::new(["chrM", "MT"]);
        assert_eq!(idx.resolve("chrM"), Some(0));
        assert_eq!(idx.resolve("MT"), Some(1));
        assert_eq!(idx.resolve("M"), None);
    }
}
