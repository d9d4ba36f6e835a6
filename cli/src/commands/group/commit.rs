//! `ikctl group commit FILE [--dry-run] [-v] [--wait]` (also `watch` and `update`): commit a
//! group spec, print the plan, and optionally follow the group until it converges.
//!
//! By default the plan is InfraKit's one sentence alone (`Committing cattle would involve: ...`),
//! so that scripts written for InfraKit that compare it keep working; `-v` adds the counts and
//! the first steps, and `-o json|yaml` prints the whole plan.

use super::spec::group_spec_from_json;
use super::view::{PlanView, instance_cell, plan_view, short_hash};
use super::wait::{self, Goal};
use super::{Waiting, client};
use crate::context::Context;
use crate::input::Source;
use crate::output::{self, Format};
use crate::spec::InvalidDocument;
use infrakit_model::PluginName;
use infrakit_spi::group::v1::{CommitGroupRequest, CommitGroupResponse};
use serde::Serialize;

/// Arguments of `ikctl group commit`.
#[derive(Debug, clap::Args)]
pub struct CommitArgs {
    /// The group spec {"ID", "Properties"}, JSON or YAML; `-` reads stdin.
    #[arg(value_name = "FILE")]
    pub file: Source,
    /// Only print what committing would involve; change nothing.
    #[arg(long, visible_alias = "pretend")]
    pub dry_run: bool,
    /// Also print the plan's counts and its first steps.
    #[arg(short, long)]
    pub verbose: bool,
    /// Then follow the group until it converges (exit 0), fails, halts, or --timeout passes (exit 1; default 10m).
    #[arg(long, conflicts_with = "dry_run")]
    pub wait: bool,
}

/// What `commit` prints with `-o json|yaml`: `{"id", "pretend", "plan"}`.
#[derive(Debug, Serialize)]
pub struct CommitView {
    /// The group ID.
    pub id: String,
    /// True for a dry run.
    pub pretend: bool,
    /// The plan.
    pub plan: PlanView,
}

/// Runs `ikctl group commit`. The file is read and checked before the plugin is dialled.
pub async fn run(
    ctx: &Context,
    name: &PluginName,
    args: CommitArgs,
    waiting: Option<&Waiting>,
) -> anyhow::Result<()> {
    let doc = args.file.read("a group spec")?;
    let spec = group_spec_from_json(&doc.value, name.subtype.as_deref()).map_err(|violations| {
        InvalidDocument {
            origin: doc.origin.clone(),
            violations,
        }
    })?;
    let id = spec.id.clone();
    let target = ctx.dial(name).await?;
    let req = CommitGroupRequest {
        spec: Some(spec),
        pretend: args.dry_run,
    };
    let resp = client(&target)
        .commit_group(ctx.request(req))
        .await
        .map_err(target.error("Group/CommitGroup"))?
        .into_inner();
    let shown = Shown {
        pretend: args.dry_run,
        verbose: args.verbose,
    };
    output::emit(&render(ctx.output, &id, shown, &resp)?)?;
    if let Some(w) = waiting {
        let spec_hash = resp.plan.map(|p| p.spec_hash).unwrap_or_default();
        let goal = Goal::Converged { spec_hash };
        let mut progress = wait::progress_for_stderr();
        wait::follow(&target, &id, goal, w, progress.as_mut()).await?;
    }
    Ok(())
}

/// How a commit's outcome is printed in table mode.
#[derive(Clone, Copy, Debug, Default)]
pub struct Shown {
    /// It was a dry run.
    pub pretend: bool,
    /// `-v`: the counts and the first steps too.
    pub verbose: bool,
}

/// Renders the outcome of a commit: `Committed <id>: <summary>` (or `Committing <id> would
/// involve: <summary>` for a dry run), as InfraKit printed it; with `verbose`, followed by the
/// counts and the first steps, indented. With `-o json|yaml`, a [`CommitView`].
pub fn render(
    format: Format,
    id: &str,
    shown: Shown,
    resp: &CommitGroupResponse,
) -> anyhow::Result<String> {
    let id = if resp.id.is_empty() { id } else { &resp.id };
    let plan = plan_view(resp.plan.as_ref());
    if format != Format::Table {
        let view = CommitView {
            id: id.to_string(),
            pretend: shown.pretend,
            plan,
        };
        return output::structured(format, &view);
    }
    let mut s = if shown.pretend {
        format!("Committing {id} would involve: {}\n", plan.summary)
    } else {
        format!("Committed {id}: {}\n", plan.summary)
    };
    if !shown.verbose {
        return Ok(s);
    }
    s.push_str(&format!(
        "  create {}, destroy {}, roll {}, keep {}; spec hash {}\n",
        plan.create,
        plan.destroy,
        plan.roll,
        plan.keep,
        short_hash(&plan.spec_hash)
    ));
    if !plan.actions.is_empty() {
        let rows: Vec<Vec<String>> = plan
            .actions
            .iter()
            .map(|a| {
                vec![
                    a.kind.clone(),
                    instance_cell(
                        a.instance_id.as_deref().unwrap_or(""),
                        a.logical_id.as_deref().unwrap_or(""),
                    ),
                    a.reason.clone(),
                ]
            })
            .collect();
        for line in output::table(&["KIND", "INSTANCE", "REASON"], &rows).lines() {
            s.push_str("  ");
            s.push_str(line);
            s.push('\n');
        }
    }
    Ok(s)
}
