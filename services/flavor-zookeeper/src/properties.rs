//! The zookeeper flavor's Properties:
//!
//! ```json
//! {"ClientPort": 2181, "QuorumPort": 2888, "ElectionPort": 3888,
//!  "ClientAddress": "0.0.0.0",
//!  "Java": "java", "JavaOpts": ["-Xmx1000m"],
//!  "Classpath": ["/usr/share/java/zookeeper.jar", "/usr/share/java/slf4j-simple.jar"],
//!  "Dir": "/var/lib/zk/{myid}", "DataDir": "data",
//!  "Settings": {"tickTime": 2000, "autopurge.purgeInterval": 24},
//!  "StartGracePeriod": "60s", "AllowEvenSize": false}
//! ```
//!
//! Every field is optional (see [`FIELDS`] and the crate README for the defaults). `Dir`,
//! `DataDir` and `Settings` values may contain `{myid}` and `{logical_id}`, replaced per
//! member. Unknown fields are refused with a did-you-mean; every violation names its JSON path.

use crate::ensemble::{Ports, check_address};
use infrakit_model::Violations;
use infrakit_model::duration::{self, Syntax};
use infrakit_model::json_path::{index, key, object, type_name};
use infrakit_model::object::Object;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// The fields the zookeeper flavor understands.
pub const FIELDS: &[&str] = &[
    "ClientPort",
    "QuorumPort",
    "ElectionPort",
    "ClientAddress",
    "Java",
    "JavaOpts",
    "Classpath",
    "Dir",
    "DataDir",
    "Settings",
    "StartGracePeriod",
    "AllowEvenSize",
];

/// Debian's ZooKeeper jar and the slf4j binding that sends its log to stderr.
pub const DEFAULT_CLASSPATH: &[&str] = &[
    "/usr/share/java/zookeeper.jar",
    "/usr/share/java/slf4j-simple.jar",
];

/// The JVM options used unless `JavaOpts` is given (ZooKeeper's own default heap).
pub const DEFAULT_JAVA_OPTS: &[&str] = &["-Xmx1000m"];

/// How long a new member may take to join before it counts as unhealthy, by default.
pub const DEFAULT_START_GRACE: Duration = Duration::from_secs(60);

/// The longest `StartGracePeriod` accepted (a day): a grace period beyond that is a typo.
pub const MAX_START_GRACE: Duration = Duration::from_secs(24 * 3600);

/// The four-letter words the flavor sends: Healthy uses `ruok` and `srvr`, Drain `srvr` and
/// `conf`. A `4lw.commands.whitelist` setting must allow them.
pub const NEEDED_WORDS: &[&str] = &["ruok", "srvr", "conf"];

/// zoo.cfg settings written unless `Settings` overrides them.
pub const DEFAULT_SETTINGS: &[(&str, &str)] = &[
    ("4lw.commands.whitelist", "ruok,srvr,conf,mntr,stat"),
    ("admin.enableServer", "false"),
    ("initLimit", "10"),
    ("syncLimit", "5"),
    ("tickTime", "2000"),
];

/// zoo.cfg keys the flavor writes itself, with the Properties field (or reason) to use instead.
pub const MANAGED_SETTINGS: &[(&str, &str)] = &[
    ("dataDir", "set \"DataDir\" instead"),
    ("clientPort", "set \"ClientPort\" instead"),
    ("clientPortAddress", "set \"ClientAddress\" instead"),
    (
        "standaloneEnabled",
        "remove it: members always run as an ensemble",
    ),
    (
        "dynamicConfigFile",
        "remove it: the membership comes from the group's LogicalIDs",
    ),
];

/// The placeholders `Dir`, `DataDir` and `Settings` values may use.
pub const PLACEHOLDERS: &[&str] = &["{myid}", "{logical_id}"];

/// Validated zookeeper flavor Properties.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZkProperties {
    /// The members' ports.
    pub ports: Ports,
    /// Where the client port listens; `None`: on the member's logical ID.
    pub client_address: Option<String>,
    /// The java executable.
    pub java: String,
    /// JVM options, before the class path.
    pub java_opts: Vec<String>,
    /// The class path entries.
    pub classpath: Vec<String>,
    /// Where zoo.cfg, logs and a relative data dir go; `None`: the Init script's working directory.
    pub dir: Option<String>,
    /// The data directory (absolute, or relative to `dir`).
    pub data_dir: String,
    /// Extra zoo.cfg settings merged over [`DEFAULT_SETTINGS`].
    pub settings: BTreeMap<String, String>,
    /// How long a new member may take to join the quorum before it counts as unhealthy.
    pub start_grace: Duration,
    /// Accept an even number of members.
    pub allow_even_size: bool,
}

impl Default for ZkProperties {
    fn default() -> Self {
        Self {
            ports: Ports {
                client: 2181,
                quorum: 2888,
                election: 3888,
            },
            client_address: None,
            java: "java".into(),
            java_opts: DEFAULT_JAVA_OPTS.iter().map(|s| s.to_string()).collect(),
            classpath: DEFAULT_CLASSPATH.iter().map(|s| s.to_string()).collect(),
            dir: None,
            data_dir: "data".into(),
            settings: DEFAULT_SETTINGS
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            start_grace: DEFAULT_START_GRACE,
            allow_even_size: false,
        }
    }
}

/// Parses Properties at JSON path `at`, collecting every violation.
pub fn parse(v: &Value, at: &str) -> Result<ZkProperties, Violations> {
    let mut out = ZkProperties::default();
    let mut bad = Violations::new();
    let fix = "write {\"ClientPort\": 2181, \"Settings\": {...}}";
    let Some(obj) = Object::optional(v, at, fix, &mut bad) else {
        return bad.into_result(out);
    };
    obj.reject_unknown_of(FIELDS, "the zookeeper flavor", &mut bad);
    for (k, val) in obj.fields() {
        let path = obj.at(k);
        let b = &mut bad;
        match k {
            "ClientPort" => port(val, &path, b, &mut out.ports.client),
            "QuorumPort" => port(val, &path, b, &mut out.ports.quorum),
            "ElectionPort" => port(val, &path, b, &mut out.ports.election),
            "ClientAddress" => {
                if let Some(s) = string(val, &path, b, "\"0.0.0.0\"") {
                    match s.parse::<std::net::IpAddr>() {
                        Ok(_) => out.client_address = Some(s),
                        Err(_) => match check_address(&s) {
                            Ok(()) => out.client_address = Some(s),
                            Err(e) => b.push(&path, e, "write an IP address such as \"0.0.0.0\""),
                        },
                    }
                }
            }
            "Java" => {
                if let Some(s) = string(val, &path, b, "\"/usr/bin/java\"") {
                    out.java = s;
                }
            }
            "JavaOpts" => {
                if let Some(l) = list(val, &path, b, "[\"-Xmx512m\"]", false) {
                    out.java_opts = l;
                }
            }
            "Classpath" => classpath(val, &path, b, &mut out.classpath),
            "Dir" => match string(val, &path, b, "\"/var/lib/zookeeper/{myid}\"") {
                Some(s) if !s.starts_with('/') => b.push(
                    &path,
                    format!("{s:?} is not an absolute path"),
                    "start it with '/', or leave it out to use the Init script's working directory",
                ),
                Some(s) => {
                    placeholders(&s, &path, b);
                    out.dir = Some(s);
                }
                None => {}
            },
            "DataDir" => {
                if let Some(s) = string(val, &path, b, "\"data\"") {
                    placeholders(&s, &path, b);
                    out.data_dir = s;
                }
            }
            "Settings" => settings(val, &path, b, &mut out.settings),
            "StartGracePeriod" => {
                if let Some(s) = string(val, &path, b, "\"60s\"") {
                    match start_grace(&s) {
                        Ok(d) => out.start_grace = d,
                        Err(e) => b.push(&path, e, "write a duration such as \"60s\" or \"2m\""),
                    }
                }
            }
            "AllowEvenSize" => match val {
                Value::Bool(x) => out.allow_even_size = *x,
                other => b.push(
                    &path,
                    format!("must be true or false, found {}", type_name(other)),
                    "write true or false",
                ),
            },
            _ => {} // Reported by reject_unknown_of.
        }
    }
    let p = out.ports;
    if p.client == p.quorum || p.client == p.election || p.quorum == p.election {
        bad.push(
            at,
            format!(
                "ClientPort ({}), QuorumPort ({}) and ElectionPort ({}) must differ",
                p.client, p.quorum, p.election
            ),
            "give each its own port, e.g. 2181, 2888 and 3888",
        );
    }
    bad.into_result(out)
}

/// Parses a `StartGracePeriod` in the group spec's syntax (`"60s"`, `"1m30s"`; largest unit
/// first), at most [`MAX_START_GRACE`]. The error says what is wrong, in a few words.
fn start_grace(text: &str) -> Result<Duration, String> {
    let d = duration::parse(text, Syntax::SPEC).map_err(|e| e.to_string())?;
    if d > MAX_START_GRACE {
        return Err(format!("{text:?} is longer than a day"));
    }
    Ok(d)
}

fn port(v: &Value, path: &str, bad: &mut Violations, out: &mut u16) {
    match v
        .as_u64()
        .and_then(|n| u16::try_from(n).ok())
        .filter(|n| *n > 0)
    {
        Some(n) => *out = n,
        None => bad.push(
            path,
            format!("must be a port number from 1 to 65535, found {}", shown(v)),
            "write a number such as 2181",
        ),
    }
}

/// A non-empty single-line string, or a violation.
fn string(v: &Value, path: &str, bad: &mut Violations, example: &str) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() && !has_control(s) => Some(s.clone()),
        Value::String(s) if has_control(s) => {
            bad.push(
                path,
                "contains a line break or control character",
                "write it on one line",
            );
            None
        }
        other => {
            bad.push(
                path,
                format!("must be a non-empty string, found {}", shown(other)),
                format!("write {example}"),
            );
            None
        }
    }
}

/// A list of single-line strings (non-empty ones when `non_empty_items`), or a violation.
fn list(
    v: &Value,
    path: &str,
    bad: &mut Violations,
    example: &str,
    non_empty_items: bool,
) -> Option<Vec<String>> {
    let Value::Array(items) = v else {
        bad.push(
            path,
            format!("must be a list of strings, found {}", type_name(v)),
            format!("write {example}"),
        );
        return None;
    };
    let before = bad.0.len();
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match item {
            Value::String(s) if has_control(s) => bad.push(
                index(path, i),
                "contains a line break or control character",
                "write it on one line",
            ),
            Value::String(s) if non_empty_items && s.trim().is_empty() => {
                bad.push(index(path, i), "is empty", "remove it")
            }
            Value::String(s) => out.push(s.clone()),
            other => bad.push(
                index(path, i),
                format!("must be a string, found {}", type_name(other)),
                "quote it",
            ),
        }
    }
    (bad.0.len() == before).then_some(out)
}

fn classpath(v: &Value, path: &str, bad: &mut Violations, out: &mut Vec<String>) {
    let entries = match v {
        Value::String(s) if !has_control(s) => {
            Some(s.split(':').map(str::to_string).collect::<Vec<_>>())
        }
        Value::String(_) => {
            bad.push(
                path,
                "contains a line break or control character",
                "write it on one line",
            );
            None
        }
        _ => list(v, path, bad, "[\"/usr/share/java/zookeeper.jar\"]", true),
    };
    let Some(entries) = entries else { return };
    if entries.is_empty() || entries.iter().any(|e| e.trim().is_empty()) {
        bad.push(
            path,
            "has an empty class path entry",
            "list the jars, e.g. [\"/usr/share/java/zookeeper.jar\", \"/usr/share/java/slf4j-simple.jar\"]",
        );
    } else if let Some(i) = entries.iter().position(|e| e.contains(':')) {
        bad.push(
            index(path, i),
            "contains ':', the class path separator",
            "give each entry as its own list item",
        );
    } else {
        *out = entries;
    }
}

fn settings(v: &Value, path: &str, bad: &mut Violations, out: &mut BTreeMap<String, String>) {
    let Some(obj) = bad
        .record(object(
            v,
            path,
            "write {\"tickTime\": 2000, \"autopurge.purgeInterval\": 24}",
        ))
        .flatten()
    else {
        return;
    };
    for (k, val) in obj {
        let kpath = key(path, k);
        if k.is_empty()
            || !k
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        {
            bad.push(
                &kpath,
                "is not a zoo.cfg key (letters, digits, '.', '_' and '-' only)",
                "use the key as ZooKeeper's documentation spells it, e.g. \"tickTime\"",
            );
            continue;
        }
        if k.starts_with("server.") || k.starts_with("group.") || k.starts_with("weight.") {
            bad.push(
                &kpath,
                "is written by the flavor from the group's LogicalIDs",
                "remove it; list the members in the group's Allocation.LogicalIDs",
            );
            continue;
        }
        if let Some((_, fix)) = MANAGED_SETTINGS.iter().find(|(m, _)| m == k) {
            bad.push(&kpath, "is written by the flavor", *fix);
            continue;
        }
        let text = match val {
            Value::String(s) if !has_control(s) => s.clone(),
            Value::String(_) => {
                bad.push(
                    &kpath,
                    "contains a line break or control character",
                    "write it on one line",
                );
                continue;
            }
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            other => {
                bad.push(
                    &kpath,
                    format!(
                        "must be a string, number or boolean, found {}",
                        type_name(other)
                    ),
                    "write the value as zoo.cfg expects it, e.g. \"2000\"",
                );
                continue;
            }
        };
        placeholders(&text, &kpath, bad);
        if k == "4lw.commands.whitelist" {
            let words: Vec<&str> = text.split(',').map(str::trim).collect();
            let missing: Vec<&str> = NEEDED_WORDS
                .iter()
                .copied()
                .filter(|w| !words.contains(w) && !words.contains(&"*"))
                .collect();
            if !missing.is_empty() {
                bad.push(
                    &kpath,
                    format!(
                        "leaves out {}, which the flavor's health checks and Drain send",
                        missing.join(", ")
                    ),
                    format!("add them: \"{text},{}\"", missing.join(",")),
                );
                continue;
            }
        }
        out.insert(k.clone(), text);
    }
}

/// Reports `{...}` placeholders other than [`PLACEHOLDERS`].
fn placeholders(s: &str, path: &str, bad: &mut Violations) {
    let mut rest = s;
    while let Some(open) = rest.find('{') {
        let tail = &rest[open..];
        let Some(close) = tail.find('}') else {
            bad.push(path, "has a '{' without '}'", "use {myid} or {logical_id}");
            return;
        };
        let name = &tail[..=close];
        if !PLACEHOLDERS.contains(&name) {
            bad.push(
                path,
                format!("has an unknown placeholder {name}"),
                "use {myid} or {logical_id}",
            );
        }
        rest = &tail[close + 1..];
    }
}

/// Replaces the placeholders in `s` for one member.
pub fn expand(s: &str, myid: u32, logical_id: &str) -> String {
    s.replace("{myid}", &myid.to_string())
        .replace("{logical_id}", logical_id)
}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// A value for a message: its type, or the number itself.
fn shown(v: &Value) -> String {
    match v {
        Value::Number(n) => n.to_string(),
        other => type_name(other).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn start_grace_periods_use_the_group_spec_syntax_up_to_a_day() {
        assert_eq!(start_grace("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(start_grace("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(start_grace("0"), Ok(Duration::ZERO));
        assert_eq!(start_grace("24h"), Ok(MAX_START_GRACE));
        for bad in ["", "30", "30x", "1s1m", "1.5s"] {
            assert!(start_grace(bad).is_err(), "{bad}");
        }
        assert_eq!(
            start_grace("25h"),
            Err("\"25h\" is longer than a day".into())
        );
    }

    #[test]
    fn defaults_are_debians_zookeeper_on_the_standard_ports() {
        let p = parse(&Value::Null, "$").unwrap();
        assert_eq!(p, ZkProperties::default());
        assert_eq!(p.ports.client, 2181);
        assert_eq!(p.classpath, DEFAULT_CLASSPATH);
        assert_eq!(
            p.settings["4lw.commands.whitelist"],
            "ruok,srvr,conf,mntr,stat"
        );
    }

    #[test]
    fn parses_every_field_and_merges_settings_over_the_defaults() {
        let p = parse(
            &json!({"ClientPort": 12181, "QuorumPort": 12888, "ElectionPort": 13888,
                    "ClientAddress": "0.0.0.0", "Java": "/opt/java/bin/java", "JavaOpts": [],
                    "Classpath": "/a.jar:/b.jar", "Dir": "/srv/zk/{myid}", "DataDir": "/d/{logical_id}",
                    "Settings": {"tickTime": 500, "autopurge.purgeInterval": "24", "quorumListenOnAllIPs": true},
                    "StartGracePeriod": "2m", "AllowEvenSize": true}),
            "$.properties",
        )
        .unwrap();
        assert_eq!(p.ports.quorum, 12888);
        assert_eq!(p.client_address.as_deref(), Some("0.0.0.0"));
        assert!(p.java_opts.is_empty());
        assert_eq!(p.classpath, vec!["/a.jar", "/b.jar"]);
        assert_eq!(p.settings["tickTime"], "500");
        assert_eq!(p.settings["syncLimit"], "5");
        assert_eq!(p.settings["quorumListenOnAllIPs"], "true");
        assert_eq!(p.start_grace, Duration::from_secs(120));
        assert!(p.allow_even_size);
        assert_eq!(
            expand("/d/{logical_id}/{myid}", 2, "10.0.0.2"),
            "/d/10.0.0.2/2"
        );
    }

    #[test]
    fn reports_every_violation_with_its_path_and_fix() {
        let err = parse(
            &json!({"ClientPrt": 1, "QuorumPort": 70000, "ElectionPort": "x",
                    "Dir": "relative", "DataDir": "d/{id}", "JavaOpts": ["-a", 3],
                    "Classpath": ["/a.jar", "/b.jar:/c.jar"],
                    "Settings": {"dataDir": "/x", "server.1": "h:1:2", "tickTime": {"a": 1},
                                 "4lw.commands.whitelist": "srvr", "bad key": 1},
                    "StartGracePeriod": "soon", "AllowEvenSize": "yes"}),
            "$.properties",
        )
        .unwrap_err();
        let paths: Vec<&str> = err.0.iter().map(|v| v.path.as_str()).collect();
        for want in [
            "$.properties.ClientPrt",
            "$.properties.QuorumPort",
            "$.properties.ElectionPort",
            "$.properties.Dir",
            "$.properties.DataDir",
            "$.properties.JavaOpts[1]",
            "$.properties.Classpath[1]",
            "$.properties.Settings.dataDir",
            "$.properties.Settings[\"server.1\"]",
            "$.properties.Settings.tickTime",
            "$.properties.Settings[\"4lw.commands.whitelist\"]",
            "$.properties.Settings[\"bad key\"]",
            "$.properties.StartGracePeriod",
            "$.properties.AllowEvenSize",
        ] {
            assert!(paths.contains(&want), "{want} missing from {paths:?}");
        }
        let text = err.to_string();
        assert!(text.contains("did you mean \"ClientPort\"?"), "{text}");
        assert!(
            text.contains("set \\\"DataDir\\\" instead")
                || text.contains("set \"DataDir\" instead"),
            "{text}"
        );
        assert!(text.contains("leaves out ruok, conf"), "{text}");
    }

    #[test]
    fn equal_ports_are_refused() {
        let err = parse(&json!({"ClientPort": 2888}), "$.properties").unwrap_err();
        assert_eq!(err.0[0].path, "$.properties");
        assert!(err.to_string().contains("must differ"));
    }
}
