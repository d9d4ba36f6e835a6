//! Checking a Provision request completely before anything is created: the Properties, the
//! tags, the logical ID and how they fit together. The result, a [`Plan`], is everything needed
//! to write the instance's directory.

use crate::naming::{self, Identity};
use crate::properties::{self, Provider, RESERVED_PREFIX, VagrantProperties};
use infrakit_model::Violations;
use infrakit_model::json_path::key;
use infrakit_runtime::status as st;
use infrakit_spi::instance::v1::InstanceSpec;
use std::collections::BTreeMap;

/// A checked Provision request.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The instance ID (and directory, container and machine name).
    pub id: String,
    /// The checked Properties.
    pub props: VagrantProperties,
    /// The Properties as sent (kept in `spec.json`).
    pub raw_properties: serde_json::Value,
    /// What the logical ID means.
    pub identity: Identity,
    /// The logical ID as sent.
    pub logical_id: Option<String>,
    /// The tags to store.
    pub tags: BTreeMap<String, String>,
    /// The Init script (may be empty).
    pub init: String,
    /// Attachments, kept but not acted on (`(ID, Type)`).
    pub attachments: Vec<(String, String)>,
}

/// Checks `spec` (found at `$.spec`), collecting every violation.
pub fn check(spec: Option<&InstanceSpec>) -> Result<Plan, Violations> {
    let mut bad = Violations::new();
    let Some(spec) = spec else {
        bad.0.push(st::missing_spec());
        return Err(bad);
    };
    let at = "$.spec.properties";
    let raw = st::collect_properties(&spec.properties, at, &mut bad);
    let props = raw
        .as_ref()
        .and_then(|v| properties::parse(v, at).map_err(|v| bad.0.extend(v.0)).ok());
    for k in spec.tags.keys() {
        if k.is_empty() || k.contains('=') {
            bad.push(
                key("$.spec.tags", k),
                "is empty or contains '=' (tags are also container labels)",
                "give the tag a name without '='",
            );
        } else if k.starts_with(RESERVED_PREFIX) {
            bad.push(
                key("$.spec.tags", k),
                format!(
                    "uses the prefix {RESERVED_PREFIX:?}, reserved for the plugin's own labels"
                ),
                "rename the tag",
            );
        }
    }
    let identity = match naming::identity(spec.logical_id.as_deref()) {
        Ok(i) => i,
        Err(problem) => {
            bad.push(
                "$.spec.logical_id",
                problem,
                "use an IP address (a static IP) or a host name such as \"db-1\"",
            );
            Identity::None
        }
    };
    if let Some(p) = &props {
        network_checks(p, &identity, &mut bad);
    }
    match props {
        Some(props) if bad.is_empty() => Ok(Plan {
            id: naming::instance_id(&spec.tags),
            props,
            raw_properties: raw.unwrap_or_default(),
            identity,
            logical_id: spec.logical_id.clone(),
            tags: spec
                .tags
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            init: spec.init.clone(),
            attachments: spec
                .attachments
                .iter()
                .map(|a| (a.id.clone(), a.r#type.clone()))
                .collect(),
        }),
        _ => Err(bad),
    }
}

/// Static IPs need a user-defined network that can give them.
fn network_checks(p: &VagrantProperties, identity: &Identity, bad: &mut Violations) {
    if p.provider != Provider::Docker {
        return;
    }
    if let Identity::Ip(ip) = identity
        && matches!(p.network.as_deref(), None | Some("bridge"))
    {
        bad.push(
            "$.spec.logical_id",
            format!("is the IP address {ip}, which needs a user-defined docker network"),
            "set $.spec.properties.Network to a network whose subnet holds it \
             (docker network create --subnet ...)",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use infrakit_spi::instance::v1::Attachment;
    use std::collections::HashMap;

    fn spec(props: &str, logical_id: Option<&str>, tags: &[(&str, &str)]) -> InstanceSpec {
        InstanceSpec {
            properties: props.as_bytes().to_vec(),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<HashMap<_, _>>(),
            init: "echo hi".into(),
            logical_id: logical_id.map(str::to_string),
            attachments: vec![Attachment {
                id: "vol".into(),
                r#type: "disk".into(),
            }],
        }
    }

    fn paths(v: Violations) -> Vec<String> {
        v.0.into_iter().map(|v| v.path).collect()
    }

    #[test]
    fn a_good_spec_becomes_a_plan() {
        let p = check(Some(&spec(
            r#"{"Image": "bb:1"}"#,
            Some("db-1"),
            &[("infrakit.group", "db")],
        )))
        .unwrap();
        assert!(p.id.starts_with("db-"));
        assert_eq!(p.identity, Identity::Hostname("db-1".into()));
        assert_eq!(p.attachments, vec![("vol".into(), "disk".into())]);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let bad = check(Some(&spec(
            r#"{"Imag": "bb:1", "Network": "host"}"#,
            Some("10.0.0.9"),
            &[("infrakit.instance-vagrant.id", "x"), ("a=b", "c")],
        )))
        .unwrap_err();
        let p = paths(bad);
        for want in [
            "$.spec.properties.Imag",
            "$.spec.properties.Network",
            "$.spec.tags[\"a=b\"]",
            "$.spec.tags[\"infrakit.instance-vagrant.id\"]",
        ] {
            assert!(p.contains(&want.to_string()), "{want} missing from {p:?}");
        }
        assert!(check(None).is_err());
        let bad = check(Some(&spec("{", None, &[]))).unwrap_err();
        assert_eq!(paths(bad), vec!["$.spec.properties"]);
    }

    #[test]
    fn a_static_ip_needs_a_user_defined_network() {
        let bad = check(Some(&spec(r#"{"Image": "bb:1"}"#, Some("10.0.0.9"), &[]))).unwrap_err();
        assert_eq!(paths(bad), vec!["$.spec.logical_id"]);
        let ok = check(Some(&spec(
            r#"{"Image": "bb:1", "Network": "pets"}"#,
            Some("10.0.0.9"),
            &[],
        )))
        .unwrap();
        assert_eq!(ok.identity, Identity::Ip("10.0.0.9".parse().unwrap()));
        let bad = check(Some(&spec(r#"{"Image": "bb:1"}"#, Some("no way"), &[]))).unwrap_err();
        assert_eq!(paths(bad), vec!["$.spec.logical_id"]);
    }
}
