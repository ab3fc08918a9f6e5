//! Deterministic demo data: a pseudo-random genome (three contigs, a soft-masked stretch, an N run at the
//! start as at a real telomere) and a Kunkle-layout table whose SNPs are drawn from it, with a handful of
//! deliberately bad rows so that every status shows up. Same sizes in → same bytes out, on every machine.

use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// splitmix64: tiny, fast, and stable across versions (unlike `rand`'s default generators). Public so that
/// the benchmarks generate their data with the same generator.
pub struct Rng(u64);

impl Rng {
    pub const fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    /// Uniform in [0, 1), with 53 bits.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

pub struct DemoFiles {
    pub genome: PathBuf,
    pub variants: PathBuf,
}

const LINE: usize = 60;

pub fn demo_contigs(genome_size: u64) -> Vec<(String, u64)> {
    let sizes = [genome_size / 2, genome_size * 3 / 10, genome_size - genome_size / 2 - genome_size * 3 / 10];
    sizes.iter().enumerate().map(|(i, &s)| (format!("chr{}", i + 1), s.max(1))).collect()
}

/// The bases of the demo genome, contig by contig (upper and lower case as written to the FASTA).
pub fn demo_sequences(genome_size: u64) -> Vec<(String, Vec<u8>)> {
    let mut rng = Rng(0x656e_666f_726d_6572);
    demo_contigs(genome_size)
        .into_iter()
        .map(|(name, len)| {
            let mut seq: Vec<u8> = (0..len).map(|_| b"ACGT"[rng.below(4) as usize]).collect();
            let n_run = (len / 100).min(10_000) as usize;
            seq[..n_run].fill(b'N');
            let masked = (len / 3) as usize..(len / 3 + len / 50) as usize;
            seq[masked].make_ascii_lowercase();
            (name, seq)
        })
        .collect()
}

pub fn write_demo(dir: &Path, genome_size: u64, n_variants: usize) -> anyhow::Result<DemoFiles> {
    anyhow::ensure!(genome_size >= 3_000, "--genome-size must be at least 3000");
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let contigs = demo_sequences(genome_size);
    let genome = dir.join("genome.fa");
    let mut fasta = std::io::BufWriter::new(std::fs::File::create(&genome)?);
    for (name, seq) in &contigs {
        writeln!(fasta, ">{name} enformer-vep demo contig")?;
        for line in seq.chunks(LINE) {
            fasta.write_all(line)?;
            fasta.write_all(b"\n")?;
        }
    }
    fasta.flush()?;
    drop(fasta);
    let _ = std::fs::remove_file(dir.join("genome.fa.fai"));

    let mut rng = Rng(0x7661_7269_616e_7473);
    let mut table = String::from("Chromosome Position MarkerName Effect_allele Non_Effect_allele Beta SE Pvalue\n");
    let mut row = 0usize;
    while row < n_variants {
        let ci = rng.below(contigs.len() as u64) as usize;
        let seq = &contigs[ci].1;
        let pos0 = rng.below(seq.len() as u64) as usize;
        let base = seq[pos0].to_ascii_uppercase();
        if base == b'N' {
            continue;
        }
        let other = loop {
            let b = b"ACGT"[rng.below(4) as usize];
            if b != base {
                break b;
            }
        };
        let (effect, non_effect) = if rng.below(2) == 0 { (other, base) } else { (base, other) };
        let p = 10f64.powf(-12.0 * rng.unit());
        let beta = (rng.unit() - 0.5) * 0.4;
        let chrom = (ci + 1).to_string();
        let _ = writeln!(
            table,
            "{chrom} {} rs{} {} {} {beta:.4} {:.4} {p:.3e}",
            pos0 + 1,
            1_000_000 + row,
            effect as char,
            non_effect as char,
            0.01 + rng.unit() * 0.02
        );
        row += 1;
    }
    // Rows that exercise every status besides `ok`, and indels.
    let seq0 = &contigs[0].1;
    let mismatch_pos = seq0.iter().position(|b| b.eq_ignore_ascii_case(&b'A')).unwrap_or(0) + 1;
    table.push_str(&format!("1 {mismatch_pos} rs_demo_mismatch C G 0.01 0.01 0.5\n"));
    // Indels drawn from the genome: an insertion after base 150,000 and a deletion of the 3 bases after it.
    let at = |i: usize| seq0.get(i).map(|b| b.to_ascii_uppercase() as char).unwrap_or('A');
    let (anchor, del): (String, String) = (at(149_999).to_string(), (149_999..150_003).map(at).collect());
    table.push_str(&format!("1 150000 rs_demo_insertion {anchor}GA {anchor} 0.02 0.01 0.01\n"));
    table.push_str(&format!("1 150000 rs_demo_deletion {anchor} {del} -0.02 0.01 0.02\n"));
    table.push_str(&format!("1 150000 rs_demo_too_long {anchor}{} {anchor} 0.02 0.01 0.01\n", "T".repeat(1000)));
    table.push_str("1 150001 rs_demo_invalid A N 0.02 0.01 0.01\n");
    table.push_str("9 150000 rs_demo_unknown_contig A G 0.02 0.01 0.01\n");
    table.push_str(&format!("2 {} rs_demo_past_end A G 0.02 0.01 0.01\n", contigs[1].1.len() + 5));
    table.push_str("2 not_a_number rs_demo_parse_error A G 0.02 0.01 0.01\n");
    let variants = dir.join("variants.kunkle.txt");
    std::fs::write(&variants, table)?;
    Ok(DemoFiles { genome, variants })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        write_demo(a.path(), 30_000, 20).unwrap();
        write_demo(b.path(), 30_000, 20).unwrap();
        for f in ["genome.fa", "variants.kunkle.txt"] {
            assert_eq!(std::fs::read(a.path().join(f)).unwrap(), std::fs::read(b.path().join(f)).unwrap());
        }
        let table = std::fs::read_to_string(a.path().join("variants.kunkle.txt")).unwrap();
        assert_eq!(table.lines().count(), 1 + 20 + 8);
    }
}
