//! `ikctl group pause ID [--reason TEXT]` and `ikctl group resume ID`: stop and restart all
//! healing and updates of a group. The caller is named as `user@host`, so that `describe`
//! shows who paused a group.

use super::ops::render;
use super::{client, group_error};
use crate::context::Context;
use crate::output;
use infrakit_model::PluginName;
use infrakit_spi::group::v1::{PauseGroupRequest, ResumeGroupRequest};
use serde_json::json;

/// Runs `ikctl group pause`: prints `Paused <id>: nothing is created, destroyed or labelled
/// until `ikctl group resume <id>``.
pub(crate) async fn pause(
    ctx: &Context,
    name: &PluginName,
    id: &str,
    reason: &str,
) -> anyhow::Result<()> {
    let target = ctx.dial(name).await?;
    let by = caller();
    let req = PauseGroupRequest {
        id: id.to_string(),
        by: by.clone(),
        reason: reason.to_string(),
    };
    client(&target)
        .pause_group(ctx.request(req))
        .await
        .map_err(group_error(&target, "Group/PauseGroup", id))?;
    let text = render(
        ctx.output,
        format!(
            "Paused {id}: nothing is created, destroyed or labelled until `ikctl group resume {id}`"
        ),
        json!({"id": id, "paused": true, "by": by, "reason": reason}),
    )?;
    output::emit(&text)?;
    Ok(())
}

/// Runs `ikctl group resume`: prints `Resumed <id>`.
pub(crate) async fn resume(ctx: &Context, name: &PluginName, id: &str) -> anyhow::Result<()> {
    let target = ctx.dial(name).await?;
    let by = caller();
    let req = ResumeGroupRequest {
        id: id.to_string(),
        by: by.clone(),
    };
    client(&target)
        .resume_group(ctx.request(req))
        .await
        .map_err(group_error(&target, "Group/ResumeGroup", id))?;
    let text = render(
        ctx.output,
        format!("Resumed {id}"),
        json!({"id": id, "paused": false, "by": by}),
    )?;
    output::emit(&text)?;
    Ok(())
}

/// Who is calling: `$USER@hostname` (`$LOGNAME` when `USER` is unset, else the name of the
/// process's user in `/etc/passwd`, as in a container or under cron).
fn caller() -> String {
    let user = ["USER", "LOGNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
        .or_else(user_of_this_process);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok());
    caller_from(user, host)
}

/// The name of the user this process runs as (the owner of `/proc/self`), or its uid when
/// `/etc/passwd` does not name it.
fn user_of_this_process() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata("/proc/self").ok()?.uid();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    Some(user_named(&passwd, uid).unwrap_or_else(|| format!("uid{uid}")))
}

/// The name of `uid` in `/etc/passwd` text (`name:x:uid:...` lines).
pub(crate) fn user_named(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let id = fields.nth(1)?.parse::<u32>().ok()?;
        (id == uid && !name.is_empty()).then(|| name.to_string())
    })
}

/// `user@host`, with `unknown` for a part that is missing or blank.
pub(crate) fn caller_from(user: Option<String>, host: Option<String>) -> String {
    let part = |s: Option<String>| {
        s.map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "unknown".to_string())
    };
    format!("{}@{}", part(user), part(host))
}
