//! Replacing a file atomically and durably, private by default: the one way every InfraKit
//! crate writes a state file, an instance record or a config file it owns.
//!
//! # Guarantees
//! - Readers see the old content or the new, never a mix: the bytes go to a temporary file in
//!   the same directory (so the rename cannot cross file systems), which is then renamed over
//!   the target.
//! - Once [`write`] returns `Ok`, the content survives a crash or a power loss: the file is
//!   synced before the rename and the directory after it.
//! - The file has exactly the mode asked for (0600 with [`write`]), whatever the umask; it is
//!   created with that mode, so no other user can open it even while it is being written
//!   (Properties, which may hold secrets, are written this way).
//! - On any error before the rename, the temporary file is removed.
//!
//! # Caveats
//! - A crash between creating and renaming the temporary file leaves it behind. Its name starts
//!   with a dot and holds [`TEMP_MARK`] (see [`is_temp_name`]); [`remove_leftovers`] deletes
//!   them when a plugin starts.
//! - Each write costs two fsyncs. A caller writing thousands of files in a burst, where losing
//!   the last ones in a power loss is acceptable, may choose not to use this (and says why).

use std::fmt;
use std::fs::{File, Metadata, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The mode [`write`] gives files: read and write for the owner only.
pub const PRIVATE: u32 = 0o600;

/// What every temporary file name holds (after a leading dot and the target's name).
pub const TEMP_MARK: &str = ".infrakit-tmp-";

/// A write that failed: what was being done, to which path, and why.
#[derive(Debug)]
pub struct WriteError {
    /// What was being done, e.g. `cannot sync`.
    pub what: &'static str,
    /// The file (or directory) concerned.
    pub path: PathBuf,
    /// The cause.
    pub source: io::Error,
}

/// Replaces `path` with `bytes` atomically and durably, mode 0600 (see the module's
/// guarantees). Returns the metadata of the file written, taken before it was renamed into
/// place (so its inode is ours even if someone replaces the file right after).
pub fn write(path: &Path, bytes: &[u8]) -> Result<Metadata, WriteError> {
    write_mode(path, bytes, PRIVATE)
}

/// Like [`write`] with another mode, e.g. `0o700` for a script that must run.
pub fn write_mode(path: &Path, bytes: &[u8], mode: u32) -> Result<Metadata, WriteError> {
    let Some(name) = path.file_name() else {
        return Err(WriteError {
            what: "cannot write to a path without a file name",
            path: path.to_path_buf(),
            source: io::Error::from(io::ErrorKind::InvalidInput),
        });
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let (tmp, file) = create_temp(dir, &name.to_string_lossy(), mode)?;
    let written = fill(&file, bytes, mode).and_then(|meta| {
        std::fs::rename(&tmp, path)
            .map(|()| meta)
            .map_err(|source| WriteError {
                what: "cannot rename into place",
                path: path.to_path_buf(),
                source,
            })
    });
    let meta = match written {
        Ok(meta) => meta,
        Err(mut e) => {
            let _ = std::fs::remove_file(&tmp);
            if e.path.as_os_str().is_empty() {
                e.path = tmp;
            }
            return Err(e);
        }
    };
    // The rename is only durable once the directory entry is on disk.
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| WriteError {
            what: "cannot sync the directory",
            path: dir.to_path_buf(),
            source,
        })?;
    Ok(meta)
}

/// True when `file_name` is one of this module's temporary files (which directory scanners
/// skip: they are not the files they look for).
pub fn is_temp_name(file_name: &str) -> bool {
    file_name.starts_with('.') && file_name.contains(TEMP_MARK)
}

/// Removes the temporary files a crash left in `dir` (see [`is_temp_name`]); returns how many.
/// Call it at start-up, before any write to `dir` is in flight.
pub fn remove_leftovers(dir: &Path) -> io::Result<usize> {
    let mut removed = 0;
    for entry in std::fs::read_dir(dir)?.filter_map(Result::ok) {
        let name = entry.file_name();
        if name.to_str().is_some_and(is_temp_name) && entry.file_type().is_ok_and(|t| t.is_file()) {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(removed)
}

/// Creates a new temporary file for `name` in `dir` with `mode`, never reusing an existing one.
fn create_temp(dir: &Path, name: &str, mode: u32) -> Result<(PathBuf, File), WriteError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut attempt = 0;
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(
            ".{name}{TEMP_MARK}{:x}-{n:x}-{:x}",
            std::process::id(),
            nanos()
        ));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
        {
            Ok(f) => return Ok((tmp, f)),
            // Another process (same pid in another namespace) chose the same name: try again.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 8 => attempt += 1,
            Err(source) => {
                return Err(WriteError {
                    what: "cannot create a temporary file in",
                    path: dir.to_path_buf(),
                    source,
                });
            }
        }
    }
}

/// Sets the exact mode (the umask may have narrowed it), writes and syncs. Errors carry an
/// empty path, which the caller fills with the temporary file's.
fn fill(mut file: &File, bytes: &[u8], mode: u32) -> Result<Metadata, WriteError> {
    let step = |what: &'static str| {
        move |source| WriteError {
            what,
            path: PathBuf::new(),
            source,
        }
    };
    file.set_permissions(Permissions::from_mode(mode))
        .map_err(step("cannot set the mode of"))?;
    file.write_all(bytes).map_err(step("cannot write"))?;
    file.sync_all().map_err(step("cannot sync"))?;
    file.metadata().map_err(step("cannot stat"))
}

/// Nanoseconds of the wall clock, to make temporary names unlikely to repeat across restarts.
fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
}

// === impl WriteError ===

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.what, self.path.display())
    }
}

impl std::error::Error for WriteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

impl From<WriteError> for io::Error {
    /// Keeps the cause's kind (`NotFound`, `PermissionDenied`, ...) and names the step and path.
    fn from(e: WriteError) -> Self {
        io::Error::new(e.source.kind(), format!("{e}: {}", e.source))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn replaces_the_content_with_mode_0600_and_leaves_no_temporary_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("state.json");
        std::fs::write(&p, "old").unwrap();
        std::fs::set_permissions(&p, Permissions::from_mode(0o644)).unwrap();
        let meta = write(&p, b"new").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"new");
        let on_disk = std::fs::metadata(&p).unwrap();
        assert_eq!(on_disk.mode() & 0o777, 0o600);
        assert_eq!(meta.ino(), on_disk.ino(), "the metadata is the new file's");
        assert_eq!(names(d.path()), ["state.json"]);
    }

    #[test]
    fn another_mode_is_exact_whatever_the_umask() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("boot.sh");
        write_mode(&p, b"#!/bin/sh\n", 0o750).unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().mode() & 0o777, 0o750);
    }

    #[test]
    fn a_failed_rename_removes_the_temporary_file_and_names_the_target() {
        let d = tempfile::tempdir().unwrap();
        // A non-empty directory cannot be replaced by a file.
        let p = d.path().join("taken");
        std::fs::create_dir(&p).unwrap();
        std::fs::write(p.join("x"), "x").unwrap();
        let e = write(&p, b"new").unwrap_err();
        assert_eq!(e.what, "cannot rename into place");
        assert_eq!(e.path, p);
        assert_eq!(names(d.path()), ["taken"]);
        let io: io::Error = e.into();
        assert!(io.to_string().contains("cannot rename into place"), "{io}");
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_it() {
        let d = tempfile::tempdir().unwrap();
        let e = write(&d.path().join("nope/file"), b"x").unwrap_err();
        assert_eq!(e.source.kind(), io::ErrorKind::NotFound);
        assert_eq!(e.path, d.path().join("nope"));
    }

    #[test]
    fn leftovers_are_recognised_and_removed() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(".a.json.infrakit-tmp-1-2-3"), "x").unwrap();
        std::fs::write(d.path().join("a.json"), "x").unwrap();
        std::fs::write(d.path().join(".hidden"), "x").unwrap();
        assert!(is_temp_name(".a.json.infrakit-tmp-1-2-3"));
        assert!(!is_temp_name("a.json.infrakit-tmp-1") && !is_temp_name(".a.json.tmp-1"));
        assert_eq!(remove_leftovers(d.path()).unwrap(), 1);
        assert_eq!(names(d.path()), [".hidden", "a.json"]);
    }

    #[test]
    fn concurrent_writers_never_leave_a_mix() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        std::thread::scope(|s| {
            for i in 0..4u8 {
                let p = &p;
                s.spawn(move || {
                    for _ in 0..20 {
                        write(p, &[i; 4096]).unwrap();
                    }
                });
            }
        });
        let content = std::fs::read(&p).unwrap();
        assert_eq!(content.len(), 4096);
        assert!(content.iter().all(|b| *b == content[0]));
        assert_eq!(names(d.path()), ["f"]);
    }
}
