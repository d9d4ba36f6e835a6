//! The on-disk format of one instance: `<dir>/<id>.json`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The file suffix of instance files.
pub const SUFFIX: &str = ".json";
/// The prefix of generated instance IDs.
pub const ID_PREFIX: &str = "instance-";

/// One instance as stored in its file (field names follow InfraKit's JSON).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Record {
    /// The instance ID (also the file name without `.json`).
    #[serde(rename = "ID")]
    pub id: String,
    /// The pet identity, if any.
    #[serde(rename = "LogicalID", default, skip_serializing_if = "Option::is_none")]
    pub logical_id: Option<String>,
    /// The instance's tags, as provisioned and labelled.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// The spec the instance was provisioned from.
    pub spec: StoredSpec,
    /// When the instance was created, in milliseconds since the Unix epoch.
    #[serde(default)]
    pub created_ms: u64,
}

/// The provisioned spec, in InfraKit's JSON shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StoredSpec {
    /// Instance Properties.
    #[serde(default)]
    pub properties: serde_json::Value,
    /// Tags given at provision.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// The boot script.
    #[serde(default)]
    pub init: String,
    /// The pet identity, if any.
    #[serde(rename = "LogicalID", default, skip_serializing_if = "Option::is_none")]
    pub logical_id: Option<String>,
    /// Attachments.
    #[serde(default)]
    pub attachments: Vec<StoredAttachment>,
}

/// An attachment, in InfraKit's JSON shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredAttachment {
    /// The attached resource's ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Its kind.
    #[serde(rename = "Type")]
    pub kind: String,
}

/// The instance ID a file name stands for, if it is an instance file.
pub fn id_of_file_name(name: &str) -> Option<&str> {
    if name.starts_with('.') {
        return None;
    }
    name.strip_suffix(SUFFIX).filter(|s| !s.is_empty())
}
