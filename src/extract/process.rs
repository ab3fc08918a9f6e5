//! One input record → one `variants.parquet` row, plus the two windows when the variant is scored.

use crate::genome::{Genome, GenomeError};
use crate::orient::{orient, snv_alleles, Rejection, Status};
use crate::tables::variants::VariantRow;
use crate::variants::Record;
use crate::window::{ref_alt_seq_ids, WindowSpec};

pub(crate) struct Processed {
    pub row: VariantRow,
    /// (seq_id, window) for ref then alt; `None` when the variant is not scored.
    pub windows: Option<[(String, Vec<u8>); 2]>,
}

fn rejected(mut row: VariantRow, r: Rejection) -> Processed {
    row.status = Some(r.status);
    row.status_detail = Some(r.detail);
    Processed { row, windows: None }
}

/// Genome errors (a broken index or bgzip block) are fatal: they would hit every variant alike.
pub(crate) fn process(record: Record, genome: &Genome, spec: WindowSpec) -> Result<Processed, GenomeError> {
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
    let (effect, other) = match snv_alleles(&v.effect_allele, &v.other_allele) {
        Ok(pair) => pair,
        Err(r) => return Ok(rejected(row, r)),
    };
    let start = spec.start(v.pos);
    let mut ref_window = Vec::with_capacity(spec.len());
    genome.fetch(contig, start, spec.len(), &mut ref_window)?;
    let center = spec.center_index();
    let oriented = match orient(effect, other, ref_window[center], v.source) {
        Ok(o) => o,
        Err(r) => return Ok(rejected(row, r)),
    };
    let (ref_id, alt_id) = ref_alt_seq_ids(&ref_window, center, oriented.alt_base);
    let mut alt_window = ref_window.clone();
    alt_window[center] = oriented.alt_base;
    row.ref_allele = Some((oriented.ref_base as char).to_string());
    row.alt_allele = Some((oriented.alt_base as char).to_string());
    row.flipped = Some(oriented.flipped);
    row.ambiguous_strand = Some(oriented.ambiguous_strand);
    row.status = Some(Status::Ok);
    row.window_start = Some(start);
    row.ref_seq_id = Some(ref_id.clone());
    row.alt_seq_id = Some(alt_id.clone());
    Ok(Processed { row, windows: Some([(ref_id, ref_window), (alt_id, alt_window)]) })
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
        let p = process(Record::Bad(bad), &genome, WindowSpec::new(4).unwrap()).unwrap();
        assert_eq!(p.row.status, Some(Status::ParseError));
        assert_eq!(p.row.status_detail.as_deref(), Some("line 7: BP 'x' is not an integer position"));
        assert!(p.windows.is_none());
    }
}
