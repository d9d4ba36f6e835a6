//! One module per noun. Each has its clap arguments and an async `run` that calls plugins and
//! prints the result; [`run`] dispatches the parsed command line.

pub mod completions;
pub mod flavor;
pub mod group;
pub mod instance;
pub mod plugin;
pub mod version;

use crate::cli::{Cli, Command};
use crate::context::Context;
use crate::exit::UsageError;
use infrakit_model::PluginName;

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let ctx = Context::new(&cli.global);
    match cli.command {
        Command::Plugin(args) => plugin::run(&ctx, args).await,
        Command::Instance(args) => instance::run(&ctx, args).await,
        Command::Flavor(args) => flavor::run(&ctx, args).await,
        Command::Group(args) => group::run(&ctx, cli.global.timeout, args).await,
        Command::Version => version::run(&ctx),
        Command::Completions(args) => completions::run(args),
    }
}

/// The `--plugin` a noun needs; missing is a usage error. (The flag is optional to clap only so
/// that it may be written after the verb too: clap forbids required global flags.)
pub(crate) fn required_plugin(
    plugin: Option<PluginName>,
    noun: &str,
) -> anyhow::Result<PluginName> {
    plugin.ok_or_else(|| {
        UsageError(format!(
            "`ikctl {noun}` needs --plugin NAME (see `ikctl plugin ls` for the names)"
        ))
        .into()
    })
}
