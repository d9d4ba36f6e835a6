//! A group of containers through the real group controller and vanilla flavor: it converges,
//! `docker kill` and `docker rm -f` of members are healed, a rolling update changes the image,
//! containers not managed by the group are never touched, and destroying the group removes its
//! containers only.

use crate::support::*;
use std::collections::BTreeSet;
use std::time::Instant;

fn spec(group: &str, plugin: &str, image: &str) -> serde_json::Value {
    serde_json::json!({
        "ID": group,
        "Properties": {
            "Allocation": {"Size": 3},
            "Instance": {"Plugin": plugin, "Properties": {"Image": image, "StopTimeout": "5s"}},
            // The Init is the container's main process; it stops at once on SIGTERM.
            "Flavor": {"Plugin": "flavor-vanilla", "Properties": {
                "Init": ["trap 'exit 0' TERM", "sleep 3600 & wait"]}},
            "Updating": {"MaxSurge": 1, "MaxUnavailable": 0}
        }
    })
}

#[test]
fn a_group_of_containers_converges_heals_rolls_and_leaves_others_alone() {
    let Some(mut env) = Env::new("group") else {
        return;
    };
    let v1 = env.build_image("busybox", "1", true);
    let v2 = env.build_image("busybox", "2", true);
    let plugin = env.plugin_name();
    let group_id = format!("web-{}", env.id);
    env.start_plugin();
    env.start_vanilla();
    env.start_group(&["--health-interval", "200ms"]);
    let mut g = env.group();

    // Bystanders: a plain container, and one that claims the group's tag but is not the plugin's.
    let plain = format!("bystander-{}", env.id);
    let impostor = format!("impostor-{}", env.id);
    docker_ok(&["run", "-d", "--name", &plain, &v1]);
    docker_ok(&[
        "run",
        "-d",
        "--name",
        &impostor,
        "-l",
        &format!("infrakit.group={group_id}"),
        &v1,
    ]);
    let bystander_ids = || -> Vec<String> {
        [&plain, &impostor]
            .iter()
            .map(|n| docker_ok(&["inspect", "--format", "{{.Id}} {{.State.Status}}", n]))
            .collect()
    };
    let bystanders = bystander_ids();

    let members = |state: Option<&str>| -> BTreeSet<String> {
        let mut f = vec![
            env.marker_filter(),
            format!("label=infrakit.group={group_id}"),
        ];
        if let Some(s) = state {
            f.push(format!("status={s}"));
        }
        containers(&f).into_iter().map(|c| c.0).collect()
    };

    // Converge.
    let t = Instant::now();
    g.commit(&spec(&group_id, &plugin, &v1));
    wait_until("3 running containers, group converged", || {
        members(Some("running")).len() == 3 && g.converged(&group_id, 3)
    });
    eprintln!(
        "timing: commit -> 3 containers running and converged in {:?}",
        t.elapsed()
    );
    assert_eq!(members(None).len(), 3);

    // docker kill: FAILED, destroyed and replaced.
    let before = members(Some("running"));
    let victim = before.iter().next().unwrap().clone();
    let t = Instant::now();
    docker_ok(&["kill", &victim]);
    wait_until("the killed container is replaced", || {
        let now = members(None);
        !now.contains(&victim)
            && members(Some("running")).len() == 3
            && now.len() == 3
            && g.converged(&group_id, 3)
    });
    eprintln!(
        "timing: docker kill -> replaced and converged in {:?}",
        t.elapsed()
    );

    // docker rm -f: GONE and replaced.
    let victim = members(Some("running")).into_iter().next().unwrap();
    let t = Instant::now();
    docker_ok(&["rm", "-f", &victim]);
    wait_until("the removed container is replaced", || {
        let now = members(None);
        !now.contains(&victim)
            && members(Some("running")).len() == 3
            && now.len() == 3
            && g.converged(&group_id, 3)
    });
    eprintln!(
        "timing: docker rm -f -> replaced and converged in {:?}",
        t.elapsed()
    );

    // Rolling update to the :2 image.
    let old = members(None);
    let t = Instant::now();
    g.commit(&spec(&group_id, &plugin, &v2));
    wait_until("every member runs the :2 image", || {
        let all = containers(&[
            env.marker_filter(),
            format!("label=infrakit.group={group_id}"),
        ]);
        all.len() == 3
            && all
                .iter()
                .all(|c| c.2 == v2 && c.1 == "running" && !old.contains(&c.0))
            && g.converged(&group_id, 3)
    });
    eprintln!(
        "timing: rolling update of 3 containers to a new image in {:?}",
        t.elapsed()
    );

    assert_eq!(bystander_ids(), bystanders, "bystanders are untouched");

    // Destroy the group: its containers go, the bystanders stay.
    g.destroy(&group_id);
    wait_until("the group's containers are removed", || {
        members(None).is_empty() && g.gone(&group_id)
    });
    assert_eq!(bystander_ids(), bystanders, "bystanders are untouched");
}
