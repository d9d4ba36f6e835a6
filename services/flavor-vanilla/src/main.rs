//! `infrakit-flavor-vanilla`: serves the vanilla flavor.

use clap::Parser;
use infrakit_flavor_vanilla::{KIND, Vanilla};
use infrakit_runtime::PluginHost;
use infrakit_runtime::cli::{ServeArgs, run_plugin, version_json};
use infrakit_spi::flavor::v1::flavor_server::FlavorServer;
use std::process::ExitCode;

/// A flavor that adds boot script lines, tags and attachments; every instance is healthy.
#[derive(Parser, Debug)]
#[command(name = "infrakit-flavor-vanilla", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Print the version as JSON.
    Version,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Version) = cli.command {
        println!(
            "{}",
            version_json(
                cli.serve.name.as_deref().unwrap_or(KIND),
                "infrakit.flavor.v1.Flavor"
            )
        );
        return ExitCode::SUCCESS;
    }
    run_plugin(KIND, cli.serve, |ctx| async move {
        Ok::<_, std::io::Error>(
            PluginHost::new(ctx.name, KIND).add_service(FlavorServer::new(Vanilla)),
        )
    })
}
