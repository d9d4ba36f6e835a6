//! The few things the plugin asks the Docker engine directly, through the same `docker` CLI
//! Vagrant's docker provider uses (so `DOCKER_HOST` and the rest apply to both alike): whether an
//! image is there, which of its containers exist and in what state, and removing leftovers.

use crate::store::Machine;
use crate::vagrantfile::{DIR_LABEL, ID_LABEL};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;

/// How long one docker CLI call may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The docker CLI.
#[derive(Clone, Debug)]
pub struct Docker {
    /// The `docker` executable.
    pub program: PathBuf,
}

/// One container carrying the plugin's instance-ID label.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Container {
    /// The engine's container ID.
    pub container_id: String,
    /// The instance ID label.
    pub instance_id: String,
    /// The instances-directory label.
    pub dir: String,
    /// The machine state.
    pub machine: Machine,
}

// === impl Docker ===

impl Docker {
    async fn call(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new(&self.program)
            .args(args)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output();
        let out = tokio::time::timeout(CALL_TIMEOUT, out)
            .await
            .map_err(|_| format!("`docker {}` took longer than {CALL_TIMEOUT:?}", args[0]))?
            .map_err(|e| format!("cannot run {}: {e}", self.program.display()))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
        }
    }

    /// Whether `image` is on the engine: `Ok(false)` when it is not, `Err` when the engine
    /// cannot be asked.
    pub async fn image_exists(&self, image: &str) -> Result<bool, String> {
        match self
            .call(&["image", "inspect", "--format", "{{.Id}}", image])
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.contains("No such image") || e.contains("No such object") => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Whether network `name` exists.
    pub async fn network_exists(&self, name: &str) -> Result<bool, String> {
        match self
            .call(&["network", "inspect", "--format", "{{.Id}}", name])
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.contains("No such network") || e.contains("not found") => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Every container (running or not) carrying the instance-ID label.
    pub async fn containers(&self) -> Result<Vec<Container>, String> {
        let format = format!(
            "{{{{.ID}}}}\t{{{{.State}}}}\t{{{{.Label \"{ID_LABEL}\"}}}}\t{{{{.Label \"{DIR_LABEL}\"}}}}"
        );
        let out = self
            .call(&[
                "ps",
                "-a",
                "--no-trunc",
                "--filter",
                &format!("label={ID_LABEL}"),
                "--format",
                &format,
            ])
            .await?;
        Ok(out.lines().filter_map(parse_line).collect())
    }

    /// Removes containers (with their anonymous volumes) by engine ID.
    pub async fn remove(&self, container_ids: &[String]) -> Result<(), String> {
        if container_ids.is_empty() {
            return Ok(());
        }
        let mut args = vec!["rm", "-f", "-v"];
        args.extend(container_ids.iter().map(String::as_str));
        self.call(&args).await.map(|_| ())
    }

    /// Removes every container labelled with instance ID `id`; returns how many there were.
    pub async fn remove_instance(&self, id: &str) -> Result<usize, String> {
        let out = self
            .call(&[
                "ps",
                "-aq",
                "--no-trunc",
                "--filter",
                &format!("label={ID_LABEL}={id}"),
            ])
            .await?;
        let ids: Vec<String> = out.split_whitespace().map(str::to_string).collect();
        self.remove(&ids).await?;
        Ok(ids.len())
    }
}

/// One line of the `ps` format above.
fn parse_line(line: &str) -> Option<Container> {
    let mut f = line.split('\t');
    let container_id = f.next()?.to_string();
    let state = f.next()?.to_string();
    let instance_id = f.next()?.to_string();
    let dir = f.next().unwrap_or_default().to_string();
    if container_id.is_empty() || instance_id.is_empty() {
        return None;
    }
    Some(Container {
        container_id,
        instance_id,
        dir,
        machine: machine(&state),
    })
}

/// A container state as a machine state.
pub fn machine(state: &str) -> Machine {
    match state {
        "running" | "paused" => Machine::Running,
        "created" | "restarting" => Machine::Pending(state.to_string()),
        _ => Machine::Stopped(state.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ps_lines_become_containers() {
        let c = parse_line("abc\texited\tweb-0123\t/srv/ik").unwrap();
        assert_eq!(c.instance_id, "web-0123");
        assert_eq!(c.dir, "/srv/ik");
        assert_eq!(c.machine, Machine::Stopped("exited".into()));
        assert_eq!(
            parse_line("abc\trunning\tx\t").unwrap().machine,
            Machine::Running
        );
        assert!(parse_line("abc\trunning\t\t").is_none());
        assert_eq!(machine("created"), Machine::Pending("created".into()));
    }
}
