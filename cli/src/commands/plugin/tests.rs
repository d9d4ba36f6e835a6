use super::*;
use crate::testing::{FakeServer, stale_socket};
use infrakit_runtime::dial::DialOptions;
use std::sync::mpsc;

fn row(name: &str, spis: &[&str], health: &str) -> PluginRow {
    PluginRow {
        name: name.to_string(),
        kind: "instance-file".to_string(),
        spis: spis
            .iter()
            .map(|s| SpiRow {
                name: s.to_string(),
                version: "1.0".to_string(),
            })
            .collect(),
        endpoint: format!("unix:///run/{name}.sock"),
        version: "0.1.0".to_string(),
        health: health.to_string(),
        source: "socket".to_string(),
    }
}

#[test]
fn table_shows_short_spi_names_without_plugin() {
    let rows = [row(
        "instance-file",
        &["infrakit.instance.v1.Instance", "infrakit.plugin.v1.Plugin"],
        "serving",
    )];
    let s = render_list(Format::Table, false, &rows).unwrap();
    assert_eq!(
        s,
        "NAME           KIND           SPIS      ENDPOINT                        VERSION  HEALTH\n\
         instance-file  instance-file  Instance  unix:///run/instance-file.sock  0.1.0    serving\n"
    );
    assert_eq!(
        render_list(Format::Table, true, &rows).unwrap(),
        "instance-file\n"
    );
}

#[test]
fn json_lists_full_spi_names_and_versions() {
    let rows = [row("f", &["infrakit.flavor.v1.Flavor"], "unreachable")];
    let v: serde_json::Value =
        serde_json::from_str(&render_list(Format::Json, false, &rows).unwrap()).unwrap();
    assert_eq!(
        v,
        serde_json::json!([{
            "name": "f", "kind": "instance-file",
            "spis": [{"name": "infrakit.flavor.v1.Flavor", "version": "1.0"}],
            "endpoint": "unix:///run/f.sock", "version": "0.1.0", "health": "unreachable", "source": "socket"
        }])
    );
}

#[test]
fn discovery_entries_split_name_and_version() {
    let r = from_entry(
        PluginEntry {
            name: "web".into(),
            endpoint: "tcp://10.0.0.1:7000".into(),
            source: Source::Registered as i32,
            health: PluginHealth::NotServing as i32,
            spis: vec!["infrakit.instance.v1.Instance@1.0".into()],
            kind: "instance-docker".into(),
            version: "0.2.0".into(),
            ..Default::default()
        },
        std::path::Path::new("/p"),
    );
    assert_eq!(r.health, "not-serving");
    assert_eq!(r.source, "registered");
    assert_eq!(short_spis(&r.spis), "Instance");
    assert_eq!(r.spis[0].version, "1.0");
}

#[test]
fn info_table_is_key_value_lines() {
    let v = InfoView {
        name: "x".into(),
        kind: "flavor-vanilla".into(),
        version: "0.1.0".into(),
        revision: "abc".into(),
        listen: "unix:///p/x.sock".into(),
        endpoint: "unix:///p/x.sock".into(),
        spis: vec![SpiRow {
            name: "infrakit.flavor.v1.Flavor".into(),
            version: "1.0".into(),
        }],
        health: "serving".into(),
    };
    let s = render_info(Format::Table, &v).unwrap();
    assert!(
        s.starts_with("NAME      x\nKIND      flavor-vanilla\n"),
        "{s}"
    );
    assert!(
        s.contains("SPIS      infrakit.flavor.v1.Flavor@1.0\n"),
        "{s}"
    );
}

#[test]
fn scanning_probes_live_sockets_and_marks_dead_ones_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, _rx) = mpsc::channel();
    let _server = FakeServer::start(dir.path(), "live", tx);
    stale_socket(dir.path(), "dead");
    let ctx = Context {
        plugins_dir: dir.path().to_path_buf(),
        timeout: Duration::from_secs(5),
        dial: DialOptions::default(),
        output: Format::Table,
    };
    let rows = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(list(&ctx));
    let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["dead", "live"]);
    assert_eq!(
        (rows[0].health.as_str(), rows[0].kind.as_str()),
        ("unreachable", "")
    );
    assert_eq!(rows[1].health, "serving");
    assert_eq!(rows[1].kind, "instance-fake");
    assert_eq!(short_spis(&rows[1].spis), "Instance");
}
