//! How instances map onto containers: names, labels, tags and states. Pure functions.
//!
//! # The mapping
//! - **Instance ID = container name**, e.g. `workers-3f9c0a7d12be`: `<group>-<12 hex digits>`
//!   (`instance-<hex>` without a group). With a provision token the hex digits are derived from
//!   it, so a repeated Provision can never create a second container (the engine refuses a
//!   duplicate name). The name is what `docker ps` shows, so `docker kill <ID>` works as is.
//! - **Tags are labels with the same key** (`infrakit.group=workers`), so
//!   `docker ps --filter label=infrakit.group=workers` lists a group's containers. Which labels
//!   are tags is recorded in [`TAG_KEYS`] (a JSON list), so image labels and the `Labels`
//!   property never show up as tags.
//! - **Ownership**: every container carries [`MARKER`]`=<plugin name>`; the plugin lists, watches,
//!   labels and destroys only containers whose marker names it.

use infrakit_spi::instance::v1::InstanceState;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};

/// The ownership label: its value is the name of the plugin that manages the container.
pub const MARKER: &str = "infrakit.instance-docker";
/// A JSON list of the label keys that are the instance's tags.
pub const TAG_KEYS: &str = "infrakit.instance-docker.tags";
/// The instance's logical ID (pets).
pub const LOGICAL_ID: &str = "infrakit.instance-docker.logical-id";
/// Labels (and tags) whose keys start with this are the plugin's own.
pub const RESERVED_PREFIX: &str = "infrakit.instance-docker";

/// Event attributes Docker adds next to a container's labels.
const EVENT_ATTRIBUTES: &[&str] = &["name", "image", "exitCode", "signal", "oldName"];

/// The container name for a new instance: `<group or "instance">-<12 hex digits>`, the digits
/// derived from the provision token when there is one (so the name is the same on a retry), else
/// from `random`.
pub fn container_name(plugin: &str, tags: &HashMap<String, String>, random: &str) -> String {
    let prefix = tags
        .get(infrakit_model::tags::GROUP)
        .map(|g| sanitize(g))
        .filter(|g| !g.is_empty())
        .unwrap_or_else(|| "instance".to_string());
    let suffix = match tags.get(infrakit_model::tags::PROVISION_TOKEN) {
        Some(token) => {
            let mut h = Sha256::new();
            h.update(plugin.as_bytes());
            h.update([0]);
            h.update(token.as_bytes());
            h.finalize()
                .iter()
                .take(6)
                .map(|b| format!("{b:02x}"))
                .collect()
        }
        None => random.to_string(),
    };
    format!("{prefix}-{suffix}")
}

/// A group ID made fit for a container name (`[a-zA-Z0-9][a-zA-Z0-9_.-]*`, at most 40 chars).
fn sanitize(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    cleaned
        .trim_start_matches(|c: char| !c.is_ascii_alphanumeric())
        .chars()
        .take(40)
        .collect()
}

/// The labels a new container gets: the `Labels` property, then the tags (a tag wins over a
/// property label with the same key), then the plugin's own labels.
pub fn container_labels(
    plugin: &str,
    extra: &BTreeMap<String, String>,
    tags: &HashMap<String, String>,
    logical_id: Option<&str>,
) -> HashMap<String, String> {
    let mut labels: HashMap<String, String> =
        extra.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    labels.extend(tags.iter().map(|(k, v)| (k.clone(), v.clone())));
    let mut keys: Vec<&String> = tags.keys().collect();
    keys.sort();
    labels.insert(
        TAG_KEYS.to_string(),
        serde_json::to_string(&keys).unwrap_or_else(|_| "[]".to_string()),
    );
    labels.insert(MARKER.to_string(), plugin.to_string());
    if let Some(l) = logical_id {
        labels.insert(LOGICAL_ID.to_string(), l.to_string());
    }
    labels
}

/// The tags stored in a container's labels (or an event's attributes): the keys listed in
/// [`TAG_KEYS`]. A container labelled by hand with only the marker (no list) is adopted with
/// every label except the plugin's own as its tags.
pub fn tags_of(labels: &HashMap<String, String>) -> BTreeMap<String, String> {
    let listed: Option<Vec<String>> = labels
        .get(TAG_KEYS)
        .and_then(|s| serde_json::from_str(s).ok());
    match listed {
        Some(keys) => keys
            .into_iter()
            .filter_map(|k| labels.get(&k).map(|v| (k, v.clone())))
            .collect(),
        None => labels
            .iter()
            .filter(|(k, _)| {
                !k.starts_with(RESERVED_PREFIX) && !EVENT_ATTRIBUTES.contains(&k.as_str())
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

/// The instance state of a container in Docker state `status` (`created`, `running`, ...).
///
/// - `created` → PENDING (not started yet), `restarting` → PENDING (Docker restarts it by policy)
/// - `running`, `paused` → RUNNING (a paused container still exists; its health is the flavor's
///   business)
/// - `exited`, `dead` → FAILED, so the group replaces it
/// - `removing`, `stopping` → TERMINATING
pub fn state_of(status: &str) -> InstanceState {
    match status {
        "created" | "restarting" => InstanceState::Pending,
        "running" | "paused" => InstanceState::Running,
        "exited" | "dead" => InstanceState::Failed,
        "removing" | "stopping" => InstanceState::Terminating,
        _ => InstanceState::Unspecified,
    }
}

/// True when `tags` contains every wanted tag.
pub fn matches(tags: &HashMap<String, String>, wanted: &HashMap<String, String>) -> bool {
    wanted.iter().all(|(k, v)| tags.get(k) == Some(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use infrakit_model::tags;

    fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn names_come_from_the_group_and_the_token() {
        let t = map(&[(tags::GROUP, "web/prod"), (tags::PROVISION_TOKEN, "tok")]);
        let a = container_name("instance-docker", &t, "ffffffffffff");
        assert!(a.starts_with("web-prod-"), "{a}");
        assert_eq!(a.len(), "web-prod-".len() + 12);
        assert_eq!(a, container_name("instance-docker", &t, "000000000000"));
        assert_ne!(a, container_name("other-plugin", &t, "000000000000"));
        assert_eq!(
            container_name("p", &map(&[(tags::GROUP, "__")]), "abc"),
            "instance-abc"
        );
        assert_eq!(container_name("p", &HashMap::new(), "abc"), "instance-abc");
    }

    #[test]
    fn tags_are_the_listed_labels_only() {
        let labels = container_labels(
            "instance-docker",
            &[
                ("team".to_string(), "web".to_string()),
                ("tier".to_string(), "x".to_string()),
            ]
            .into(),
            &map(&[(tags::GROUP, "g"), ("tier", "web")]),
            Some("10.0.0.1"),
        );
        assert_eq!(labels["tier"], "web", "a tag wins over a property label");
        assert_eq!(labels[MARKER], "instance-docker");
        assert_eq!(labels[LOGICAL_ID], "10.0.0.1");
        let mut with_image_labels = labels.clone();
        with_image_labels.insert("maintainer".into(), "me".into());
        let t = tags_of(&with_image_labels);
        assert_eq!(
            t,
            [
                (tags::GROUP.to_string(), "g".to_string()),
                ("tier".to_string(), "web".to_string())
            ]
            .into()
        );
    }

    #[test]
    fn hand_labelled_containers_are_adopted_with_their_labels() {
        let t = tags_of(&map(&[
            (MARKER, "instance-docker"),
            (tags::GROUP, "g"),
            ("name", "c1"),
        ]));
        assert_eq!(t, [(tags::GROUP.to_string(), "g".to_string())].into());
    }

    #[test]
    fn states_map_so_the_group_heals_dead_containers() {
        assert_eq!(state_of("created"), InstanceState::Pending);
        assert_eq!(state_of("running"), InstanceState::Running);
        assert_eq!(state_of("exited"), InstanceState::Failed);
        assert_eq!(state_of("dead"), InstanceState::Failed);
        assert_eq!(state_of("removing"), InstanceState::Terminating);
        assert_eq!(state_of("weird"), InstanceState::Unspecified);
    }
}
