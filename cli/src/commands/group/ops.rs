//! The verbs that change a group without a spec: `free`, `destroy [--wait]`, `stop-update`,
//! `set-size` (which also prints the size), `destroy-instances`.

use super::wait::{self, Goal};
use super::{Waiting, client, group_error};
use crate::context::Context;
use crate::output::{self, Format};
use infrakit_model::PluginName;
use infrakit_spi::group::v1::{
    DescribeGroupRequest, DestroyGroupRequest, DestroyInstancesRequest, FreeGroupRequest,
    SetSizeRequest, StopUpdateRequest,
};
use serde_json::json;

/// Runs `ikctl group free ID`: prints `Freed <id>`.
pub async fn free(ctx: &Context, name: &PluginName, id: &str) -> anyhow::Result<()> {
    let target = ctx.dial(name).await?;
    let req = FreeGroupRequest { id: id.to_string() };
    client(&target)
        .free_group(ctx.request(req))
        .await
        .map_err(group_error(&target, "Group/FreeGroup", id))?;
    let text = render(
        ctx.output,
        format!("Freed {id}"),
        json!({"id": id, "freed": true}),
    )?;
    output::emit(&text)?;
    Ok(())
}

/// Runs `ikctl group destroy ID [--wait]`: prints `Destroying <id>: <n> instances left`, then
/// with `--wait` follows until the group is gone.
pub async fn destroy(
    ctx: &Context,
    name: &PluginName,
    id: &str,
    waiting: Option<&Waiting>,
) -> anyhow::Result<()> {
    let target = ctx.dial(name).await?;
    let req = DestroyGroupRequest { id: id.to_string() };
    let remaining = client(&target)
        .destroy_group(ctx.request(req))
        .await
        .map_err(group_error(&target, "Group/DestroyGroup", id))?
        .into_inner()
        .remaining;
    let text = render(
        ctx.output,
        format!("Destroying {id}: {remaining} instances left"),
        json!({"id": id, "remaining": remaining}),
    )?;
    output::emit(&text)?;
    if let Some(w) = waiting {
        let mut progress = wait::progress_for_stderr();
        wait::follow(&target, id, Goal::Gone, w, progress.as_mut()).await?;
    }
    Ok(())
}

/// Runs `ikctl group stop-update ID`.
pub async fn stop_update(ctx: &Context, name: &PluginName, id: &str) -> anyhow::Result<()> {
    let target = ctx.dial(name).await?;
    let req = StopUpdateRequest { id: id.to_string() };
    client(&target)
        .stop_update(ctx.request(req))
        .await
        .map_err(group_error(&target, "Group/StopUpdate", id))?;
    let text = render(
        ctx.output,
        format!("Paused the update of {id}; healing goes on; commit again to resume"),
        json!({"id": id, "paused": true}),
    )?;
    output::emit(&text)?;
    Ok(())
}

/// Runs `ikctl group set-size ID` without a size: prints `Group <id> at <size> instances`, as
/// InfraKit's `scale` did. The size is the desired count DescribeGroup reports (for pets, the
/// number of logical IDs).
pub async fn show_size(ctx: &Context, name: &PluginName, id: &str) -> anyhow::Result<()> {
    let target = ctx.dial(name).await?;
    let req = DescribeGroupRequest { id: id.to_string() };
    let size = client(&target)
        .describe_group(ctx.request(req))
        .await
        .map_err(group_error(&target, "Group/DescribeGroup", id))?
        .into_inner()
        .desired;
    let text = render(
        ctx.output,
        format!("Group {id} at {size} instances"),
        json!({"id": id, "size": size}),
    )?;
    output::emit(&text)?;
    Ok(())
}

/// Runs `ikctl group set-size ID N`: prints `Group <id> at <previous> instances, scale to <N>`.
pub async fn set_size(ctx: &Context, name: &PluginName, id: &str, size: u32) -> anyhow::Result<()> {
    let target = ctx.dial(name).await?;
    let req = SetSizeRequest {
        id: id.to_string(),
        size,
    };
    let resp = client(&target)
        .set_size(ctx.request(req))
        .await
        .map_err(group_error(&target, "Group/SetSize", id))?
        .into_inner();
    let text = render(
        ctx.output,
        format!(
            "Group {id} at {} instances, scale to {}",
            resp.previous, resp.size
        ),
        json!({"id": id, "previous": resp.previous, "size": resp.size}),
    )?;
    output::emit(&text)?;
    Ok(())
}

/// Runs `ikctl group destroy-instances ID INSTANCE...`: prints `Destroyed <instance>` for each,
/// then the group's new size. NOT_FOUND passes the plugin's message through, since it may name
/// an instance that is not a member rather than the group.
pub async fn destroy_instances(
    ctx: &Context,
    name: &PluginName,
    id: &str,
    instances: Vec<String>,
) -> anyhow::Result<()> {
    let target = ctx.dial(name).await?;
    let req = DestroyInstancesRequest {
        id: id.to_string(),
        instance_ids: instances,
    };
    let resp = client(&target)
        .destroy_instances(ctx.request(req))
        .await
        .map_err(target.error("Group/DestroyInstances"))?
        .into_inner();
    let mut text: String = resp
        .destroyed
        .iter()
        .map(|i| format!("Destroyed {i}\n"))
        .collect();
    text.push_str(&format!("Group {id} now at {} instances", resp.size));
    let text = render(
        ctx.output,
        text,
        json!({"id": id, "destroyed": resp.destroyed, "size": resp.size}),
    )?;
    output::emit(&text)?;
    Ok(())
}

/// `text` and a newline in table mode, else `value` as JSON or YAML.
pub fn render(format: Format, text: String, value: serde_json::Value) -> anyhow::Result<String> {
    match format {
        Format::Table => Ok(text + "\n"),
        f => output::structured(f, &value),
    }
}
