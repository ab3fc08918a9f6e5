//! `extract-seqs` on real public data (../shared/data/real): windows checked against an independent reading
//! of the FASTA, orientation, statuses, and one output row per input variant.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use common::*;

const L: i64 = 196_608;

fn extract(variants: &Path, genome: &Path, out: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "extract-seqs",
        "--variants",
        variants.to_str().unwrap(),
        "--genome",
        genome.to_str().unwrap(),
        "--out-dir",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run_ok(&args);
    serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap()
}

fn count_vcf_alts(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split('\t').nth(4).unwrap().split(',').count())
        .sum()
}

#[test]
fn gonl_vcf_on_the_chr20_slice_gives_correct_windows_for_every_variant() {
    let Some(real) = real_data() else { return };
    let dir = tempfile::tempdir().unwrap();
    let genome = linked_genome(&real, "varda_hg19_chr20_1-200000.fa", dir.path());
    let vcf = real.join("vcf/varda_gonl-summary_chr20_60k-200k.hg19.vcf");
    let out = dir.path().join("out");
    let manifest = extract(&vcf, &genome, &out, &["--shard-size", "300"]);

    let v = read_batches(&out.join("variants.parquet"));
    let status = strings(&v, "status");
    assert_eq!(status.len(), count_vcf_alts(&vcf), "one row per input variant (ALT)");
    assert_eq!(manifest["rows"].as_u64().unwrap() as usize, status.len());

    let chr20 = naive_fasta(&real.join("genome/varda_hg19_chr20_1-200000.fa")).remove(0).1;
    let sequences: HashMap<String, String> = manifest["shards"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| sequence_rows(&out.join(s["path"].as_str().unwrap())))
        .collect();
    let (pos, refs, alts) = (i64s(&v, "pos"), strings(&v, "ref"), strings(&v, "alt"));
    let (ref_ids, alt_ids, starts) = (strings(&v, "ref_seq_id"), strings(&v, "alt_seq_id"), i64s(&v, "window_start"));
    let contigs = strings(&v, "contig");
    let types = strings(&v, "variant_type");
    let mut ok = 0;
    for i in 0..status.len() {
        let st = status[i].as_deref().unwrap();
        assert_eq!(st, "ok", "row {i}: every REF matches this slice");
        if types[i].as_deref() != Some("snv") {
            continue; // indel windows: checked by scripts/independent_check.py and the unit tests
        }
        ok += 1;
        let p = pos[i].unwrap();
        assert_eq!(contigs[i].as_deref(), Some("chr20"), "contig 20 reconciled with chr20");
        assert_eq!(starts[i], Some(p - L / 2));
        let expected_ref = naive_window(&chr20, p, L);
        assert_eq!(
            expected_ref[(L / 2 - 1) as usize],
            refs[i].as_ref().unwrap().as_bytes()[0],
            "ref base at the centre"
        );
        let mut expected_alt = expected_ref.clone();
        expected_alt[(L / 2 - 1) as usize] = alts[i].as_ref().unwrap().as_bytes()[0];
        let (rid, aid) = (ref_ids[i].clone().unwrap(), alt_ids[i].clone().unwrap());
        assert_eq!(rid, sha256_hex(&expected_ref));
        assert_eq!(aid, sha256_hex(&expected_alt));
        assert_eq!(sequences[&rid].as_bytes(), &expected_ref[..], "row {i} ref window");
        assert_eq!(sequences[&aid].as_bytes(), &expected_alt[..], "row {i} alt window");
    }
    assert!(ok > 1000, "most GoNL sites are SNVs: {ok}");
    // The slice's first 60,000 bases are N and it ends at 200,000: windows run off both ends and are padded.
    assert!(sequences.values().any(|s| s.starts_with("NNNNNNNNNN") && s.ends_with("NNNNNNNNNN")));
    // Shards hold unique sequences and the manifest counts them.
    for s in manifest["shards"].as_array().unwrap() {
        let rows = sequence_rows(&out.join(s["path"].as_str().unwrap()));
        let unique: HashSet<&String> = rows.iter().map(|(id, _)| id).collect();
        assert_eq!(unique.len(), rows.len());
        assert_eq!(s["sequences"].as_u64().unwrap() as usize, rows.len());
        assert!(s["variants"].as_u64().unwrap() <= 300);
    }
    let shard_col = u32s(&v, "shard");
    assert_eq!(shard_col.iter().filter(|s| s.is_some()).count(), ok);
    let lines = u64s(&v, "line");
    assert!(lines.windows(2).all(|w| w[0] <= w[1]), "rows stay in input order");
}

#[test]
fn every_status_orientation_case_and_filter_on_a_real_genome() {
    let Some(real) = real_data() else { return };
    let dir = tempfile::tempdir().unwrap();
    let genome = linked_genome(&real, "varda_hg19_chr20_1-200000.fa", dir.path());
    let chr20 = naive_fasta(&real.join("genome/varda_hg19_chr20_1-200000.fa")).remove(0).1;
    let base = |p: usize| chr20[p - 1] as char;
    // Find positions with given reference bases (real sequence, not made up).
    let find = |want: u8| (100_001..190_000).find(|&p| chr20[p - 1] == want).unwrap();
    let (pa, pc, pg) = (find(b'A'), find(b'C'), find(b'G'));
    // The first real base after the slice's leading N run: its window runs off the contig start.
    let pn = (1..).find(|&p| chr20[p - 1] != b'N').unwrap();
    let other = |b: char| if b == 'G' { 'A' } else { 'G' };
    let rows = [
        format!("20 {pa} ok_not_flipped {} {} 0.1 0.01 1e-9", other(base(pa)), base(pa)),
        format!("chr20 {pc} ok_flipped {} T -0.1 0.01 1e-3", base(pc)),
        format!("20 {pa} ambiguous T {} 0.2 0.01 0.5", base(pa)),
        format!("20 {pg} mismatch A T 0.2 0.01 0.5"),
        format!("20 {pg} too_long {} {} 0.2 0.01 0.5", "A".repeat(1001), base(pg)),
        format!("20 {pg} invalid G N 0.2 0.01 0.5"),
        "21 1000 no_contig A G 0.2 0.01 0.5".to_string(),
        "20 250000 past_end A G 0.2 0.01 0.5".to_string(),
        "20 0 pos_zero A G 0.2 0.01 0.5".to_string(),
        "20 12x bad_pos A G 0.2 0.01 0.5".to_string(),
        "20 1000".to_string(),
        format!("20 {pa} duplicate_of_first {} {} 0.1 0.01 1e-9", other(base(pa)), base(pa)),
        format!("20 {pn} near_start {} {} 0.1 0.01 1e-9", other(base(pn)), base(pn)),
    ];
    let table = dir.path().join("t.txt");
    std::fs::write(
        &table,
        format!("Chromosome Position MarkerName Effect_allele Non_Effect_allele Beta SE Pvalue\n{}\n", rows.join("\n")),
    )
    .unwrap();
    let out = dir.path().join("out");
    let m = extract(&table, &genome, &out, &[]);
    let v = read_batches(&out.join("variants.parquet"));
    let got: Vec<(String, String)> = strings(&v, "id")
        .into_iter()
        .zip(strings(&v, "status"))
        .map(|(id, s)| (id.unwrap_or_else(|| "-".into()), s.unwrap()))
        .collect();
    let expect = [
        ("ok_not_flipped", "ok"),
        ("ok_flipped", "ok"),
        ("ambiguous", "ok"),
        ("mismatch", "ref_mismatch"),
        ("too_long", "allele_too_long"),
        ("invalid", "invalid_allele"),
        ("no_contig", "contig_not_in_genome"),
        ("past_end", "position_out_of_range"),
        ("pos_zero", "position_out_of_range"),
        ("bad_pos", "parse_error"),
        ("-", "parse_error"),
        ("duplicate_of_first", "ok"),
        ("near_start", "ok"),
    ];
    assert_eq!(got.len(), rows.len(), "every input row comes out");
    for ((id, st), (eid, est)) in got.iter().zip(expect) {
        assert_eq!((id.as_str(), st.as_str()), (eid, est));
    }
    let flipped = bools(&v, "flipped");
    let amb = bools(&v, "ambiguous_strand");
    assert_eq!(&flipped[..3], &[Some(false), Some(true), Some(false)]);
    assert_eq!(&amb[..3], &[Some(false), Some(false), Some(true)]);
    assert_eq!(strings(&v, "ref")[1].as_deref(), Some(&*base(pc).to_string()), "flipped: effect allele is ref");
    assert_eq!(strings(&v, "alt")[1].as_deref(), Some("T"));
    let detail = strings(&v, "status_detail");
    assert!(detail[10].as_deref().unwrap().contains("line 12"), "parse errors name their line: {:?}", detail[10]);
    assert_eq!(i64s(&v, "pos")[0], Some(pa as i64));
    assert_eq!(f64s(&v, "beta")[1], Some(-0.1));
    // Unique windows: the duplicate adds none, and `ambiguous` shares its ref window with the first row
    // (same position): 2 + 2 + 1 + 0 + 2.
    assert_eq!(m["shards"][0]["variants"], 5);
    assert_eq!(m["shards"][0]["sequences"], 7);
    for s in [
        "ok",
        "ref_mismatch",
        "allele_too_long",
        "invalid_allele",
        "contig_not_in_genome",
        "position_out_of_range",
        "parse_error",
    ] {
        assert!(m["status_counts"][s].as_u64().unwrap() > 0, "{s} produced");
    }

    // Filters: region, p-value, top; bad rows are always reported.
    let out2 = dir.path().join("out2");
    let m2 = extract(&table, &genome, &out2, &["--max-pvalue", "1e-5"]);
    assert_eq!(m2["status_counts"]["ok"], 3);
    assert_eq!(m2["status_counts"]["parse_error"], 2);
    let m3 = extract(&table, &genome, &out2, &["--top", "1", "--region", &format!("chr20:{}-{}", pc, pc)]);
    assert_eq!(m3["rows"], 3, "one kept + two parse errors: {m3}");
    assert_eq!(m3["filtered"]["outside_region"], 10);
}

/// Kunkle-layout indel rows built on the real chr20 slice, with the alleles in both orders: the allele that
/// matches the genome over its whole length is the ref (the longer one when both do), `flipped` says when
/// that is the effect allele, and the windows hold real sequence.
#[test]
fn kunkle_indels_in_both_orientations_on_a_real_genome() {
    let Some(real) = real_data() else { return };
    let dir = tempfile::tempdir().unwrap();
    let genome = linked_genome(&real, "varda_hg19_chr20_1-200000.fa", dir.path());
    let chr20 = naive_fasta(&real.join("genome/varda_hg19_chr20_1-200000.fa")).remove(0).1;
    let at = |p: usize| chr20[p - 1] as char; // 1-based
                                              // Deletion of the two bases after X at p (REF XYZ, ALT X): already normalised when the last bases differ
                                              // (Z != X); pick such a real position.
    let pd = (120_001..190_000).find(|&p| at(p) != 'N' && at(p + 2) != at(p)).unwrap();
    let del: String = (pd..pd + 3).map(at).collect();
    let x = at(pd).to_string();
    // Insertion after X at pi of two bases that the genome does not continue with and that do not end in X.
    let pi = (150_001..190_000).find(|&p| at(p) != 'N' && at(p + 1) != 'C' && at(p) != 'G').unwrap();
    let xi = at(pi).to_string();
    let ins = format!("{xi}CG");
    let rows = [
        format!("20 {pd} del_other_is_ref {x} {del} 0.1 0.01 1e-3"),
        format!("20 {pd} del_effect_is_ref {del} {x} 0.1 0.01 1e-3"),
        format!("chr20 {pi} ins_other_is_ref {ins} {xi} 0.1 0.01 1e-3"),
        format!("chr20 {pi} ins_effect_is_ref {xi} {ins} 0.1 0.01 1e-3"),
        format!("20 {pd} 20:{pd}:D {} {x} 0.1 0.01 1e-3", del.to_lowercase()),
    ];
    let table = dir.path().join("t.txt");
    std::fs::write(
        &table,
        format!("Chromosome Position MarkerName Effect_allele Non_Effect_allele Beta SE Pvalue\n{}\n", rows.join("\n")),
    )
    .unwrap();
    let out = dir.path().join("out");
    let m = extract(&table, &genome, &out, &["--rc", "--shifts=-1,0,1"]);
    let v = read_batches(&out.join("variants.parquet"));
    let ids = strings(&v, "id");
    assert_eq!(ids.len(), rows.len(), "every input row comes out once");
    let col = |name: &str| strings(&v, name).into_iter().map(|s| s.unwrap_or_default()).collect::<Vec<_>>();
    let (status, refs, alts, types) = (col("status"), col("ref"), col("alt"), col("variant_type"));
    let flipped = bools(&v, "flipped");
    let want = [
        (del.as_str(), x.as_str(), "deletion", false),
        (del.as_str(), x.as_str(), "deletion", true),
        (xi.as_str(), ins.as_str(), "insertion", false),
        (xi.as_str(), ins.as_str(), "insertion", true),
        (del.as_str(), x.as_str(), "deletion", true),
    ];
    for (i, (r, a, t, f)) in want.iter().enumerate() {
        assert_eq!(status[i], "ok", "{:?}", ids[i]);
        assert_eq!(
            (refs[i].as_str(), alts[i].as_str(), types[i].as_str(), flipped[i]),
            (*r, *a, *t, Some(*f)),
            "{:?}",
            ids[i]
        );
    }
    assert_eq!(i64s(&v, "norm_pos")[0], Some(pd as i64));
    // 3 roles × 3 shifts × 2 strands = 18 members, 16 distinct: with |Δ| = 2, A′ shifted by +1 is A shifted
    // by −1 (both are H from s − 1 for the deletion), and so on. The first two rows (and the last) are the
    // same variant: the same windows, stored once.
    assert_eq!(m["shards"][0]["variants"], 5);
    assert_eq!(m["shards"][0]["sequences"], 32);
    assert_eq!(m["rc"], true);
    let sequences: HashMap<String, String> =
        sequence_rows(&out.join(m["shards"][0]["path"].as_str().unwrap())).into_iter().collect();
    // The forward unshifted R window is the plain window at the given position.
    let rid = col("ref_seq_id");
    assert_eq!(sequences[&rid[0]].as_bytes(), &naive_window(&chr20, pd as i64, L)[..]);
    // A deletion's A window: the genome with the two bases removed, real sequence to the end.
    let mut h = chr20.clone();
    h.drain(pd..pd + 2);
    let aid = col("alt_seq_id");
    assert_eq!(sequences[&aid[0]].as_bytes(), &naive_window(&h, pd as i64, L)[..]);
}

#[test]
fn every_real_input_file_yields_one_row_per_variant() {
    let Some(real) = real_data() else { return };
    let dir = tempfile::tempdir().unwrap();
    let genome = linked_genome(&real, "varda_hg19_chr20_1-200000.fa", dir.path());
    let data_rows = |p: &Path| -> usize {
        let text = if p.extension().is_some_and(|e| e == "gz") {
            use std::io::Read;
            let mut s = String::new();
            flate2::read::MultiGzDecoder::new(std::fs::File::open(p).unwrap()).read_to_string(&mut s).unwrap();
            s
        } else {
            std::fs::read_to_string(p).unwrap()
        };
        text.lines().filter(|l| !l.trim().is_empty()).count() - 1
    };
    let cases: Vec<(String, usize, &str)> = vec![
        (
            "gwas/kunkle2019_stage1_layout_excerpt.hg19.txt".into(),
            data_rows(&real.join("gwas/kunkle2019_stage1_layout_excerpt.hg19.txt")),
            "Kunkle",
        ),
        (
            "gwas/mungesumstats_eduAttainOkbay.hg19.txt".into(),
            data_rows(&real.join("gwas/mungesumstats_eduAttainOkbay.hg19.txt")),
            "",
        ),
        (
            "gwas/mungesumstats_ieu-a-298.hg19.tsv.gz".into(),
            data_rows(&real.join("gwas/mungesumstats_ieu-a-298.hg19.tsv.gz")),
            "",
        ),
        (
            "gwas/qmplot_plink2_glm_linear.build_unknown.tsv".into(),
            data_rows(&real.join("gwas/qmplot_plink2_glm_linear.build_unknown.tsv")),
            "PLINK",
        ),
        (
            "vcf/mungesumstats_ALSvcf.ebi-a-GCST005647.hg19.vcf".into(),
            count_vcf_alts(&real.join("vcf/mungesumstats_ALSvcf.ebi-a-GCST005647.hg19.vcf")),
            "VCF",
        ),
        (
            "vcf/basenji_regulatory_validated.hg19.vcf".into(),
            count_vcf_alts(&real.join("vcf/basenji_regulatory_validated.hg19.vcf")),
            "VCF",
        ),
        (
            "vcf/varda_1kg_phase1_chr20_60k-145k.hg19.vcf".into(),
            count_vcf_alts(&real.join("vcf/varda_1kg_phase1_chr20_60k-145k.hg19.vcf")),
            "VCF",
        ),
    ];
    for (i, (file, rows, format)) in cases.iter().enumerate() {
        let out = dir.path().join(format!("o{i}"));
        let m = extract(&real.join(file), &genome, &out, &[]);
        let v = read_batches(&out.join("variants.parquet"));
        assert_eq!(strings(&v, "status").len(), *rows, "{file}: rows in = rows out");
        assert_eq!(m["rows"].as_u64().unwrap() as usize, *rows);
        assert!(m["input_format"].as_str().unwrap().contains(format), "{file}: {}", m["input_format"]);
    }
    // The Kunkle rows lie outside chr20 and the PLINK table's chr20 rows lie past the slice's end.
    let m = serde_json::from_slice::<serde_json::Value>(&std::fs::read(dir.path().join("o0/manifest.json")).unwrap())
        .unwrap();
    assert_eq!(m["status_counts"]["contig_not_in_genome"], 106);
    let m = serde_json::from_slice::<serde_json::Value>(&std::fs::read(dir.path().join("o3/manifest.json")).unwrap())
        .unwrap();
    assert!(m["status_counts"]["position_out_of_range"].as_u64().unwrap() > 200);
    // The GWAS-VCF carries beta/se/p in its sample column (ES:SE:LP).
    let v = read_batches(&dir.path().join("o4/variants.parquet"));
    assert_eq!(f64s(&v, "beta")[0], Some(0.0312));
    assert!((f64s(&v, "pvalue")[0].unwrap() - 10f64.powf(-0.369267)).abs() < 1e-12);
}
