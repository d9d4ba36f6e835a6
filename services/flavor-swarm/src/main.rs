//! `infrakit-flavor-swarm`: serves the swarm flavor.

use clap::Parser;
use infrakit_flavor_swarm::engine::{self, EngineArgs};
use infrakit_flavor_swarm::{KIND, SwarmFlavor};
use infrakit_runtime::PluginHost;
use infrakit_runtime::cli::{PluginCommand, ServeArgs, run_binary};
use infrakit_spi::flavor::v1::flavor_server::FlavorServer;
use std::process::ExitCode;

/// A flavor that joins instances to a Docker Swarm (address it as NAME/worker or NAME/manager).
#[derive(Parser, Debug)]
#[command(name = "infrakit-flavor-swarm", version)]
#[command(mut_arg("docker_host", |a| a.help(engine::DOCKER_HOST_HELP)))]
struct Cli {
    #[command(subcommand)]
    command: Option<PluginCommand>,
    #[command(flatten)]
    engine: EngineArgs,
    #[command(flatten)]
    serve: ServeArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let engine_args = cli.engine;
    run_binary(
        cli.command.as_ref(),
        "infrakit.flavor.v1.Flavor",
        KIND,
        cli.serve,
        |ctx| async move {
            let (docker, host) = engine::connect(&engine_args).await?;
            tracing::info!(engine = %host, "connected to the swarm manager's Docker engine");
            Ok::<_, Box<dyn std::error::Error>>(
                PluginHost::new(ctx.name, KIND)
                    .add_service(FlavorServer::new(SwarmFlavor::new(docker, host))),
            )
        },
    )
}
