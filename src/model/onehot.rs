//! One-hot encoding in the model's layout [L, 4], channel order A, C, G, T (conventions.md). `N` and every
//! other byte are all zeros (Enformer's training encoding) or 0.25 each with `--n-encoding uniform`.

use crate::cache::NEncoding;

/// Per-byte rows, built once: encoding a window is then one table lookup per base.
fn table(n: NEncoding) -> [[f32; 4]; 256] {
    let other = match n {
        NEncoding::Zeros => [0.0; 4],
        NEncoding::Uniform => [0.25; 4],
    };
    let mut t = [other; 256];
    for (i, (upper, lower)) in [(b'A', b'a'), (b'C', b'c'), (b'G', b'g'), (b'T', b't')].into_iter().enumerate() {
        let mut row = [0.0; 4];
        row[i] = 1.0;
        t[upper as usize] = row;
        t[lower as usize] = row;
    }
    t
}

/// Writes `seq.len() * 4` floats into `out`.
pub fn encode_into(seq: &[u8], n: NEncoding, out: &mut [f32]) {
    let t = table(n);
    for (dst, &b) in out.chunks_exact_mut(4).zip(seq) {
        dst.copy_from_slice(&t[b as usize]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_order_and_n() {
        let mut out = vec![9.0; 6 * 4];
        encode_into(b"ACGTNx", NEncoding::Zeros, &mut out);
        #[rustfmt::skip]
        assert_eq!(out, vec![
            1., 0., 0., 0.,
            0., 1., 0., 0.,
            0., 0., 1., 0.,
            0., 0., 0., 1.,
            0., 0., 0., 0.,
            0., 0., 0., 0.,
        ]);
        encode_into(b"N", NEncoding::Uniform, &mut out[..4]);
        assert_eq!(&out[..4], &[0.25; 4]);
    }
}
