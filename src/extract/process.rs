//! One input record → one `variants.parquet` row, plus the variant's windows when it is scored.

use std::time::{Duration, Instant};

use super::windows;
use crate::ensemble::Ensemble;
use crate::genome::{Genome, GenomeError};
use crate::normalize::{normalize, VariantType};
use crate::orient::{check_alleles, orient, Rejection, Status};
use crate::tables::variants::VariantRow;
use crate::timing::Stages;
use crate::variants::Record;
use crate::window::WindowSpec;

/// What every record of one run is scored with.
#[derive(Debug, Clone)]
pub(crate) struct Scoring {
    pub window: WindowSpec,
    pub ensemble: Ensemble,
    pub max_allele_len: usize,
}

pub(crate) struct Processed {
    pub row: VariantRow,
    /// Every distinct sequence of the variant; empty when the variant is not scored.
    pub windows: Vec<crate::tables::sequences::SequenceRow>,
}

fn rejected(mut row: VariantRow, r: Rejection) -> Processed {
    row.status = Some(r.status);
    row.status_detail = Some(r.detail);
    Processed { row, windows: Vec::new() }
}

/// Genome bases left of a position, fetched a block at a time while normalisation walks left.
struct LeftBases<'g> {
    genome: &'g Genome,
    contig: usize,
    start: i64,
    bases: Vec<u8>,
}

impl LeftBases<'_> {
    const BLOCK: i64 = 256;

    fn base(&mut self, i: u64) -> Result<u8, GenomeError> {
        let i = i as i64;
        if i < self.start || i >= self.start + self.bases.len() as i64 {
            self.start = (i + 1 - Self::BLOCK).max(0);
            let len = (i + 1 - self.start) as usize;
            self.genome.fetch(self.contig, self.start, len, &mut self.bases)?;
        }
        Ok(self.bases[(i - self.start) as usize])
    }
}

/// [`process_record`], its time counted to the `windows` stage and its hashing to the `hash` stage.
pub(crate) fn process(
    record: Record,
    genome: &Genome,
    scoring: &Scoring,
    stages: &Stages,
) -> Result<Processed, GenomeError> {
    let started = Instant::now();
    let mut hashing = Duration::ZERO;
    let out = process_record(record, genome, scoring, &mut hashing);
    stages.add("hash", hashing);
    stages.add("windows", started.elapsed().saturating_sub(hashing));
    out
}

/// Genome errors (a broken index or bgzip block) are fatal: they would hit every variant alike.
fn process_record(
    record: Record,
    genome: &Genome,
    scoring: &Scoring,
    hashing: &mut Duration,
) -> Result<Processed, GenomeError> {
    let v = match record {
        Record::Bad(bad) => {
            let row = VariantRow { line: bad.line, id: bad.id, chrom: bad.chrom, pos: bad.pos, ..Default::default() };
            // The reader's message already starts with `line N: `.
            return Ok(rejected(row, Rejection { status: Status::ParseError, detail: bad.message }));
        }
        Record::Variant(v) => v,
    };
    let row = VariantRow {
        line: v.line,
        id: v.id,
        chrom: Some(v.chrom.clone()),
        pos: Some(v.pos),
        effect_allele: Some(v.effect_allele.clone()),
        other_allele: Some(v.other_allele.clone()),
        beta: v.beta,
        se: v.se,
        pvalue: v.pvalue,
        ..Default::default()
    };
    let Some(contig) = genome.resolve(&v.chrom) else {
        let detail = format!("chromosome '{}' is not in the genome {}", v.chrom, genome.path().display());
        return Ok(rejected(row, Rejection { status: Status::ContigNotInGenome, detail }));
    };
    let rec = &genome.contigs()[contig];
    let mut row = VariantRow { contig: Some(rec.name.clone()), ..row };
    if v.pos < 1 || v.pos as u64 > rec.length {
        let detail = format!("position {} is outside {} (1..={})", v.pos, rec.name, rec.length);
        return Ok(rejected(row, Rejection { status: Status::PositionOutOfRange, detail }));
    }
    let (effect, other) = match check_alleles(&v.effect_allele, &v.other_allele, scoring.max_allele_len) {
        Ok(pair) => pair,
        Err(r) => return Ok(rejected(row, r)),
    };
    let mut here = Vec::new();
    genome.fetch(contig, v.pos - 1, effect.len().max(other.len()), &mut here)?;
    let oriented = match orient(&effect, &other, &here, v.source) {
        Ok(o) => o,
        Err(r) => return Ok(rejected(row, r)),
    };
    let mut left = LeftBases { genome, contig, start: 0, bases: Vec::new() };
    let norm = normalize((v.pos - 1) as u64, &oriented.ref_allele, &oriented.alt, |i| left.base(i))?;
    let built = windows::build(genome, contig, &norm, scoring.window, &scoring.ensemble, hashing)?;
    let first = |role| built.members.iter().find(|m| m.role == role && m.shift == 0).map(|m| m.seq_id.clone());
    row.ref_seq_id = first(crate::ensemble::Role::Ref);
    row.alt_seq_id = first(crate::ensemble::Role::Alt);
    row.variant_type = Some(VariantType::of(&norm.ref_allele, &norm.alt));
    row.norm_pos = Some(norm.pos0 as i64 + 1);
    row.ref_allele = Some(String::from_utf8_lossy(&norm.ref_allele).into_owned());
    row.alt_allele = Some(String::from_utf8_lossy(&norm.alt).into_owned());
    row.flipped = Some(oriented.flipped);
    row.ambiguous_strand = Some(oriented.ambiguous_strand);
    row.status = Some(Status::Ok);
    row.window_start = Some(built.start);
    row.sequences = Some(built.members);
    Ok(Processed { row, windows: built.windows })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::variants::BadRow;

    #[test]
    fn a_bad_row_keeps_its_message_once() {
        let dir = tempfile::tempdir().unwrap();
        let fasta = dir.path().join("g.fa");
        std::fs::write(&fasta, b">chr1\nACGTACGT\n").unwrap();
        let genome = Genome::open(&fasta).unwrap();
        let message = "line 7: BP 'x' is not an integer position".to_string();
        let bad = BadRow { line: 7, id: Some("rs1".into()), chrom: Some("1".into()), pos: None, message };
        let scoring =
            Scoring { window: WindowSpec::new(4).unwrap(), ensemble: Ensemble::default(), max_allele_len: 10 };
        let stages = Stages::new(super::super::STAGES);
        let p = process(Record::Bad(bad), &genome, &scoring, &stages).unwrap();
        assert_eq!(p.row.status, Some(Status::ParseError));
        assert_eq!(p.row.status_detail.as_deref(), Some("line 7: BP 'x' is not an integer position"));
        assert!(p.windows.is_empty());
    }
}
