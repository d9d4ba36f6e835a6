//! Small file operations with errors that name the path: atomic writes (the shared
//! [`infrakit_model::atomic`] writer: durable, mode 0600, since the files hold Properties), reads
//! and removals that treat "already gone" as done.

use std::path::{Path, PathBuf};

/// A file operation that failed.
#[derive(Debug, thiserror::Error)]
#[error("{what} {path:?}")]
pub struct IoError {
    /// What was being done.
    pub what: &'static str,
    /// The path.
    pub path: PathBuf,
    /// The cause.
    #[source]
    pub source: std::io::Error,
}

fn err(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> IoError {
    let path = path.to_path_buf();
    move |source| IoError { what, path, source }
}

/// Creates a directory and its parents.
pub fn create_dir(path: &Path) -> Result<(), IoError> {
    std::fs::create_dir_all(path).map_err(err("cannot create the directory", path))
}

/// Replaces `path` with `bytes` atomically and durably, mode 0600. The temporary file lives in
/// the same directory under a name starting with a dot, which Terraform does not read.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), IoError> {
    infrakit_model::atomic::write(path, bytes)
        .map(|_| ())
        .map_err(|e| IoError {
            what: e.what,
            path: e.path,
            source: e.source,
        })
}

/// Removes the temporary files of writes a crash cut short in `dir`.
pub fn remove_leftovers(dir: &Path) -> Result<(), IoError> {
    infrakit_model::atomic::remove_leftovers(dir)
        .map(|_| ())
        .map_err(err("cannot clean up", dir))
}

/// The content of a file, or `None` when it does not exist.
pub fn read_opt(path: &Path) -> Result<Option<Vec<u8>>, IoError> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(err("cannot read", path)(e)),
    }
}

/// Removes a file; one that is already gone is fine.
pub fn remove(path: &Path) -> Result<(), IoError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(err("cannot remove", path)(e)),
    }
}

/// The names of the files in a directory.
pub fn list(dir: &Path) -> Result<Vec<String>, IoError> {
    Ok(std::fs::read_dir(dir)
        .map_err(err("cannot list", dir))?
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .collect())
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_writes_replace_and_leave_no_temporary_file() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        write_atomic(&p, b"1").unwrap();
        write_atomic(&p, b"2").unwrap();
        assert_eq!(read_opt(&p).unwrap().unwrap(), b"2");
        assert_eq!(list(d.path()).unwrap(), ["f"]);
        let mode = std::fs::metadata(&p).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        remove(&p).unwrap();
        remove(&p).unwrap();
        assert_eq!(read_opt(&p).unwrap(), None);
    }
}
