//! A container that stops or is removed outside the plugin: Describe reports it FAILED
//! (`State: stopped`) or no longer lists it, WatchInstances says GONE, and the plugin cleans
//! up the directory of the vanished one.

use crate::support::*;
use infrakit_spi::instance::v1::*;
use std::time::{Duration, Instant};
use tokio_stream::StreamExt;

#[test]
fn containers_stopped_or_removed_outside_the_plugin_are_noticed() {
    let Some(mut env) = Env::new("gone") else {
        return;
    };
    let image = env.build_image("1");
    env.start_plugin(&[]);
    let mut c = env.client();
    let props_json = serde_json::json!({"Image": image});
    let stopped = c
        .provision(spec(props_json.clone(), &[], SERVE, None))
        .unwrap();
    let removed = c.provision(spec(props_json, &[], SERVE, None)).unwrap();
    c.wait_state(&stopped, InstanceState::Running);
    c.wait_state(&removed, InstanceState::Running);

    let mut events = c
        .call(async |c| {
            c.watch_instances(WatchInstancesRequest {
                r#type: String::new(),
                tags: Default::default(),
                since_revision: 0,
            })
            .await
        })
        .unwrap();

    // Stopped: FAILED, still listed (the group replaces it).
    docker_ok(&["kill", &stopped]);
    c.wait_state(&stopped, InstanceState::Failed);
    assert_eq!(props(&c.find(&stopped).unwrap())["State"], "stopped");

    // Removed: gone from Describe, GONE on the watch, directory cleaned up.
    let t = Instant::now();
    docker_ok(&["rm", "-f", &removed]);
    wait_until("the removed instance is no longer listed", || {
        c.find(&removed).is_none()
    });
    eprintln!(
        "timing: docker rm -f -> Describe drops the instance in {:?}",
        t.elapsed()
    );
    let gone = c.rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(10), async {
            while let Some(Ok(ev)) = events.next().await {
                if ev.kind == InstanceEventKind::Gone as i32
                    && ev.instance.as_ref().is_some_and(|i| i.id == removed)
                {
                    return true;
                }
            }
            false
        })
        .await
        .unwrap_or(false)
    });
    assert!(gone, "WatchInstances reports the removed instance GONE");
    wait_until("the vanished instance's directory is removed", || {
        env.instance_dirs() == vec![stopped.clone()]
    });
    assert!(
        c.find(&stopped).is_some(),
        "the other instance is untouched"
    );

    c.destroy(&stopped).unwrap();
    assert!(env.containers().is_empty(), "{:?}", env.containers());
    assert!(env.instance_dirs().is_empty());
}
