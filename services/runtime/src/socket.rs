//! Binding unix sockets safely.
//!
//! # Guarantees
//! - The socket file is created with mode 0600 (0660 when a group is given, and owned by that
//!   group) before anyone can connect: it is bound under a temporary name, its mode set, and then
//!   renamed into place. A directory that does not exist yet is created 0700 (0750 with a group).
//! - A socket file left by a crashed process (nobody accepts on it) is replaced; a socket that a
//!   live process serves makes [`bind_unix`] fail with an error naming the path.
//! - Paths longer than the OS limit for `sun_path` are refused with a message saying how to fix it.
//! - The [`SocketGuard`] removes the file when dropped, but only if it is still ours.

use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The longest socket path Linux accepts (`sun_path` holds 108 bytes including the final NUL).
pub const MAX_SOCKET_PATH: usize = 107;

/// Why a unix socket could not be bound.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    /// The path does not fit in `sun_path`.
    #[error(
        "socket path {path:?} is {len} bytes, over the limit of {max}: use a shorter plugins directory (INFRAKIT_PLUGINS_DIR or --plugins-dir) or a shorter --listen path"
    )]
    TooLong {
        /// The path.
        path: PathBuf,
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Another process serves this socket.
    #[error(
        "socket {path:?} is in use by a running plugin: stop that plugin first, or start this one with another --name or --listen"
    )]
    InUse {
        /// The path.
        path: PathBuf,
    },
    /// Something that is not a socket is in the way.
    #[error("{path:?} exists and is not a socket: remove it or choose another --listen path")]
    NotASocket {
        /// The path.
        path: PathBuf,
    },
    /// The group given with `--socket-group` does not exist.
    #[error(
        "socket group {0:?} does not exist (give a group name from /etc/group or a numeric gid)"
    )]
    UnknownGroup(String),
    /// An I/O operation failed.
    #[error("{what} {path:?}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// On which path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

/// Removes a bound socket file when dropped, if the file is still the one we created.
#[derive(Debug)]
pub struct SocketGuard {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

// === impl SocketGuard ===

impl SocketGuard {
    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SocketGuard {
    fn drop(&mut self) {
        if let Ok(m) = std::fs::symlink_metadata(&self.path)
            && m.dev() == self.dev
            && m.ino() == self.ino
        {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Binds a unix socket at `path` (see the module guarantees). `group` is a group name or gid
/// that may also connect (mode 0660); without it only the owner may (0600).
pub fn bind_unix(
    path: &Path,
    group: Option<&str>,
) -> Result<(std::os::unix::net::UnixListener, SocketGuard), SocketError> {
    let len = path.as_os_str().len();
    if len > MAX_SOCKET_PATH {
        return Err(SocketError::TooLong {
            path: path.to_path_buf(),
            len,
            max: MAX_SOCKET_PATH,
        });
    }
    let gid = group.map(resolve_group).transpose()?;
    let io_err = |what, p: &Path| {
        let p = p.to_path_buf();
        move |source| SocketError::Io {
            what,
            path: p,
            source,
        }
    };
    let dir = path.parent().unwrap_or(Path::new("/"));
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(if gid.is_some() { 0o750 } else { 0o700 })
            .create(dir)
            .map_err(io_err("cannot create the socket directory", dir))?;
        if let Some(gid) = gid {
            std::os::unix::fs::chown(dir, None, Some(gid))
                .map_err(io_err("cannot give the socket directory to the group", dir))?;
        }
    }
    check_existing(path)?;

    // Bind under a temporary name, fix the mode, then rename into place, so the final path never
    // exists with looser permissions. Fall back to the final path when the temporary name would
    // not fit in sun_path.
    let tmp = dir.join(format!(".ik{}", random_hex(4)));
    let bind_at = if tmp.as_os_str().len() <= MAX_SOCKET_PATH {
        tmp.clone()
    } else {
        path.to_path_buf()
    };
    let listener = std::os::unix::net::UnixListener::bind(&bind_at)
        .map_err(io_err("cannot bind the socket", &bind_at))?;
    let mode = if gid.is_some() { 0o660 } else { 0o600 };
    let finish = || -> Result<(), SocketError> {
        std::fs::set_permissions(&bind_at, std::fs::Permissions::from_mode(mode))
            .map_err(io_err("cannot set the mode of the socket", &bind_at))?;
        if let Some(gid) = gid {
            std::os::unix::fs::chown(&bind_at, None, Some(gid))
                .map_err(io_err("cannot give the socket to the group", &bind_at))?;
        }
        if bind_at != path {
            std::fs::rename(&bind_at, path)
                .map_err(io_err("cannot move the socket into place", path))?;
        }
        Ok(())
    };
    if let Err(e) = finish() {
        let _ = std::fs::remove_file(&bind_at);
        return Err(e);
    }
    let meta = std::fs::symlink_metadata(path).map_err(io_err("cannot stat the socket", path))?;
    listener
        .set_nonblocking(true)
        .map_err(io_err("cannot make the socket non-blocking", path))?;
    Ok((
        listener,
        SocketGuard {
            path: path.to_path_buf(),
            dev: meta.dev(),
            ino: meta.ino(),
        },
    ))
}

/// Fails if `path` is served by a live process or is not a socket; removes a stale socket.
fn check_existing(path: &Path) -> Result<(), SocketError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(SocketError::Io {
                what: "cannot stat",
                path: path.to_path_buf(),
                source,
            });
        }
    };
    if !meta.file_type().is_socket() {
        return Err(SocketError::NotASocket {
            path: path.to_path_buf(),
        });
    }
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => Err(SocketError::InUse {
            path: path.to_path_buf(),
        }),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            tracing::warn!(path = %path.display(), "replacing a stale socket left by a process that is gone");
            std::fs::remove_file(path).map_err(|source| SocketError::Io {
                what: "cannot remove the stale socket",
                path: path.to_path_buf(),
                source,
            })
        }
        Err(source) => Err(SocketError::Io {
            what: "cannot check whether a plugin serves",
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Resolves a group name (from /etc/group) or a numeric gid.
fn resolve_group(group: &str) -> Result<u32, SocketError> {
    if let Ok(gid) = group.parse::<u32>() {
        return Ok(gid);
    }
    let groups = std::fs::read_to_string("/etc/group").unwrap_or_default();
    groups
        .lines()
        .filter_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            let gid = f.nth(1)?.parse::<u32>().ok()?;
            (name == group).then_some(gid)
        })
        .next()
        .ok_or_else(|| SocketError::UnknownGroup(group.to_string()))
}

/// `n` random bytes as lowercase hex.
pub fn random_hex(n: usize) -> String {
    let mut buf = vec![0u8; n];
    if getrandom::fill(&mut buf).is_err() {
        // Fall back to the clock and pid; uniqueness, not secrecy, is what callers need.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let seed = t ^ (u128::from(std::process::id()) << 64);
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (seed >> ((i % 16) * 8)) as u8;
        }
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn short_dir() -> tempfile::TempDir {
        tempfile::Builder::new()
            .prefix("ik")
            .tempdir_in("/tmp")
            .unwrap()
    }

    #[test]
    fn socket_is_created_owner_only() {
        let d = short_dir();
        let p = d.path().join("a.sock");
        let (_l, _g) = bind_unix(&p, None).unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn group_socket_is_0660() {
        let d = short_dir();
        let p = d.path().join("g.sock");
        let gid = std::fs::metadata("/proc/self").unwrap().gid().to_string();
        let (_l, _g) = bind_unix(&p, Some(&gid)).unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o660);
    }

    #[test]
    fn stale_socket_is_replaced_and_live_one_refused() {
        let d = short_dir();
        let p = d.path().join("s.sock");
        {
            // A listener that is dropped without removing its file leaves a stale socket.
            let l = std::os::unix::net::UnixListener::bind(&p).unwrap();
            drop(l);
        }
        assert!(p.exists());
        let (live, guard) = bind_unix(&p, None).unwrap();
        let err = bind_unix(&p, None).unwrap_err();
        assert!(matches!(err, SocketError::InUse { .. }), "{err}");
        assert!(err.to_string().contains("s.sock"));
        drop(live);
        drop(guard);
        assert!(!p.exists(), "the guard removes its socket");
    }

    #[test]
    fn overlong_path_is_refused_with_a_fix() {
        let p = PathBuf::from(format!("/tmp/{}.sock", "x".repeat(120)));
        let err = bind_unix(&p, None).unwrap_err().to_string();
        assert!(err.contains("over the limit of 107"), "{err}");
        assert!(err.contains("INFRAKIT_PLUGINS_DIR"), "{err}");
    }

    #[test]
    fn a_regular_file_in_the_way_is_refused() {
        let d = short_dir();
        let p = d.path().join("f.sock");
        std::fs::write(&p, b"x").unwrap();
        let err = bind_unix(&p, None).unwrap_err();
        assert!(matches!(err, SocketError::NotASocket { .. }));
    }

    #[test]
    fn unknown_group_is_refused() {
        let d = short_dir();
        let err = bind_unix(&d.path().join("u.sock"), Some("no-such-group-xyz")).unwrap_err();
        assert!(matches!(err, SocketError::UnknownGroup(_)));
    }
}
