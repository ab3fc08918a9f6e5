use super::*;

/// `pickle.dumps(np.arange(6, dtype='<f4').reshape(2, 3), protocol=2)` from numpy 2.4 (pickletools shows
/// `_codecs.encode` carrying the bytes as a latin-1 str).
pub(crate) const P2: &[u8] = b"\x80\x02cnumpy._core.multiarray\x0a_reconstruct\x0aq\x00cnumpy\x0andarray\x0aq\x01K\x00\x85q\x02c_codecs\x0aencode\x0aq\x03X\x01\x00\x00\x00bq\x04X\x06\x00\x00\x00latin1q\x05\x86q\x06Rq\x07\x87q\x08Rq\x09(K\x01K\x02K\x03\x86q\x0acnumpy\x0adtype\x0aq\x0bX\x02\x00\x00\x00f4q\x0c\x89\x88\x87q\x0dRq\x0e(K\x03X\x01\x00\x00\x00<q\x0fNNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tq\x10b\x89h\x03X\x1b\x00\x00\x00\x00\x00\x00\x00\x00\x00\xc2\x80?\x00\x00\x00@\x00\x00@@\x00\x00\xc2\x80@\x00\x00\xc2\xa0@q\x11h\x05\x86q\x12Rq\x13tq\x14b.";

/// Protocol 5, Fortran-ordered: `pickle.dumps(np.asfortranarray(np.arange(6, dtype='<f4').reshape(2, 3)),
/// protocol=5)` (in-band BYTEARRAY8 through `_frombuffer`).
pub(crate) const P5_F: &[u8] = b"\x80\x05\x95\x8e\x00\x00\x00\x00\x00\x00\x00\x8c\x13numpy._core.numeric\x94\x8c\x0b_frombuffer\x94\x93\x94(\x96\x18\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00@@\x00\x00\x80?\x00\x00\x80@\x00\x00\x00@\x00\x00\xa0@\x94\x8c\x05numpy\x94\x8c\x05dtype\x94\x93\x94\x8c\x02f4\x94\x89\x88\x87\x94R\x94(K\x03\x8c\x01<\x94NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t\x94bK\x02K\x03\x86\x94\x8c\x01F\x94t\x94R\x94.";

fn matrix(p: &[u8], key: &str) -> Result<(Vec<usize>, Vec<f32>), PickleError> {
    let a = load_array(p, key)?;
    let data = a.to_f32_matrix(a.shape[0], a.shape[1])?;
    Ok((a.shape, data))
}

#[test]
fn numpy_protocol_2_latin1_and_protocol_5_fortran() {
    let want = (vec![2, 3], vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    assert_eq!(matrix(P2, "human").unwrap(), want);
    assert_eq!(matrix(P5_F, "mouse").unwrap(), want, "a bare array serves any key");
    let a = load_array(P5_F, "x").unwrap();
    assert!(a.fortran && a.float == Float::F32 && !a.big_endian);
}

#[test]
fn every_prefix_and_bit_flip_is_an_error_or_a_value_never_a_panic() {
    for n in 0..P2.len() {
        assert!(load_array(&P2[..n], "human").is_err(), "prefix {n}");
    }
    for i in 0..P5_F.len() {
        for bit in [0x01u8, 0x80] {
            let mut b = P5_F.to_vec();
            b[i] ^= bit;
            if let Ok(a) = load_array(&b, "human") {
                let _ = a.to_f32_matrix(a.shape.first().copied().unwrap_or(0), a.shape.get(1).copied().unwrap_or(0));
            }
        }
    }
}

#[test]
fn foreign_globals_and_opcodes_are_refused() {
    // pickle.dumps(os.system) would name posix.system: refused before anything happens.
    let evil = b"\x80\x02cposix\nsystem\nq\x00X\x02\x00\x00\x00lsq\x01\x85q\x02Rq\x03.";
    assert_eq!(load_array(evil, "human").unwrap_err(), PickleError::Global("posix.system".into()));
    assert!(matches!(load_array(b"\x80\x04G\x3f\xf0\0\0\0\0\0\0.", "h"), Err(PickleError::Opcode { op: b'G', .. })));
    assert!(matches!(load_array(b"\x80\x01N.", "h"), Err(PickleError::Malformed { .. })), "protocol 1");
    assert_eq!(load_array(b"\x80\x04K\x07.", "h").unwrap_err(), PickleError::NotArray("an int".into()));
    assert!(matches!(load_array(b"\x80\x05\x97.", "h"), Err(PickleError::Malformed { .. })), "out-of-band");
    assert!(load_array(b"not a pickle", "h").is_err());
}

#[test]
fn dict_without_the_key_names_its_keys() {
    // pickle.dumps({'mouse': 1}, protocol=4)
    let p = b"\x80\x04\x95\x0e\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x05mouse\x94K\x01s.";
    assert_eq!(load_array(p, "human").unwrap_err(), PickleError::NoKey { key: "human".into(), keys: "'mouse'".into() });
}

/// The finding of issue 10 item 10: `\x80\x02)` then TUPLE1 × 300,000 (332 bytes gzipped) overflowed the stack
/// when the nested tuple was dropped (SIGABRT). Now refused at depth 65, whatever the container.
#[test]
fn deep_nesting_is_refused_not_a_stack_overflow() {
    let mut p = b"\x80\x02)".to_vec();
    p.extend(std::iter::repeat_n(0x85u8, 300_000));
    assert_eq!(load_array(&p, "human").unwrap_err(), PickleError::TooDeep { offset: 3 + MAX_DEPTH - 1 });
    p.push(b'.');
    assert!(matches!(load_array(&p, "human"), Err(PickleError::TooDeep { .. })));

    // Exactly MAX_DEPTH levels are fine (and dropped without trouble); one more is not.
    let nested = |levels: usize| {
        let mut p = b"\x80\x02)".to_vec();
        p.extend(std::iter::repeat_n(0x85u8, levels - 1));
        p.push(b'.');
        p
    };
    assert_eq!(load_array(&nested(MAX_DEPTH), "h").unwrap_err(), PickleError::NotArray("a tuple".into()));
    assert!(matches!(load_array(&nested(MAX_DEPTH + 1), "h"), Err(PickleError::TooDeep { .. })));

    // MARK ... TUPLE and lists: the same limit.
    let mut marks = b"\x80\x02".to_vec();
    marks.extend(std::iter::repeat_n(b'(', 1000));
    marks.extend(std::iter::repeat_n(b't', 1000));
    assert!(matches!(load_array(&marks, "h"), Err(PickleError::TooDeep { .. })));
    let mut in_list = b"\x80\x02]".to_vec(); // [ ((((...)))) ]: the tuple is capped before it reaches the list
    in_list.extend(b")");
    in_list.extend(std::iter::repeat_n(0x85u8, 100));
    in_list.push(b'a');
    assert!(matches!(load_array(&in_list, "h"), Err(PickleError::TooDeep { .. })));
}

/// Mutation cannot deepen a value past the limit, or make one contain itself: a list or dict never holds a
/// list or dict (numpy pickles have none).
#[test]
fn lists_and_dicts_cannot_nest_or_contain_themselves() {
    // l = []; l.append(l)
    let cycle = b"\x80\x02]q\x00h\x00a.";
    assert!(matches!(load_array(cycle, "h"), Err(PickleError::Malformed { msg, .. }) if msg.contains("a list inside")));
    // Top-down: two lists memoized, the second appended into the first, then deep tuples into the second.
    let top_down = b"\x80\x02]q\x00]q\x01h\x00h\x01a.";
    assert!(matches!(load_array(top_down, "h"), Err(PickleError::Malformed { .. })));
    // A tuple holding a list cannot go into a list either; a dict may not be a dict value.
    let via_tuple = b"\x80\x02]q\x00h\x00\x85q\x01h\x00h\x01a.";
    assert!(
        matches!(load_array(via_tuple, "h"), Err(PickleError::Malformed { msg, .. }) if msg.contains("a tuple inside"))
    );
    let dict_in_dict = b"\x80\x02}q\x00X\x01\x00\x00\x00kh\x00s.";
    assert!(matches!(load_array(dict_in_dict, "h"), Err(PickleError::Malformed { .. })));
}

#[test]
fn work_and_allocation_are_bounded_by_the_input() {
    // A million NONE opcodes: stopped after MAX_OPS, not a million values.
    let mut many = b"\x80\x02".to_vec();
    many.extend(std::iter::repeat_n(b'N', 1_000_000));
    assert_eq!(load_array(&many, "h").unwrap_err(), PickleError::TooManyOps);
    // `_codecs.encode` of one memoized 1000-character str, called again and again: each call would allocate
    // 1000 bytes from 8 input bytes.
    let mut p = b"\x80\x02c_codecs\nencode\nq\x00X\xe8\x03\x00\x00".to_vec();
    p.extend(std::iter::repeat_n(b'a', 1000));
    p.extend(b"q\x01X\x06\x00\x00\x00latin1q\x02");
    for _ in 0..200 {
        p.extend(b"h\x00h\x01h\x02\x86R0");
    }
    p.push(b'N');
    p.push(b'.');
    assert!(matches!(load_array(&p, "h"), Err(PickleError::TooLarge { .. })));
}

#[test]
fn data_sizes_use_checked_arithmetic() {
    let array = |shape: Vec<usize>, data: &'static [u8]| NdArray {
        shape,
        float: Float::F32,
        big_endian: false,
        fortran: false,
        data: Buf::In(data),
    };
    // 2^60 × 16 float32 values "need" 2^66 bytes ≡ 0 (mod 2^64): no data must not pass for a match.
    let huge = array(vec![1 << 60, 16], b"");
    assert_eq!(huge.len(), None);
    assert!(matches!(huge.to_f32_matrix(1 << 60, 16), Err(PickleError::DataSize { bytes: 0, .. })));
    assert!(matches!(array(vec![1 << 62, 1], b"").to_f32_matrix(1 << 62, 1), Err(PickleError::DataSize { .. })));
    assert!(matches!(array(vec![1, 3], &[0; 8]).to_f32_matrix(1, 3), Err(PickleError::DataSize { .. })));
    assert!(matches!(array(vec![1, 2], &[0; 8]).to_f32_matrix(2, 2), Err(PickleError::DataSize { .. })));
    assert_eq!(array(vec![1, 2], &[0; 8]).to_f32_matrix(1, 2).unwrap(), vec![0.0, 0.0]);
}

#[test]
fn dtypes_and_byte_orders() {
    let f = |float: Float, big_endian: bool, data: Vec<u8>| {
        let a = NdArray { shape: vec![1, 2], float, big_endian, fortran: false, data: Buf::Own(data.into()) };
        a.to_f32_matrix(1, 2).unwrap()
    };
    let want = vec![1.5f32, -2.0];
    assert_eq!(f(Float::F32, false, want.iter().flat_map(|v| v.to_le_bytes()).collect()), want);
    assert_eq!(f(Float::F32, true, want.iter().flat_map(|v| v.to_be_bytes()).collect()), want);
    assert_eq!(f(Float::F64, false, want.iter().flat_map(|&v| (v as f64).to_le_bytes()).collect()), want);
    let f2: Vec<u8> = want.iter().flat_map(|&v| half::f16::from_f32(v).to_le_bytes()).collect();
    assert_eq!(f(Float::F16, false, f2), want);
    // An int32 array's dtype is refused by name.
    let at = P2.windows(2).position(|w| w == b"f4").unwrap();
    let mut i4 = P2.to_vec();
    i4[at] = b'i';
    assert_eq!(load_array(&i4, "h").unwrap_err(), PickleError::Dtype("<i4".into()));
}
