//! Watching the machines: every `--poll-interval` one `docker ps` lists every container that
//! carries the plugin's instance-ID label, so DescribeInstances (and WatchInstances) report a
//! container that exited as FAILED and one removed behind the plugin's back (`docker rm -f`) as
//! gone. Machines of other providers are asked with `vagrant status` every
//! `--status-interval`. The same listing finds leftovers: containers labelled with this
//! plugin's directory whose instance no longer exists are removed.
//!
//! # Guarantees
//! - A failed look never makes an instance gone: only a successful listing started after the
//!   instance reached `running` can.

use crate::ops::Inner;
use crate::properties::Provider;
use crate::record::Phase;
use crate::store::{Machine, Observation};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;
use tokio::time::MissedTickBehavior;

/// Observes until shutdown.
pub async fn run(inner: Arc<Inner>) {
    let mut ticks = tokio::time::interval(inner.cfg.poll_interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut statuses = tokio::time::interval(inner.cfg.status_interval);
    statuses.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tokio::select! {
            () = inner.shutdown.wait() => return,
            _ = ticks.tick() => {
                match look_at_containers(&inner).await {
                    Ok(()) if failing => {
                        tracing::info!("the Docker engine answers again");
                        failing = false;
                    }
                    Ok(()) => {}
                    Err(e) if !failing => {
                        tracing::warn!(error = %e, "cannot list containers; machine states are not updated meanwhile");
                        failing = true;
                    }
                    Err(_) => {}
                }
            }
            _ = statuses.tick() => look_at_other_machines(&inner).await,
        }
    }
}

/// One `docker ps`: states, vanished containers, leftovers.
async fn look_at_containers(inner: &Arc<Inner>) -> Result<(), String> {
    let docker = Provider::Docker.as_str();
    let covered: Vec<String> = inner
        .store
        .list()
        .into_iter()
        .filter(|(_, p, _)| p == docker)
        .map(|(id, _, _)| id)
        .collect();
    let started = Instant::now();
    let containers = inner.cfg.docker.containers().await?;
    let mut found: HashMap<String, Machine> = HashMap::new();
    for c in &containers {
        // With several containers for one instance (a leftover next to the real one), a
        // running one wins.
        let slot = found
            .entry(c.instance_id.clone())
            .or_insert(Machine::Absent);
        if *slot != Machine::Running {
            *slot = c.machine.clone();
        }
    }
    let gone = inner.store.observe(&Observation {
        started,
        covered,
        found,
    });
    for id in gone {
        tracing::warn!(%id, "the instance's container is gone (removed outside the plugin)");
        inner.clean_up_gone(&id, docker);
    }
    let root = inner.store.root().display().to_string();
    let leftovers: Vec<String> = containers
        .iter()
        .filter(|c| {
            c.dir == root
                && inner.store.get(&c.instance_id).is_none()
                && !inner.busy(&c.instance_id)
        })
        .map(|c| c.container_id.clone())
        .collect();
    if !leftovers.is_empty() {
        tracing::warn!(
            count = leftovers.len(),
            "removing leftover containers of instances that no longer exist"
        );
        if let Err(e) = inner.cfg.docker.remove(&leftovers).await {
            tracing::debug!(error = %e, "removing leftovers");
        }
    }
    Ok(())
}

/// `vagrant status` for each running machine of a provider other than docker.
async fn look_at_other_machines(inner: &Arc<Inner>) {
    let docker = Provider::Docker.as_str();
    for (id, provider, phase) in inner.store.list() {
        if provider == docker || phase != Phase::Running {
            continue;
        }
        let started = Instant::now();
        let machine = match inner.cfg.vagrant.status(&inner.store.dir(&id)).await {
            Ok(s) if s == "running" => Machine::Running,
            Ok(s) if s == "not_created" => Machine::Absent,
            Ok(s) => Machine::Stopped(s),
            Err(e) => {
                tracing::warn!(%id, error = %e, "vagrant status failed");
                continue;
            }
        };
        let gone = inner.store.observe(&Observation {
            started,
            covered: vec![id.clone()],
            found: HashMap::from([(id.clone(), machine)]),
        });
        for id in gone {
            tracing::warn!(%id, "the instance's machine is gone (destroyed outside the plugin)");
            inner.clean_up_gone(&id, &provider);
        }
    }
}
