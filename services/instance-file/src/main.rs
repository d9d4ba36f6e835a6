//! `infrakit-instance-file`: serves the file instance plugin.

use clap::Parser;
use infrakit_instance_file::{FileInstance, KIND, Store, listing, sync};
use infrakit_runtime::PluginHost;
use infrakit_runtime::cli::{PluginCommand, ServeArgs, default_state_dir, run_binary};
use infrakit_runtime::fence::Fences;
use infrakit_spi::instance::v1::instance_server::InstanceServer;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// An instance plugin whose instances are JSON files in a directory.
#[derive(Parser, Debug)]
#[command(name = "infrakit-instance-file", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<PluginCommand>,
    /// The directory holding one JSON file per instance (and `.fences.json`, the highest epoch
    /// each group was called with).
    #[arg(long, env = "INFRAKIT_INSTANCE_FILE_DIR", default_value_os_t = default_state_dir(KIND), global = true)]
    dir: PathBuf,
    /// How often the directory is listed again besides file notifications (the safety net for
    /// a notification lost, e.g. to a full inotify queue) [default: 30s].
    #[arg(long, env = "INFRAKIT_INSTANCE_FILE_RESCAN_EVERY", value_parser = parse_rescan_every, global = true)]
    rescan_every: Option<Duration>,
    #[command(flatten)]
    serve: ServeArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let dir = cli.dir;
    let rescan_every = cli.rescan_every.unwrap_or(sync::RESCAN_EVERY);
    run_binary(
        cli.command.as_ref(),
        "infrakit.instance.v1.Instance",
        KIND,
        cli.serve,
        |ctx| async move {
            let store = Arc::new(Store::open(&dir)?);
            // A dot-file: the store's scan skips dot-names, so it is never taken for an instance.
            let fences = Fences::open_in(&dir)?;
            let watcher =
                sync::start(store.clone(), rescan_every, ctx.shutdown.clone()).map_err(|e| {
                    std::io::Error::other(format!("cannot watch {}: {e}", dir.display()))
                })?;
            // The watcher lives as long as the process.
            std::mem::forget(watcher);
            tracing::info!(dir = %dir.display(), instances = store.len(), "instance directory loaded");
            let plugin = FileInstance::new(store, fences, ctx.shutdown);
            Ok::<_, Box<dyn std::error::Error>>(PluginHost::new(ctx.name, KIND).add_service(
                listing::Server::new(InstanceServer::new(plugin.clone()), plugin),
            ))
        },
    )
}

fn parse_rescan_every(text: &str) -> Result<Duration, String> {
    match infrakit_model::duration::parse(text, infrakit_model::duration::Syntax::WHOLE) {
        Ok(d) if !d.is_zero() => Ok(d),
        _ => Err(format!(
            "{text:?} is not a rescan interval: give a duration above zero such as \"30s\" or \"500ms\""
        )),
    }
}
