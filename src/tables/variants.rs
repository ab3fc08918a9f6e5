//! `variants.parquet`: one row per input variant (every input row, scored or not), with its status.
//! See the README for what each column means.

use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Float64Builder, Int32Builder, Int64Builder, ListBuilder, StringBuilder, StructBuilder,
    UInt32Builder, UInt64Builder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use super::{AtomicParquet, TableError};
use crate::ensemble::{Member, Role, Strand};
use crate::normalize::VariantType;
use crate::orient::Status;

const ROWS_PER_BATCH: usize = 8192;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct VariantRow {
    pub line: u64,
    pub id: Option<String>,
    pub chrom: Option<String>,
    pub contig: Option<String>,
    pub pos: Option<i64>,
    /// Normalised 1-based position of the normalised REF's first base.
    pub norm_pos: Option<i64>,
    pub ref_allele: Option<String>,
    pub alt_allele: Option<String>,
    pub variant_type: Option<VariantType>,
    pub effect_allele: Option<String>,
    pub other_allele: Option<String>,
    pub beta: Option<f64>,
    pub se: Option<f64>,
    pub pvalue: Option<f64>,
    pub flipped: Option<bool>,
    pub ambiguous_strand: Option<bool>,
    pub status: Option<Status>,
    pub status_detail: Option<String>,
    pub shard: Option<u32>,
    pub window_start: Option<i64>,
    pub ref_seq_id: Option<String>,
    pub alt_seq_id: Option<String>,
    /// Every sequence the variant is scored from, with its role, shift and strand.
    pub sequences: Option<Vec<Member>>,
}

/// The fields of one `sequences` list element.
fn member_fields() -> Fields {
    Fields::from(vec![
        Field::new("role", DataType::Utf8, false),
        Field::new("shift", DataType::Int32, false),
        Field::new("strand", DataType::Utf8, false),
        Field::new("seq_id", DataType::Utf8, false),
    ])
}

fn sequences_type() -> DataType {
    DataType::List(Arc::new(Field::new("item", DataType::Struct(member_fields()), true)))
}

pub fn schema() -> SchemaRef {
    let s = |name: &str, nullable| Field::new(name, DataType::Utf8, nullable);
    Arc::new(Schema::new(vec![
        Field::new("line", DataType::UInt64, false),
        s("id", true),
        s("chrom", true),
        s("contig", true),
        Field::new("pos", DataType::Int64, true),
        Field::new("norm_pos", DataType::Int64, true),
        s("ref", true),
        s("alt", true),
        s("variant_type", true),
        s("effect_allele", true),
        s("other_allele", true),
        Field::new("beta", DataType::Float64, true),
        Field::new("se", DataType::Float64, true),
        Field::new("pvalue", DataType::Float64, true),
        Field::new("flipped", DataType::Boolean, true),
        Field::new("ambiguous_strand", DataType::Boolean, true),
        s("status", false),
        s("status_detail", true),
        Field::new("shard", DataType::UInt32, true),
        Field::new("window_start", DataType::Int64, true),
        s("ref_seq_id", true),
        s("alt_seq_id", true),
        Field::new("sequences", sequences_type(), true),
    ]))
}

pub struct VariantWriter {
    out: AtomicParquet,
    path: String,
    pending: Vec<VariantRow>,
}

impl VariantWriter {
    /// `metadata` goes into the file's key-value metadata (window length, genome, input, tool version).
    pub fn create(path: &Path, metadata: Vec<(String, String)>) -> Result<Self, TableError> {
        let kv = metadata.into_iter().map(|(k, v)| KeyValue::new(k, v)).collect();
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap_or_default()))
            .set_key_value_metadata(Some(kv))
            .build();
        Ok(VariantWriter {
            out: AtomicParquet::create(path, schema(), props)?,
            path: path.display().to_string(),
            pending: Vec::new(),
        })
    }

    pub fn push(&mut self, row: VariantRow) -> Result<(), TableError> {
        self.pending.push(row);
        if self.pending.len() >= ROWS_PER_BATCH {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), TableError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let batch =
            to_batch(&self.pending).map_err(|e| TableError::Write { path: self.path.clone(), source: e.into() })?;
        self.out.write(&batch)?;
        self.pending.clear();
        Ok(())
    }

    pub fn finish(mut self) -> Result<(), TableError> {
        self.flush()?;
        self.out.finish()
    }
}

fn to_batch(rows: &[VariantRow]) -> Result<RecordBatch, arrow_schema::ArrowError> {
    fn strings<'a>(rows: &'a [VariantRow], f: impl Fn(&'a VariantRow) -> Option<&'a str>) -> ArrayRef {
        let mut b = StringBuilder::new();
        for r in rows {
            b.append_option(f(r));
        }
        Arc::new(b.finish())
    }
    fn floats(rows: &[VariantRow], f: impl Fn(&VariantRow) -> Option<f64>) -> ArrayRef {
        let mut b = Float64Builder::new();
        rows.iter().for_each(|r| b.append_option(f(r)));
        Arc::new(b.finish())
    }
    fn ints(rows: &[VariantRow], f: impl Fn(&VariantRow) -> Option<i64>) -> ArrayRef {
        let mut b = Int64Builder::new();
        rows.iter().for_each(|r| b.append_option(f(r)));
        Arc::new(b.finish())
    }
    fn bools(rows: &[VariantRow], f: impl Fn(&VariantRow) -> Option<bool>) -> ArrayRef {
        let mut b = BooleanBuilder::new();
        rows.iter().for_each(|r| b.append_option(f(r)));
        Arc::new(b.finish())
    }
    let mut line = UInt64Builder::new();
    let mut shard = UInt32Builder::new();
    for r in rows {
        line.append_value(r.line);
        shard.append_option(r.shard);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(line.finish()),
        strings(rows, |r| r.id.as_deref()),
        strings(rows, |r| r.chrom.as_deref()),
        strings(rows, |r| r.contig.as_deref()),
        ints(rows, |r| r.pos),
        ints(rows, |r| r.norm_pos),
        strings(rows, |r| r.ref_allele.as_deref()),
        strings(rows, |r| r.alt_allele.as_deref()),
        strings(rows, |r| r.variant_type.map(VariantType::as_str)),
        strings(rows, |r| r.effect_allele.as_deref()),
        strings(rows, |r| r.other_allele.as_deref()),
        floats(rows, |r| r.beta),
        floats(rows, |r| r.se),
        floats(rows, |r| r.pvalue),
        bools(rows, |r| r.flipped),
        bools(rows, |r| r.ambiguous_strand),
        strings(rows, |r| Some(r.status.unwrap_or(Status::ParseError).as_str())),
        strings(rows, |r| r.status_detail.as_deref()),
        Arc::new(shard.finish()),
        ints(rows, |r| r.window_start),
        strings(rows, |r| r.ref_seq_id.as_deref()),
        strings(rows, |r| r.alt_seq_id.as_deref()),
        sequences(rows),
    ];
    RecordBatch::try_new(schema(), columns)
}

/// Streams `variants.parquet` back as rows, a batch at a time.
pub struct VariantReader {
    path: String,
    inner: parquet::arrow::arrow_reader::ParquetRecordBatchReader,
}

impl VariantReader {
    pub fn open(path: &Path) -> Result<Self, TableError> {
        let shown = path.display().to_string();
        let rerr = |e: Box<dyn std::error::Error + Send + Sync>| TableError::Read { path: shown.clone(), source: e };
        let builder = super::open_parquet(path, "variants", "the variants.parquet written by extract-seqs")?;
        let expected = schema();
        for field in expected.fields() {
            match builder.schema().field_with_name(field.name()) {
                Ok(f) if f.data_type() == field.data_type() => {}
                _ => {
                    return Err(TableError::Schema {
                        path: shown,
                        what: "variants",
                        why: format!("column '{}' ({}) is missing or has another type; expected the variants.parquet written by extract-seqs", field.name(), field.data_type()),
                    })
                }
            }
        }
        let inner = builder.with_batch_size(1024).build().map_err(|e| rerr(e.into()))?;
        Ok(VariantReader { path: shown, inner })
    }
}

impl Iterator for VariantReader {
    type Item = Result<Vec<VariantRow>, TableError>;

    fn next(&mut self) -> Option<Self::Item> {
        let batch = self.inner.next()?;
        Some(batch.map_err(|e| TableError::Read { path: self.path.clone(), source: e.into() }).and_then(|b| {
            from_batch(&b).map_err(|why| TableError::Schema { path: self.path.clone(), what: "variants", why })
        }))
    }
}

fn from_batch(b: &RecordBatch) -> Result<Vec<VariantRow>, String> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, Int64Type, UInt32Type, UInt64Type};
    use arrow_array::Array;
    let col = |name: &str| b.column_by_name(name).ok_or_else(|| format!("no column {name}"));
    let s = |name: &str| -> Result<Vec<Option<String>>, String> {
        let a = col(name)?.as_string_opt::<i32>().ok_or_else(|| format!("{name} is not a string column"))?;
        Ok((0..a.len()).map(|i| a.is_valid(i).then(|| a.value(i).to_string())).collect())
    };
    let f = |name: &str| -> Result<Vec<Option<f64>>, String> {
        let a = col(name)?.as_primitive_opt::<Float64Type>().ok_or_else(|| format!("{name} is not float64"))?;
        Ok((0..a.len()).map(|i| a.is_valid(i).then(|| a.value(i))).collect())
    };
    let i = |name: &str| -> Result<Vec<Option<i64>>, String> {
        let a = col(name)?.as_primitive_opt::<Int64Type>().ok_or_else(|| format!("{name} is not int64"))?;
        Ok((0..a.len()).map(|k| a.is_valid(k).then(|| a.value(k))).collect())
    };
    let bo = |name: &str| -> Result<Vec<Option<bool>>, String> {
        let a = col(name)?.as_boolean_opt().ok_or_else(|| format!("{name} is not boolean"))?;
        Ok((0..a.len()).map(|k| a.is_valid(k).then(|| a.value(k))).collect())
    };
    let line = col("line")?.as_primitive_opt::<UInt64Type>().ok_or("line is not uint64")?.values().to_vec();
    let shard_a = col("shard")?.as_primitive_opt::<UInt32Type>().ok_or("shard is not uint32")?;
    let shard: Vec<Option<u32>> = (0..shard_a.len()).map(|k| shard_a.is_valid(k).then(|| shard_a.value(k))).collect();
    let (id, chrom, contig, pos, norm_pos) = (s("id")?, s("chrom")?, s("contig")?, i("pos")?, i("norm_pos")?);
    let (r, a, ea, oa) = (s("ref")?, s("alt")?, s("effect_allele")?, s("other_allele")?);
    let vtype = s("variant_type")?;
    let sequences = read_sequences(col("sequences")?)?;
    let (beta, se, p) = (f("beta")?, f("se")?, f("pvalue")?);
    let (flipped, amb, status, detail) = (bo("flipped")?, bo("ambiguous_strand")?, s("status")?, s("status_detail")?);
    let (ws, rid, aid) = (i("window_start")?, s("ref_seq_id")?, s("alt_seq_id")?);
    let mut rows = Vec::with_capacity(b.num_rows());
    for k in 0..b.num_rows() {
        let st = status[k].as_deref().unwrap_or("");
        let status =
            Status::ALL.into_iter().find(|x| x.as_str() == st).ok_or_else(|| format!("unknown status '{st}'"))?;
        rows.push(VariantRow {
            line: line[k],
            id: id[k].clone(),
            chrom: chrom[k].clone(),
            contig: contig[k].clone(),
            pos: pos[k],
            norm_pos: norm_pos[k],
            ref_allele: r[k].clone(),
            alt_allele: a[k].clone(),
            variant_type: match vtype[k].as_deref() {
                None => None,
                Some(t) => Some(
                    VariantType::ALL
                        .into_iter()
                        .find(|x| x.as_str() == t)
                        .ok_or_else(|| format!("unknown variant_type '{t}'"))?,
                ),
            },
            effect_allele: ea[k].clone(),
            other_allele: oa[k].clone(),
            beta: beta[k],
            se: se[k],
            pvalue: p[k],
            flipped: flipped[k],
            ambiguous_strand: amb[k],
            status: Some(status),
            status_detail: detail[k].clone(),
            shard: shard[k],
            window_start: ws[k],
            ref_seq_id: rid[k].clone(),
            alt_seq_id: aid[k].clone(),
            sequences: sequences[k].clone(),
        });
    }
    Ok(rows)
}

fn sequences(rows: &[VariantRow]) -> ArrayRef {
    let fields = member_fields();
    let mut b = ListBuilder::new(StructBuilder::from_fields(fields.clone(), 0)).with_field(Arc::new(Field::new(
        "item",
        DataType::Struct(fields),
        true,
    )));
    for r in rows {
        match &r.sequences {
            None => b.append(false),
            Some(members) => {
                let st = b.values();
                for m in members {
                    st.field_builder::<StringBuilder>(0).expect("role").append_value(m.role.as_str());
                    st.field_builder::<Int32Builder>(1).expect("shift").append_value(m.shift);
                    st.field_builder::<StringBuilder>(2).expect("strand").append_value(m.strand.as_str());
                    st.field_builder::<StringBuilder>(3).expect("seq_id").append_value(&m.seq_id);
                    st.append(true);
                }
                b.append(true);
            }
        }
    }
    Arc::new(b.finish())
}

fn read_sequences(a: &ArrayRef) -> Result<Vec<Option<Vec<Member>>>, String> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int32Type;
    use arrow_array::Array;
    let list = a.as_list_opt::<i32>().ok_or("sequences is not a list column")?;
    let st = list.values().as_struct_opt().ok_or("sequences is not a list of structs")?;
    let field = |name: &str| st.column_by_name(name).ok_or_else(|| format!("sequences has no field {name}"));
    let utf8 = |name: &str| -> Result<_, String> {
        field(name)?.as_string_opt::<i32>().cloned().ok_or_else(|| format!("sequences.{name} is not a string"))
    };
    let (role, strand, seq_id) = (utf8("role")?, utf8("strand")?, utf8("seq_id")?);
    let shift = field("shift")?.as_primitive_opt::<Int32Type>().cloned().ok_or("sequences.shift is not int32")?;
    let offsets = list.value_offsets();
    let mut out = Vec::with_capacity(list.len());
    for k in 0..list.len() {
        if list.is_null(k) {
            out.push(None);
            continue;
        }
        let mut members = Vec::new();
        for j in offsets[k] as usize..offsets[k + 1] as usize {
            if st.is_null(j) || role.is_null(j) || strand.is_null(j) || seq_id.is_null(j) || shift.is_null(j) {
                return Err(format!("row {k}: a sequences element has a missing field"));
            }
            members.push(Member {
                role: Role::parse(role.value(j)).ok_or_else(|| format!("unknown role '{}'", role.value(j)))?,
                shift: shift.value(j),
                strand: Strand::parse(strand.value(j))
                    .ok_or_else(|| format!("unknown strand '{}'", strand.value(j)))?,
                seq_id: seq_id.value(j).to_string(),
            });
        }
        out.push(Some(members));
    }
    Ok(out)
}

/// The variant columns of `rows` as arrays, in [`schema`] order (merge appends its statistics to them).
pub fn columns(rows: &[VariantRow]) -> Result<Vec<ArrayRef>, arrow_schema::ArrowError> {
    Ok(to_batch(rows)?.columns().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v.parquet");
        let rows = vec![
            VariantRow {
                line: 2,
                id: Some("rs1".into()),
                pos: Some(5),
                status: Some(Status::Ok),
                flipped: Some(true),
                beta: Some(0.5),
                shard: Some(0),
                norm_pos: Some(4),
                variant_type: Some(VariantType::Deletion),
                sequences: Some(vec![
                    Member { role: Role::Ref, shift: -1, strand: Strand::Reverse, seq_id: "ab".repeat(32) },
                    Member { role: Role::AltShifted, shift: 1, strand: Strand::Forward, seq_id: "cd".repeat(32) },
                ]),
                ..Default::default()
            },
            VariantRow {
                line: 3,
                status: Some(Status::ParseError),
                status_detail: Some("bad".into()),
                ..Default::default()
            },
        ];
        let mut w = VariantWriter::create(&p, vec![]).unwrap();
        for r in &rows {
            w.push(r.clone()).unwrap();
        }
        w.finish().unwrap();
        let back: Vec<VariantRow> = VariantReader::open(&p).unwrap().flat_map(|b| b.unwrap()).collect();
        assert_eq!(back, rows);
    }
}
