//! `infrakit-discovery`: serves the discovery service.

use clap::Parser;
use infrakit_discovery::registry::Registry;
use infrakit_discovery::service::DiscoveryService;
use infrakit_discovery::{KIND, scanner};
use infrakit_runtime::PluginHost;
use infrakit_runtime::cli::{ServeArgs, run_plugin, version_json};
use infrakit_runtime::dial::DialOptions;
use infrakit_runtime::tls::ClientTlsFiles;
use infrakit_spi::discovery::v1::discovery_server::DiscoveryServer;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Lists and watches the plugins directory, leases TCP plugin registrations, reports health.
#[derive(Parser, Debug)]
#[command(name = "infrakit-discovery", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// CA (PEM) to verify TLS plugins with when probing them.
    #[arg(long, env = "INFRAKIT_TLS_CA", global = true)]
    probe_tls_ca: Option<PathBuf>,
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
                "infrakit.discovery.v1.Discovery"
            )
        );
        return ExitCode::SUCCESS;
    }
    let opts = DialOptions {
        tls: Some(ClientTlsFiles {
            ca: cli.probe_tls_ca,
            ..Default::default()
        }),
    };
    run_plugin(KIND, cli.serve, |ctx| async move {
        let registry = Arc::new(Registry::new());
        tokio::spawn(scanner::run(
            registry.clone(),
            ctx.plugins_dir.clone(),
            opts,
            ctx.shutdown.clone(),
        ));
        Ok::<_, std::io::Error>(
            PluginHost::new(ctx.name, KIND).add_service(DiscoveryServer::new(
                DiscoveryService::new(registry, ctx.shutdown),
            )),
        )
    })
}
