//! Property tests (proptest; cargo-fuzz needs a nightly toolchain) on the parsers that read user files and the
//! cache entry reader: arbitrary bytes and arbitrary-but-structured inputs never panic, every data row of a
//! variant table comes out (as a variant or a bad row), a damaged cache entry is an error, never data
//! that differs from what was written, and the legacy pickle reader reads numpy's pickles exactly and
//! anything else as a typed error.
//!
//! The budget is fixed (`CASES` per property) so the file runs in well under a minute in release on two
//! cores. A failing case is saved under `proptest-regressions/` (commit it); a real crash found here also
//! gets an explicit regression test at the end of this file.

use std::collections::BTreeSet;
use std::io::Write;

use enformer_vep::cache::entry::{self, EntryData, EntryError, Expect};
use enformer_vep::cache::npy::{self, Dtype};
use enformer_vep::cache::pickle::{self, PickleError};
use enformer_vep::cache::StoreMode;
use enformer_vep::extract::Region;
use enformer_vep::variants::{Candidate, ColumnOverrides, InputError, Record, Role, VariantReader};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

/// Cases per property (about 10 s for the whole file in release on two cores); `PROPTEST_CASES=N` overrides it for a
/// deeper local search.
const CASES: u32 = 8192;

/// Failing cases are saved in `proptest-regressions/proptest_parsers.txt` (relative to the package root,
/// where cargo runs integration tests) and replayed first on every run.
fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(CASES),
        max_shrink_iters: 2048,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/proptest_parsers.txt",
        ))),
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------------------------
// Variant tables and VCF, through the public reader (every layout, plain and gzip).

/// Opens `bytes` as a variant file and reads every record; the first stream error ends the reading.
fn read_all(bytes: &[u8], overrides: &ColumnOverrides) -> Result<(Vec<Record>, Option<InputError>), InputError> {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(bytes).unwrap();
    f.flush().unwrap();
    let reader = VariantReader::open(f.path(), overrides)?;
    let mut records = Vec::new();
    let mut error = None;
    for r in reader {
        match r {
            Ok(rec) => records.push(rec),
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    // The parallel block reader of extract-seqs gives the same records and error.
    let mut by_blocks = Vec::new();
    let r: Result<(), InputError> =
        VariantReader::open(f.path(), overrides)?.for_each_block(&|_: &Candidate<'_>, _: &mut ()| true, |recs, ()| {
            by_blocks.extend(recs);
            Ok(())
        });
    assert_eq!(by_blocks, records, "block reader vs line reader");
    assert_eq!(r.err().map(|e| e.to_string()), error.as_ref().map(ToString::to_string));
    Ok((records, error))
}

fn line_of(r: &Record) -> u64 {
    match r {
        Record::Variant(v) => v.line,
        Record::Bad(b) => b.line,
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// The header layouts the reader recognises, as (header lines, is VCF, data delimiter).
const LAYOUTS: [(&str, bool, &str); 8] = [
    ("Chromosome Position MarkerName Effect_allele Non_Effect_allele Beta SE Pvalue", false, " "),
    ("#CHROM\tPOS\tID\tREF\tALT\tA1\tTEST\tOBS_CT\tBETA\tSE\tT_STAT\tP", false, "\t"),
    ("CHR\tBP\tSNP\tA1\tA2\tBETA\tSE\tP", false, "\t"),
    ("SNP,CHR,BP,A1,A2,OR,P", false, ","),
    ("CHR BP A1 A2 LOG10P", false, " "),
    ("MarkerName\tCHR\tPOS\tA1\tA2\tEAF\tBeta\tSE\tPval", false, "\t"),
    (
        "##fileformat=VCFv4.2\n##FORMAT=<ID=ES,Number=A>\n##FORMAT=<ID=SE,Number=A>\n##FORMAT=<ID=LP,Number=A>\n\
         #CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1",
        true,
        "\t",
    ),
    ("#CHROM\tPOS\tID\tREF\tALT", true, "\t"),
];

/// One field: mostly tokens that matter to the parsers (alleles, missing values, numbers at the edges,
/// symbolic ALTs, FORMAT strings), sometimes arbitrary text.
fn field() -> impl Strategy<Value = String> {
    let tokens: Vec<&'static str> = vec![
        "",
        "NA",
        ".",
        "-",
        "nan",
        "A",
        "C",
        "G",
        "T",
        "a",
        "g",
        "N",
        "AC",
        "TGGA",
        "<DEL>",
        "*",
        "A,<DEL>",
        "T,C",
        "G]17:198982]",
        "I",
        "D",
        "20",
        "chr20",
        "X",
        "MT",
        "0",
        "-5",
        "1e6",
        "1.5",
        "1e400",
        "inf",
        "NaN",
        "-0",
        "9223372036854775807",
        "9223372036854775808",
        "-9223372036854775808",
        "ADD",
        "DOMDEV",
        "ES:SE:LP",
        "0.1:0.2:3",
        "0.1,0.2:0.01:.",
        "x:y:z",
        "ES:SE:LP:ID",
        "1:1:1:rs1",
        "\"quoted\"",
        "é",
        "\u{feff}",
        "#",
        "##x",
    ];
    prop_oneof![
        6 => proptest::sample::select(tokens).prop_map(str::to_string),
        2 => (-1000i64..300_000).prop_map(|x| x.to_string()),
        1 => any::<f64>().prop_map(|x| x.to_string()),
        1 => "[ -~]{0,10}",
        1 => ".{0,6}",
    ]
}

/// One data line's bytes (without its end of line): fields joined by the layout's delimiter or a wrong one,
/// or raw bytes (invalid UTF-8, NUL).
fn data_line(delimiter: &'static str) -> impl Strategy<Value = Vec<u8>> {
    let joined = (
        proptest::collection::vec(field(), 0..14),
        prop_oneof![8 => Just(delimiter), 1 => Just("\t"), 1 => Just(" "), 1 => Just(","), 1 => Just(";")],
    )
        .prop_map(|(fields, d)| fields.join(d).into_bytes());
    prop_oneof![
        10 => joined,
        1 => proptest::collection::vec(any::<u8>().prop_filter("no newline", |b| *b != b'\n'), 0..40),
        1 => Just(Vec::new()),
    ]
}

#[derive(Debug, Clone)]
struct TableFile {
    layout: usize,
    lines: Vec<Vec<u8>>,
    crlf: bool,
    bom: bool,
    gzip: bool,
}

fn table_file() -> impl Strategy<Value = TableFile> {
    (0..LAYOUTS.len())
        .prop_flat_map(|layout| {
            (
                Just(layout),
                proptest::collection::vec(data_line(LAYOUTS[layout].2), 0..24),
                any::<bool>(),
                any::<bool>(),
                any::<bool>(),
            )
        })
        .prop_map(|(layout, lines, crlf, bom, gzip)| TableFile { layout, lines, crlf, bom, gzip })
}

impl TableFile {
    fn bytes(&self) -> Vec<u8> {
        let eol: &[u8] = if self.crlf { b"\r\n" } else { b"\n" };
        let out = self.bytes_with_eol(eol);
        if self.gzip {
            gzip(&out)
        } else {
            out
        }
    }

    /// The uncompressed text with `eol` ending every line.
    fn bytes_with_eol(&self, eol: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        if self.bom {
            out.extend_from_slice("\u{feff}".as_bytes());
        }
        for l in LAYOUTS[self.layout].0.lines() {
            out.extend_from_slice(l.as_bytes());
            out.extend_from_slice(eol);
        }
        for l in &self.lines {
            out.extend_from_slice(l);
            out.extend_from_slice(eol);
        }
        out
    }

    /// 1-based line numbers that must each come out as at least one record: every line after the header that
    /// is not blank (for a VCF: and not a `#` line, which is a repeated header).
    fn expected_lines(&self) -> BTreeSet<u64> {
        let first = LAYOUTS[self.layout].0.lines().count() as u64 + 1;
        let is_vcf = LAYOUTS[self.layout].1;
        let mut out = BTreeSet::new();
        for (i, raw) in self.lines.iter().enumerate() {
            // What the reader sees: the end of line removed, and one '\r' before a lone '\n'.
            let seen = if !self.crlf { raw.strip_suffix(b"\r").unwrap_or(raw) } else { &raw[..] };
            let expected = match std::str::from_utf8(seen) {
                Err(_) => true,
                // NUL bytes make a bad row before a VCF's `#` lines are skipped.
                Ok(t) => {
                    let skipped_header = is_vcf && t.starts_with('#') && !t.contains('\0');
                    !t.trim().is_empty() && !skipped_header
                }
            };
            if expected {
                out.insert(first + i as u64);
            }
        }
        out
    }
}

proptest! {
    #![proptest_config(config())]

    /// Arbitrary bytes, alone or after a valid header, plain or gzip: Ok with records or a typed error.
    #[test]
    fn arbitrary_bytes_never_panic(
        prefix in prop_oneof![
            Just(""),
            Just("CHR\tBP\tA1\tA2\n"),
            Just("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n"),
            Just("Chromosome Position MarkerName Effect_allele Non_Effect_allele Beta SE Pvalue\n"),
        ],
        body in proptest::collection::vec(any::<u8>(), 0..1500),
        compress in any::<bool>(),
    ) {
        let mut bytes = prefix.as_bytes().to_vec();
        bytes.extend_from_slice(&body);
        let bytes = if compress { gzip(&bytes) } else { bytes };
        if let Ok((records, _)) = read_all(&bytes, &ColumnOverrides::default()) {
            let lines: Vec<u64> = records.iter().map(line_of).collect();
            prop_assert!(lines.windows(2).all(|w| w[0] <= w[1]), "records in line order: {lines:?}");
        }
    }

    /// Structured files in every layout, with bad fields, wrong delimiters, raw bytes, CRLF, BOM and gzip:
    /// the header is accepted and every data line comes out, as a variant or a bad row, in order.
    #[test]
    fn every_data_row_of_a_structured_file_comes_out(file in table_file()) {
        let (records, err) = read_all(&file.bytes(), &ColumnOverrides::default())
            .map_err(|e| TestCaseError::fail(format!("header rejected: {e}")))?;
        prop_assert!(err.is_none(), "stream error on a complete file: {err:?}");
        let lines: Vec<u64> = records.iter().map(line_of).collect();
        prop_assert!(lines.windows(2).all(|w| w[0] <= w[1]), "records in line order: {lines:?}");
        let got: BTreeSet<u64> = lines.iter().copied().collect();
        prop_assert_eq!(&got, &file.expected_lines());
        if !LAYOUTS[file.layout].1 {
            prop_assert_eq!(lines.len(), got.len(), "a table row gives exactly one record");
        }
        for r in &records {
            if let Record::Bad(b) = r {
                let prefix = format!("line {}: ", b.line);
                prop_assert!(b.message.starts_with(&prefix), "bad-row message names its line: {}", b.message);
            }
        }
    }

    /// A structured gzip file cut anywhere: a typed error (at open or at the end of the stream), never a
    /// panic, and the records before the error belong to real lines.
    #[test]
    fn truncated_gzip_is_a_typed_error(file in table_file(), cut in any::<proptest::sample::Index>()) {
        let full = gzip(&TableFile { gzip: false, ..file.clone() }.bytes());
        let cut = cut.index(full.len());
        match read_all(&full[..cut], &ColumnOverrides::default()) {
            Err(_) => {}
            Ok((records, err)) => {
                let expected = file.expected_lines();
                prop_assert!(records.iter().all(|r| expected.contains(&line_of(r))));
                // Only a cut inside the 8-byte gzip trailer may go unnoticed (the data is complete).
                if err.is_none() {
                    prop_assert!(cut + 8 >= full.len(), "a gzip cut at {cut} of {} went unnoticed", full.len());
                }
            }
        }
    }

    /// `--columns` values: parsed or refused with a message; a parsed one either maps a table or names the
    /// missing column.
    #[test]
    fn column_overrides_never_panic(spec in "[a-zA-Z_=, 0-9-]{0,40}", file in table_file()) {
        match spec.parse::<ColumnOverrides>() {
            Err(msg) => prop_assert!(!msg.to_string().trim().is_empty(), "a refused --columns says why"),
            Ok(o) => match read_all(&file.bytes(), &o) {
                // Mapped: every record comes from a real line of the file.
                Ok((records, _)) => {
                    let expected = file.expected_lines();
                    prop_assert!(records.iter().all(|r| expected.contains(&line_of(r))));
                }
                // Not mapped: the message names a column the override gave, or the roles left unmapped.
                Err(e @ (InputError::OverrideColumnAbsent { .. } | InputError::UnmappedColumns { .. })) => {
                    let named = Role::ALL.iter().filter_map(|&r| o.get(r)).any(|c| e.to_string().contains(c));
                    prop_assert!(named || matches!(e, InputError::UnmappedColumns { .. }), "{e}");
                }
                Err(_) => {}
            },
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Line ends, p-values and `--region` coordinates.

/// A p-value cell: numbers at and around the edges of [0, 1], missing tokens, NaN, infinities, PLINK's -9.
fn pvalue_text() -> impl Strategy<Value = String> {
    let tokens = vec![
        "0",
        "1",
        "-0",
        "1.0",
        "0.5",
        "1e-300",
        "5e-324",
        "-1",
        "2",
        "-9",
        "-9.0",
        "1.0000001",
        "-1e-300",
        "NaN",
        "nan",
        "inf",
        "-inf",
        "Infinity",
        "NA",
        ".",
        "",
        "x",
    ];
    prop_oneof![
        3 => proptest::sample::select(tokens).prop_map(str::to_string),
        2 => any::<f64>().prop_map(|x| x.to_string()),
        2 => (-2.0f64..2.0).prop_map(|x| format!("{x:e}")),
    ]
}

proptest! {
    #![proptest_config(config())]

    /// The same table with LF, CRLF and old-Mac CR line ends (any layout, plain or gzip) gives the same
    /// records, line numbers included: a CR-only file is never folded into its header.
    #[test]
    fn lf_crlf_and_cr_line_ends_give_the_same_records(file in table_file()) {
        let mut file = file;
        for l in &mut file.lines {
            l.retain(|&b| b != b'\r');
        }
        let (lf, _) = read_all(&TableFile { crlf: false, ..file.clone() }.bytes(), &ColumnOverrides::default())
            .map_err(|e| TestCaseError::fail(format!("header rejected: {e}")))?;
        let crlf = read_all(&TableFile { crlf: true, ..file.clone() }.bytes(), &ColumnOverrides::default());
        prop_assert_eq!(&crlf.map(|r| r.0).map_err(|e| e.to_string()), &Ok(lf.clone()));
        let mut cr = file.clone().bytes_with_eol(b"\r");
        if file.gzip {
            cr = gzip(&cr);
        }
        let cr = read_all(&cr, &ColumnOverrides::default()).map(|r| r.0).map_err(|e| e.to_string());
        prop_assert_eq!(&cr, &Ok(lf));
    }

    /// A row is scored only with a p-value in [0, 1] (or none): NaN, infinities, PLINK's -9 and values out of
    /// range are bad rows naming the line, as are negative -log10(p) values.
    #[test]
    fn only_p_values_in_0_1_come_out_as_variants(ps in proptest::collection::vec(pvalue_text(), 1..20), lp in any::<bool>()) {
        let column = if lp { "LOG10P" } else { "P" };
        let mut text = format!("CHR\tBP\tSNP\tA1\tA2\t{column}\n");
        for (i, p) in ps.iter().enumerate() {
            text.push_str(&format!("1\t{}\trs{i}\tA\tG\t{p}\n", 100 + i));
        }
        let (records, err) = read_all(text.as_bytes(), &ColumnOverrides::default()).unwrap();
        prop_assert!(err.is_none());
        prop_assert_eq!(records.len(), ps.len());
        for (r, p) in records.iter().zip(&ps) {
            let t = p.trim();
            let missing = ["NA", ".", ""].contains(&t);
            let value = t.parse::<f64>().ok().filter(|x| x.is_finite());
            let valid = missing || value.is_some_and(|x| if lp { x >= 0.0 } else { (0.0..=1.0).contains(&x) });
            match r {
                Record::Variant(v) => {
                    prop_assert!(valid, "{column} '{p}' was accepted: {v:?}");
                    prop_assert!(v.pvalue.is_none_or(|x| (0.0..=1.0).contains(&x)), "{column} '{p}' gave {:?}", v.pvalue);
                }
                Record::Bad(b) => {
                    prop_assert!(!valid, "{column} '{p}' was refused: {}", b.message);
                    prop_assert!(b.message.starts_with(&format!("line {}: {column} '", b.line)), "{}", b.message);
                }
            }
        }
    }

    /// `--region` coordinates: every position written plainly, with thousands commas or in integer-valued
    /// scientific notation reads as itself; a fraction of a base is refused; arbitrary text never panics.
    #[test]
    fn region_coordinates_read_exactly(n in 1i64..=9_000_000_000_000_000_000, junk in "[0-9eE.,+-]{0,12}") {
        let digits = n.to_string();
        let zeros = digits.len() - digits.trim_end_matches('0').len();
        let m = digits.trim_end_matches('0');
        let mut forms = vec![digits.clone(), format!("{m}e{zeros}"), format!("{m}E+{zeros}")];
        if m.len() > 1 {
            forms.push(format!("{}.{}e{}", &m[..1], &m[1..], zeros + m.len() - 1));
        }
        let commas: Vec<String> = digits.as_bytes().rchunks(3).rev().map(|c| String::from_utf8(c.to_vec()).unwrap()).collect();
        forms.push(commas.join(","));
        for f in &forms {
            let r: Region = format!("chr1:{f}-{f}").parse().map_err(TestCaseError::fail)?;
            prop_assert_eq!((r.start, r.end), (n, n), "{}", f);
        }
        let fraction = format!("{digits}.5e0");
        let err = format!("chr1:{fraction}").parse::<Region>().unwrap_err();
        prop_assert!(err.contains("is not a whole number of bases"), "{}", err);
        let _ = format!("chr1:{junk}").parse::<Region>();
        let _ = format!("chr1:1-{junk}").parse::<Region>();
    }
}

// ---------------------------------------------------------------------------------------------------------
// Cache entries: encode → damage → decode.

fn store_mode() -> impl Strategy<Value = StoreMode> {
    prop_oneof![Just(StoreMode::Float32), Just(StoreMode::Float16), Just(StoreMode::Summary)]
}

#[derive(Debug, Clone)]
enum Damage {
    BitFlip(proptest::sample::Index, u8),
    Truncate(proptest::sample::Index),
    SetByte(proptest::sample::Index, u8),
    Append(Vec<u8>),
    FlipAndTruncate(proptest::sample::Index, u8, proptest::sample::Index),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        4 => (any::<proptest::sample::Index>(), 0u8..8).prop_map(|(i, b)| Damage::BitFlip(i, b)),
        2 => any::<proptest::sample::Index>().prop_map(Damage::Truncate),
        2 => (any::<proptest::sample::Index>(), any::<u8>()).prop_map(|(i, v)| Damage::SetByte(i, v)),
        1 => proptest::collection::vec(any::<u8>(), 1..16).prop_map(Damage::Append),
        1 => (any::<proptest::sample::Index>(), 0u8..8, any::<proptest::sample::Index>())
            .prop_map(|(i, b, t)| Damage::FlipAndTruncate(i, b, t)),
    ]
}

fn apply(bytes: &[u8], d: &Damage) -> Vec<u8> {
    let mut out = bytes.to_vec();
    match d {
        Damage::BitFlip(i, b) => out[i.index(bytes.len())] ^= 1 << b,
        Damage::Truncate(i) => out.truncate(i.index(bytes.len())),
        Damage::SetByte(i, v) => out[i.index(bytes.len())] = *v,
        Damage::Append(extra) => out.extend_from_slice(extra),
        Damage::FlipAndTruncate(i, b, t) => {
            out[i.index(bytes.len())] ^= 1 << b;
            out.truncate(t.index(bytes.len()));
        }
    }
    out
}

/// What a successful decode returned must be self-consistent with the shape it reports.
fn consistent(data: &EntryData, shape: [usize; 2]) -> bool {
    match data {
        EntryData::Full(v) => shape[0].checked_mul(shape[1]) == Some(v.len()),
        EntryData::Summary(s) => {
            shape[0] == 6 && [&s.total, &s.center, &s.mirror].iter().all(|h| h.iter().all(|v| v.len() == shape[1]))
        }
    }
}

/// The identity the entry properties read with (what is read never carries another one).
const ANY_ID: entry::Identity = entry::Identity { seq_id: "k", namespace: "n" };

/// A valid zstd frame (content size and checksum) around `raw`: what a hand-made or foreign entry looks like.
fn zstd_frame(raw: &[u8]) -> Vec<u8> {
    let mut c = zstd::bulk::Compressor::new(1).unwrap();
    c.include_checksum(true).unwrap();
    c.include_contentsize(true).unwrap();
    c.compress(raw).unwrap()
}

/// Array dimensions, biased to the edges: small, powers of two (whose products wrap), huge.
fn dim() -> impl Strategy<Value = usize> {
    prop_oneof![
        4 => 0usize..12,
        3 => (0u32..64).prop_map(|k| 1usize << k),
        1 => any::<usize>(),
    ]
}

proptest! {
    #![proptest_config(config())]

    /// A damaged entry (bit flip, truncation, changed byte, trailing bytes) is an error, or decodes to exactly
    /// the data that was written; never to other data.
    #[test]
    fn damaged_entries_are_errors_never_other_data(
        store in store_mode(),
        bins in 1usize..6,
        tracks in 1usize..6,
        seed in proptest::collection::vec(-60000f32..60000f32, 36),
        damage in damage(),
    ) {
        let output: Vec<f32> = (0..bins * tracks).map(|i| seed[i % seed.len()] * (1.0 + i as f32 * 1e-3)).collect();
        let id = entry::Identity { seq_id: "k", namespace: "n" };
        let bytes = entry::encode(store, &output, bins, tracks, 0..bins.min(2), &id).unwrap();
        let original = entry::decode(&bytes, store, bins, tracks, &id).unwrap();
        let damaged = apply(&bytes, &damage);
        for expect in [Expect::exact(bins, tracks), Expect::default()] {
            for binding in [entry::Binding::Required, entry::Binding::Optional] {
                if let Ok(d) = entry::decode_expecting(&damaged, store, expect, &id, binding) {
                    prop_assert!(damaged == bytes || d.data == original, "damage {damage:?} read back as other data");
                    prop_assert!(consistent(&d.data, d.shape));
                }
            }
        }
    }

    /// Arbitrary bytes as an entry: an error for every store mode, never a panic.
    #[test]
    fn arbitrary_bytes_are_not_an_entry(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        for store in [StoreMode::Float32, StoreMode::Float16, StoreMode::Summary] {
            prop_assert!(entry::decode_expecting(&bytes, store, Expect::default(), &ANY_ID, entry::Binding::Optional).is_err());
            prop_assert!(entry::decode(&bytes, store, 4, 4, &ANY_ID).is_err());
        }
    }

    /// A valid zstd frame holding a `.npy` array of any dtype and shape (dimensions whose product overflows
    /// included) and any number of data bytes: a typed error, or data consistent with the shape reported.
    #[test]
    fn foreign_npy_in_a_valid_frame_is_checked(
        dtype in prop_oneof![Just(Dtype::U8), Just(Dtype::F16), Just(Dtype::F32), Just(Dtype::F64)],
        shape in proptest::collection::vec(dim(), 0..4),
        data_len in prop_oneof![Just(0usize), 0usize..200],
        store in store_mode(),
        exact in proptest::option::of((dim(), dim())),
    ) {
        let mut raw = npy::header(dtype, &shape);
        raw.extend(std::iter::repeat_n(0x3c, data_len));
        let bytes = zstd_frame(&raw);
        let expect = exact.map(|(b, t)| Expect::exact(b, t)).unwrap_or_default();
        match entry::decode_expecting(&bytes, store, expect, &ANY_ID, entry::Binding::Optional) {
            Ok(d) => prop_assert!(consistent(&d.data, d.shape), "inconsistent {:?}", d.shape),
            Err(EntryError::Corrupt(_) | EntryError::Shape { .. }) => {}
            Err(e) => prop_assert!(false, "unexpected error kind: {e}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Legacy pickles: numpy's encoding of any float array reads back exactly; damaged, arbitrary and hostile opcode
// streams are typed errors, never a panic, a stack overflow or unbounded work.

/// numpy's pickle of an array, as `pickle.dumps(a, protocol=4)` (`_reconstruct` + BUILD) or `protocol=5`
/// (`_frombuffer`) writes it; `data` is already in the array's memory order and byte order.
fn numpy_pickle(shape: &[usize], descr: &str, fortran: bool, data: &[u8], proto5: bool) -> Vec<u8> {
    let (order, code) = descr.split_at(1);
    let shape_tuple = |p: &mut Vec<u8>| {
        p.push(b'(');
        for &d in shape {
            p.extend_from_slice(b"\x8a\x08");
            p.extend_from_slice(&(d as u64).to_le_bytes());
        }
        p.push(b't');
    };
    let dtype = |p: &mut Vec<u8>| {
        p.extend_from_slice(b"\x8c\x02");
        p.extend_from_slice(code.as_bytes());
        p.extend_from_slice(b"\x94\x89\x88\x87\x94R\x94(K\x03\x8c\x01");
        p.extend_from_slice(order.as_bytes());
        p.extend_from_slice(b"\x94NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t\x94b");
    };
    if proto5 {
        let mut p = b"\x80\x05\x8c\x13numpy._core.numeric\x94\x8c\x0b_frombuffer\x94\x93\x94(\x96".to_vec();
        p.extend_from_slice(&(data.len() as u64).to_le_bytes());
        p.extend_from_slice(data);
        p.extend_from_slice(b"\x94\x8c\x05numpy\x94\x8c\x05dtype\x94\x93\x94");
        dtype(&mut p);
        shape_tuple(&mut p);
        p.extend_from_slice(if fortran { b"\x8c\x01F\x94t\x94R\x94." } else { b"\x8c\x01C\x94t\x94R\x94." });
        return p;
    }
    let mut p = b"\x80\x04\x8c\x16numpy._core.multiarray\x94\x8c\x0c_reconstruct\x94\x93\x94".to_vec();
    p.extend_from_slice(b"\x8c\x05numpy\x94\x8c\x07ndarray\x94\x93\x94K\x00\x85\x94C\x01b\x94\x87\x94R\x94(K\x01");
    shape_tuple(&mut p);
    p.extend_from_slice(b"h\x03\x8c\x05dtype\x94\x93\x94");
    dtype(&mut p);
    p.push(if fortran { 0x88 } else { 0x89 });
    p.push(0x8e);
    p.extend_from_slice(&(data.len() as u64).to_le_bytes());
    p.extend_from_slice(data);
    p.extend_from_slice(b"t\x94b.");
    p
}

/// One value as `descr` stores it, and what reading it back as float32 gives.
fn stored(v: f32, descr: &str) -> (Vec<u8>, f32) {
    let (mut bytes, back) = match &descr[1..] {
        "f2" => {
            let h = half::f16::from_f32(v);
            (h.to_le_bytes().to_vec(), h.to_f32())
        }
        "f4" => (v.to_le_bytes().to_vec(), v),
        _ => ((v as f64).to_le_bytes().to_vec(), v),
    };
    if descr.starts_with('>') {
        bytes.reverse();
    }
    (bytes, back)
}

/// Pickle opcodes for containers, the memo and the stack (no globals, so they never make an array).
const SOUP: [&[u8]; 24] = [
    b"(", b"t", b")", b"\x85", b"\x86", b"\x87", b"]", b"a", b"e", b"l", b"}", b"s", b"u", b"d", b"q\x00", b"h\x00",
    b"\x94", b"N", b"K\x01", b"0", b"1", b"2", b"b", b"R",
];

/// A stream of up to 2000 such opcodes.
fn opcode_soup() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(0..SOUP.len(), 0..2000).prop_map(|ts| {
        let mut p = b"\x80\x02".to_vec();
        for t in ts {
            p.extend_from_slice(SOUP[t]);
        }
        p.push(b'.');
        p
    })
}

proptest! {
    #![proptest_config(config())]

    /// Any float16/32/64 array of either byte order, C or Fortran order, [rows, cols] or [1, rows, cols], in
    /// protocol 4 or 5, reads back as exactly the C-ordered float32 values numpy would give.
    #[test]
    fn numpy_pickles_of_any_float_array_read_back_exactly(
        rows in 1usize..7,
        cols in 1usize..7,
        descr in prop_oneof![Just("<f2"), Just(">f2"), Just("<f4"), Just(">f4"), Just("<f8"), Just(">f8")],
        fortran: bool,
        leading_one: bool,
        proto5: bool,
        seed in proptest::collection::vec(-60000f32..60000f32, 36),
    ) {
        let values: Vec<f32> = (0..rows * cols).map(|i| seed[i % seed.len()] * (1.0 + i as f32 * 1e-3)).collect();
        let memory_order: Vec<usize> = if fortran {
            (0..cols).flat_map(|c| (0..rows).map(move |r| r * cols + c)).collect()
        } else {
            (0..rows * cols).collect()
        };
        let data: Vec<u8> = memory_order.iter().flat_map(|&i| stored(values[i], descr).0).collect();
        let want: Vec<u32> = values.iter().map(|&v| stored(v, descr).1.to_bits()).collect();
        let shape = if leading_one { vec![1, rows, cols] } else { vec![rows, cols] };
        let p = numpy_pickle(&shape, descr, fortran, &data, proto5);
        let a = pickle::load_array(&p, "human").unwrap();
        prop_assert_eq!(&a.shape, &shape);
        let got: Vec<u32> = a.to_f32_matrix(rows, cols).unwrap().iter().map(|v| v.to_bits()).collect();
        prop_assert_eq!(got, want);
    }

    /// A damaged numpy pickle is a typed error, or an array whose conversion is an error or holds exactly its
    /// shape's values.
    #[test]
    fn damaged_pickles_are_errors_or_consistent_arrays(
        rows in 1usize..5,
        cols in 1usize..5,
        proto5: bool,
        damage in damage(),
    ) {
        let data: Vec<u8> = (0..rows * cols).flat_map(|i| (i as f32).to_le_bytes()).collect();
        let p = apply(&numpy_pickle(&[rows, cols], "<f4", false, &data, proto5), &damage);
        if let Ok(a) = pickle::load_array(&p, "human") {
            if let [r, c] = a.shape[..] {
                if let Ok(v) = a.to_f32_matrix(r, c) {
                    prop_assert_eq!(Some(v.len()), r.checked_mul(c));
                }
            }
        }
    }

    /// Arbitrary container, memo and stack opcodes (thousands, nested any way) and arbitrary bytes: a typed
    /// error, never a panic or a stack overflow (which would abort this test binary).
    #[test]
    fn opcode_soup_and_arbitrary_bytes_are_errors(soup in opcode_soup(), bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        prop_assert!(pickle::load_array(&soup, "human").is_err());
        prop_assert!(pickle::load_array(&bytes, "human").is_err());
    }

    /// Tuples nested n deep: refused past MAX_DEPTH with TooDeep, whichever way they are built.
    #[test]
    fn nesting_deeper_than_the_limit_is_refused(n in 1usize..200_000, marks: bool) {
        let mut p = b"\x80\x02".to_vec();
        if marks {
            p.extend(std::iter::repeat_n(b'(', n));
            p.extend(std::iter::repeat_n(b't', n));
        } else {
            p.push(b')');
            p.extend(std::iter::repeat_n(0x85u8, n - 1));
        }
        p.push(b'.');
        match pickle::load_array(&p, "human") {
            Err(PickleError::TooDeep { .. }) => prop_assert!(n > pickle::MAX_DEPTH),
            Err(PickleError::TooManyOps) => prop_assert!(2 * n > pickle::MAX_OPS),
            Err(PickleError::NotArray(_)) => prop_assert!(n <= pickle::MAX_DEPTH),
            other => prop_assert!(false, "{other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Regression tests for crashes the properties found.

/// `foreign_npy_in_a_valid_frame_is_checked` found it: 1 × 2^62 float32 values "need" 2^64 ≡ 0 bytes, so an
/// entry without data was read as a [1, 2^62] array holding nothing (and a summary of 2 × 2^63 tracks then
/// panicked slicing its data; summaries now have 6 rows).
#[test]
fn regression_entry_shape_whose_size_wraps_around() {
    for (dtype, shape, store) in
        [(Dtype::F32, vec![1, 1 << 62], StoreMode::Float32), (Dtype::F64, vec![6, 1 << 62], StoreMode::Summary)]
    {
        let bytes = zstd_frame(&npy::header(dtype, &shape));
        let err =
            entry::decode_expecting(&bytes, store, Expect::default(), &ANY_ID, entry::Binding::Optional).unwrap_err();
        assert!(matches!(err, EntryError::Corrupt(ref m) if m.contains("implausible shape")), "{err}");
    }
}

/// `every_data_row_of_a_structured_file_comes_out` found it: a Latin-1 byte in a data row made a gzip file
/// fatal ("does not look like a text variant table") while the same plain file gave a bad row.
#[test]
fn regression_bad_byte_in_a_gzip_data_row_is_a_bad_row() {
    let text = b"Chromosome Position MarkerName Effect_allele Non_Effect_allele Beta SE Pvalue\n\x80\n";
    for bytes in [text.to_vec(), gzip(text)] {
        let (records, err) = read_all(&bytes, &ColumnOverrides::default()).unwrap();
        assert!(err.is_none());
        assert!(matches!(&records[..], [Record::Bad(b)] if b.line == 2 && b.message.contains("UTF-8")), "{records:?}");
    }
}
