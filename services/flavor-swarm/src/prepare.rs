//! Finishing an instance spec (pure): the link, the tags, and the boot script appended to the
//! instance's Init.

use crate::link::{self, Provision};
use crate::nodes::{self, JoinInfo};
use crate::properties::SwarmProperties;
use crate::script::{self, JoinPlan};
use infrakit_model::tags;
use infrakit_spi::flavor::v1::Index;
use infrakit_spi::instance::v1::InstanceSpec;

/// The spec to provision: `spec` with the link, swarm ID and role tags, and the join script
/// after its Init. Fails (with what the swarm lacks) when there is no address or token to join
/// with.
pub fn prepare(
    props: &SwarmProperties,
    info: &JoinInfo,
    mut spec: InstanceSpec,
    index: &Index,
) -> Result<InstanceSpec, String> {
    let group = spec
        .tags
        .get(tags::GROUP)
        .cloned()
        .unwrap_or_else(|| index.group.clone());
    let addresses = if props.join_addresses.is_empty() {
        &info.managers
    } else {
        &props.join_addresses
    };
    if addresses.is_empty() {
        return Err(
            "reports no manager addresses (fix: set JoinAddresses in the flavor Properties)".into(),
        );
    }
    let token = nodes::token(info, props.role);
    if token.is_empty() {
        return Err(format!("gave no {} join token", props.role));
    }
    let link_id = link::link_id(&Provision {
        group: &group,
        sequence: index.sequence,
        token: spec.tags.get(tags::PROVISION_TOKEN).map(String::as_str),
        logical_id: spec.logical_id.as_deref(),
    });
    let mut labels = props.engine_labels.clone();
    labels.insert(link::LINK.into(), link_id.clone());
    labels.insert(link::SWARM_ID.into(), info.swarm_id.clone());
    labels.insert(link::ROLE.into(), props.role.to_string());
    if !group.is_empty() {
        labels.insert(link::GROUP.into(), group);
    }
    let script = script::render(&JoinPlan {
        swarm_id: &info.swarm_id,
        role: props.role,
        token,
        addresses,
        advertise_addr: props.advertise_addr.as_deref(),
        labels: &labels,
        init: &props.init,
    });
    spec.init = if spec.init.is_empty() {
        script
    } else {
        format!("{}\n{script}", spec.init)
    };
    spec.tags.insert(link::LINK.into(), link_id);
    spec.tags
        .insert(link::SWARM_ID.into(), info.swarm_id.clone());
    spec.tags.insert(link::ROLE.into(), props.role.to_string());
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::properties::Role;

    fn info() -> JoinInfo {
        JoinInfo {
            swarm_id: "sw".into(),
            worker_token: "WT".into(),
            manager_token: "MT".into(),
            managers: vec!["10.0.0.2:2377".into()],
            self_node: "n0".into(),
        }
    }

    fn spec(token: &str) -> InstanceSpec {
        let mut s = InstanceSpec {
            init: "echo before".into(),
            ..Default::default()
        };
        s.tags.insert(tags::GROUP.into(), "g".into());
        s.tags.insert(tags::PROVISION_TOKEN.into(), token.into());
        s
    }

    #[test]
    fn the_spec_gets_tags_labels_and_the_script_after_its_init() {
        let index = Index {
            group: "g".into(),
            sequence: 7,
        };
        let p = SwarmProperties::default();
        let out = prepare(&p, &info(), spec("t"), &index).unwrap();
        let link = out.tags[link::LINK].clone();
        assert_eq!(out.tags[link::SWARM_ID], "sw");
        assert_eq!(out.tags[link::ROLE], "worker");
        assert_eq!(out.tags[tags::GROUP], "g");
        assert!(out.init.starts_with("echo before\n# infrakit flavor-swarm"));
        assert!(out.init.contains("--token 'WT'"));
        assert!(out.init.contains(&format!("\"infrakit.link={link}\"")));
        assert!(out.init.contains("\"infrakit.group=g\""));
        assert_eq!(out, prepare(&p, &info(), spec("t"), &index).unwrap());
        let other = prepare(&p, &info(), spec("u"), &index).unwrap();
        assert_ne!(other.tags[link::LINK], link);
    }

    #[test]
    fn a_swarm_without_addresses_or_tokens_is_refused() {
        let index = Index::default();
        let mut p = SwarmProperties {
            role: Role::Manager,
            ..Default::default()
        };
        let mut i = info();
        i.managers.clear();
        let e = prepare(&p, &i, spec("t"), &index).unwrap_err();
        assert!(e.contains("JoinAddresses"), "{e}");
        p.join_addresses = vec!["lb:2377".into()];
        i.manager_token.clear();
        assert_eq!(
            prepare(&p, &i, spec("t"), &index).unwrap_err(),
            "gave no manager join token"
        );
    }
}
