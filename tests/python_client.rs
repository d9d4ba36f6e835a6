//! The SPI is usable from another language with nothing but `proto/`.

use crate::support::*;
use std::process::Command;

#[test]
fn a_python_client_generated_from_proto_provisions_and_destroys_an_instance() {
    let t = TestDir::new();
    let (_p, inst) = t.start_file_plugin();
    let out_dir = t.join("py");
    std::fs::create_dir_all(&out_dir).unwrap();
    let out = run(Command::new(tool("python")).args([
        repo().join("tests/python/provision_destroy.py").as_os_str(),
        repo().join("proto").as_os_str(),
        out_dir.as_os_str(),
        t.socket("instance-file").as_os_str(),
    ]));
    assert!(
        out.status.success(),
        "python client failed:\n{}",
        stderr(&out)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = v["created"].as_str().unwrap();
    assert_eq!(v["listed"], serde_json::json!([id]));
    assert_eq!(v["logical_id"], "py-1");
    assert_eq!(v["properties"]["Properties"]["lang"], "python");
    assert_eq!(v["after"], serde_json::json!([]));
    assert_eq!(v["second_destroy"], "NOT_FOUND");
    assert_eq!(instance_files(&inst), 0, "the file is gone");
}
