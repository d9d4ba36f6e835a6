//! `ikctl group describe ID [-q]`: a group's live status, members and recent events.
//!
//! A paused group says who paused it, since when and why. When the latest listing of the
//! members failed (`stale`), the members are shown as last seen, with the time of that listing
//! and a LAST SEEN column: their health is as of then, not now.

use super::view::{describe_view, instance_cell, or_dash, pause_text, phase_name, short_hash};
use super::{client, group_error};
use crate::context::Context;
use crate::output::{self, Format};
use crate::timestamp::rfc3339;
use infrakit_model::PluginName;
use infrakit_spi::group::v1::{DescribeGroupRequest, DescribeGroupResponse, UpdateProgress};

/// Runs `ikctl group describe`.
pub async fn run(ctx: &Context, name: &PluginName, id: &str, quiet: bool) -> anyhow::Result<()> {
    let target = ctx.dial(name).await?;
    let req = DescribeGroupRequest { id: id.to_string() };
    let d = client(&target)
        .describe_group(ctx.request(req))
        .await
        .map_err(group_error(&target, "Group/DescribeGroup", id))?
        .into_inner();
    output::emit(&render(ctx.output, quiet, &d)?).map_err(anyhow::Error::from)
}

/// Renders `describe`: member IDs with `quiet`; a [`super::view::DescribeView`] for
/// `-o json|yaml`; else a header block (phase, who paused it, counts, hash, update, last error,
/// whether the members are stale), the members and the recent events.
pub fn render(format: Format, quiet: bool, d: &DescribeGroupResponse) -> anyhow::Result<String> {
    let mut instances: Vec<_> = d.instances.iter().collect();
    instances.sort_by(|a, b| (&a.logical_id, &a.id).cmp(&(&b.logical_id, &b.id)));
    if quiet {
        return Ok(instances.iter().map(|i| format!("{}\n", i.id)).collect());
    }
    if format != Format::Table {
        let mut view = describe_view(d);
        view.instances
            .sort_by(|a, b| (&a.logical_id, &a.id).cmp(&(&b.logical_id, &b.id)));
        return output::structured(format, &view);
    }
    let mut pairs = vec![
        ("id", d.id.clone()),
        ("phase", phase_name(d.phase).to_string()),
    ];
    if !d.owner.is_empty() {
        pairs.push(("owner", format!("{} (epoch {})", d.owner, d.epoch)));
    }
    if let Some(p) = &d.paused {
        pairs.push(("paused", pause_text(p)));
    }
    pairs.extend([
        ("desired", d.desired.to_string()),
        ("actual", d.actual.to_string()),
        ("healthy", d.healthy.to_string()),
        ("up-to-date", d.up_to_date.to_string()),
        ("spec hash", short_hash(&d.spec_hash)),
    ]);
    if !d.message.is_empty() {
        pairs.push(("message", d.message.clone()));
    }
    if let Some(u) = &d.update {
        pairs.push(("update", update_text(u)));
    }
    if let Some(e) = &d.last_error {
        let time = e.time.as_ref().map_or_else(|| "-".to_string(), rfc3339);
        pairs.push(("last error", format!("{time}  {}", e.message)));
    }
    if d.stale {
        pairs.push(("members", stale_text(d)));
    }
    let mut s = output::key_values(&pairs);
    let rows: Vec<Vec<String>> = instances
        .iter()
        .map(|i| {
            let health = match (i.health.as_str(), i.health_reason.as_str()) {
                ("", _) => "-".to_string(),
                (h, "") | (h @ "healthy", _) => h.to_string(),
                (h, why) => format!("{h}: {why}"),
            };
            let mut row = vec![
                i.id.clone(),
                or_dash(&i.logical_id),
                short_hash(&i.spec_hash),
                if i.up_to_date { "yes" } else { "no" }.to_string(),
                health,
                or_dash(&i.state),
            ];
            if d.stale {
                row.push(
                    i.last_seen
                        .as_ref()
                        .map_or_else(|| "-".to_string(), rfc3339),
                );
            }
            row
        })
        .collect();
    let mut headers = vec!["ID", "LOGICAL", "HASH", "UP-TO-DATE", "HEALTH", "STATE"];
    if d.stale {
        headers.push("LAST SEEN");
    }
    s.push('\n');
    s.push_str(&output::table(&headers, &rows));
    if !d.recent_events.is_empty() {
        let rows: Vec<Vec<String>> = d
            .recent_events
            .iter()
            .map(|e| {
                vec![
                    e.time.as_ref().map_or_else(|| "-".to_string(), rfc3339),
                    or_dash(&e.kind),
                    instance_cell(&e.instance_id, &e.logical_id),
                    e.message.clone(),
                ]
            })
            .collect();
        s.push('\n');
        s.push_str(&output::table(
            &["TIME", "KIND", "INSTANCE", "MESSAGE"],
            &rows,
        ));
    }
    Ok(s)
}

/// The members row of a stale status: when they were last listed, and that their health is
/// as of then.
fn stale_text(d: &DescribeGroupResponse) -> String {
    match &d.observed_at {
        Some(t) => format!(
            "as last seen at {} (the instance plugin cannot be listed now; health as of then)",
            rfc3339(t)
        ),
        None => "never listed (the instance plugin cannot be listed now)".to_string(),
    }
}

/// The update row: `7/10 to <hash> from <hash>, deadline <time>` plus `rollback` and why it is
/// paused, when it is.
fn update_text(u: &UpdateProgress) -> String {
    let what = if u.rollback { "rollback " } else { "" };
    let mut s = format!(
        "{what}{}/{} to {}",
        u.done,
        u.total,
        short_hash(&u.target_hash)
    );
    if !u.previous_hash.is_empty() {
        s.push_str(&format!(" from {}", short_hash(&u.previous_hash)));
    }
    if let Some(t) = &u.deadline {
        s.push_str(&format!(", deadline {}", rfc3339(t)));
    }
    if !u.halted_reason.is_empty() {
        s.push_str(&format!("; paused: {}", u.halted_reason));
    }
    s
}
