//! `ikctl group [--plugin NAME] commit|describe|inspect|ls|free|destroy|stop-update|pause|resume|
//! set-size|destroy-instances|events`: drive a Group plugin.
//!
//! The plugin defaults to `group`. A name with a subtype (`group/workers`) reaches plugin
//! `group`, and `workers` becomes the default group ID of every verb that takes one, as in
//! InfraKit's `infrakit group/workers scale 5`.
//!
//! Layout: [`spec`] (the group spec file), [`view`] (what is printed for plans, status and
//! events), one module per verb family ([`commit`], [`describe`], [`inspect`], [`ops`],
//! [`pause`], [`events`]), [`args`] (the positional forms of `set-size` and
//! `destroy-instances`), and [`wait`] (following a group until it converges or is gone).

pub(crate) mod args;
pub mod commit;
pub mod describe;
pub mod events;
pub mod inspect;
pub mod ops;
pub(crate) mod pause;
pub mod spec;
pub mod view;
pub mod wait;

use crate::cli::plugin_name;
use crate::context::{Context, DEFAULT_CALL_TIMEOUT, Target};
use crate::exit::UsageError;
use infrakit_model::PluginName;
use infrakit_spi::group::v1::group_client::GroupClient;
use std::time::Duration;
use tonic::transport::Channel;

/// The group plugin used when `--plugin` is not given.
pub const DEFAULT_PLUGIN: &str = "group";

/// How long `--wait` waits when `--timeout` is not given.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(600);

/// Arguments of `ikctl group`.
#[derive(Debug, clap::Args)]
pub struct GroupArgs {
    /// The group plugin: NAME, or NAME/GROUP (GROUP is then the default group ID) [default: group].
    #[arg(short, long, visible_alias = "name", global = true, value_parser = plugin_name, value_name = "NAME")]
    pub plugin: Option<PluginName>,
    /// What to do.
    #[command(subcommand)]
    pub command: GroupCommand,
}

/// The verbs of `ikctl group`.
#[derive(Debug, clap::Subcommand)]
pub enum GroupCommand {
    /// Commit a group spec {"ID", "Properties"} (JSON or YAML): create the group or change it; prints the plan.
    #[command(visible_aliases = ["watch", "update"])]
    Commit(commit::CommitArgs),
    /// Show a group's live status: phase, who paused it, counts, update, last error, members, recent events.
    Describe {
        /// The group [default: the plugin's subtype].
        id: Option<String>,
        /// Print only the member instance IDs.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Print committed specs in InfraKit's shape; without ID, a table of all groups (-o json|yaml for the specs).
    Inspect {
        /// Only this group.
        id: Option<String>,
    },
    /// List the groups with their phase and counts.
    #[command(visible_alias = "list")]
    Ls {
        /// Print only the group IDs.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Stop managing a group and forget it; its instances are left untouched.
    #[command(visible_alias = "unwatch")]
    Free {
        /// The group [default: the plugin's subtype].
        id: Option<String>,
    },
    /// Destroy every member of a group, then forget it.
    Destroy {
        /// The group [default: the plugin's subtype].
        id: Option<String>,
        /// Then follow until the group is gone, or --timeout (default 10m) passes.
        #[arg(long)]
        wait: bool,
    },
    /// Pause a rolling update in progress (healing goes on; commit again to resume).
    #[command(visible_alias = "stop")]
    StopUpdate {
        /// The group [default: the plugin's subtype].
        id: Option<String>,
    },
    /// Stop all healing and updates of a group (nothing is created, destroyed or labelled) until `resume`.
    Pause {
        /// The group [default: the plugin's subtype].
        id: Option<String>,
        /// Why, shown by `describe` and in the group's events.
        #[arg(long, value_name = "TEXT", default_value = "")]
        reason: String,
    },
    /// Undo `pause`: the group heals and updates again.
    Resume {
        /// The group [default: the plugin's subtype].
        id: Option<String>,
    },
    /// Print a group's size, or change the size of a cattle group without rolling anything.
    ///
    /// `scale ID` prints the size; `scale ID N` sets it. With `--plugin group/ID`, `scale`
    /// prints the size of ID and `scale N` sets it.
    #[command(visible_alias = "scale")]
    SetSize {
        /// The group [default: the plugin's subtype].
        id: Option<String>,
        /// The new size; without it, the current size is printed.
        size: Option<u32>,
    },
    /// Destroy members of a group and shrink it by as many.
    ///
    /// `destroy-instances ID INSTANCE...`; with `--plugin group/ID`, every argument is an
    /// instance of ID.
    DestroyInstances {
        /// The group (unless `--plugin NAME/GROUP` names it), then the instances; each must be
        /// a member, or nothing is destroyed.
        #[arg(required = true, value_name = "[ID] INSTANCE")]
        args: Vec<String>,
    },
    /// Print a group's recent events; with --follow, stream them until Ctrl-C.
    Events {
        /// The group [default: the plugin's subtype; with --follow and no subtype, every group].
        id: Option<String>,
        /// Keep streaming new events.
        #[arg(short, long)]
        follow: bool,
    },
}

/// The plugin answered NOT_FOUND for a group.
#[derive(Debug, thiserror::Error)]
#[error("no group {0:?}")]
pub struct NoGroup(pub String);

/// Runs `ikctl group ...`. `timeout_flag` is the global `--timeout` when it was given: with
/// `--wait` it bounds the whole command (default [`DEFAULT_WAIT`]) and each call gets at most
/// the default per-call timeout.
pub async fn run(
    ctx: &Context,
    timeout_flag: Option<Duration>,
    args: GroupArgs,
) -> anyhow::Result<()> {
    let name = args.plugin.unwrap_or_else(|| PluginName {
        lookup: DEFAULT_PLUGIN.to_string(),
        subtype: None,
    });
    let waiting = |wait: bool| wait.then(|| Waiting::new(ctx, timeout_flag));
    match args.command {
        GroupCommand::Commit(a) => {
            let waiting = waiting(a.wait);
            let ctx = waiting.as_ref().map_or(ctx, |w| &w.ctx);
            commit::run(ctx, &name, a, waiting.as_ref()).await
        }
        GroupCommand::Describe { id, quiet } => {
            describe::run(ctx, &name, &group_id(id, &name)?, quiet).await
        }
        GroupCommand::Inspect { id } => inspect::run(ctx, &name, id.as_deref()).await,
        GroupCommand::Ls { quiet } => inspect::run_ls(ctx, &name, quiet).await,
        GroupCommand::Free { id } => ops::free(ctx, &name, &group_id(id, &name)?).await,
        GroupCommand::Destroy { id, wait } => {
            let id = group_id(id, &name)?;
            let waiting = waiting(wait);
            let ctx = waiting.as_ref().map_or(ctx, |w| &w.ctx);
            ops::destroy(ctx, &name, &id, waiting.as_ref()).await
        }
        GroupCommand::StopUpdate { id } => {
            ops::stop_update(ctx, &name, &group_id(id, &name)?).await
        }
        GroupCommand::Pause { id, reason } => {
            pause::pause(ctx, &name, &group_id(id, &name)?, &reason).await
        }
        GroupCommand::Resume { id } => pause::resume(ctx, &name, &group_id(id, &name)?).await,
        GroupCommand::SetSize { id, size } => match args::scale(id, size, &name)? {
            args::Scale::Show(id) => ops::show_size(ctx, &name, &id).await,
            args::Scale::Set(id, size) => ops::set_size(ctx, &name, &id, size).await,
        },
        GroupCommand::DestroyInstances { args } => {
            let (id, instances) = args::destroy_instances(args, &name)?;
            ops::destroy_instances(ctx, &name, &id, instances).await
        }
        GroupCommand::Events { id, follow } => {
            let id = match (id, name.subtype.clone()) {
                (Some(id), _) | (None, Some(id)) => Some(id),
                (None, None) if follow => None,
                (None, None) => return Err(missing_id()),
            };
            events::run(ctx, &name, id.as_deref(), follow).await
        }
    }
}

/// The settings of a `--wait`: how long in all, and the context for each call.
#[derive(Clone, Debug)]
pub struct Waiting {
    /// How long the whole command may take.
    pub limit: Duration,
    /// When the command started (the wait ends at `started + limit`).
    pub started: tokio::time::Instant,
    /// The context with the per-call timeout used while waiting.
    pub ctx: Context,
}

impl Waiting {
    /// `--timeout` (or [`DEFAULT_WAIT`]) bounds the wait; each call gets at most
    /// [`DEFAULT_CALL_TIMEOUT`].
    pub fn new(ctx: &Context, timeout_flag: Option<Duration>) -> Self {
        let limit = timeout_flag.unwrap_or(DEFAULT_WAIT);
        let mut ctx = ctx.clone();
        ctx.timeout = limit.min(DEFAULT_CALL_TIMEOUT);
        Self {
            limit,
            started: tokio::time::Instant::now(),
            ctx,
        }
    }

    /// When the wait gives up.
    pub fn deadline(&self) -> tokio::time::Instant {
        self.started + self.limit
    }
}

/// The group ID given, else the plugin name's subtype; neither is a usage error.
pub fn group_id(id: Option<String>, name: &PluginName) -> anyhow::Result<String> {
    id.or_else(|| name.subtype.clone())
        .filter(|id| !id.is_empty())
        .ok_or_else(missing_id)
}

fn missing_id() -> anyhow::Error {
    UsageError(
        "give the group ID (e.g. `ikctl group describe cattle`, or --plugin group/cattle); \
         `ikctl group ls` lists them"
            .to_string(),
    )
    .into()
}

/// A client of the Group SPI on a dialled plugin.
pub fn client(target: &Target) -> GroupClient<Channel> {
    GroupClient::new(target.channel.clone())
}

/// An error for a failed `call` about group `id`: NOT_FOUND becomes [`NoGroup`], anything
/// else a [`crate::rpc::RpcError`].
pub fn group_error<'a>(
    target: &'a Target,
    call: &'static str,
    id: &'a str,
) -> impl FnOnce(tonic::Status) -> anyhow::Error + 'a {
    move |status| {
        if status.code() == tonic::Code::NotFound {
            NoGroup(id.to_string()).into()
        } else {
            anyhow::Error::new(target.error(call)(status))
        }
    }
}

#[cfg(test)]
mod tests;
