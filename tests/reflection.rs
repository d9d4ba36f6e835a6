//! Server reflection lists exactly the services a plugin serves, so that a tool like grpcurl
//! shows what can be called: no Instance service on a flavor.

use crate::support::*;
use std::collections::BTreeSet;
use std::process::Command;

/// The services grpcurl lists on the unix socket `sock`.
fn listed(sock: &std::path::Path) -> BTreeSet<String> {
    let out = run(Command::new(tool("grpcurl"))
        .args(["-plaintext", "-unix", "-authority", "localhost"])
        .arg(sock)
        .arg("list"));
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out).lines().map(str::to_string).collect()
}

/// The services every plugin serves besides its own.
const HOST: [&str; 4] = [
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
    "infrakit.plugin.v1.Plugin",
];

#[test]
fn grpcurl_lists_only_the_services_a_plugin_serves() {
    let t = TestDir::new();
    let _f = t.start("infrakit-flavor-vanilla", "flavor-vanilla", &[]);
    let (_i, _) = t.start_file_plugin();
    for (name, own) in [
        ("flavor-vanilla", "infrakit.flavor.v1.Flavor"),
        ("instance-file", "infrakit.instance.v1.Instance"),
    ] {
        let want: BTreeSet<String> = HOST.iter().chain([&own]).map(|s| s.to_string()).collect();
        assert_eq!(listed(&t.socket(name)), want, "{name}");
    }
    // The flavor's messages still resolve, including the instance types they embed.
    let out = run(Command::new(tool("grpcurl"))
        .args(["-plaintext", "-unix", "-authority", "localhost"])
        .arg(t.socket("flavor-vanilla"))
        .args(["describe", "infrakit.flavor.v1.DrainRequest"]));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("infrakit.instance.v1.InstanceDescription"),
        "{}",
        stdout(&out)
    );
}
