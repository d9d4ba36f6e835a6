//! `infrakit-instance-docker`: serves the Docker instance plugin.

use clap::Parser;
use infrakit_instance_docker::engine::{self, EngineArgs};
use infrakit_instance_docker::overlay::Overlay;
use infrakit_instance_docker::{DockerInstance, KIND};
use infrakit_runtime::PluginHost;
use infrakit_runtime::cli::{PluginCommand, ServeArgs, default_state_dir, run_binary};
use infrakit_runtime::fence::Fences;
use infrakit_spi::instance::v1::instance_server::InstanceServer;
use std::path::PathBuf;
use std::process::ExitCode;

/// An instance plugin whose instances are Docker containers.
#[derive(Parser, Debug)]
#[command(name = "infrakit-instance-docker", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<PluginCommand>,
    #[command(flatten)]
    engine: EngineArgs,
    /// Where label changes Docker cannot store are kept (labels.json), and the highest epoch
    /// each group was called with (.fences.json).
    #[arg(long, env = "INFRAKIT_INSTANCE_DOCKER_STATE_DIR", default_value_os_t = default_state_dir(KIND), global = true)]
    state_dir: PathBuf,
    #[command(flatten)]
    serve: ServeArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (engine_args, state_dir) = (cli.engine, cli.state_dir);
    run_binary(
        cli.command.as_ref(),
        "infrakit.instance.v1.Instance",
        KIND,
        cli.serve,
        |ctx| async move {
            let overlay = Overlay::open(&state_dir)?;
            let fences = Fences::open_in(&state_dir)?;
            let (docker, about) = engine::connect(&engine_args).await?;
            tracing::info!(engine = %about, state_dir = %state_dir.display(), "connected to the Docker engine");
            let plugin =
                DockerInstance::start(docker, ctx.name.clone(), overlay, fences, ctx.shutdown)
                    .await;
            Ok::<_, Box<dyn std::error::Error>>(
                PluginHost::new(ctx.name, KIND).add_service(InstanceServer::new(plugin)),
            )
        },
    )
}
