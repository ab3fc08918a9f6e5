//! Crash-safe file writes: a temp file in the destination folder, fsync, rename, fsync the folder. A reader
//! sees the old file or the whole new one, never a torn one, and two writers of the same path cannot
//! interleave (each has its own temp file; the last rename wins with a complete file).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temp-file name unique across processes and threads, hidden (leading dot) so listings can skip it.
pub fn temp_path_for(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let unique = format!(".{name}.{}.{}.{nanos:x}.tmp", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
    path.with_file_name(unique)
}

/// Writes `bytes` to `path` atomically (see the module doc).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if failpoint::hit("enospc") {
        return Err(io::Error::from_raw_os_error(28)); // ENOSPC, as a full disk reports it
    }
    write_atomic_with(path, |f| {
        if failpoint::hit("mid-write") {
            f.write_all(&bytes[..bytes.len() / 2])?;
            f.sync_all()?;
            failpoint::crash();
        }
        if let Some(pause) = failpoint::write_delay() {
            // Half written, then a pause: a kill test can aim its SIGKILL at the middle of a write.
            f.write_all(&bytes[..bytes.len() / 2])?;
            std::thread::sleep(pause);
            return f.write_all(&bytes[bytes.len() / 2..]);
        }
        f.write_all(bytes)
    })
}

/// An output is written beside its path and renamed over it, which replaces whatever the path names: refuse
/// anything but a regular file (or a symbolic link, which is replaced, not followed), so that `--out
/// /dev/null` or a FIFO is an error rather than the device replaced by a file (as root, that breaks the system).
pub fn check_replaceable(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    let kind = match fs::symlink_metadata(path) {
        Ok(m) => m.file_type(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let what = if kind.is_file() || kind.is_symlink() {
        return Ok(());
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else if kind.is_fifo() {
        "a FIFO"
    } else {
        "not a regular file"
    };
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{} is {what}; outputs are written to a temp file and renamed over the path, so it must be a regular file or absent (fix: give a file path)", path.display()),
    ))
}

/// Like [`write_atomic`], with the content produced by `fill` writing into the temp file.
pub fn write_atomic_with(path: &Path, fill: impl FnOnce(&mut File) -> io::Result<()>) -> io::Result<()> {
    check_replaceable(path)?;
    let tmp = temp_path_for(path);
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        fill(&mut f)?;
        f.sync_all()?;
        drop(f);
        if failpoint::hit("before-rename") {
            failpoint::crash();
        }
        fs::rename(&tmp, path)?;
        if failpoint::hit("after-rename") {
            failpoint::crash();
        }
        sync_dir(path.parent().unwrap_or(Path::new(".")));
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Makes a rename durable. Best effort: some filesystems refuse to open or fsync a directory.
pub fn sync_dir(dir: &Path) {
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Fault injection for the crash tests (tests/faults.rs). `ENFORMER_VEP_FAILPOINT=<point>:<n>` makes the
/// n-th atomic write that reaches `<point>` either end the process on the spot, as a SIGKILL would (no
/// cleanup, no destructors: `mid-write` with half the bytes in the temp file, `before-rename` with the temp
/// file complete, `after-rename` before the folder is synced), or fail with ENOSPC (`enospc`); the n-th
/// removal by `cache verify --fix` pauses at `verify-before-remove` (see [`pause`]). Unset in normal use: one
/// environment lookup per process.
pub mod failpoint {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;

    static SPEC: OnceLock<Option<(String, u64)>> = OnceLock::new();
    static HITS: AtomicU64 = AtomicU64::new(0);

    fn parse(spec: &str) -> Option<(String, u64)> {
        let (point, n) = spec.rsplit_once(':')?;
        Some((point.to_string(), n.parse().ok()?))
    }

    /// Whether this call is the configured point's n-th hit.
    pub fn hit(point: &str) -> bool {
        let spec = SPEC.get_or_init(|| std::env::var("ENFORMER_VEP_FAILPOINT").ok().as_deref().and_then(parse));
        match spec {
            Some((p, n)) if p == point => HITS.fetch_add(1, Ordering::SeqCst) + 1 == *n,
            _ => false,
        }
    }

    /// At the configured point's n-th hit, stops until told to go on: prints `failpoint <point> reached` on
    /// stderr and waits for a line on stdin, so that a test can change the filesystem at exactly that moment.
    pub fn pause(point: &str) {
        if hit(point) {
            eprintln!("failpoint {point} reached");
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line);
        }
    }

    /// `ENFORMER_VEP_WRITE_DELAY_MS=<ms>` (tests only): each atomic write pauses half-way, so that a SIGKILL
    /// can be aimed inside a write.
    pub fn write_delay() -> Option<std::time::Duration> {
        static DELAY: OnceLock<Option<u64>> = OnceLock::new();
        let ms = DELAY.get_or_init(|| std::env::var("ENFORMER_VEP_WRITE_DELAY_MS").ok()?.parse().ok());
        ms.map(std::time::Duration::from_millis)
    }

    /// Ends the process without unwinding or cleanup, leaving the filesystem as a kill would.
    pub fn crash() -> ! {
        std::process::abort()
    }

    #[cfg(test)]
    #[test]
    fn specs_parse() {
        assert_eq!(parse("mid-write:3"), Some(("mid-write".into(), 3)));
        assert_eq!(parse("mid-write"), None);
        assert_eq!(parse("x:y"), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_renames_over_a_device_fifo_or_directory() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        for (path, what) in [(Path::new("/dev/null"), "a device"), (&fifo, "a FIFO"), (dir.path(), "a directory")] {
            let err = write_atomic(path, b"x").unwrap_err();
            assert!(err.to_string().contains(what), "{err}");
        }
        assert!(fs::symlink_metadata("/dev/null").unwrap().file_type().is_char_device_like());
    }

    trait CharDeviceLike {
        fn is_char_device_like(&self) -> bool;
    }
    impl CharDeviceLike for fs::FileType {
        fn is_char_device_like(&self) -> bool {
            std::os::unix::fs::FileTypeExt::is_char_device(self)
        }
    }

    #[test]
    fn replaces_whole_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.txt");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn failed_fill_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.txt");
        let err = write_atomic_with(&p, |f| {
            f.write_all(b"partial")?;
            Err(io::Error::other("disk full"))
        });
        assert!(err.is_err());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
