//! `infrakit-instance-file`: serves the file instance plugin.

use clap::Parser;
use infrakit_instance_file::{FileInstance, KIND, Store, sync};
use infrakit_runtime::PluginHost;
use infrakit_runtime::cli::{PluginCommand, ServeArgs, default_state_dir, run_binary};
use infrakit_runtime::fence::Fences;
use infrakit_spi::instance::v1::instance_server::InstanceServer;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

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
    #[command(flatten)]
    serve: ServeArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let dir = cli.dir;
    run_binary(
        cli.command.as_ref(),
        "infrakit.instance.v1.Instance",
        KIND,
        cli.serve,
        |ctx| async move {
            let store = Arc::new(Store::open(&dir)?);
            // A dot-file: the store's scan skips dot-names, so it is never taken for an instance.
            let fences = Fences::open_in(&dir)?;
            let watcher = sync::start(store.clone(), ctx.shutdown.clone()).map_err(|e| {
                std::io::Error::other(format!("cannot watch {}: {e}", dir.display()))
            })?;
            // The watcher lives as long as the process.
            std::mem::forget(watcher);
            tracing::info!(dir = %dir.display(), instances = store.len(), "instance directory loaded");
            Ok::<_, Box<dyn std::error::Error>>(PluginHost::new(ctx.name, KIND).add_service(
                InstanceServer::new(FileInstance::new(store, fences, ctx.shutdown)),
            ))
        },
    )
}
