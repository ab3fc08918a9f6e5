//! Reading cache files without trusting what sits at their path.
//!
//! A cache folder is shared, so the file at an entry's path may be anything: a FIFO (opening it blocks until a
//! writer appears), a device (`/dev/zero` never ends), a directory, a symbolic link to any of those or to a
//! 3 GB sparse file. Every cache read goes through [`read_regular`], which
//!
//! - opens without blocking (`O_NONBLOCK`, so a FIFO cannot hang the open) and, for our own entries, without
//!   following a symbolic link at the final path component (`O_NOFOLLOW`);
//! - checks with `fstat` on the opened handle (not on the path, which may change) that it is a regular file,
//!   and that its size is at most what the caller expects, before allocating anything;
//! - reads at most that many bytes (plus one, to notice a file that grew);
//! - returns the handle's identity (device, inode, size, modification time), so that a caller that later
//!   acts on the path (`cache verify --fix`) can check the path still names the file it read.
//!
//! Symbolic links: the cache never writes one. An entry path that is a symbolic link is not followed: it is
//! reported as not being an entry (and `predict` replaces it by renaming a real entry over the link; the link's
//! target is never touched). The cache root and namespace folders may be symbolic links. Legacy `.pkl.gz`
//! files are inputs the cache does not own and may be links (a legacy folder assembled from links is common):
//! they are followed, and the target must be a regular file.

use std::fs::{File, FileType, Metadata, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

/// Whether a symbolic link at the path's final component is followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Symlinks {
    Follow,
    Refuse,
}

/// What identifies one file's contents at one moment: compared before acting on a path again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
    pub len: u64,
    pub mtime: (i64, i64),
}

impl FileId {
    pub fn of(m: &Metadata) -> FileId {
        FileId { dev: m.dev(), ino: m.ino(), len: m.len(), mtime: (m.mtime(), m.mtime_nsec()) }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("no such file")]
    NotFound,
    #[error("{0}, not a regular file (not read)")]
    NotRegular(&'static str),
    #[error("{len} bytes, more than the {max} bytes such a file can have (not read)")]
    TooLarge { len: u64, max: u64 },
    #[error("cannot read: {0}")]
    Io(#[source] io::Error),
}

impl ReadError {
    /// An I/O error (permission, EIO, ...) says nothing about the contents: never treat it as corruption.
    pub fn is_io(&self) -> bool {
        matches!(self, ReadError::Io(_))
    }
}

/// "a FIFO", "a directory", ...: what a non-regular file is, for messages.
pub fn kind_name(t: FileType) -> &'static str {
    if t.is_dir() {
        "a directory"
    } else if t.is_symlink() {
        "a symbolic link"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_file() {
        "a regular file"
    } else {
        "a special file"
    }
}

/// Opens `path` for reading if it is a regular file (see the module doc); never blocks on a FIFO.
pub fn open_regular(path: &Path, symlinks: Symlinks) -> Result<(File, Metadata), ReadError> {
    let mut flags = libc::O_NONBLOCK | libc::O_CLOEXEC;
    if symlinks == Symlinks::Refuse {
        flags |= libc::O_NOFOLLOW;
    }
    let file = match OpenOptions::new().read(true).custom_flags(flags).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(ReadError::NotFound),
        // O_NOFOLLOW on a symbolic link fails with ELOOP.
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) && symlinks == Symlinks::Refuse => {
            return Err(ReadError::NotRegular("a symbolic link"))
        }
        // Opening a FIFO without a writer for reading succeeds with O_NONBLOCK; ENXIO is a socket or an absent
        // device driver.
        Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
            let kind = std::fs::symlink_metadata(path).map(|m| kind_name(m.file_type())).unwrap_or("a special file");
            return Err(ReadError::NotRegular(kind));
        }
        Err(e) => return Err(ReadError::Io(e)),
    };
    let meta = file.metadata().map_err(ReadError::Io)?;
    if !meta.is_file() {
        return Err(ReadError::NotRegular(kind_name(meta.file_type())));
    }
    Ok((file, meta))
}

/// Reads a whole regular file of at most `max` bytes (see the module doc); returns its bytes and identity.
pub fn read_regular(path: &Path, max: u64, symlinks: Symlinks) -> Result<(Vec<u8>, FileId), ReadError> {
    let (file, meta) = open_regular(path, symlinks)?;
    Ok((read_opened(file, &meta, max)?, FileId::of(&meta)))
}

/// Reads a file opened by [`open_regular`] whole, if its size is at most `max` bytes: the allocation is the
/// size `fstat` reported, and at most `max` + 1 bytes are read (a file that grew meanwhile is too large).
pub fn read_opened(file: File, meta: &Metadata, max: u64) -> Result<Vec<u8>, ReadError> {
    let mut bytes = Vec::new();
    read_opened_into(file, meta, max, &mut bytes)?;
    Ok(bytes)
}

/// [`read_opened`] into `bytes` (cleared first), reusing its allocation: a step reading thousands of 19 MB
/// entries then allocates (and page-faults) a buffer once per thread, not once per entry.
pub fn read_opened_into(file: File, meta: &Metadata, max: u64, bytes: &mut Vec<u8>) -> Result<(), ReadError> {
    if meta.len() > max {
        return Err(ReadError::TooLarge { len: meta.len(), max });
    }
    bytes.clear();
    bytes.try_reserve_exact(meta.len() as usize).map_err(|e| ReadError::Io(io::Error::other(e)))?;
    file.take(max.saturating_add(1)).read_to_end(bytes).map_err(ReadError::Io)?;
    if bytes.len() as u64 > max {
        return Err(ReadError::TooLarge { len: bytes.len() as u64, max });
    }
    Ok(())
}

/// Whether `path` still names the file `id` describes (same device, inode, size and modification time),
/// without following a symbolic link.
pub fn still_the_same(path: &Path, id: &FileId) -> io::Result<bool> {
    let m = std::fs::symlink_metadata(path)?;
    Ok(m.is_file() && FileId::of(&m) == *id)
}

/// What [`rename_if_unchanged`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renamed {
    Moved,
    /// `from` names another file than the one examined (renamed over it since): left where it is.
    Changed,
    /// Nothing at `from` any more.
    Gone,
}

/// Renames `from` to `to` only if `from` still names the file `id` describes (the one examined). The rename
/// happens first (atomic), then the moved file is compared with `id` and renamed back if it is another file,
/// so a file renamed over `from` between the examination and now (a writer's new copy) is never moved away.
pub fn rename_if_unchanged(from: &Path, to: &Path, id: &FileId) -> io::Result<Renamed> {
    match std::fs::rename(from, to) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Renamed::Gone),
        Err(e) => return Err(e),
    }
    match still_the_same(to, id) {
        Ok(true) => Ok(Renamed::Moved),
        other => {
            std::fs::rename(to, from)?;
            other.map(|_| Renamed::Changed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_files_only_bounded_and_identified() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, b"0123456789").unwrap();
        let (bytes, id) = read_regular(&f, 10, Symlinks::Refuse).unwrap();
        assert_eq!((bytes.as_slice(), id.len), (&b"0123456789"[..], 10));
        assert!(matches!(read_regular(&f, 9, Symlinks::Refuse), Err(ReadError::TooLarge { len: 10, max: 9 })));
        assert!(matches!(read_regular(&dir.path().join("nope"), 9, Symlinks::Refuse), Err(ReadError::NotFound)));
        assert!(matches!(read_regular(dir.path(), 9, Symlinks::Follow), Err(ReadError::NotRegular("a directory"))));

        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&f, &link).unwrap();
        assert!(matches!(read_regular(&link, 10, Symlinks::Refuse), Err(ReadError::NotRegular("a symbolic link"))));
        assert_eq!(read_regular(&link, 10, Symlinks::Follow).unwrap().1, id, "a followed link reads its target");
        let zero = dir.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        assert!(matches!(read_regular(&zero, 10, Symlinks::Follow), Err(ReadError::NotRegular("a character device"))));

        // A FIFO without a writer: reported at once (a plain open would block forever).
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert!(matches!(read_regular(&fifo, 10, Symlinks::Follow), Err(ReadError::NotRegular("a FIFO"))));
    }

    #[test]
    fn rename_if_unchanged_never_moves_a_file_renamed_over_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let (path, aside) = (dir.path().join("entry"), dir.path().join(".entry.corrupt"));
        std::fs::write(&path, b"bad").unwrap();
        let examined = read_regular(&path, 10, Symlinks::Refuse).unwrap().1;
        let tmp = dir.path().join(".new.tmp");
        std::fs::write(&tmp, b"good copy").unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        assert_eq!(rename_if_unchanged(&path, &aside, &examined).unwrap(), Renamed::Changed);
        assert_eq!(std::fs::read(&path).unwrap(), b"good copy");
        assert!(!aside.exists());
        let now = read_regular(&path, 10, Symlinks::Refuse).unwrap().1;
        assert_eq!(rename_if_unchanged(&path, &aside, &now).unwrap(), Renamed::Moved);
        assert_eq!((path.exists(), std::fs::read(&aside).unwrap()), (false, b"good copy".to_vec()));
        assert_eq!(rename_if_unchanged(&path, &aside, &now).unwrap(), Renamed::Gone);
    }
}
