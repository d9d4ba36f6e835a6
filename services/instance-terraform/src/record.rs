//! The sidecar of one instance, `.infrakit/instances/<id>.json`: everything needed to render its
//! Terraform file again, plus its phase. It is written before the Terraform file, so every file
//! the plugin made has one, and a restarted plugin knows each instance's tags and whether its
//! creation or destruction is still to be applied.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where an instance is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Its file is written; Terraform has not created it yet.
    Pending,
    /// Terraform has created it (it was seen in the state).
    Applied,
    /// Its file holds `removed` blocks; Terraform has not destroyed it yet.
    Destroying,
}

/// One instance's sidecar.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The instance ID.
    pub id: String,
    /// The pet identity, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logical_id: Option<String>,
    /// The tags, as provisioned and labelled.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// The Init script.
    #[serde(default)]
    pub init: String,
    /// The Properties it was provisioned with.
    pub properties: serde_json::Value,
    /// Its phase.
    pub phase: Phase,
    /// When it was provisioned, in milliseconds since the Unix epoch.
    #[serde(default)]
    pub created_ms: u64,
    /// Set when Terraform rejected its configuration: the file is kept out of the working
    /// directory (so the other instances can still be applied) and the instance is FAILED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broken: Option<String>,
    /// Set when Terraform failed to create it [`MAX_ATTEMPTS`] times: the instance is FAILED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gave_up: Option<String>,
    /// Applies that included it but did not create it.
    #[serde(default)]
    pub attempts: u32,
}

/// How many applies may fail to create an instance before it is reported FAILED.
pub const MAX_ATTEMPTS: u32 = 3;

// === impl Record ===

impl Record {
    /// True when every given tag is on this instance.
    pub fn matches(&self, tags: &std::collections::HashMap<String, String>) -> bool {
        tags.iter().all(|(k, v)| self.tags.get(k) == Some(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_and_old_fields_default() {
        let r = Record {
            id: "instance-0123456789abcdef".into(),
            logical_id: None,
            tags: [("a".to_string(), "b".to_string())].into(),
            init: "x".into(),
            properties: serde_json::json!({"resource": {"terraform_data": {}}}),
            phase: Phase::Pending,
            created_ms: 1,
            broken: None,
            gave_up: None,
            attempts: 0,
        };
        let s = serde_json::to_string(&r).unwrap();
        assert!(s.contains("\"phase\":\"pending\""), "{s}");
        assert_eq!(serde_json::from_str::<Record>(&s).unwrap(), r);
        let minimal: Record =
            serde_json::from_str(r#"{"id":"i","properties":null,"phase":"applied"}"#).unwrap();
        assert_eq!(minimal.phase, Phase::Applied);
        assert!(minimal.tags.is_empty());
    }
}
