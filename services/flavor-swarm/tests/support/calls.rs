//! Flavor calls with the request plumbing written once.

use super::Flavor;
use infrakit_spi::flavor::v1::*;
use infrakit_spi::instance::v1::{InstanceDescription, InstanceSpec};
use serde_json::Value;
use std::collections::HashMap;

/// The spec a group would send to Prepare for a provision of `group` with `token`.
pub fn group_spec(group: &str, token: &str) -> InstanceSpec {
    InstanceSpec {
        properties: b"{}".to_vec(),
        tags: HashMap::from([
            ("infrakit.group".to_string(), group.to_string()),
            ("infrakit.provision.token".to_string(), token.to_string()),
        ]),
        ..Default::default()
    }
}

/// Prepare.
pub fn prepare(
    f: &mut Flavor,
    t: &str,
    props: &Value,
    spec: InstanceSpec,
    sequence: u64,
) -> Result<InstanceSpec, tonic::Status> {
    let group = spec.tags.get("infrakit.group").cloned().unwrap_or_default();
    let req = PrepareRequest {
        r#type: t.into(),
        properties: props.to_string().into_bytes(),
        spec: Some(spec),
        allocation: Some(Allocation {
            size: 1,
            logical_ids: vec![],
        }),
        index: Some(Index { group, sequence }),
    };
    f.call(async |c| c.prepare(req).await)
        .map(|r| r.spec.expect("a spec"))
}

/// The instance a prepared spec became, as an instance plugin would describe it.
pub fn described(id: &str, spec: &InstanceSpec) -> InstanceDescription {
    InstanceDescription {
        id: id.into(),
        tags: spec.tags.clone(),
        ..Default::default()
    }
}

/// Healthy.
pub fn healthy(
    f: &mut Flavor,
    t: &str,
    props: &Value,
    inst: &InstanceDescription,
) -> HealthyResponse {
    let req = HealthyRequest {
        r#type: t.into(),
        properties: props.to_string().into_bytes(),
        instance: Some(inst.clone()),
    };
    f.call(async |c| c.healthy(req).await).expect("Healthy")
}

/// The health alone.
pub fn health(f: &mut Flavor, t: &str, props: &Value, inst: &InstanceDescription) -> Health {
    healthy(f, t, props, inst).health()
}

/// Drain.
pub fn drain(
    f: &mut Flavor,
    t: &str,
    props: &Value,
    inst: &InstanceDescription,
) -> Result<(), tonic::Status> {
    let req = DrainRequest {
        fence: None,
        r#type: t.into(),
        properties: props.to_string().into_bytes(),
        instance: Some(inst.clone()),
    };
    f.call(async |c| c.drain(req).await).map(|_| ())
}

/// Validate.
pub fn validate(f: &mut Flavor, t: &str, props: &str) -> Result<(), tonic::Status> {
    let req = ValidateRequest {
        r#type: t.into(),
        properties: props.as_bytes().to_vec(),
        allocation: Some(Allocation {
            size: 1,
            logical_ids: vec![],
        }),
    };
    f.call(async |c| c.validate(req).await).map(|_| ())
}
