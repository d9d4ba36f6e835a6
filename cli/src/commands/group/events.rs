//! `ikctl group events [ID] [--follow]`: a group's recent events (from DescribeGroup), or the
//! `Watch` stream (`replay: true`) until Ctrl-C or the stream ends.
//!
//! A line is `time  kind  instance  message`, e.g.
//! `2026-11-25T07:12:03.120Z  provisioned  instance-abc  group size 4 < 5`; following every
//! group (no ID), the group comes after the time. With `-o json` each followed event is one
//! JSON object per line; with `-o yaml`, one YAML document each.

use super::view::{event_line, event_view};
use super::{client, group_error};
use crate::context::Context;
use crate::output::{self, Format};
use infrakit_model::PluginName;
use infrakit_spi::group::v1::{DescribeGroupRequest, GroupEvent, WatchRequest};
use tonic::Streaming;

/// Runs `ikctl group events`. `id` is `None` only with `follow` (every group).
pub async fn run(
    ctx: &Context,
    name: &PluginName,
    id: Option<&str>,
    follow: bool,
) -> anyhow::Result<()> {
    let target = ctx.dial(name).await?;
    let shown = id.unwrap_or("");
    if !follow {
        let req = DescribeGroupRequest {
            id: shown.to_string(),
        };
        let d = client(&target)
            .describe_group(ctx.request(req))
            .await
            .map_err(group_error(&target, "Group/DescribeGroup", shown))?
            .into_inner();
        output::emit(&render_events(ctx.output, &d.recent_events)?)?;
        return Ok(());
    }
    let req = WatchRequest {
        id: shown.to_string(),
        replay: true,
    };
    let opened = tokio::time::timeout(ctx.timeout, client(&target).watch(req))
        .await
        .map_err(|_| {
            target.error("Group/Watch")(tonic::Status::deadline_exceeded("Timeout expired"))
        })?;
    let mut stream = opened
        .map_err(group_error(&target, "Group/Watch", shown))?
        .into_inner();
    let mut emit = |text: &str| output::emit(text).map_err(anyhow::Error::from);
    tokio::select! {
        r = stream_events(&mut stream, ctx.output, id.is_none(), &mut emit) => {
            r.map_err(|e| match e.downcast::<tonic::Status>() {
                Ok(status) => anyhow::Error::new(target.error("Group/Watch")(status)),
                Err(e) => e,
            })
        }
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}

/// Prints every event of `stream` through `sink` until it ends. A failed stream is returned
/// as its `tonic::Status`.
pub async fn stream_events(
    stream: &mut Streaming<GroupEvent>,
    format: Format,
    with_group: bool,
    sink: &mut dyn FnMut(&str) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    while let Some(e) = stream.message().await? {
        sink(&render_event(format, &e, with_group)?)?;
    }
    Ok(())
}

/// Renders one followed event: a line, a one-line JSON object, or a YAML document.
pub fn render_event(format: Format, e: &GroupEvent, with_group: bool) -> anyhow::Result<String> {
    match format {
        Format::Table => Ok(event_line(e, with_group) + "\n"),
        Format::Json => Ok(serde_json::to_string(&event_view(e))? + "\n"),
        Format::Yaml => Ok(format!("---\n{}", output::yaml(&event_view(e))?)),
    }
}

/// Renders a list of events: lines, or an array of event objects.
pub fn render_events(format: Format, events: &[GroupEvent]) -> anyhow::Result<String> {
    match format {
        Format::Table => Ok(events.iter().map(|e| event_line(e, false) + "\n").collect()),
        f => {
            let views: Vec<_> = events.iter().map(event_view).collect();
            output::structured(f, &views)
        }
    }
}
