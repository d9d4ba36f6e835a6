//! Starting an instance's process: `/bin/sh -c <Command>` or `/bin/sh <dir>/<id>/init.sh`, in a
//! new process group (so it outlives the plugin, and Destroy can signal the whole tree), with
//! cwd `<dir>/<id>/work`, stdin from `/dev/null`, stdout and stderr appended to
//! `<dir>/<id>/output.log`, and the instance's environment.

use crate::properties::{RESERVED_ENV, TAG_ENV_PREFIX};
use crate::record::{Layout, Record, SCRIPT, WORK};
use std::process::Stdio;

/// The shell that runs commands and Init scripts.
pub const SHELL: &str = "/bin/sh";

/// Variables of the plugin's own environment that are not passed on: those the plugin sets per
/// instance (a nested plugin's stale values would mislead), the plugin's listen address (an
/// instance running another plugin would try to take over the socket) and its instance
/// directory (a nested process plugin would share it).
pub const NOT_INHERITED: &[&str] = &["INFRAKIT_LISTEN", "INFRAKIT_INSTANCE_PROCESS_DIR"];

/// A started process: the handle to wait on, and what identifies it across plugin restarts.
#[derive(Debug)]
pub struct Spawned {
    /// The child (the plugin's own child until the plugin restarts).
    pub child: tokio::process::Child,
    /// Its pid, also its process group ID.
    pub pid: u32,
    /// Its start time from `/proc/<pid>/stat`.
    pub start_time: u64,
}

/// The environment variable for tag `key`: `INFRAKIT_TAG_` and the key upper-cased with every
/// character outside `[A-Z0-9]` replaced by `_` (`infrakit.logical-id` →
/// `INFRAKIT_TAG_INFRAKIT_LOGICAL_ID`).
pub fn tag_variable(key: &str) -> String {
    let mut out = String::from(TAG_ENV_PREFIX);
    out.extend(key.chars().map(|c| {
        let c = c.to_ascii_uppercase();
        if c.is_ascii_uppercase() || c.is_ascii_digit() {
            c
        } else {
            '_'
        }
    }));
    out
}

/// The variables the plugin sets for an instance (besides its `Env`).
pub fn instance_env(layout: &Layout, record: &Record) -> Vec<(String, String)> {
    let mut env = vec![
        ("INFRAKIT_INSTANCE_ID".to_string(), record.id.clone()),
        (
            "INFRAKIT_INSTANCE_DIR".to_string(),
            layout.instance(&record.id).display().to_string(),
        ),
        (
            "INFRAKIT_TAGS".to_string(),
            serde_json::to_string(&record.tags).unwrap_or_else(|_| "{}".to_string()),
        ),
    ];
    if let Some(l) = &record.logical_id {
        env.push(("INFRAKIT_LOGICAL_ID".to_string(), l.clone()));
    }
    env.extend(
        record
            .tags
            .iter()
            .map(|(k, v)| (tag_variable(k), v.clone())),
    );
    env
}

/// Starts the process of `record` (its tags as they are now). The process is in a new process
/// group whose ID is its pid; it is not killed when the handle is dropped.
pub fn spawn(layout: &Layout, record: &Record) -> std::io::Result<Spawned> {
    let id = &record.id;
    let mut cmd = tokio::process::Command::new(SHELL);
    match &record.run.command {
        Some(c) => cmd.arg("-c").arg(c),
        None => cmd.arg(layout.file(id, SCRIPT)),
    };
    for (k, _) in std::env::vars_os() {
        let Some(k) = k.to_str() else { continue };
        if NOT_INHERITED.contains(&k) || RESERVED_ENV.contains(&k) || k.starts_with(TAG_ENV_PREFIX)
        {
            cmd.env_remove(k);
        }
    }
    cmd.envs(&record.run.env);
    cmd.envs(instance_env(layout, record));
    let log = layout.open_log(id)?;
    cmd.current_dir(layout.file(id, WORK))
        .stdin(Stdio::null())
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log))
        .process_group(0)
        .kill_on_drop(false);
    let child = cmd.spawn()?;
    let pid = child
        .id()
        .ok_or_else(|| std::io::Error::other("the process ended before its pid was known"))?;
    // The child cannot be reaped before we wait on it, so its /proc entry is there.
    let start_time = crate::procfs::stat(pid)
        .map(|s| s.start_time)
        .ok_or_else(|| std::io::Error::other(format!("cannot read /proc/{pid}/stat")))?;
    Ok(Spawned {
        child,
        pid,
        start_time,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_variables_are_upper_case_with_underscores() {
        assert_eq!(
            tag_variable("infrakit.logical-id"),
            "INFRAKIT_TAG_INFRAKIT_LOGICAL_ID"
        );
        assert_eq!(tag_variable("tier"), "INFRAKIT_TAG_TIER");
        assert_eq!(tag_variable("a/b c9é"), "INFRAKIT_TAG_A_B_C9_");
    }
}
