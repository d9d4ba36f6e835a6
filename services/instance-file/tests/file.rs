//! The file plugin binary over its real socket: instance files are private (0600),
//! Provision is idempotent by the provision token, and a deposed group owner is refused.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use infrakit_testkit::{Mesh, spec, with_token};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

fn start(mesh: &mut Mesh) -> PathBuf {
    start_at(mesh).0
}

/// Starts the plugin; returns its directory and its process's index.
fn start_at(mesh: &mut Mesh) -> (PathBuf, usize) {
    let dir = mesh.join("inst");
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_infrakit-instance-file"));
    let i = mesh.start(
        &bin,
        "instance-file",
        &["--dir", &dir.display().to_string()],
    );
    (dir, i)
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn instance_files_holding_properties_are_readable_by_the_owner_only() {
    let mut mesh = Mesh::new("ikf");
    let dir = start(&mut mesh);
    let mut c = mesh.instance("instance-file");
    let id = c
        .provision(spec(
            serde_json::json!({"Password": "hunter2"}),
            &[("a", "1")],
        ))
        .unwrap();
    let file = dir.join(format!("{id}.json"));
    assert_eq!(mode(&file), 0o600, "a new instance's file");
    c.call(async |c| {
        c.label(infrakit_spi::instance::v1::LabelRequest {
            fence: None,
            r#type: String::new(),
            id: id.clone(),
            labels: [("a".to_string(), "2".to_string())].into(),
        })
        .await
    })
    .unwrap();
    assert!(std::fs::read_to_string(&file).unwrap().contains("\"2\""));
    assert_eq!(mode(&file), 0o600, "a labelled instance's file");
}

#[test]
fn provision_with_one_token_makes_one_instance_sequentially_and_concurrently() {
    let mut mesh = Mesh::new("ikf");
    let dir = start(&mut mesh);
    let mut c = mesh.instance("instance-file");
    let ids = c.assert_provision_idempotent(|t| {
        with_token(spec(serde_json::json!({}), &[("infrakit.group", "g")]), t)
    });
    for id in ids {
        assert!(dir.join(format!("{id}.json")).exists());
    }
    let files = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".json")
        })
        .count();
    assert_eq!(files, 2, "one file per token");
}

#[test]
fn a_deposed_group_owner_is_refused_also_after_a_crash_and_its_fences_are_no_instance() {
    let mut mesh = Mesh::new("ikf");
    let (dir, first) = start_at(&mut mesh);
    let c = mesh.instance("instance-file");
    let ids = c.assert_fences(&spec(serde_json::json!({}), &[]), || {
        // kill -9: the epochs must already be on disk.
        mesh.proc(first).kill();
        start_at(&mut mesh);
        mesh.instance("instance-file")
    });
    let fences = dir.join(infrakit_runtime::fence::FILE_NAME);
    assert_eq!(mode(&fences), 0o600);
    // The scan skips the fences file: only the two instances are listed.
    assert_eq!(
        mesh.instance("instance-file").describe(&[]).len(),
        ids.len()
    );
}
