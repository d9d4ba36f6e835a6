//! A stock gRPC tool (grpcurl 1.8.6, which only speaks reflection v1alpha) can list and call
//! every plugin with nothing but server reflection.

use crate::support::*;
use std::process::Command;

/// Runs grpcurl on a unix socket: `flags` go before the address (grpcurl requires it), `tail`
/// (a verb such as `list`, or a method) after it.
fn grpcurl(sock: &std::path::Path, flags: &[&str], tail: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(tool("grpcurl"));
    cmd.args(["-plaintext", "-unix", "-authority", "localhost"])
        .args(flags)
        .arg(sock)
        .args(tail);
    run(&mut cmd)
}

#[test]
fn grpcurl_lists_services_through_reflection_and_provisions_an_instance() {
    let t = TestDir::new();
    let (_p, inst) = t.start_file_plugin();
    let sock = t.socket("instance-file");

    let out = grpcurl(&sock, &[], &["list"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let services = stdout(&out);
    for s in [
        "infrakit.instance.v1.Instance",
        "infrakit.plugin.v1.Plugin",
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
    ] {
        assert!(services.contains(s), "{s} missing from:\n{services}");
    }

    // Properties are JSON bytes: base64 of {"Note":"hello"}.
    let props = "eyJOb3RlIjoiaGVsbG8ifQ==";
    let body = format!(r#"{{"spec":{{"properties":"{props}","tags":{{"tier":"web"}}}}}}"#);
    let out = grpcurl(
        &sock,
        &["-d", &body],
        &["infrakit.instance.v1.Instance/Provision"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let id = serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        inst.join(format!("{id}.json")).exists(),
        "the instance file appears"
    );

    let out = grpcurl(
        &sock,
        &["-d", r#"{"tags":{"tier":"web"}}"#],
        &["infrakit.instance.v1.Instance/DescribeInstances"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["instances"][0]["id"], id.as_str());
    assert_eq!(v["instances"][0]["tags"]["tier"], "web");
}

#[test]
fn grpcurl_describes_the_spi_and_sees_field_violations() {
    let t = TestDir::new();
    let _p = t.start("infrakit-flavor-vanilla", "flavor-vanilla", &[]);
    let sock = t.socket("flavor-vanilla");
    let out = grpcurl(&sock, &[], &["describe", "infrakit.flavor.v1.Flavor"]);
    assert!(stdout(&out).contains("rpc Prepare"), "{}", stdout(&out));
    // {"Inti": []} : a typo of Init.
    let out = grpcurl(
        &sock,
        &["-d", r#"{"properties":"eyJJbnRpIjogW119"}"#],
        &["infrakit.flavor.v1.Flavor/Validate"],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("InvalidArgument"), "{err}");
    assert!(err.contains("$.properties.Inti"), "{err}");
    assert!(err.contains("did you mean"), "{err}");
}
