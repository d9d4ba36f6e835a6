//! Finding the workspace's binaries next to the test executable.

use std::path::PathBuf;

/// The directory holding the workspace's binaries: `target/<profile>`, the parent of the
/// `deps` directory the test executable runs from.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let dir = exe.parent().expect("the test executable's directory");
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.parent().unwrap_or(dir).to_path_buf()
    } else {
        dir.to_path_buf()
    }
}

/// The path of workspace binary `name` (e.g. `infrakit-group`), built into the same target
/// directory as the test; fails the test with the command that builds it when it is missing.
///
/// Cargo builds only the binaries of the crate under test before its integration tests, so a
/// test that runs another crate's binary needs it built first.
pub fn bin(name: &str) -> PathBuf {
    let p = bin_dir().join(name);
    assert!(
        p.exists(),
        "{} is missing: build it first with `cargo build -p {name} --bins` (or \
         `cargo build --workspace --bins`) into the same target directory",
        p.display()
    );
    p
}
