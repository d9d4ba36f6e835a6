//! The boot script (Init) that joins an instance's Docker engine to the swarm. Pure: no engine
//! calls.
//!
//! What the script does, in POSIX `sh`:
//! 1. runs the Properties' `Init` lines;
//! 2. writes `/etc/docker/daemon.json` with the engine labels (the link, group, role and swarm
//!    ID, plus `EngineLabels`), keeping a copy of an existing file as
//!    `daemon.json.before-infrakit`;
//! 3. asks an engine that is already running to reload its labels (SIGHUP; labels are reloadable);
//!    an engine started later reads them when it starts;
//! 4. in the background, waits for the engine to answer (up to 10 minutes), then runs
//!    `docker swarm join --token ... <address>` against each join address in turn until one
//!    succeeds (retrying every 2 s for up to 5 minutes). An engine already in a swarm is left alone.
//!
//! The join runs in the background so that the script can be followed by the command that starts
//! the engine (as in a docker-in-docker container, where the instance's main process becomes
//! `dockerd` after the script) as well as run on a machine whose engine is already running.
//!
//! # Caveats
//! The script holds the join token, a secret: it is never logged by this plugin.

use crate::properties::Role;
use std::collections::BTreeMap;

/// Everything the script needs.
#[derive(Clone, Debug)]
pub struct JoinPlan<'a> {
    /// The swarm's cluster ID (for the comment and the label).
    pub swarm_id: &'a str,
    /// The role to join as.
    pub role: Role,
    /// The join token for that role.
    pub token: &'a str,
    /// Managers' `host:port` addresses, tried in order.
    pub addresses: &'a [String],
    /// `--advertise-addr`, if set.
    pub advertise_addr: Option<&'a str>,
    /// Every engine label to write.
    pub labels: &'a BTreeMap<String, String>,
    /// Lines run first.
    pub init: &'a [String],
}

/// The heredoc delimiter around `daemon.json`; JSON on one line can never equal it.
const EOF_MARK: &str = "INFRAKIT_DAEMON_JSON";

/// Renders the script.
pub fn render(p: &JoinPlan<'_>) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "# infrakit flavor-swarm: join this Docker engine to swarm {} as a {}\n",
        p.swarm_id, p.role
    ));
    for line in p.init {
        s.push_str(line);
        s.push('\n');
    }
    let labels: Vec<String> = p.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let daemon_json = serde_json::json!({ "labels": labels }).to_string();
    s.push_str("mkdir -p /etc/docker\n");
    s.push_str(
        "if [ -s /etc/docker/daemon.json ] && [ ! -e /etc/docker/daemon.json.before-infrakit ]; then\n\
         \x20 cp /etc/docker/daemon.json /etc/docker/daemon.json.before-infrakit\n\
         fi\n",
    );
    s.push_str(&format!(
        "cat >/etc/docker/daemon.json <<'{EOF_MARK}'\n{daemon_json}\n{EOF_MARK}\n"
    ));
    s.push_str(
        "# A running engine reloads its labels on SIGHUP; an engine started later reads them at start.\n\
         if [ -r /var/run/docker.pid ] && kill -HUP \"$(cat /var/run/docker.pid)\" 2>/dev/null; then\n\
         \x20 echo 'infrakit: asked the running engine to reload its labels'\n\
         fi\n",
    );
    let mut join = format!("docker swarm join --token {}", quote(p.token));
    if let Some(a) = p.advertise_addr {
        join.push_str(&format!(" --advertise-addr {}", quote(a)));
    }
    let addresses: Vec<String> = p.addresses.iter().map(|a| quote(a)).collect();
    s.push_str(
        "(\n\
         \x20 tries=0\n\
         \x20 until docker info >/dev/null 2>&1; do\n\
         \x20   tries=$((tries + 1))\n\
         \x20   if [ \"$tries\" -gt 1200 ]; then echo 'infrakit: the Docker engine did not start; not joining the swarm' >&2; exit 1; fi\n\
         \x20   sleep 0.5 2>/dev/null || sleep 1\n\
         \x20 done\n\
         \x20 joined() {\n\
         \x20   case \"$(docker info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null)\" in\n\
         \x20     active|pending|locked) return 0 ;;\n\
         \x20   esac\n\
         \x20   return 1\n\
         \x20 }\n\
         \x20 if joined; then echo 'infrakit: this engine is already in a swarm'; exit 0; fi\n\
         \x20 tries=0\n\
         \x20 while :; do\n",
    );
    s.push_str(&format!(
        "    for addr in {}; do\n\
         \x20     if {join} \"$addr\" || joined; then exit 0; fi\n\
         \x20   done\n",
        addresses.join(" ")
    ));
    s.push_str(
        "    tries=$((tries + 1))\n\
         \x20   if [ \"$tries\" -gt 150 ]; then echo 'infrakit: could not join the swarm' >&2; exit 1; fi\n\
         \x20   sleep 2\n\
         \x20 done\n\
         ) &\n",
    );
    s
}

/// Quotes a string for `sh`: `'...'`, with each `'` written as `'\''`.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_labels() -> BTreeMap<String, String> {
        [
            ("infrakit.link".to_string(), "0123456789abcdef".to_string()),
            ("zone".to_string(), "it's \"a\"".to_string()),
        ]
        .into()
    }

    #[test]
    fn the_script_writes_labels_and_joins_with_the_token() {
        let labels = plan_labels();
        let addresses = vec!["10.0.0.2:2377".to_string(), "10.0.0.3:2377".to_string()];
        let init = vec!["echo first".to_string()];
        let s = render(&JoinPlan {
            swarm_id: "abc",
            role: Role::Worker,
            token: "SWMTKN-1-xyz",
            addresses: &addresses,
            advertise_addr: Some("eth0"),
            labels: &labels,
            init: &init,
        });
        assert!(s.starts_with("# infrakit flavor-swarm: join this Docker engine to swarm abc as a worker\necho first\n"), "{s}");
        assert!(
            s.contains(r#"{"labels":["infrakit.link=0123456789abcdef","zone=it's \"a\""]}"#),
            "{s}"
        );
        assert!(
            s.contains("for addr in '10.0.0.2:2377' '10.0.0.3:2377'; do"),
            "{s}"
        );
        assert!(
            s.contains(
                "docker swarm join --token 'SWMTKN-1-xyz' --advertise-addr 'eth0' \"$addr\""
            ),
            "{s}"
        );
    }

    #[test]
    fn the_script_is_valid_sh() {
        let labels = plan_labels();
        let addresses = vec!["h:2377".to_string()];
        let s = render(&JoinPlan {
            swarm_id: "abc",
            role: Role::Manager,
            token: "it's",
            addresses: &addresses,
            advertise_addr: None,
            labels: &labels,
            init: &[],
        });
        let out = std::process::Command::new("sh")
            .arg("-n")
            .arg("-c")
            .arg(&s)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}\n{s}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(s.contains("--token 'it'\\''s'"), "{s}");
    }

    #[test]
    fn quoting_survives_the_shell() {
        for v in ["plain", "it's", "$(reboot)", "a\"b", ""] {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("printf %s {}", quote(v)))
                .output()
                .unwrap();
            assert_eq!(String::from_utf8_lossy(&out.stdout), v);
        }
    }
}
