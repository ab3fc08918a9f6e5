//! Inputs for the unit tests of the readers: bytes written to temp files, gzip, a small Kunkle table.

use std::io::Write;

use super::{ColumnOverrides, InputError, Record, VariantReader};

pub fn write_tmp(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(bytes).unwrap();
    f.flush().unwrap();
    f
}

pub fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

pub fn open(bytes: &[u8]) -> Result<VariantReader, InputError> {
    let f = write_tmp(bytes);
    VariantReader::open(f.path(), &ColumnOverrides::default())
}

pub fn records(bytes: &[u8]) -> Vec<Record> {
    open(bytes).unwrap().collect::<Result<Vec<_>, _>>().unwrap()
}

pub const KUNKLE: &[u8] = b"Chromosome Position MarkerName Effect_allele Non_Effect_allele Beta SE Pvalue\n\
    1 207679307 rs4844600 A G 0.1324 0.0179 1.598e-13\n\
    2 127845956 chr2:127845956:I T TGGA -0.1222 0.019 1.3e-10\n";

/// A table of 20,000 rows: more than one buffer of the line reader, so a gzip of it cut in half fails mid-way.
pub fn many_rows() -> Vec<u8> {
    let mut body = String::from("CHR\tBP\tA1\tA2\n");
    for i in 0..20000 {
        body.push_str(&format!("1\t{}\tA\tG\n", 1000 + i));
    }
    body.into_bytes()
}
