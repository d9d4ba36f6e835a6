//! The files of one instance's directory `<dir>/<id>/`:
//!
//! | file | written | holds |
//! | --- | --- | --- |
//! | `Vagrantfile` | at Provision | the rendered template |
//! | `boot.sh` | at Provision | the Init script |
//! | `spec.json` | at Provision | ID, logical ID, provider, Properties, Init, attachments |
//! | `tags.json` | at Provision and Label | the tags, exactly as provisioned or labelled |
//! | `state.json` | at every phase change | phase, since when, the last lines of Vagrant's output |
//! | `vagrant.log` | by every Vagrant run | Vagrant's whole output |
//! | `vagrant.pid` | while Vagrant runs | its process ID (a restarted plugin waits for it) |
//!
//! Files are replaced with [`infrakit_model::atomic`] (a temporary file, synced, renamed, the
//! directory synced), so a crash leaves the old or the new content, never half of it. They are
//! mode 0600 (`boot.sh` 0700): `spec.json` holds the Properties, which may carry secrets.

use serde::{Deserialize, Serialize, de::DeserializeOwned};
use std::collections::BTreeMap;
use std::io;
use std::path::Path;

/// The rendered Vagrantfile.
pub const VAGRANTFILE: &str = "Vagrantfile";
/// The Init script.
pub const BOOT_SCRIPT: &str = "boot.sh";
/// The spec.
pub const SPEC_FILE: &str = "spec.json";
/// The tags.
pub const TAGS_FILE: &str = "tags.json";
/// The phase.
pub const STATE_FILE: &str = "state.json";
/// Vagrant's output.
pub const LOG_FILE: &str = "vagrant.log";
/// The running Vagrant's process ID.
pub const PID_FILE: &str = "vagrant.pid";

/// What an instance was provisioned with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredSpec {
    /// The instance ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// The pet's logical ID.
    #[serde(rename = "LogicalID", default, skip_serializing_if = "Option::is_none")]
    pub logical_id: Option<String>,
    /// The Vagrant provider (`docker`, `virtualbox`).
    #[serde(rename = "Provider")]
    pub provider: String,
    /// The Properties as sent.
    #[serde(rename = "Properties", default)]
    pub properties: serde_json::Value,
    /// The Init script.
    #[serde(rename = "Init", default)]
    pub init: String,
    /// The attachments (kept, not acted on).
    #[serde(rename = "Attachments", default)]
    pub attachments: Vec<StoredAttachment>,
    /// When it was provisioned (seconds since the Unix epoch).
    #[serde(rename = "Created", default)]
    pub created: u64,
}

/// One attachment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAttachment {
    /// The attached resource.
    #[serde(rename = "ID")]
    pub id: String,
    /// Its kind.
    #[serde(rename = "Type")]
    pub kind: String,
}

/// Where an instance is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// `vagrant up` is running (or must run again after a restart).
    Creating,
    /// `vagrant up` succeeded.
    Running,
    /// `vagrant up` (or a destroy) failed; the output says why.
    Failed,
    /// `vagrant destroy -f` is running (or must run again after a restart).
    Destroying,
}

/// The phase of an instance, persisted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateRecord {
    /// The phase.
    #[serde(rename = "Phase")]
    pub phase: Phase,
    /// Since when (seconds since the Unix epoch).
    #[serde(rename = "Since")]
    pub since: u64,
    /// The last lines of Vagrant's output, or why it failed.
    #[serde(rename = "Output", default)]
    pub output: Vec<String>,
}

/// Everything read back from one directory.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The spec.
    pub spec: StoredSpec,
    /// The tags.
    pub tags: BTreeMap<String, String>,
    /// The phase.
    pub state: StateRecord,
}

// === impl Phase ===

impl Phase {
    /// The name shown in DescribeInstances' `State` property.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Creating => "creating",
            Phase::Running => "running",
            Phase::Failed => "failed",
            Phase::Destroying => "destroying",
        }
    }
}

// === impl StateRecord ===

impl StateRecord {
    /// A record of `phase` starting now.
    pub fn now(phase: Phase, output: Vec<String>) -> Self {
        Self {
            phase,
            since: unix_now(),
            output,
        }
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// Replaces `path` with `bytes` atomically and durably, mode 0600.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    infrakit_model::atomic::write(path, bytes)?;
    Ok(())
}

/// Replaces `path` with `value` as JSON, atomically.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> io::Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(io::Error::other)?;
    bytes.push(b'\n');
    write_atomic(path, &bytes)
}

/// Reads a JSON file.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> io::Result<T> {
    let bytes = std::fs::read(path)?;
    serde_json::from_slice(&bytes).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {e}", path.display()),
        )
    })
}

/// Reads an instance's directory. A missing `tags.json` reads as no tags; a missing
/// `state.json` as a failed instance (its creation was cut short before the first phase was
/// written, which cannot happen without a crash).
pub fn load(dir: &Path) -> io::Result<Loaded> {
    let spec: StoredSpec = read_json(&dir.join(SPEC_FILE))?;
    let tags = match read_json(&dir.join(TAGS_FILE)) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => BTreeMap::new(),
        Err(e) => return Err(e),
    };
    let state = match read_json(&dir.join(STATE_FILE)) {
        Ok(s) => s,
        Err(e) if e.kind() == io::ErrorKind::NotFound => StateRecord::now(
            Phase::Failed,
            vec!["the plugin stopped before the instance's state was recorded".to_string()],
        ),
        Err(e) => return Err(e),
    };
    Ok(Loaded { spec, tags, state })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instance_directory_reads_back_what_was_written() {
        let d = tempfile::tempdir().unwrap();
        let spec = StoredSpec {
            id: "web-0123456789ab".into(),
            logical_id: Some("db-1".into()),
            provider: "docker".into(),
            properties: serde_json::json!({"Image": "bb:1"}),
            init: "echo hi".into(),
            attachments: vec![StoredAttachment {
                id: "v".into(),
                kind: "disk".into(),
            }],
            created: 7,
        };
        write_json(&d.path().join(SPEC_FILE), &spec).unwrap();
        let loaded = load(d.path()).unwrap();
        assert_eq!(loaded.spec, spec);
        assert!(loaded.tags.is_empty());
        assert_eq!(loaded.state.phase, Phase::Failed);
        let tags = BTreeMap::from([("a".to_string(), "b".to_string())]);
        write_json(&d.path().join(TAGS_FILE), &tags).unwrap();
        write_json(
            &d.path().join(STATE_FILE),
            &StateRecord::now(Phase::Running, vec![]),
        )
        .unwrap();
        let loaded = load(d.path()).unwrap();
        assert_eq!(loaded.tags, tags);
        assert_eq!(loaded.state.phase, Phase::Running);
        let text = std::fs::read_to_string(d.path().join(STATE_FILE)).unwrap();
        assert!(text.contains("\"Phase\": \"running\""), "{text}");
    }
}
