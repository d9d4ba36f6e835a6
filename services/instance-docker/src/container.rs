//! Building the engine's container-create body from validated Properties and an instance spec.
//! Pure: no engine calls.
//!
//! # How the flavor's Init runs
//! The instance spec's `init` (the flavor's boot script, e.g. the vanilla flavor's `Init` lines
//! joined by newlines) becomes the container's main process, run by the image's `/bin/sh`:
//! - `init` empty: the container runs `Entrypoint` + `Command` (the image's own when unset).
//! - `init` set, no `Command` and no `Entrypoint`: `["/bin/sh", "-c", init]`.
//! - `init` set with `Command` and/or `Entrypoint`: the script runs first, then execs them:
//!   `["/bin/sh", "-c", init + "\nexec \"$@\"", "sh", entrypoint..., command...]`.
//!
//! Either way the image's own ENTRYPOINT and CMD are replaced. The container lives as long as
//! that process: a script that ends makes the container exit, which the group sees as FAILED.
//! An image without `/bin/sh` cannot run an Init; Provision then fails naming `$.spec.init`.

use crate::labels;
use crate::properties::{DockerProperties, Hostname, Restart};
use crate::units::MountKind;
use bollard::models::{
    ContainerCreateBody, HostConfig, Mount, MountType, PortBinding, RestartPolicy,
    RestartPolicyNameEnum,
};
use infrakit_model::Violations;
use std::collections::HashMap;

/// What a container is made from, besides its Properties.
#[derive(Clone, Debug)]
pub struct Request<'a> {
    /// The plugin's name (the ownership marker's value).
    pub plugin: &'a str,
    /// The instance's tags.
    pub tags: &'a HashMap<String, String>,
    /// The flavor's boot script.
    pub init: &'a str,
    /// The pet's logical ID.
    pub logical_id: Option<&'a str>,
}

/// The shell that runs the flavor's Init.
pub const SHELL: &str = "/bin/sh";

/// The create body for an instance; violations name `$.spec.*` paths.
pub fn body(p: &DockerProperties, r: &Request<'_>) -> Result<ContainerCreateBody, Violations> {
    let mut bad = Violations::new();
    let hostname = match (&p.hostname, r.logical_id) {
        (Hostname::Fixed(h), _) => Some(h.clone()),
        (Hostname::FromLogicalId, Some(l)) if crate::units::is_hostname(l) => Some(l.to_string()),
        (Hostname::FromLogicalId, Some(l)) => {
            bad.push(
                "$.spec.logical_id",
                format!("{l:?} cannot be a host name (HostnameFromLogicalID is true)"),
                "use logical IDs made of letters, digits, '-' and '.', or drop HostnameFromLogicalID",
            );
            None
        }
        _ => None,
    };
    let (entrypoint, cmd) = if r.init.trim().is_empty() {
        (p.entrypoint.clone(), p.command.clone())
    } else if p.entrypoint.is_none() && p.command.is_none() {
        (
            Some(vec![SHELL.into(), "-c".into(), r.init.to_string()]),
            Some(Vec::new()),
        )
    } else {
        let mut args: Vec<String> = vec![
            SHELL.into(),
            "-c".into(),
            format!("{}\nexec \"$@\"", r.init),
            "sh".into(),
        ];
        args.extend(p.entrypoint.iter().flatten().cloned());
        args.extend(p.command.iter().flatten().cloned());
        (Some(args), Some(Vec::new()))
    };
    let mut port_bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    for port in &p.ports {
        port_bindings
            .entry(port.key())
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(PortBinding {
                host_ip: port.host_ip.clone(),
                host_port: Some(port.host_port.map(|n| n.to_string()).unwrap_or_default()),
            });
    }
    let mounts: Vec<Mount> = p
        .mounts
        .iter()
        .map(|m| Mount {
            target: Some(m.target.clone()),
            source: m.source.clone(),
            typ: Some(match m.kind {
                MountKind::Bind => MountType::BIND,
                MountKind::Volume => MountType::VOLUME,
                MountKind::Tmpfs => MountType::TMPFS,
            }),
            read_only: Some(m.read_only),
            ..Default::default()
        })
        .collect();
    let restart = match p.restart {
        Restart::No => RestartPolicy {
            name: Some(RestartPolicyNameEnum::NO),
            maximum_retry_count: None,
        },
        Restart::OnFailure(n) => RestartPolicy {
            name: Some(RestartPolicyNameEnum::ON_FAILURE),
            maximum_retry_count: n.map(i64::from),
        },
        Restart::Always => RestartPolicy {
            name: Some(RestartPolicyNameEnum::ALWAYS),
            maximum_retry_count: None,
        },
        Restart::UnlessStopped => RestartPolicy {
            name: Some(RestartPolicyNameEnum::UNLESS_STOPPED),
            maximum_retry_count: None,
        },
    };
    let exposed: Vec<String> = port_bindings.keys().cloned().collect();
    let body = ContainerCreateBody {
        image: Some(p.image.clone()),
        hostname,
        env: (!p.env.is_empty()).then(|| p.env.clone()),
        cmd,
        entrypoint,
        labels: Some(labels::container_labels(
            r.plugin,
            &p.labels,
            r.tags,
            r.logical_id,
        )),
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        stop_timeout: p.stop_timeout.map(|s| s as i64),
        host_config: Some(HostConfig {
            network_mode: p.network.clone(),
            port_bindings: (!port_bindings.is_empty()).then_some(port_bindings),
            mounts: (!mounts.is_empty()).then_some(mounts),
            restart_policy: Some(restart),
            nano_cpus: p.nano_cpus,
            memory: p.memory,
            privileged: p.privileged.then_some(true),
            cap_add: (!p.cap_add.is_empty()).then(|| p.cap_add.clone()),
            cap_drop: (!p.cap_drop.is_empty()).then(|| p.cap_drop.clone()),
            security_opt: (!p.security_opt.is_empty()).then(|| p.security_opt.clone()),
            ..Default::default()
        }),
        ..Default::default()
    };
    bad.into_result(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::properties::parse;
    use serde_json::json;

    fn props(v: serde_json::Value) -> DockerProperties {
        parse(&v, "$").unwrap()
    }

    fn req<'a>(tags: &'a HashMap<String, String>, init: &'a str) -> Request<'a> {
        Request {
            plugin: "instance-docker",
            tags,
            init,
            logical_id: None,
        }
    }

    #[test]
    fn init_alone_runs_under_sh() {
        let tags = HashMap::new();
        let b = body(
            &props(json!({"Image": "x"})),
            &req(&tags, "echo hi\nsleep 9"),
        )
        .unwrap();
        assert_eq!(
            b.entrypoint.unwrap(),
            vec!["/bin/sh", "-c", "echo hi\nsleep 9"]
        );
        assert_eq!(b.cmd, Some(vec![]));
    }

    #[test]
    fn init_then_execs_the_command() {
        let tags = HashMap::new();
        let p = props(json!({"Image": "x", "Entrypoint": ["/e"], "Command": ["a", "b"]}));
        let b = body(&p, &req(&tags, "setup")).unwrap();
        assert_eq!(
            b.entrypoint.unwrap(),
            vec!["/bin/sh", "-c", "setup\nexec \"$@\"", "sh", "/e", "a", "b"]
        );
        let b = body(&p, &req(&tags, "  ")).unwrap();
        assert_eq!(b.entrypoint.unwrap(), vec!["/e"]);
        assert_eq!(b.cmd.unwrap(), vec!["a", "b"]);
    }

    #[test]
    fn ports_resources_and_restart_reach_the_host_config() {
        let tags = HashMap::new();
        let p = props(json!({
            "Image": "x", "Ports": ["8080:80", "127.0.0.1::81/udp"],
            "Resources": {"CPUs": 1.5, "Memory": "64m"}, "RestartPolicy": "on-failure:2",
            "Volumes": ["/scratch"], "StopTimeout": "3s"
        }));
        let b = body(&p, &req(&tags, "")).unwrap();
        let hc = b.host_config.unwrap();
        let pb = hc.port_bindings.unwrap();
        assert_eq!(
            pb["80/tcp"].as_ref().unwrap()[0].host_port.as_deref(),
            Some("8080")
        );
        assert_eq!(
            pb["81/udp"].as_ref().unwrap()[0].host_port.as_deref(),
            Some("")
        );
        assert_eq!(hc.nano_cpus, Some(1_500_000_000));
        assert_eq!(hc.memory, Some(64 << 20));
        assert_eq!(hc.restart_policy.unwrap().maximum_retry_count, Some(2));
        assert_eq!(hc.mounts.unwrap()[0].source, None);
        assert_eq!(b.stop_timeout, Some(3));
        assert_eq!(b.exposed_ports.unwrap().len(), 2);
    }

    #[test]
    fn privileges_reach_the_host_config() {
        let tags = HashMap::new();
        let p = props(json!({
            "Image": "x", "Privileged": true, "CapAdd": ["ALL"], "CapDrop": ["SYS_RESOURCE"],
            "SecurityOpt": ["seccomp=unconfined"]
        }));
        let hc = body(&p, &req(&tags, "")).unwrap().host_config.unwrap();
        assert_eq!(hc.privileged, Some(true));
        assert_eq!(hc.cap_add.unwrap(), vec!["ALL"]);
        assert_eq!(hc.cap_drop.unwrap(), vec!["SYS_RESOURCE"]);
        assert_eq!(hc.security_opt.unwrap(), vec!["seccomp=unconfined"]);
        let hc = body(&props(json!({"Image": "x"})), &req(&tags, ""))
            .unwrap()
            .host_config
            .unwrap();
        assert_eq!(
            (hc.privileged, hc.cap_add, hc.security_opt),
            (None, None, None)
        );
    }

    #[test]
    fn hostname_from_logical_id_needs_a_valid_name() {
        let tags = HashMap::new();
        let p = props(json!({"Image": "x", "HostnameFromLogicalID": true}));
        let mut r = req(&tags, "");
        r.logical_id = Some("db-1");
        assert_eq!(body(&p, &r).unwrap().hostname.as_deref(), Some("db-1"));
        r.logical_id = Some("db 1");
        let v = body(&p, &r).unwrap_err();
        assert_eq!(v.0[0].path, "$.spec.logical_id");
        r.logical_id = None;
        assert_eq!(body(&p, &r).unwrap().hostname, None);
    }
}
