use std::fs;
use std::time::{Duration, SystemTime};

use super::*;
use crate::cache::{entry, Cache, NEncoding, StoreMode};
use crate::progress::ProgressMode;
use crate::window::seq_id;

#[test]
fn utc_formatting_and_durations() {
    assert_eq!(format_utc(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00Z");
    let t = SystemTime::UNIX_EPOCH + Duration::from_secs(951_782_400 + 3661); // 2000-02-29 01:01:01
    assert_eq!(format_utc(t), "2000-02-29T01:01:01Z");
    assert_eq!(format_utc(SystemTime::UNIX_EPOCH + Duration::from_secs(1_735_689_599)), "2024-12-31T23:59:59Z");
    assert_eq!(parse_duration("30d").unwrap(), Duration::from_secs(30 * 86_400));
    assert_eq!(parse_duration("12h").unwrap(), Duration::from_secs(12 * 3600));
    assert_eq!(parse_duration("90m").unwrap(), Duration::from_secs(5400));
    assert_eq!(parse_duration("2w").unwrap(), Duration::from_secs(14 * 86_400));
    for bad in ["", "d", "30", "30 days", "-1d", "1.5h", "99999999999999999999d"] {
        assert!(parse_duration(bad).is_err(), "{bad}");
    }
    assert_eq!(human_bytes(999), "999 B");
    assert_eq!(human_bytes(19_000_000), "19.0 MB");
}

#[test]
fn files_are_classified() {
    let id = seq_id(b"A");
    assert_eq!(classify(&format!("{id}.npy.zst"), Some(&id[..2])), FileKind::Entry);
    assert_eq!(classify(&format!("{id}.npy.zst"), Some("00")), FileKind::Other, "wrong fan-out folder");
    assert_eq!(classify(&format!(".{id}.npy.zst.123.0.ff.tmp"), Some(&id[..2])), FileKind::Temp);
    assert_eq!(classify(&format!(".{id}.npy.zst.corrupt"), Some(&id[..2])), FileKind::Corrupt);
    assert_eq!(classify("notes.txt", Some("ab")), FileKind::Other);
    assert_eq!(classify(".fingerprint.json.1.2.3.tmp", None), FileKind::Temp);
}

/// A float32 namespace in a cache at `dir`.
fn float32_namespace(dir: &std::path::Path) -> crate::cache::Namespace {
    let fp = Fingerprint::new("aa".repeat(32), "human", NEncoding::Zeros, 196_608, StoreMode::Float32);
    Cache::open(dir).unwrap().namespace(&fp)
}

#[test]
fn stats_verify_and_gc_on_a_small_cache() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(dir.path()).unwrap();
    let fp = |m: &str, store| Fingerprint::new(m.repeat(32), "human", NEncoding::Zeros, 196_608, store);
    let a = cache.namespace(&fp("aa", StoreMode::Float32));
    let b = cache.namespace(&fp("bb", StoreMode::Summary).with_center_bins(10));
    let out: Vec<f32> = (0..24).map(|i| i as f32).collect();
    let ids: Vec<String> = (0..5).map(|i| seq_id(format!("s{i}").as_bytes())).collect();
    for id in &ids {
        a.write_entry(id, &entry::encode(StoreMode::Float32, &out, 8, 3, 3..5, &a.identity(id)).unwrap()).unwrap();
    }
    b.write_entry(&ids[0], &entry::encode(StoreMode::Summary, &out, 8, 3, 3..5, &b.identity(&ids[0])).unwrap())
        .unwrap();
    // Damage: a wrong-shape entry, a truncated one, a stale temp file, a moved-aside corrupt entry.
    a.write_entry(&ids[3], &entry::encode(StoreMode::Float32, &out, 6, 4, 3..5, &a.identity(&ids[3])).unwrap())
        .unwrap();
    let p4 = a.entry_path(&ids[4]).unwrap();
    let len = fs::metadata(&p4).unwrap().len();
    fs::OpenOptions::new().write(true).open(&p4).unwrap().set_len(len - 3).unwrap();
    let tmp = p4.with_file_name(format!(".{}.npy.zst.1.2.3.tmp", ids[4]));
    fs::write(&tmp, b"partial").unwrap();
    let old = SystemTime::now() - Duration::from_secs(2 * 3600);
    fs::File::options().write(true).open(&tmp).unwrap().set_modified(old).unwrap();
    fs::write(p4.with_file_name(format!(".{}.npy.zst.corrupt", ids[2])), b"bad").unwrap();

    let s = stats(dir.path()).unwrap();
    assert_eq!(s.namespaces.len(), 2);
    assert_eq!((s.entries, s.temp_files, s.stale_temp_files, s.corrupt_files), (6, 1, 1, 1));
    let sa = s.namespaces.iter().find(|n| n.id == a.fingerprint().id()).unwrap();
    assert_eq!(sa.entries, 5);
    let on_disk: u64 = ids.iter().map(|id| fs::metadata(a.entry_path(id).unwrap()).unwrap().len()).sum();
    assert_eq!(sa.bytes, on_disk);
    assert!(s.table().contains("total"));

    let opts = VerifyOptions { cache: dir.path().to_path_buf(), model_sha256: None, fix: false };
    let r = verify(&opts, ProgressMode::Quiet).unwrap();
    assert_eq!((r.checked, r.ok), (6, 4));
    let bad: Vec<&str> = r.bad.iter().map(|b| b.path.as_str()).collect();
    assert!(bad.iter().any(|p| p.contains(&ids[3])) && bad.iter().any(|p| p.contains(&ids[4])), "{bad:?}");
    assert!(r.bad.iter().any(|b| b.reason.contains("shape [6, 4]")), "{:?}", r.bad);
    assert!(r.failed(false));
    assert_eq!((r.stale_temp_files.len(), r.corrupt_files.len()), (1, 1));
    let only_b = VerifyOptions { model_sha256: Some("bb".repeat(32)), ..opts.clone() };
    assert_eq!(verify(&only_b, ProgressMode::Quiet).unwrap().checked, 1);
    let fixed = verify(&VerifyOptions { fix: true, ..opts.clone() }, ProgressMode::Quiet).unwrap();
    assert_eq!(fixed.removed, 4);
    assert!(!fixed.failed(true));
    let again = verify(&opts, ProgressMode::Quiet).unwrap();
    assert_eq!((again.checked, again.ok, again.bad.len()), (4, 4, 0));

    // gc: a dry run removes nothing; --keep-model removes the other namespace.
    let keep_a = GcOptions {
        cache: dir.path().to_path_buf(),
        keep_models: vec!["aa".repeat(32)],
        older_than: None,
        dry_run: true,
    };
    let dry = gc(&keep_a).unwrap();
    assert_eq!(dry.namespaces_removed.len(), 1);
    assert!(b.dir().exists());
    let done = gc(&GcOptions { dry_run: false, ..keep_a.clone() }).unwrap();
    assert_eq!(done.namespaces_removed, dry.namespaces_removed);
    assert!(!b.dir().exists() && a.dir().exists());
    let typo = GcOptions { keep_models: vec!["cc".repeat(32)], ..keep_a };
    assert!(matches!(gc(&typo), Err(MaintenanceError::KeepMatchesNothing(_))));
    assert!(a.dir().exists());
}

/// Issue 10 item 6: removal acts on the file that was examined, never on a good copy renamed over its path.
#[test]
fn removal_keeps_a_file_renamed_over_the_path_since_it_was_examined() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("entry");
    fs::write(&path, b"bad").unwrap();
    let examined = readfile::read_regular(&path, 10, Symlinks::Refuse).unwrap().1;
    // A writer renames a good copy over the path (as predict does) after the examination.
    let good = dir.path().join(".good.tmp");
    fs::write(&good, b"good entry").unwrap();
    fs::rename(&good, &path).unwrap();
    assert_eq!(remove_if_unchanged(&path, &examined).unwrap(), Removal::Changed);
    assert_eq!(fs::read(&path).unwrap(), b"good entry");
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1, "nothing left aside");
    // The examined file itself goes; then there is nothing to remove.
    let now = readfile::read_regular(&path, 100, Symlinks::Refuse).unwrap().1;
    assert_eq!(remove_if_unchanged(&path, &now).unwrap(), Removal::Removed);
    assert!(!path.exists());
    assert_eq!(remove_if_unchanged(&path, &now).unwrap(), Removal::Gone);
}

/// Issue 10 items 6 and 12: a FIFO, a symbolic link (to /dev/zero) and a directory at entry paths are listed
/// and never opened (a FIFO would block verify forever) nor removed by --fix; an oversized sparse file is bad
/// without being read.
#[test]
fn verify_never_opens_or_removes_what_is_not_a_regular_file() {
    let dir = tempfile::tempdir().unwrap();
    let ns = float32_namespace(dir.path());
    let out: Vec<f32> = (0..24).map(|i| i as f32).collect();
    let ids: Vec<String> = (0..5).map(|i| seq_id(format!("s{i}").as_bytes())).collect();
    ns.write_entry(&ids[0], &entry::encode(StoreMode::Float32, &out, 8, 3, 3..5, &ns.identity(&ids[0])).unwrap())
        .unwrap();
    let path = |i: usize| {
        let p = ns.entry_path(&ids[i]).unwrap();
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        p
    };
    let c = std::ffi::CString::new(path(1).to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    std::os::unix::fs::symlink("/dev/zero", path(2)).unwrap();
    fs::create_dir(path(3)).unwrap();
    let sparse = fs::File::create(path(4)).unwrap();
    sparse.set_len(3 << 30).unwrap();
    let opts = VerifyOptions { cache: dir.path().to_path_buf(), model_sha256: None, fix: true };
    let r = verify(&opts, ProgressMode::Quiet).unwrap();
    let mut kinds: Vec<&str> = r.not_regular.iter().map(|b| b.reason.split(',').next().unwrap()).collect();
    kinds.sort();
    assert_eq!(kinds, ["a FIFO", "a directory", "a symbolic link"], "{r:?}");
    assert_eq!((r.ok, r.bad.len()), (1, 1));
    assert!(r.bad[0].path.contains(&ids[4]) && r.bad[0].reason.contains("more than"), "{r:?}");
    assert!(r.failed(true), "what is not a regular file remains");
    assert_eq!(r.removed, 1);
    assert!(!path(4).exists());
    for i in 1..4 {
        assert!(fs::symlink_metadata(path(i)).is_ok(), "{i} left in place");
    }
}

/// The shape a namespace recorded (fingerprint.json's `output_shape`) decides which entries are wrong, even
/// when most entries have another shape; only a namespace without a recorded shape goes by the majority.
#[test]
fn verify_holds_entries_to_the_recorded_shape_not_to_the_majority() {
    let dir = tempfile::tempdir().unwrap();
    let ns = float32_namespace(dir.path());
    let ids: Vec<String> = (0..4).map(|i| seq_id(format!("s{i}").as_bytes())).collect();
    // One entry of the model's shape [8, 3], three of another, [6, 4].
    for (i, id) in ids.iter().enumerate() {
        let (bins, tracks) = if i == 0 { (8, 3) } else { (6, 4) };
        let out: Vec<f32> = (0..bins * tracks).map(|v| v as f32).collect();
        let bytes = entry::encode(StoreMode::Float32, &out, bins, tracks, 2..4, &ns.identity(id)).unwrap();
        ns.write_entry(id, &bytes).unwrap();
    }
    let opts = VerifyOptions { cache: dir.path().to_path_buf(), model_sha256: None, fix: false };
    let bad_ids = |r: &VerifyReport| -> Vec<usize> {
        (0..ids.len()).filter(|&i| r.bad.iter().any(|b| b.path.contains(&ids[i]))).collect()
    };

    // Nothing recorded: the majority [6, 4] stands for the namespace's shape.
    let r = verify(&opts, ProgressMode::Quiet).unwrap();
    assert_eq!((r.checked, r.ok, bad_ids(&r)), (4, 3, vec![0]), "{:?}", r.bad);

    // Recorded [8, 3]: the three [6, 4] entries are the wrong ones, named with both shapes.
    ns.record_output_shape(8, 3).unwrap();
    let r = verify(&opts, ProgressMode::Quiet).unwrap();
    assert_eq!((r.checked, r.ok, bad_ids(&r)), (4, 1, vec![1, 2, 3]), "{:?}", r.bad);
    assert!(r.bad.iter().all(|b| b.reason.contains("[6, 4]") && b.reason.contains("[8, 3]")), "{:?}", r.bad);
    let fixed = verify(&VerifyOptions { fix: true, ..opts.clone() }, ProgressMode::Quiet).unwrap();
    assert_eq!(fixed.removed, 3);
    assert!(ns.entry_path(&ids[0]).unwrap().exists());
}
