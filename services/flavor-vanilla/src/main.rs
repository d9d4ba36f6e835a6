//! `infrakit-flavor-vanilla`: serves the vanilla flavor.

use clap::Parser;
use infrakit_flavor_vanilla::{KIND, Vanilla};
use infrakit_runtime::PluginHost;
use infrakit_runtime::cli::{PluginCommand, ServeArgs, run_binary};
use infrakit_spi::flavor::v1::flavor_server::FlavorServer;
use std::process::ExitCode;

/// A flavor that adds boot script lines, tags and attachments; every instance is healthy.
#[derive(Parser, Debug)]
#[command(name = "infrakit-flavor-vanilla", version)]
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
                PluginHost::new(ctx.name, KIND).add_service(FlavorServer::new(Vanilla)),
            )
        },
    )
}
