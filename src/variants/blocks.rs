//! [`VariantReader::for_each_block`]: the rest of an input parsed on the rayon pool, in blocks of whole lines.

use std::collections::VecDeque;

use rayon::prelude::*;

use super::lines;
use super::row::{keep_record, not_utf8, parse_text, tenth_tab, too_long, Candidate, Parser};
use super::{InputError, Record, VariantReader};

/// Bytes of input per block parsed by one worker of [`VariantReader::for_each_block`].
const BLOCK_BYTES: usize = 1 << 20;

impl VariantReader {
    /// Reads the rest of the input and parses it on the rayon pool, in blocks of about 1 MiB of whole lines
    /// split off by one reader thread (which also decompresses): `sink` gets each block's records in input
    /// order, with what `select` counted. A good row becomes a record only if `select` keeps it; bad rows are
    /// always kept. Line numbers, messages and the line cap are those of the [`Iterator`] (the same code
    /// parses each line). A read error comes after the records of the lines before it.
    pub fn for_each_block<C, F, S, E>(self, select: &F, sink: S) -> Result<(), E>
    where
        C: Default + Send,
        F: Fn(&Candidate<'_>, &mut C) -> bool + Sync,
        S: FnMut(Vec<Record>, C) -> Result<(), E>,
        E: From<InputError> + Send,
    {
        self.for_each_block_of(BLOCK_BYTES, select, sink)
    }

    fn for_each_block_of<C, F, S, E>(mut self, block_bytes: usize, select: &F, mut sink: S) -> Result<(), E>
    where
        C: Default + Send,
        F: Fn(&Candidate<'_>, &mut C) -> bool + Sync,
        S: FnMut(Vec<Record>, C) -> Result<(), E>,
        E: From<InputError> + Send,
    {
        // Lines before the line ending is known (and a VCF data line read with the header) go line by line.
        let mut first = VecDeque::new();
        let mut counts = C::default();
        while !self.done && (self.pending.is_some() || !self.queue.is_empty() || !self.lines.blocks_ready()) {
            match self.next() {
                Some(Ok(rec)) => {
                    if keep_record(&rec, select, &mut counts) {
                        first.push_back(rec);
                    }
                }
                Some(Err(e)) => return Err(e.into()),
                None => break,
            }
        }
        sink(Vec::from(first), counts)?;
        if self.done {
            return Ok(());
        }
        let parser = &self.parser;
        let mut lines = self.lines;
        let batch = 2 * rayon::current_num_threads().max(1);
        std::thread::scope(|scope| {
            let (tx, rx) = crossbeam_channel::bounded::<Result<lines::Block, InputError>>(batch);
            scope.spawn(move || loop {
                let block = lines.next_block(block_bytes).transpose();
                let last = !matches!(block, Some(Ok(_)));
                if block.is_some_and(|b| tx.send(b).is_err()) || last {
                    return;
                }
            });
            // `rx` is dropped on return, which stops the reader thread.
            let rx = rx;
            loop {
                let Ok(block) = rx.recv() else { return Ok(()) };
                let mut blocks = vec![block];
                while blocks.len() < batch {
                    match rx.try_recv() {
                        Ok(b) => blocks.push(b),
                        Err(_) => break,
                    }
                }
                let parsed: Vec<Result<(Vec<Record>, C), InputError>> =
                    blocks.into_par_iter().map(|b| b.map(|b| parse_block(parser, &b, select))).collect();
                for p in parsed {
                    let (records, counts) = p?;
                    sink(records, counts)?;
                }
            }
        })
    }
}

fn parse_block<C: Default>(
    parser: &Parser,
    block: &lines::Block,
    select: &impl Fn(&Candidate<'_>, &mut C) -> bool,
) -> (Vec<Record>, C) {
    let mut out = VecDeque::new();
    let mut counts = C::default();
    let mut fields = Vec::new();
    // Lines end at ASCII bytes, so when the whole block is UTF-8 every line is (one check instead of one a line).
    let text = std::str::from_utf8(&block.data).ok();
    let nul = memchr::memchr(0, &block.data).is_some();
    block.lines(|line_no, range, overflow| {
        let bytes = &block.data[range.clone()];
        if overflow > 0 {
            match (parser, tenth_tab(bytes)) {
                (Parser::Vcf(_), Some(i)) => match std::str::from_utf8(&bytes[..i]) {
                    Ok(t) => parse_text(parser, line_no, t, nul, &mut fields, select, &mut counts, &mut out),
                    Err(_) => out.push_back(not_utf8(line_no)),
                },
                _ => out.push_back(too_long(line_no, bytes.len() as u64 + overflow)),
            }
            return;
        }
        match text.map(|t| &t[range]).ok_or(()).or_else(|()| std::str::from_utf8(bytes).map_err(|_| ())) {
            Ok(t) => parse_text(parser, line_no, t, nul, &mut fields, select, &mut counts, &mut out),
            Err(()) => out.push_back(not_utf8(line_no)),
        }
    });
    (Vec::from(out), counts)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::row::all;
    use super::super::testdata::*;
    use super::super::ColumnOverrides;
    use super::*;

    /// The records and the error (as text) of the parallel block reader, with blocks of `block_bytes`.
    fn by_blocks(f: &Path, block_bytes: usize) -> (Vec<Record>, Option<String>) {
        let mut out = Vec::new();
        let r: Result<(), InputError> = VariantReader::open(f, &ColumnOverrides::default()).unwrap().for_each_block_of(
            block_bytes,
            &all,
            |recs, ()| {
                out.extend(recs);
                Ok(())
            },
        );
        (out, r.err().map(|e| e.to_string()))
    }

    fn by_lines(f: &Path) -> (Vec<Record>, Option<String>) {
        let mut out = Vec::new();
        for r in VariantReader::open(f, &ColumnOverrides::default()).unwrap() {
            match r {
                Ok(rec) => out.push(rec),
                Err(e) => return (out, Some(e.to_string())),
            }
        }
        (out, None)
    }

    #[test]
    fn blocks_give_the_records_of_the_line_reader_whatever_the_block_size() {
        let mut long = b"CHR\tBP\tA1\tA2\tP\n1\t5\tA\tG\t0.1\n1\t6\tA\t".to_vec();
        long.extend(std::iter::repeat_n(b'G', 3 << 20));
        long.extend_from_slice(b"\t0.2\r\n\n1\t7\tA\tG\t1e-8\r\n");
        let mut vcf = b"##fileformat=VCFv4.2\n##FORMAT=<ID=LP,Number=A>\n".to_vec();
        vcf.extend_from_slice(b"#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\n");
        vcf.extend_from_slice(b"1\t10\trs1\tG\tA,T\t.\tPASS\t.\tLP\t2");
        vcf.extend(std::iter::repeat_n(&b"\t0"[..], 1 << 20).flatten());
        vcf.extend_from_slice(b"\n1\t11\trs2\tG\tA\t.\tPASS\t.\tLP\t1\n1\tx\trs3\tG\tA\n");
        let mut many = KUNKLE.to_vec();
        for i in 0..3000 {
            many.extend_from_slice(
                format!("{} {} rs{i} A G 0.1 0.01 {}\n", i % 3, 100 + i, 1.0 / (i + 1) as f64).as_bytes(),
            );
            if i % 700 == 0 {
                many.extend_from_slice(b"1 x rsbad A G 0.1 0.01 0.5\n\n  \n1 5 rs\xe9 A G 1 1 1\n1 6 rs\0 A G 1 1 1\n");
            }
        }
        let inputs: Vec<Vec<u8>> = vec![
            KUNKLE.to_vec(),
            b"\xEF\xBB\xBFCHR,BP,SNP,A1,A2,OR,P\r\n\r\n1,100,rs1,A,G,2.0,0.5\r\n1,101,rs2,A,G,2.0,0.5".to_vec(),
            b"CHR\tBP\tSNP\tA1\tA2\tP\r1\t100\trs1\tA\tG\t0.5\r\r1\t200\trs2\tC\tT\t0.1\r".to_vec(),
            b"CHR\tBP\tA1\tA2\n1\t5\tA\tG\n1\t6\t\xe9\tG\n1\t7\tA\tG".to_vec(),
            b"##fileformat=VCFv4.2\n1\t10\trs1\tG\tA\n1\t11\trs2\tG\tA\n".to_vec(),
            b"CHR\tBP\tA1\tA2\r".to_vec(),
            long,
            vcf,
            many,
        ];
        for text in inputs {
            for bytes in [text.clone(), gz(&text)] {
                let f = write_tmp(&bytes);
                let expected = by_lines(f.path());
                for block in [1, 7, 100, 4096, 1 << 20] {
                    let got = by_blocks(f.path(), block);
                    assert!(got == expected, "block {block}: {:?}\n{:?}", got.1, expected.1);
                }
            }
        }
    }

    #[test]
    fn blocks_end_with_the_truncated_gzip_error_after_the_lines_before_it() {
        let full = gz(&many_rows());
        let f = write_tmp(&full[..full.len() / 2]);
        let expected = by_lines(f.path());
        assert!(expected.1.as_ref().is_some_and(|e| e.contains("ends early")), "{:?}", expected.1);
        for block in [100, 1 << 16, 1 << 20] {
            let got = by_blocks(f.path(), block);
            assert!(
                got == expected,
                "block {block}: {} {:?} vs {} {:?}",
                got.0.len(),
                got.1,
                expected.0.len(),
                expected.1
            );
        }
    }

    #[test]
    fn select_drops_good_rows_only_and_counts() {
        let text = b"CHR BP A1 A2 P\n1 5 A G 0.5\n1 x A G 0.1\n2 6 A G 0.01\n";
        let mut out = Vec::new();
        let mut dropped = 0;
        let r: Result<(), InputError> = open(text).unwrap().for_each_block(
            &|c: &Candidate<'_>, n: &mut u64| {
                let keep = c.chrom == "2" && c.pvalue == Some(0.01) && c.pos == 6;
                *n += u64::from(!keep);
                keep
            },
            |recs, n| {
                out.extend(recs);
                dropped += n;
                Ok(())
            },
        );
        r.unwrap();
        assert_eq!(dropped, 1);
        assert!(matches!(&out[..], [Record::Bad(b), Record::Variant(v)] if b.line == 3 && v.line == 4), "{out:?}");
    }
}
