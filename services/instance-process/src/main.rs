//! `infrakit-instance-process`: serves the process instance plugin.

use clap::Parser;
use infrakit_instance_process::{KIND, ProcessInstance, Store};
use infrakit_runtime::PluginHost;
use infrakit_runtime::cli::{PluginCommand, ServeArgs, default_state_dir, run_binary};
use infrakit_runtime::fence::Fences;
use infrakit_spi::instance::v1::instance_server::InstanceServer;
use std::path::PathBuf;
use std::process::ExitCode;

/// An instance plugin whose instances are local processes.
#[derive(Parser, Debug)]
#[command(name = "infrakit-instance-process", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<PluginCommand>,
    /// The directory holding one sub-directory per instance (record, log, working directory),
    /// and `.fences.json` (the highest epoch each group was called with).
    #[arg(long, env = "INFRAKIT_INSTANCE_PROCESS_DIR", default_value_os_t = default_state_dir(KIND), global = true)]
    dir: PathBuf,
    /// How many ended instances keep their directory (log and record) for post-mortem; older
    /// ones are removed.
    #[arg(
        long,
        env = "INFRAKIT_INSTANCE_PROCESS_KEEP_EXITED",
        default_value_t = 20,
        global = true
    )]
    keep_exited: usize,
    #[command(flatten)]
    serve: ServeArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (dir, keep_exited) = (cli.dir, cli.keep_exited);
    run_binary(
        cli.command.as_ref(),
        "infrakit.instance.v1.Instance",
        KIND,
        cli.serve,
        |ctx| async move {
            let store = Store::open(&dir, keep_exited).map_err(|e| {
                std::io::Error::other(format!(
                    "cannot open the instance directory {}: {e}",
                    dir.display()
                ))
            })?;
            // Not a directory and a dot-name: the instance scan skips it.
            let fences = Fences::open_in(&dir)?;
            tracing::info!(dir = %dir.display(), instances = store.len(), "instance directory loaded");
            Ok::<_, Box<dyn std::error::Error>>(PluginHost::new(ctx.name, KIND).add_service(
                InstanceServer::new(ProcessInstance::new(store, fences, ctx.shutdown)),
            ))
        },
    )
}
