//! The file plugin binary over its real socket: instance files are private (0600),
//! Provision is idempotent by the provision token, a deposed group owner is refused, and
//! Properties are listed, when asked for, as the instance's file holds them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use infrakit_spi::instance::v1::DescribeInstancesRequest;
use infrakit_testkit::{Mesh, instance_spec, props, spec, tags, with_token};
use serde_json::json;
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

#[test]
fn properties_are_listed_when_asked_for_as_the_instance_file_holds_them_now() {
    let mut mesh = Mesh::new("ikf");
    let dir = start(&mut mesh);
    let mut c = mesh.instance("instance-file");
    let id = c
        .provision(instance_spec(
            json!({"Note": "v1"}),
            &[("infrakit.group", "g")],
            "echo hi",
            Some("pet-1"),
        ))
        .unwrap();
    c.provision(spec(json!({"Note": "other"}), &[("infrakit.group", "h")]))
        .unwrap();

    let listed = c.describe(&[("infrakit.group", "g")]);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, id);
    assert_eq!(listed[0].logical_id.as_deref(), Some("pet-1"));
    let stored = props(&listed[0]);
    assert_eq!(stored["Properties"], json!({"Note": "v1"}));
    assert_eq!(stored["Init"], "echo hi");

    // Without Properties asked for: the same instances, tags and revision, no Properties.
    let bare = |c: &mut infrakit_testkit::Instance| {
        c.call(async |c| {
            c.describe_instances(DescribeInstancesRequest {
                r#type: String::new(),
                tags: tags(&[("infrakit.group", "g")]),
                properties: false,
                unless_revision: 0,
            })
            .await
        })
        .unwrap()
    };
    let without = bare(&mut c);
    assert_eq!(without.instances.len(), 1);
    assert_eq!(without.instances[0].id, id);
    assert_eq!(without.instances[0].tags, listed[0].tags);
    assert_eq!(without.instances[0].logical_id.as_deref(), Some("pet-1"));
    assert!(without.instances[0].properties.is_empty());
    assert!(without.revision > 0);

    // Properties are not held in memory: they are read from the file when listed, so an edit
    // made behind the plugin's back shows at once.
    let file = dir.join(format!("{id}.json"));
    let mut record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    record["Spec"]["Properties"] = json!({"Note": "v2"});
    std::fs::write(&file, serde_json::to_vec_pretty(&record).unwrap()).unwrap();
    let listed = c.describe(&[("infrakit.group", "g")]);
    assert_eq!(props(&listed[0])["Properties"], json!({"Note": "v2"}));
    assert_eq!(
        bare(&mut c).revision,
        without.revision,
        "no change was announced"
    );
}
