//! The Init script of one member: it writes `myid` and `zoo.cfg`, then `exec`s java, so that
//! the instance's process *is* ZooKeeper and signals (SIGTERM on destroy) reach it.
//!
//! It runs with `/bin/sh`. Without `Dir` it works in its working directory (for the process
//! instance plugin: `<dir>/<instance id>/work`). It refuses to start when
//! `INFRAKIT_LOGICAL_ID` is set to another member, or when the data directory's `myid` belongs
//! to another member (a data directory shared by mistake would corrupt the ensemble).

use crate::config::zoo_cfg;
use crate::ensemble::Ensemble;
use crate::properties::{ZkProperties, expand};

/// The class ZooKeeper's ensemble members run.
pub const MAIN_CLASS: &str = "org.apache.zookeeper.server.quorum.QuorumPeerMain";

/// The heredoc delimiter around zoo.cfg (no setting can contain a line of its own).
const EOF_MARK: &str = "INFRAKIT_ZOO_CFG";

/// The Init script for member `myid` (logical ID `logical_id`) of `ensemble`.
pub fn init_script(
    props: &ZkProperties,
    ensemble: &Ensemble,
    myid: u32,
    logical_id: &str,
) -> String {
    let cfg = zoo_cfg(props, ensemble, myid, logical_id);
    let base = match &props.dir {
        Some(d) => format!(
            "base={}\nmkdir -p \"$base\"",
            quote(&expand(d, myid, logical_id))
        ),
        None => "base=$(pwd -P)".to_string(),
    };
    let mut java = vec![quote(&props.java)];
    java.extend(props.java_opts.iter().map(|o| quote(o)));
    java.push("\"-Dzookeeper.log.dir=$base/logs\"".into());
    java.push("-cp".into());
    java.push(quote(&props.classpath.join(":")));
    java.push(MAIN_CLASS.into());
    java.push("\"$base/zoo.cfg\"".into());
    format!(
        r#"#!/bin/sh
# ZooKeeper member {myid} of {n} (logical ID {logical_id}), written by infrakit-flavor-zookeeper.
set -eu
logical_id={lid}
if [ -n "${{INFRAKIT_LOGICAL_ID:-}}" ] && [ "$INFRAKIT_LOGICAL_ID" != "$logical_id" ]; then
  echo "zookeeper: this Init script is for $logical_id, not for $INFRAKIT_LOGICAL_ID" >&2
  exit 64
fi
{base}
data={data}
case "$data" in /*) ;; *) data="$base/$data" ;; esac
mkdir -p "$data" "$base/logs"
if [ -s "$data/myid" ] && [ "$(cat "$data/myid")" != {myid} ]; then
  echo "zookeeper: $data/myid is $(cat "$data/myid"), not {myid}: the data directory belongs to another member" >&2
  exit 65
fi
echo {myid} > "$data/myid"
cat > "$base/zoo.cfg.tmp" <<'{EOF_MARK}'
{cfg}{EOF_MARK}
echo "dataDir=$data" >> "$base/zoo.cfg.tmp"
mv "$base/zoo.cfg.tmp" "$base/zoo.cfg"
exec {java}
"#,
        n = ensemble.len(),
        lid = quote(logical_id),
        data = quote(&expand(&props.data_dir, myid, logical_id)),
        java = java.join(" "),
    )
}

/// `s` as one single-quoted shell word.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ensemble() -> Ensemble {
        let ids: Vec<String> = ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        Ensemble::from_allocation(0, &ids, false, "$").unwrap()
    }

    #[test]
    fn quotes_every_value_and_execs_java_last() {
        let p = ZkProperties {
            java: "/opt/my java/bin/java".into(),
            java_opts: vec!["-Dx='y'".into()],
            ..Default::default()
        };
        let s = init_script(&p, &ensemble(), 3, "10.0.0.3");
        assert!(s.starts_with("#!/bin/sh\n"));
        assert!(s.contains("logical_id='10.0.0.3'\n"), "{s}");
        assert!(s.contains("base=$(pwd -P)\n"), "{s}");
        assert!(s.contains("echo 3 > \"$data/myid\"\n"), "{s}");
        let last = s.trim_end().lines().last().unwrap();
        assert_eq!(
            last,
            "exec '/opt/my java/bin/java' '-Dx='\\''y'\\''' \"-Dzookeeper.log.dir=$base/logs\" -cp \
             '/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar' \
             org.apache.zookeeper.server.quorum.QuorumPeerMain \"$base/zoo.cfg\""
        );
    }

    #[test]
    fn a_fixed_dir_gets_the_members_placeholders() {
        let p = ZkProperties {
            dir: Some("/srv/zk/{myid}".into()),
            data_dir: "/data/{logical_id}".into(),
            ..Default::default()
        };
        let s = init_script(&p, &ensemble(), 2, "10.0.0.2");
        assert!(s.contains("base='/srv/zk/2'\nmkdir -p \"$base\"\n"), "{s}");
        assert!(s.contains("data='/data/10.0.0.2'\n"), "{s}");
    }
}
