//! Where plugin sockets live.
//!
//! The plugins directory is, in order: the explicit `--plugins-dir`, the `INFRAKIT_PLUGINS_DIR`
//! environment variable, `/run/infrakit/plugins` when it exists (or, for a server, when it can be
//! created, i.e. when running as root), else a per-user directory: `$XDG_RUNTIME_DIR/infrakit/plugins`
//! or `$HOME/.infrakit/plugins`. A unix-socket plugin named `N` listens on `<dir>/N.sock`.

use std::path::{Path, PathBuf};

/// The environment variable naming the plugins directory.
pub const ENV: &str = "INFRAKIT_PLUGINS_DIR";
/// The system-wide plugins directory.
pub const SYSTEM_DIR: &str = "/run/infrakit/plugins";
/// The file suffix of plugin sockets.
pub const SOCKET_SUFFIX: &str = ".sock";

/// The plugins directory for a client: never creates anything.
pub fn for_client(explicit: Option<&Path>) -> PathBuf {
    if let Some(d) = chosen(explicit) {
        return d;
    }
    if Path::new(SYSTEM_DIR).is_dir() {
        return PathBuf::from(SYSTEM_DIR);
    }
    per_user()
}

/// The plugins directory for a server: may create `/run/infrakit/plugins` (mode 0755 parents,
/// 0700 for the directory itself is set by the socket code when it creates it).
pub fn for_server(explicit: Option<&Path>) -> PathBuf {
    if let Some(d) = chosen(explicit) {
        return d;
    }
    let system = Path::new(SYSTEM_DIR);
    if system.is_dir() || std::fs::create_dir_all(system).is_ok() {
        return system.to_path_buf();
    }
    per_user()
}

/// The socket path of plugin `name` in `dir`.
pub fn socket_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}{SOCKET_SUFFIX}"))
}

/// The plugin names that have a socket file in `dir`, sorted.
pub fn socket_names(dir: &Path) -> Vec<String> {
    use std::os::unix::fs::FileTypeExt;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().map(|t| t.is_socket()).unwrap_or(false))
        .filter_map(|e| {
            let n = e.file_name().into_string().ok()?;
            let name = n.strip_suffix(SOCKET_SUFFIX)?.to_string();
            (!name.starts_with('.')).then_some(name)
        })
        .collect();
    names.sort();
    names
}

fn chosen(explicit: Option<&Path>) -> Option<PathBuf> {
    explicit.map(Path::to_path_buf).or_else(|| {
        std::env::var_os(ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    })
}

fn per_user() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
        return PathBuf::from(x).join("infrakit/plugins");
    }
    if let Some(h) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(h).join(".infrakit/plugins");
    }
    PathBuf::from("/tmp/infrakit/plugins")
}
