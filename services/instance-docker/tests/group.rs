//! A group of containers through the real group controller and vanilla flavor: it converges,
//! `docker kill` and `docker rm -f` of members are healed, a rolling update changes the image,
//! containers not managed by the group are never touched, and destroying the group removes its
//! containers only.

use crate::support::*;
use infrakit_spi::group::v1::group_client::GroupClient;
use infrakit_spi::group::v1::*;
use std::collections::BTreeSet;
use std::time::Instant;
use tonic::transport::Channel;

struct Group {
    c: GroupClient<Channel>,
    rt: tokio::runtime::Runtime,
}

impl Group {
    fn commit(&mut self, spec: &serde_json::Value) -> CommitGroupResponse {
        let req = CommitGroupRequest {
            spec: Some(GroupSpec {
                id: spec["ID"].as_str().unwrap().to_string(),
                properties: spec["Properties"].to_string().into_bytes(),
            }),
            pretend: false,
        };
        let c = &mut self.c;
        self.rt
            .block_on(async { c.commit_group(req).await })
            .expect("commit")
            .into_inner()
    }

    fn describe(&mut self, id: &str) -> Result<DescribeGroupResponse, tonic::Status> {
        let c = &mut self.c;
        self.rt
            .block_on(async {
                c.describe_group(DescribeGroupRequest { id: id.into() })
                    .await
            })
            .map(tonic::Response::into_inner)
    }

    fn converged(&mut self, id: &str, n: u32) -> bool {
        self.describe(id).is_ok_and(|d| {
            d.phase == Phase::Converged as i32
                && d.actual == n
                && d.healthy == n
                && d.up_to_date == n
        })
    }
}

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
    env.start(
        &workspace_binary("infrakit-flavor-vanilla"),
        "flavor-vanilla",
        &[],
    );
    let state = env.join("group-state").display().to_string();
    env.start(
        &workspace_binary("infrakit-group"),
        "group",
        &["--state-dir", &state, "--health-interval", "200ms"],
    );
    let rt = rt();
    let sock = env.socket("group");
    let ch = rt.block_on(async {
        infrakit_runtime::dial::connect(
            &infrakit_runtime::ListenAddr::Unix(sock),
            false,
            &Default::default(),
        )
        .await
        .expect("connect to the group")
    });
    let mut g = Group {
        c: GroupClient::new(ch),
        rt,
    };

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
    let c = &mut g.c;
    g.rt.block_on(async {
        c.destroy_group(DestroyGroupRequest {
            id: group_id.clone(),
        })
        .await
    })
    .expect("destroy group");
    wait_until("the group's containers are removed", || {
        members(None).is_empty()
            && g.describe(&group_id)
                .is_err_and(|s| s.code() == tonic::Code::NotFound)
    });
    assert_eq!(bystander_ids(), bystanders, "bystanders are untouched");
}
