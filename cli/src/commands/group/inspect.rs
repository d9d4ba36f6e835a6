//! `ikctl group inspect [ID]` (the committed specs) and `ikctl group ls` (the groups with
//! their phase and counts).

use super::spec::{SpecSummary, spec_view, summary};
use super::view::phase_name;
use super::{NoGroup, client};
use crate::context::{Context, Target};
use crate::output::{self, Format};
use infrakit_model::PluginName;
use infrakit_spi::group::v1::{
    DescribeGroupRequest, DescribeGroupResponse, GroupSpec, InspectGroupsRequest,
};
use serde::Serialize;
use tokio::task::JoinSet;

/// One row of `ikctl group ls`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GroupRow {
    /// The group ID.
    pub id: String,
    /// Its phase; `unknown` when DescribeGroup failed.
    pub phase: String,
    /// Instances wanted.
    pub desired: u32,
    /// Instances that exist.
    pub actual: u32,
    /// Instances reported healthy.
    pub healthy: u32,
    /// Instances on the current config hash.
    pub up_to_date: u32,
}

/// Runs `ikctl group inspect [ID]`.
pub async fn run(ctx: &Context, name: &PluginName, id: Option<&str>) -> anyhow::Result<()> {
    let target = ctx.dial(name).await?;
    let specs = inspect_groups(ctx, &target).await?;
    output::emit(&render_inspect(ctx.output, id, &specs)?)?;
    Ok(())
}

/// Runs `ikctl group ls [-q]`: InspectGroups, then DescribeGroup of each group in parallel.
pub async fn run_ls(ctx: &Context, name: &PluginName, quiet: bool) -> anyhow::Result<()> {
    let target = ctx.dial(name).await?;
    let specs = inspect_groups(ctx, &target).await?;
    let mut ids: Vec<String> = specs.into_iter().map(|s| s.id).collect();
    ids.sort();
    if ids.is_empty() && !quiet && ctx.output == Format::Table {
        eprintln!(
            "no groups: plugin {:?} manages none (create one with `ikctl group commit FILE`)",
            name.lookup
        );
    }
    if quiet {
        output::emit(&ids.iter().map(|id| format!("{id}\n")).collect::<String>())?;
        return Ok(());
    }
    let mut calls = JoinSet::new();
    for (i, id) in ids.iter().enumerate() {
        let mut client = client(&target);
        let req = ctx.request(DescribeGroupRequest { id: id.clone() });
        calls.spawn(async move { (i, client.describe_group(req).await) });
    }
    let mut described: Vec<Option<DescribeGroupResponse>> = vec![None; ids.len()];
    while let Some(joined) = calls.join_next().await {
        if let Ok((i, Ok(resp))) = joined
            && let Some(slot) = described.get_mut(i)
        {
            *slot = Some(resp.into_inner());
        }
    }
    let rows: Vec<GroupRow> = ids
        .iter()
        .zip(&described)
        .map(|(id, d)| row(id, d.as_ref()))
        .collect();
    output::emit(&render_ls(ctx.output, &rows)?)?;
    Ok(())
}

async fn inspect_groups(ctx: &Context, target: &Target) -> anyhow::Result<Vec<GroupSpec>> {
    Ok(client(target)
        .inspect_groups(ctx.request(InspectGroupsRequest {}))
        .await
        .map_err(target.error("Group/InspectGroups"))?
        .into_inner()
        .groups)
}

/// The `ls` row of a group; a group that could not be described (e.g. freed meanwhile) shows
/// phase `unknown` and zero counts.
pub fn row(id: &str, d: Option<&DescribeGroupResponse>) -> GroupRow {
    match d {
        Some(d) => GroupRow {
            id: id.to_string(),
            phase: phase_name(d.phase).to_string(),
            desired: d.desired,
            actual: d.actual,
            healthy: d.healthy,
            up_to_date: d.up_to_date,
        },
        None => GroupRow {
            id: id.to_string(),
            phase: "unknown".to_string(),
            desired: 0,
            actual: 0,
            healthy: 0,
            up_to_date: 0,
        },
    }
}

/// Renders `inspect`. With an ID: that spec, in InfraKit's shape (JSON in table mode too, ready
/// to edit and commit). Without: a table of all groups (ID, SIZE/LOGICAL IDS, INSTANCE PLUGIN,
/// FLAVOR PLUGIN), or the list of specs for `-o json|yaml`.
pub fn render_inspect(
    format: Format,
    id: Option<&str>,
    specs: &[GroupSpec],
) -> anyhow::Result<String> {
    let mut specs: Vec<&GroupSpec> = specs.iter().collect();
    specs.sort_by(|a, b| a.id.cmp(&b.id));
    if let Some(id) = id {
        let spec = specs
            .iter()
            .find(|s| s.id == id)
            .ok_or_else(|| NoGroup(id.to_string()))?;
        return output::structured(format, &spec_view(spec));
    }
    if format != Format::Table {
        let views: Vec<_> = specs.iter().map(|s| spec_view(s)).collect();
        return output::structured(format, &views);
    }
    let rows: Vec<Vec<String>> = specs
        .iter()
        .map(|s| {
            let SpecSummary {
                id,
                allocation,
                instance_plugin,
                flavor_plugin,
            } = summary(s);
            vec![id, allocation, instance_plugin, flavor_plugin]
        })
        .collect();
    Ok(output::table(
        &["ID", "SIZE/LOGICAL IDS", "INSTANCE PLUGIN", "FLAVOR PLUGIN"],
        &rows,
    ))
}

/// Renders `ls`: ID, PHASE and the counts, or a list of [`GroupRow`] objects.
pub fn render_ls(format: Format, rows: &[GroupRow]) -> anyhow::Result<String> {
    if format != Format::Table {
        return output::structured(format, &rows);
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.id.clone(),
                r.phase.clone(),
                r.desired.to_string(),
                r.actual.to_string(),
                r.healthy.to_string(),
                r.up_to_date.to_string(),
            ]
        })
        .collect();
    Ok(output::table(
        &["ID", "PHASE", "DESIRED", "ACTUAL", "HEALTHY", "UP-TO-DATE"],
        &cells,
    ))
}
