//! Parses every real public file in `../shared/data/real/` (skipped with a message when absent).

use std::path::{Path, PathBuf};

use super::*;

fn real_dir() -> Option<PathBuf> {
    // The same lookup as tests/common: beside the checkout, nowhere else.
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/real");
    let outcome = if dir.is_dir() { "real-data" } else { "skip real-data" };
    // As tests/common's `tally`: scripts/test counts the real-data tests that ran.
    if let Some(path) = std::env::var_os("ENFORMER_VEP_TEST_TALLY") {
        use std::io::Write;
        let test = std::thread::current().name().unwrap_or("?").to_string();
        if let Ok(mut f) = std::fs::OpenOptions::new().append(true).create(true).open(path) {
            let _ = f.write_all(format!("{outcome}\tlib\t{test}\n").as_bytes());
        }
    }
    if !dir.is_dir() {
        eprintln!("SKIP: {} is absent (real-data variant tests need it; see README)", dir.display());
        return None;
    }
    Some(dir)
}

struct Counts {
    variants: usize,
    bad: Vec<u64>,
    first: RawVariant,
}

fn parse(dir: &Path, name: &str) -> (InputFormat, String, Counts) {
    let path = dir.join(name);
    let reader = VariantReader::open(&path, &ColumnOverrides::default()).unwrap_or_else(|e| panic!("{e}"));
    let (format, description) = (*reader.format(), reader.columns_description());
    let mut variants = Vec::new();
    let mut bad = Vec::new();
    for record in reader {
        match record.unwrap_or_else(|e| panic!("{e}")) {
            Record::Variant(v) => variants.push(v),
            Record::Bad(b) => bad.push(b.line),
        }
    }
    let first = variants.first().cloned().unwrap_or_else(|| panic!("{name}: no variants"));
    (format, description, Counts { variants: variants.len(), bad, first })
}

#[test]
fn real_gwas_tables() {
    let Some(dir) = real_dir() else { return };
    let tab = InputFormat::Delimited { delimiter: Delimiter::Tab };

    let (format, desc, c) = parse(&dir, "gwas/kunkle2019_stage1_layout_excerpt.hg19.txt");
    assert_eq!((format, c.variants, c.bad.len()), (InputFormat::Kunkle, 106, 0));
    assert_eq!(desc, "chrom=Chromosome pos=Position id=MarkerName effect=Effect_allele other=Non_Effect_allele beta=Beta se=SE p=Pvalue");
    assert_eq!((c.first.id.as_deref(), c.first.pos, c.first.beta), (Some("rs4844600"), 207679307, Some(0.1324)));

    let (format, _, c) = parse(&dir, "gwas/mungesumstats_eduAttainOkbay.hg19.txt");
    assert_eq!((format, c.variants, c.bad.len()), (tab, 93, 0));
    assert_eq!(
        (c.first.id.as_deref(), c.first.chrom.as_str(), c.first.effect_allele.as_str()),
        (Some("rs12987662"), "2", "A")
    );

    // Deliberately messy: lines 408 and 409 are one row broken in two.
    let (format, desc, c) = parse(&dir, "gwas/mungesumstats_ieu-a-298.hg19.tsv.gz");
    assert_eq!((format, c.variants, c.bad.clone()), (tab, 415, vec![408, 409]));
    assert_eq!(desc, "chrom=CHR pos=BP id=SNP effect=A1 other=A2 beta=BETA se=SE p=P");
    assert_eq!((c.first.pos, c.first.pvalue), (2256288, Some(0.0259800510432327)));

    let (format, desc, c) = parse(&dir, "gwas/qmplot_plink2_glm_linear.build_unknown.tsv");
    assert_eq!((format, c.variants, c.bad.len()), (InputFormat::Plink2Glm, 9224, 0));
    assert!(desc.contains("effect=A1 other=REF/ALT"), "{desc}");
    assert_eq!(
        (c.first.chrom.as_str(), c.first.effect_allele.as_str(), c.first.other_allele.as_str()),
        ("chr1", "A", "G")
    );
}

#[test]
fn real_vcfs() {
    let Some(dir) = real_dir() else { return };
    let cases: [(&str, usize); 5] = [
        ("vcf/basenji_regulatory_validated.hg19.vcf", 16),
        ("vcf/basenji_rs339331.hg19.vcf", 1),
        ("vcf/mungesumstats_ALSvcf.ebi-a-GCST005647.hg19.vcf", 415),
        ("vcf/varda_1kg_phase1_chr20_60k-145k.hg19.vcf", 22),
        ("vcf/varda_gonl-summary_chr20_60k-200k.hg19.vcf", 1264),
    ];
    for (name, expected) in cases {
        let (format, _, c) = parse(&dir, name);
        assert_eq!((format, c.variants, c.bad.len()), (InputFormat::Vcf, expected, 0), "{name}");
        assert_eq!(c.first.source, AlleleSource::Vcf);
    }
    let (_, desc, c) = parse(&dir, "vcf/basenji_rs339331.hg19.vcf");
    assert_eq!(
        (c.first.line, c.first.chrom.as_str(), c.first.pos, c.first.other_allele.as_str()),
        (2, "chr6", 117210052, "T")
    );
    assert!(desc.starts_with("chrom=CHROM"));
    let (_, desc, c) = parse(&dir, "vcf/mungesumstats_ALSvcf.ebi-a-GCST005647.hg19.vcf");
    assert!(desc.contains("beta=FORMAT/ES se=FORMAT/SE p=10^-FORMAT/LP"), "{desc}");
    assert_eq!((c.first.line, c.first.beta, c.first.se), (114, Some(0.0312), Some(0.0393)));
    let (_, _, c) = parse(&dir, "vcf/varda_gonl-summary_chr20_60k-200k.hg19.vcf");
    assert_eq!((c.first.id, c.first.chrom.as_str(), c.first.pos), (None, "20", 60309));
}
