//! `infrakit-discovery`: serves the discovery service.

use clap::Parser;
use infrakit_discovery::registry::Registry;
use infrakit_discovery::service::DiscoveryService;
use infrakit_discovery::{KIND, scanner};
use infrakit_runtime::PluginHost;
use infrakit_runtime::cli::{PluginCommand, ServeArgs, handle_command, run_plugin};
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
    command: Option<PluginCommand>,
    /// CA (PEM) to verify TLS plugins with when probing them.
    #[arg(long, env = "INFRAKIT_TLS_CA", global = true)]
    probe_tls_ca: Option<PathBuf>,
    #[command(flatten)]
    serve: ServeArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if handle_command(
        cli.command.as_ref(),
        &cli.serve,
        KIND,
        "infrakit.discovery.v1.Discovery",
    ) {
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
