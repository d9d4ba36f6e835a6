//! The file instance plugin: bad input, self-noticed deletions, labels, restarts.

use crate::support::*;
use infrakit_spi::instance::v1::instance_client::InstanceClient;
use infrakit_spi::instance::v1::*;

fn spec(props: &[u8], tags: &[(&str, &str)]) -> InstanceSpec {
    InstanceSpec {
        properties: props.to_vec(),
        tags: tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    }
}

#[test]
fn bad_json_properties_are_refused_naming_the_field_and_nothing_is_created() {
    let t = TestDir::new();
    let (_p, inst) = t.start_file_plugin();
    let sock = t.socket("instance-file");
    let st = rt()
        .block_on(async {
            InstanceClient::new(channel(&sock).await)
                .provision(ProvisionRequest {
                    fence: None,
                    r#type: String::new(),
                    spec: Some(spec(br#"{"password": "hunter2", }"#, &[])),
                })
                .await
        })
        .unwrap_err();
    assert_eq!(st.code(), tonic::Code::InvalidArgument);
    assert!(
        st.message()
            .contains("$.spec.properties: is not valid JSON"),
        "{}",
        st.message()
    );
    assert!(st.message().contains("line 1 column"), "{}", st.message());
    assert!(!st.message().contains("hunter2"), "secrets are not echoed");
    let v = infrakit_runtime::status::violations_of(&st);
    assert_eq!(v[0].path, "$.spec.properties");
    assert_eq!(instance_files(&inst), 0);
}

#[test]
fn a_deleted_instance_file_is_reported_gone_to_watchers_at_once() {
    let t = TestDir::new();
    let (_p, inst) = t.start_file_plugin();
    let sock = t.socket("instance-file");
    let runtime = rt();
    runtime.block_on(async {
        let mut c = InstanceClient::new(channel(&sock).await);
        let id = c
            .provision(ProvisionRequest {
                fence: None,
                r#type: String::new(),
                spec: Some(spec(b"{}", &[("infrakit.group", "g")])),
            })
            .await
            .unwrap()
            .into_inner()
            .id;
        let mut watch = c
            .watch_instances(WatchInstancesRequest {
                r#type: String::new(),
                tags: [("infrakit.group".to_string(), "g".to_string())].into(),
                since_revision: 0,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            watch.message().await.unwrap().unwrap().kind,
            InstanceEventKind::Resync as i32
        );
        std::fs::remove_file(inst.join(format!("{id}.json"))).unwrap();
        let ev = tokio::time::timeout(PATIENCE, watch.message())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(ev.kind, InstanceEventKind::Gone as i32);
        assert_eq!(ev.instance.unwrap().id, id);
        let left = c
            .describe_instances(DescribeInstancesRequest::default())
            .await
            .unwrap()
            .into_inner();
        assert!(left.instances.is_empty());
    });
}

#[test]
fn labels_are_merged_into_the_file_and_survive_a_restart() {
    let t = TestDir::new();
    let inst = t.join("inst");
    let dir = inst.display().to_string();
    let sock = t.socket("instance-file");
    let id = {
        let _p = t.start("infrakit-instance-file", "instance-file", &["--dir", &dir]);
        rt().block_on(async {
            let mut c = InstanceClient::new(channel(&sock).await);
            let id = c
                .provision(ProvisionRequest {
                    fence: None,
                    r#type: String::new(),
                    spec: Some(spec(b"{}", &[("a", "1"), ("b", "2")])),
                })
                .await
                .unwrap()
                .into_inner()
                .id;
            c.label(LabelRequest {
                fence: None,
                r#type: String::new(),
                id: id.clone(),
                labels: [("b".to_string(), "3".to_string())].into(),
            })
            .await
            .unwrap();
            let st = c
                .label(LabelRequest {
                    fence: None,
                    r#type: String::new(),
                    id: "instance-nope".into(),
                    labels: Default::default(),
                })
                .await
                .unwrap_err();
            assert_eq!(st.code(), tonic::Code::NotFound);
            id
        })
    };
    let _p = t.start("infrakit-instance-file", "instance-file", &["--dir", &dir]);
    let listed = rt().block_on(async {
        InstanceClient::new(channel(&sock).await)
            .describe_instances(DescribeInstancesRequest {
                r#type: String::new(),
                tags: [("b".to_string(), "3".to_string())].into(),
                properties: false,
                unless_revision: 0,
            })
            .await
            .unwrap()
            .into_inner()
            .instances
    });
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, id);
    assert_eq!(listed[0].tags["a"], "1");
}

#[test]
fn a_listing_s_revision_resumes_a_watch_and_answers_unchanged_until_something_changes() {
    let t = TestDir::new();
    let (_p, inst) = t.start_file_plugin();
    let sock = t.socket("instance-file");
    rt().block_on(async {
        let mut c = InstanceClient::new(channel(&sock).await);
        let group = || [("infrakit.group".to_string(), "g".to_string())].into();
        let provision = |c: &mut InstanceClient<_>| {
            let mut c = c.clone();
            async move {
                c.provision(ProvisionRequest {
                    fence: None,
                    r#type: String::new(),
                    spec: Some(spec(b"{}", &[("infrakit.group", "g")])),
                })
                .await
                .unwrap()
                .into_inner()
                .id
            }
        };
        let first = provision(&mut c).await;
        let describe = |c: &mut InstanceClient<_>, unless: u64| {
            let mut c = c.clone();
            async move {
                c.describe_instances(DescribeInstancesRequest {
                    r#type: String::new(),
                    tags: group(),
                    properties: false,
                    unless_revision: unless,
                })
                .await
                .unwrap()
                .into_inner()
            }
        };
        let listed = describe(&mut c, 0).await;
        assert_eq!(listed.instances.len(), 1);
        assert!(!listed.unchanged);
        let r = listed.revision;
        // Revisions start at the plugin's start time in microseconds: never 0, never reused.
        assert!(r > 1_600_000_000_000_000, "revision {r}");
        let same = describe(&mut c, r).await;
        assert!(same.unchanged && same.instances.is_empty() && same.revision == r);
        // Something changes behind the listing: the watch resumed from its revision gets it,
        // without a RESYNC, and the listing is no longer "unchanged".
        let second = provision(&mut c).await;
        std::fs::remove_file(inst.join(format!("{first}.json"))).unwrap();
        let mut watch = c
            .watch_instances(WatchInstancesRequest {
                r#type: String::new(),
                tags: group(),
                since_revision: r,
            })
            .await
            .unwrap()
            .into_inner();
        let mut seen = Vec::new();
        while seen.len() < 2 {
            let ev = tokio::time::timeout(PATIENCE, watch.message())
                .await
                .expect("the events since the revision")
                .unwrap()
                .unwrap();
            assert_ne!(ev.kind, InstanceEventKind::Resync as i32, "{ev:?}");
            assert!(ev.sequence > r);
            seen.push((ev.kind, ev.instance.unwrap().id));
        }
        assert_eq!(
            seen,
            vec![
                (InstanceEventKind::Created as i32, second.clone()),
                (InstanceEventKind::Gone as i32, first),
            ]
        );
        let now = describe(&mut c, r).await;
        assert!(!now.unchanged);
        assert_eq!(now.instances.len(), 1);
        assert_eq!(now.instances[0].id, second);
        assert!(now.revision >= r + 2);
    });
}
