//! One member's `zoo.cfg`, except `dataDir` (the Init script appends it once it has resolved
//! the data directory on the instance).

use crate::ensemble::Ensemble;
use crate::properties::{ZkProperties, expand};

/// The settings for member `myid` (logical ID `logical_id`) of `ensemble`: the merged
/// `Settings` in key order, then the keys the flavor manages, then the `server.N` lines.
/// Deterministic for a given input.
pub fn zoo_cfg(props: &ZkProperties, ensemble: &Ensemble, myid: u32, logical_id: &str) -> String {
    let mut lines = vec![format!(
        "# ZooKeeper member {myid} of {} (logical ID {logical_id}), written by infrakit-flavor-zookeeper.",
        ensemble.len()
    )];
    for (k, v) in &props.settings {
        lines.push(format!("{k}={}", expand(v, myid, logical_id)));
    }
    lines.push("standaloneEnabled=false".into());
    lines.push(format!("clientPort={}", props.ports.client));
    lines.push(format!(
        "clientPortAddress={}",
        props.client_address.as_deref().unwrap_or(logical_id)
    ));
    lines.extend(ensemble.server_lines(props.ports));
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_the_whole_ensemble_and_listens_on_the_members_own_address() {
        let ids: Vec<String> = ["127.0.0.11", "127.0.0.12", "127.0.0.13"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let e = Ensemble::from_allocation(0, &ids, false, "$").unwrap();
        let mut p = ZkProperties::default();
        p.settings
            .insert("dataLogDir".into(), "/logs/{myid}".into());
        let cfg = zoo_cfg(&p, &e, 2, "127.0.0.12");
        let want = "# ZooKeeper member 2 of 3 (logical ID 127.0.0.12), written by infrakit-flavor-zookeeper.\n\
            4lw.commands.whitelist=ruok,srvr,conf,mntr,stat\n\
            admin.enableServer=false\n\
            dataLogDir=/logs/2\n\
            initLimit=10\n\
            syncLimit=5\n\
            tickTime=2000\n\
            standaloneEnabled=false\n\
            clientPort=2181\n\
            clientPortAddress=127.0.0.12\n\
            server.1=127.0.0.11:2888:3888\n\
            server.2=127.0.0.12:2888:3888\n\
            server.3=127.0.0.13:2888:3888\n";
        assert_eq!(cfg, want);
    }
}
