use super::*;
use crate::plan::check;
use infrakit_spi::instance::v1::InstanceSpec;
use std::process::Command;

fn plan(props: &str, init: &str, logical_id: Option<&str>) -> Plan {
    check(Some(&InstanceSpec {
        properties: props.as_bytes().to_vec(),
        tags: [("infrakit.group", "web"), ("tier", "it's")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        init: init.into(),
        logical_id: logical_id.map(str::to_string),
        attachments: vec![],
    }))
    .unwrap()
}

fn cx() -> Context<'static> {
    Context {
        plugin: "instance-vagrant",
        root: Path::new("/srv/ik"),
        dir: Path::new("/srv/ik/web-0123456789ab"),
    }
}

/// `ruby -c` (installed with Vagrant) accepts the file; skipped where Ruby is missing.
fn assert_ruby_syntax(text: &str) {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("Vagrantfile");
    std::fs::write(&f, text).unwrap();
    match Command::new("ruby").arg("-c").arg(&f).output() {
        Ok(o) => assert!(
            o.status.success(),
            "ruby -c rejects:\n{text}\n{}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(_) => eprintln!("ruby is not installed; syntax not checked"),
    }
}

#[test]
fn the_init_script_is_the_container_command() {
    let p = plan(r#"{"Image": "bb:1"}"#, "echo 'hi'", None);
    assert_eq!(command(&p), vec!["/bin/sh", "-c", "echo 'hi'"]);
    let p = plan(
        r#"{"Image": "bb:1", "Command": ["sleep", "9"]}"#,
        "echo hi",
        None,
    );
    assert_eq!(
        command(&p),
        vec![
            "/bin/sh",
            "-c",
            "echo hi\nexec \"$@\"\n",
            "sh",
            "sleep",
            "9"
        ]
    );
    let p = plan(r#"{"Image": "bb:1", "Command": ["sleep", "9"]}"#, "", None);
    assert_eq!(command(&p), vec!["sleep", "9"]);
    let p = plan(r#"{"Image": "bb:1"}"#, "", None);
    assert!(command(&p).is_empty(), "the image's own command");
}

#[test]
fn the_docker_vagrantfile_carries_labels_limits_and_the_pets_identity() {
    let p = plan(
        r#"{"Image": "bb:1", "Memory": 64, "CPUs": 0.5, "Network": "pets", "Labels": {"team": "a"}}"#,
        "echo hi",
        Some("10.9.0.7"),
    );
    let text = render(&built_in(Provider::Docker), &p, &cx());
    for want in [
        "d.image = 'bb:1'",
        "d.has_ssh = false",
        "config.vm.synced_folder \".\", \"/vagrant\", disabled: true",
        "'--pull', 'never'",
        &format!("'--label', 'infrakit.instance-vagrant.id={}'", p.id),
        "'--label', 'infrakit.instance-vagrant.plugin=instance-vagrant'",
        "'--label', 'infrakit.instance-vagrant.dir=/srv/ik'",
        "'--label', 'infrakit.group=web'",
        r"'--label', 'tier=it\'s'",
        "'--label', 'team=a'",
        "'--memory', '64m', '--cpus', '0.5', '--network', 'pets', '--ip', '10.9.0.7'",
        &format!("node.vm.hostname = '{}'", p.id),
    ] {
        assert!(text.contains(want), "{want} missing from:\n{text}");
    }
    assert!(
        !text.contains("config.vm.box"),
        "the docker provider needs no box"
    );
    assert_ruby_syntax(&text);
    let p = plan(r#"{"Image": "bb:1"}"#, "", Some("db-1"));
    let text = render(&built_in(Provider::Docker), &p, &cx());
    assert!(text.contains("node.vm.hostname = 'db-1'"), "{text}");
    assert!(text.contains("d.cmd = []"), "{text}");
    assert_ruby_syntax(&text);
}

#[test]
fn the_virtualbox_vagrantfile_has_box_memory_cpus_network_and_provisioner() {
    let p = plan(
        r#"{"Provider": "virtualbox", "Box": "debian/bookworm64", "CPUs": 2}"#,
        "apt-get install -y nginx",
        Some("192.168.56.10"),
    );
    let text = render(&built_in(Provider::Virtualbox), &p, &cx());
    for want in [
        "config.vm.box = 'debian/bookworm64'",
        "vb.memory = 512",
        "vb.cpus = 2",
        "ip = '192.168.56.10'",
        "config.vm.provision \"shell\", path: '/srv/ik/web-0123456789ab/boot.sh'",
    ] {
        assert!(text.contains(want), "{want} missing from:\n{text}");
    }
    assert_eq!(boot_script(&p), "apt-get install -y nginx");
    assert_ruby_syntax(&text);
    let p = plan(r#"{"Provider": "virtualbox", "Box": "b"}"#, "", None);
    let text = render(&built_in(Provider::Virtualbox), &p, &cx());
    assert!(text.contains("ip = nil"), "DHCP for cattle:\n{text}");
}
