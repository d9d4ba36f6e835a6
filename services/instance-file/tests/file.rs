//! The file plugin binary over its real socket: instance files are private (0600) and
//! Provision is idempotent by the provision token.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use infrakit_testkit::{Mesh, spec, with_token};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

fn start(mesh: &mut Mesh) -> PathBuf {
    let dir = mesh.join("inst");
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_infrakit-instance-file"));
    mesh.start(
        &bin,
        "instance-file",
        &["--dir", &dir.display().to_string()],
    );
    dir
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
