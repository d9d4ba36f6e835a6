//! `infrakit-flavor-zookeeper`: serves the zookeeper flavor.

use clap::Parser;
use infrakit_flavor_zookeeper::{KIND, Zookeeper};
use infrakit_runtime::PluginHost;
use infrakit_runtime::cli::{PluginCommand, ServeArgs, run_binary};
use infrakit_spi::flavor::v1::flavor_server::FlavorServer;
use std::process::ExitCode;

/// A flavor that makes a group of pets a ZooKeeper ensemble.
#[derive(Parser, Debug)]
#[command(name = "infrakit-flavor-zookeeper", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<PluginCommand>,
    #[command(flatten)]
    serve: ServeArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    run_binary(
        cli.command.as_ref(),
        "infrakit.flavor.v1.Flavor",
        KIND,
        cli.serve,
        |ctx| async move {
            Ok::<_, std::io::Error>(
                PluginHost::new(ctx.name, KIND)
                    .add_service(FlavorServer::new(Zookeeper::default())),
            )
        },
    )
}
