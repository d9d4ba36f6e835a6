//! Compiles the SPI in `proto/` with protox (no system `protoc` needed), writes the descriptor
//! set used by server reflection, compiles the client of etcd's API (`proto/etcd/`, used by the
//! group controller's etcd store), and records the source revision for `version` output.

use protox::prost::Message;
use std::path::PathBuf;
use std::process::Command;

const PROTOS: &[&str] = &[
    "proto/infrakit/plugin/v1/plugin.proto",
    "proto/infrakit/instance/v1/instance.proto",
    "proto/infrakit/flavor/v1/flavor.proto",
    "proto/infrakit/group/v1/group.proto",
    "proto/infrakit/discovery/v1/discovery.proto",
];

/// etcd's v3 API (a subset): clients only, and kept out of the reflection descriptor set.
const ETCD_PROTOS: &[&str] = &["proto/etcd/etcdserverpb/rpc.proto"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // tonic-prost-build does not emit rerun-if-changed itself.
    println!("cargo:rerun-if-changed=proto/infrakit");
    println!("cargo:rerun-if-changed=proto/etcd");
    // Only paths that exist: a missing one makes cargo run this script on every build (a git
    // worktree has a `.git` file, a source tarball none).
    for git in [".git/HEAD", ".git/refs/heads"] {
        if std::path::Path::new(git).exists() {
            println!("cargo:rerun-if-changed={git}");
        }
    }
    let fds = protox::compile(PROTOS, ["proto"])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("infrakit_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(false)
        .compile_fds(protox::compile(ETCD_PROTOS, ["proto"])?)?;
    println!("cargo:rustc-env=INFRAKIT_REVISION={}", revision());
    Ok(())
}

/// The short git commit of the source tree, or `unknown` outside a git checkout.
fn revision() -> String {
    Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}
