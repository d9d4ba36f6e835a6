//! Small file operations with errors that name the path: atomic writes (a temporary file in the
//! plugin's own directory, then a rename), reads and removals that treat "already gone" as done.

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

/// Writes `bytes` to `path` atomically, through a temporary file in `tmp_dir` (which must be on
/// the same filesystem and is not read by Terraform).
pub fn write_atomic(path: &Path, bytes: &[u8], tmp_dir: &Path) -> Result<(), IoError> {
    let tmp = tmp_dir.join(format!("tmp-{}", infrakit_runtime::socket::random_hex(8)));
    std::fs::write(&tmp, bytes).map_err(err("cannot write", &tmp))?;
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(err("cannot replace", path)(e));
    }
    Ok(())
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
        let d = tempfile::tempdir().unwrap();
        let tmp = d.path().join("t");
        create_dir(&tmp).unwrap();
        let p = d.path().join("f");
        write_atomic(&p, b"1", &tmp).unwrap();
        write_atomic(&p, b"2", &tmp).unwrap();
        assert_eq!(read_opt(&p).unwrap().unwrap(), b"2");
        assert!(list(&tmp).unwrap().is_empty());
        remove(&p).unwrap();
        remove(&p).unwrap();
        assert_eq!(read_opt(&p).unwrap(), None);
    }
}
