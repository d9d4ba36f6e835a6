//! WatchInstances follows the engine's events: a killed container turns FAILED, a removed one is
//! GONE, a label change is TAGS_CHANGED; and the flavor's Init runs under the image's shell.

use crate::support::*;
use infrakit_spi::instance::v1::*;
use serde_json::json;
use std::time::Instant;
use tonic::Code;

fn provision(
    c: &mut Client,
    props: serde_json::Value,
    group: &str,
    init: &str,
) -> Result<String, tonic::Status> {
    let spec = InstanceSpec {
        properties: props.to_string().into_bytes(),
        tags: [("infrakit.group".to_string(), group.to_string())].into(),
        init: init.to_string(),
        ..Default::default()
    };
    c.call(async |c| {
        c.provision(ProvisionRequest {
            spec: Some(spec),
            ..Default::default()
        })
        .await
    })
    .map(|r| r.id)
}

/// Reads events until one satisfies `want`, failing after [`PATIENCE`].
fn next_matching(
    c: &Client,
    s: &mut tonic::Streaming<InstanceEvent>,
    what: &str,
    want: impl Fn(&InstanceEvent) -> bool,
) -> InstanceEvent {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ev =
            c.rt.block_on(async { tokio::time::timeout(left, s.message()).await })
                .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
                .expect("watch stream")
                .unwrap_or_else(|| panic!("the watch stream ended before {what}"));
        if want(&ev) {
            return ev;
        }
    }
}

fn is(ev: &InstanceEvent, kind: InstanceEventKind, id: &str) -> bool {
    ev.kind == kind as i32 && ev.instance.as_ref().is_some_and(|i| i.id == id)
}

#[test]
fn watch_reports_kills_removals_and_label_changes() {
    let Some(mut env) = Env::new("watch") else {
        return;
    };
    let image = env.build_image("busybox", "1", true);
    env.start_plugin();
    let group = format!("g-{}", env.id);
    let mut c = env.instance_client(&env.plugin_name());
    let tags = [("infrakit.group".to_string(), group.clone())].into();
    let mut stream = c
        .call(async |c| {
            c.watch_instances(WatchInstancesRequest {
                tags,
                ..Default::default()
            })
            .await
        })
        .expect("watch");
    let first =
        c.rt.block_on(stream.message())
            .expect("stream")
            .expect("first event");
    assert_eq!(
        first.kind,
        InstanceEventKind::Resync as i32,
        "the first event is RESYNC"
    );

    let props = json!({"Image": image, "StopTimeout": "1s"});
    let id = provision(&mut c, props.clone(), &group, "").expect("provision");
    next_matching(&c, &mut stream, "CREATED", |e| {
        is(e, InstanceEventKind::Created, &id)
    });
    next_matching(&c, &mut stream, "RUNNING", |e| {
        is(e, InstanceEventKind::StateChanged, &id)
            && e.instance
                .as_ref()
                .is_some_and(|i| i.state == InstanceState::Running as i32)
    });
    // Another group's container is not reported to this watcher.
    let other =
        provision(&mut c, props.clone(), &format!("other-{}", env.id), "").expect("provision");

    let killed_at = Instant::now();
    docker_ok(&["kill", &id]);
    let ev = next_matching(&c, &mut stream, "FAILED after docker kill", |e| {
        e.instance
            .as_ref()
            .is_some_and(|i| i.id == id && i.state == InstanceState::Failed as i32)
    });
    eprintln!(
        "timing: docker kill -> FAILED event in {:?}",
        killed_at.elapsed()
    );
    assert_eq!(ev.kind, InstanceEventKind::StateChanged as i32);

    c.call(async |c| {
        c.label(LabelRequest {
            id: id.clone(),
            labels: [("tier".into(), "db".into())].into(),
            ..Default::default()
        })
        .await
    })
    .expect("label");
    let ev = next_matching(&c, &mut stream, "TAGS_CHANGED", |e| {
        is(e, InstanceEventKind::TagsChanged, &id)
    });
    assert_eq!(ev.instance.unwrap().tags["tier"], "db");

    let removed_at = Instant::now();
    docker_ok(&["rm", "-f", &id]);
    let ev = next_matching(&c, &mut stream, "GONE after docker rm -f", |e| {
        e.kind == InstanceEventKind::Gone as i32
    });
    eprintln!(
        "timing: docker rm -f -> GONE event in {:?}",
        removed_at.elapsed()
    );
    let gone = ev.instance.unwrap();
    assert_eq!(
        gone.id, id,
        "only this group's instances are reported, not {other}"
    );
    assert_eq!(gone.tags["tier"], "db", "GONE carries the labelled tags");
    let overlay = std::fs::read_to_string(env.join("docker-state/labels.json")).unwrap_or_default();
    assert!(!overlay.contains("\"tier\""), "{overlay}");
}

#[test]
fn init_runs_under_sh_and_an_image_without_a_shell_fails_clearly() {
    let Some(mut env) = Env::new("init") else {
        return;
    };
    let image = env.build_image("busybox", "1", true);
    let bare = env.build_image("noshell", "1", false);
    env.start_plugin();
    let group = format!("g-{}", env.id);
    let mut c = env.instance_client(&env.plugin_name());

    // Init alone is the main process.
    let id = provision(
        &mut c,
        json!({"Image": image, "StopTimeout": "1s"}),
        &group,
        "echo init-ran\nexec sleep 3600",
    )
    .expect("provision with init");
    let path = docker_ok(&["inspect", "--format", "{{.Path}}", &id]);
    assert_eq!(path, "/bin/sh");
    wait_until("the init script to print", || {
        String::from_utf8_lossy(&docker(&["logs", &id]).stdout).contains("init-ran")
    });
    assert_eq!(
        docker_ok(&["inspect", "--format", "{{.State.Status}}", &id]),
        "running"
    );

    // Init, then the command.
    let id = provision(
        &mut c,
        json!({"Image": image, "Command": ["echo", "command-ran"]}),
        &group,
        "echo init-first",
    )
    .expect("provision with init and command");
    wait_until("the init and the command to print", || {
        let out = String::from_utf8_lossy(&docker(&["logs", &id]).stdout).to_string();
        out.contains("init-first\ncommand-ran")
    });

    // No shell: a clear error naming the Init, and no container left behind.
    let before = containers(&[env.marker_filter()]).len();
    let st = provision(&mut c, json!({"Image": bare}), &group, "echo hi").unwrap_err();
    assert_eq!(st.code(), Code::InvalidArgument, "{st:?}");
    assert_eq!(violation_paths(&st), vec!["$.spec.init"]);
    assert!(st.message().contains("has no /bin/sh"), "{}", st.message());
    assert_eq!(containers(&[env.marker_filter()]).len(), before);

    // Without an Init, the shell-less image runs its own command.
    let id = provision(&mut c, json!({"Image": bare}), &group, "").expect("provision");
    assert_eq!(
        docker_ok(&["inspect", "--format", "{{.State.Status}}", &id]),
        "running"
    );
}
