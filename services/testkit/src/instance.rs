//! A blocking Instance client with the calls tests make most, and instance specs.

use crate::client::Blocking;
use infrakit_spi::instance::v1::instance_client::InstanceClient;
use infrakit_spi::instance::v1::*;
use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc::Receiver;
use tonic::transport::Channel;

/// A blocking Instance client.
pub type Instance = Blocking<InstanceClient<Channel>>;

impl Instance {
    /// Provision; returns the new instance's ID.
    pub fn provision(&mut self, spec: InstanceSpec) -> Result<String, tonic::Status> {
        self.provision_fenced(spec, None)
    }

    /// Provision stamped with `fence` (see [`fence`]); returns the new instance's ID.
    pub fn provision_fenced(
        &mut self,
        spec: InstanceSpec,
        fence: Option<Fence>,
    ) -> Result<String, tonic::Status> {
        self.call(async |c| {
            c.provision(ProvisionRequest {
                fence,
                r#type: String::new(),
                spec: Some(spec),
            })
            .await
        })
        .map(|r| r.id)
    }

    /// Label `id` with `labels`, stamped with `fence`.
    pub fn label_fenced(
        &mut self,
        id: &str,
        labels: &[(&str, &str)],
        fence: Option<Fence>,
    ) -> Result<(), tonic::Status> {
        let (id, labels) = (id.to_string(), self::tags(labels));
        self.call(async |c| {
            c.label(LabelRequest {
                fence,
                r#type: String::new(),
                id,
                labels,
            })
            .await
        })
        .map(|_| ())
    }

    /// Provisions `a` and `b` at the same time (two calls in flight on one channel); returns
    /// both answers.
    pub fn provision_both(
        &mut self,
        a: InstanceSpec,
        b: InstanceSpec,
    ) -> (Result<String, tonic::Status>, Result<String, tonic::Status>) {
        let (mut c1, mut c2) = (self.c.clone(), self.c.clone());
        let call = |spec| ProvisionRequest {
            fence: None,
            r#type: String::new(),
            spec: Some(spec),
        };
        let (ra, rb) = self
            .rt
            .block_on(async { tokio::join!(c1.provision(call(a)), c2.provision(call(b))) });
        let id = |r: Result<tonic::Response<ProvisionResponse>, tonic::Status>| {
            r.map(|r| r.into_inner().id)
        };
        (id(ra), id(rb))
    }

    /// Checks that Provision is idempotent by the `infrakit.provision.token` tag, as the SPI
    /// requires: Provision twice in a row with one token, then twice at once with another;
    /// each pair must answer one ID twice and leave exactly that instance listed with its
    /// token. `spec(token)` builds the spec to send (it must carry the token tag, see
    /// [`with_token`]). Returns the two instances' IDs, for the caller to clean up.
    pub fn assert_provision_idempotent(
        &mut self,
        spec: impl Fn(&str) -> InstanceSpec,
    ) -> [String; 2] {
        let seq = format!("seq-{}", infrakit_runtime::socket::random_hex(4));
        let first = self.provision(spec(&seq)).expect("first Provision");
        let again = self.provision(spec(&seq));
        let first = self.assert_one_instance(&seq, Ok(first), again, "a repeated Provision");

        let conc = format!("conc-{}", infrakit_runtime::socket::random_hex(4));
        let (a, b) = self.provision_both(spec(&conc), spec(&conc));
        let a = self.assert_one_instance(&conc, a, b, "concurrent Provisions");
        assert_ne!(a, first, "another token makes another instance");
        [first, a]
    }

    /// Asserts that both answers name one instance, and that it is the only one listed with
    /// provision token `token`; returns its ID.
    fn assert_one_instance(
        &mut self,
        token: &str,
        a: Result<String, tonic::Status>,
        b: Result<String, tonic::Status>,
        what: &str,
    ) -> String {
        let (a, b) = (a.expect(what), b.expect(what));
        assert_eq!(a, b, "{what} with one token must answer one ID");
        let listed: Vec<String> = self
            .describe(&[(infrakit_model::tags::PROVISION_TOKEN, token)])
            .into_iter()
            .map(|d| d.id)
            .collect();
        assert_eq!(
            listed,
            std::slice::from_ref(&a),
            "{what}: one instance with the token"
        );
        a
    }

    /// DescribeInstances with properties, of the instances carrying every tag in `tags`; fails
    /// the test when the call fails.
    pub fn describe(&mut self, tags: &[(&str, &str)]) -> Vec<InstanceDescription> {
        let tags = self::tags(tags);
        self.call(async |c| {
            c.describe_instances(DescribeInstancesRequest {
                r#type: String::new(),
                tags,
                properties: true,
                unless_revision: 0,
            })
            .await
        })
        .expect("DescribeInstances")
        .instances
    }

    /// Instance `id`, if it is listed.
    pub fn find(&mut self, id: &str) -> Option<InstanceDescription> {
        self.describe(&[]).into_iter().find(|d| d.id == id)
    }

    /// The state of every listed instance, by ID.
    pub fn states(&mut self) -> BTreeMap<String, InstanceState> {
        self.describe(&[])
            .into_iter()
            .map(|d| {
                let s = d.state();
                (d.id, s)
            })
            .collect()
    }

    /// Destroy (reason: terminate).
    pub fn destroy(&mut self, id: &str) -> Result<(), tonic::Status> {
        self.destroy_fenced(id, None)
    }

    /// Destroy (reason: terminate) stamped with `fence`.
    pub fn destroy_fenced(&mut self, id: &str, fence: Option<Fence>) -> Result<(), tonic::Status> {
        let id = id.to_string();
        self.call(async |c| {
            c.destroy(DestroyRequest {
                fence,
                r#type: String::new(),
                id,
                reason: DestroyReason::Terminate as i32,
            })
            .await
        })
        .map(|_| ())
    }

    /// Starts watching the instances carrying every tag in `tags`; the events arrive on the
    /// returned channel (read by a task on this client's runtime) until the client is dropped.
    pub fn watch(&mut self, tags: &[(&str, &str)]) -> Receiver<InstanceEvent> {
        let tags = self::tags(tags);
        let mut c = self.c.clone();
        let mut stream = self
            .rt
            .block_on(c.watch_instances(WatchInstancesRequest {
                r#type: String::new(),
                tags,
                since_revision: 0,
            }))
            .expect("WatchInstances")
            .into_inner();
        let (tx, rx) = std::sync::mpsc::channel();
        self.rt.spawn(async move {
            while let Ok(Some(ev)) = stream.message().await {
                if tx.send(ev).is_err() {
                    break;
                }
            }
        });
        rx
    }
}

/// The fence of `group`'s owner at `epoch`, for the `*_fenced` calls.
pub fn fence(group: &str, epoch: u64) -> Option<Fence> {
    Some(Fence {
        group: group.to_string(),
        epoch,
    })
}

/// `spec` with the provision token tag set to `token`.
pub fn with_token(mut spec: InstanceSpec, token: &str) -> InstanceSpec {
    spec.tags.insert(
        infrakit_model::tags::PROVISION_TOKEN.to_string(),
        token.to_string(),
    );
    spec
}

/// A tag map from pairs.
pub fn tags(tags: &[(&str, &str)]) -> HashMap<String, String> {
    tags.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// An instance spec with `properties` (as JSON) and `tags`, without Init or logical ID.
pub fn spec(properties: serde_json::Value, tags: &[(&str, &str)]) -> InstanceSpec {
    instance_spec(properties, tags, "", None)
}

/// An instance spec with `properties` (as JSON), `tags`, an Init script and a logical ID.
pub fn instance_spec(
    properties: serde_json::Value,
    tags: &[(&str, &str)],
    init: &str,
    logical_id: Option<&str>,
) -> InstanceSpec {
    InstanceSpec {
        properties: properties.to_string().into_bytes(),
        tags: self::tags(tags),
        init: init.to_string(),
        logical_id: logical_id.map(str::to_string),
        attachments: vec![],
    }
}

/// The properties of a description, as JSON (`null` when they are not JSON).
pub fn props(d: &InstanceDescription) -> serde_json::Value {
    serde_json::from_slice(&d.properties).unwrap_or(serde_json::Value::Null)
}
