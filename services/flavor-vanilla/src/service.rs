//! The `infrakit.flavor.v1.Flavor` service of the vanilla flavor.

use crate::KIND;
use crate::properties::{VanillaProperties, parse};
use infrakit_runtime::status;
use infrakit_spi::flavor::v1::flavor_server::Flavor;
use infrakit_spi::flavor::v1::*;
use infrakit_spi::instance::v1::{Attachment, InstanceSpec};
use tonic::{Request, Response, Status};

/// How long a verdict without a HealthCheck stays valid (it cannot change by itself).
pub const STATIC_RECHECK_SECS: i64 = 3600;

/// The vanilla flavor.
#[derive(Clone, Debug, Default)]
pub struct Vanilla;

fn properties(bytes: &[u8], t: &str) -> Result<VanillaProperties, Status> {
    status::no_subtype(KIND, t)?;
    let v = status::parse_properties(bytes, "$.properties")?;
    parse(&v, "$.properties").map_err(|v| status::invalid(&v))
}

/// Applies vanilla Properties to a spec: Init lines appended, tags merged, attachments appended.
pub fn apply(props: &VanillaProperties, mut spec: InstanceSpec) -> InstanceSpec {
    if !props.init.is_empty() {
        let lines = props.init.join("\n");
        spec.init = if spec.init.is_empty() {
            lines
        } else {
            format!("{}\n{lines}", spec.init)
        };
    }
    for (k, v) in &props.tags {
        spec.tags.insert(k.clone(), v.clone());
    }
    spec.attachments
        .extend(props.attachments.iter().map(|(id, t)| Attachment {
            id: id.clone(),
            r#type: t.clone(),
        }));
    spec
}

#[tonic::async_trait]
impl Flavor for Vanilla {
    async fn validate(
        &self,
        req: Request<ValidateRequest>,
    ) -> Result<Response<ValidateResponse>, Status> {
        let req = req.into_inner();
        properties(&req.properties, &req.r#type)?;
        Ok(Response::new(ValidateResponse {}))
    }

    async fn prepare(
        &self,
        req: Request<PrepareRequest>,
    ) -> Result<Response<PrepareResponse>, Status> {
        let req = req.into_inner();
        let props = properties(&req.properties, &req.r#type)?;
        let spec = apply(&props, req.spec.unwrap_or_default());
        Ok(Response::new(PrepareResponse { spec: Some(spec) }))
    }

    async fn healthy(
        &self,
        req: Request<HealthyRequest>,
    ) -> Result<Response<HealthyResponse>, Status> {
        let req = req.into_inner();
        let props = properties(&req.properties, &req.r#type)?;
        let (health, reason) = match (&props.health_check, &req.instance) {
            (Some(cmd), Some(instance)) => crate::check::run(cmd, instance).await,
            (Some(_), None) => (Health::Unknown, "no instance given".to_string()),
            (None, _) => (
                Health::Healthy,
                "no HealthCheck: every instance is healthy".to_string(),
            ),
        };
        // Without a check the verdict never changes: callers need not ask again.
        let recheck_after = props
            .health_check
            .is_none()
            .then_some(prost_types::Duration {
                seconds: STATIC_RECHECK_SECS,
                nanos: 0,
            });
        Ok(Response::new(HealthyResponse {
            health: health as i32,
            reason,
            recheck_after,
        }))
    }

    async fn drain(&self, req: Request<DrainRequest>) -> Result<Response<DrainResponse>, Status> {
        let req = req.into_inner();
        properties(&req.properties, &req.r#type)?;
        Ok(Response::new(DrainResponse {}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_appends_init_merges_tags_and_appends_attachments() {
        let props = VanillaProperties {
            init: vec!["b".into(), "c".into()],
            tags: [("tier".to_string(), "web".to_string())].into(),
            attachments: vec![("v".into(), "ebs".into())],
            health_check: None,
        };
        let mut spec = InstanceSpec {
            init: "a".into(),
            ..Default::default()
        };
        spec.tags.insert("infrakit.group".into(), "g".into());
        let out = apply(&props, spec);
        assert_eq!(out.init, "a\nb\nc");
        assert_eq!(out.tags.len(), 2);
        assert_eq!(out.attachments.len(), 1);
    }
}
