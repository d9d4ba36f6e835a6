//! `infrakit-group`: serves the default group plugin.

use clap::Parser;
use infrakit_group::KIND;
use infrakit_group::grpc::GrpcPlugins;
use infrakit_group::ha::cli::{EtcdArgs, StoreChoice};
use infrakit_group::manager::{Config, Manager};
use infrakit_group::ports::StorePort;
use infrakit_group::ports::{Ports, TokioClock};
use infrakit_group::service::GroupService;
use infrakit_group::store::FileStore;
use infrakit_group_core::time::parse_duration;
use infrakit_runtime::PluginHost;
use infrakit_runtime::cli::{PluginCommand, ServeArgs, default_state_dir, run_binary};
use infrakit_runtime::dial::DialOptions;
use infrakit_spi::group::v1::group_server::GroupServer;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Keeps groups of instances converged, heals them, and rolls them to new configurations.
#[derive(Parser, Debug)]
#[command(name = "infrakit-group", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<PluginCommand>,
    /// Where committed specs and update progress are kept (one JSON file per group), with
    /// `--store file://` (the default).
    #[arg(long, env = "INFRAKIT_GROUP_STATE_DIR", default_value_os_t = default_state_dir(KIND), global = true)]
    state_dir: PathBuf,
    /// `file://[DIR]` (one controller, state in DIR or --state-dir) or
    /// `etcd://HOST:PORT[,HOST:PORT...]` (`https://...` for TLS): several controllers share the
    /// groups, each group owned by one of them at a time.
    #[arg(
        long,
        env = "INFRAKIT_GROUP_STORE",
        default_value = "file://",
        global = true
    )]
    store: String,
    #[command(flatten)]
    etcd: EtcdArgs,
    /// The most plugin calls in flight per group.
    #[arg(long, default_value_t = 64, global = true)]
    max_parallel: usize,
    /// How often a group is listed when its instance plugin cannot push changes (e.g. 250ms).
    #[arg(long, default_value = "250ms", value_parser = parse_duration, global = true)]
    poll_interval: Duration,
    /// How often a group is listed when its instance plugin pushes changes (a safety net).
    #[arg(long, default_value = "30s", value_parser = parse_duration, global = true)]
    resync_interval: Duration,
    /// How often each instance's health is asked, unless the flavor says when to ask again.
    #[arg(long, default_value = "5s", value_parser = parse_duration, global = true)]
    health_interval: Duration,
    /// How long a DescribeInstances may take before the group is reported Degraded.
    #[arg(long, default_value = "10s", value_parser = parse_duration, global = true)]
    describe_timeout: Duration,
    #[command(flatten)]
    serve: ServeArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let store = match StoreChoice::parse(&cli.store, &cli.state_dir) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: invalid --store: {e}");
            return ExitCode::from(2);
        }
    };
    let config = Config {
        parallel: cli.max_parallel.max(1),
        poll: cli.poll_interval,
        poll_watched: cli.resync_interval,
        health_every: cli.health_interval,
        describe_timeout: cli.describe_timeout,
    };
    let etcd_args = cli.etcd;
    run_binary(
        cli.command.as_ref(),
        "infrakit.group.v1.Group",
        KIND,
        cli.serve,
        |ctx| async move {
            let plugins = Arc::new(GrpcPlugins::new(
                ctx.plugins_dir.clone(),
                DialOptions::default(),
            ));
            let ports = |store: Arc<dyn StorePort>| Ports {
                instance: plugins.clone(),
                flavor: plugins.clone(),
                store,
                clock: Arc::new(TokioClock::system()),
            };
            match store {
                StoreChoice::File(dir) => {
                    let store = Arc::new(FileStore::open(&dir)?);
                    let mgr = Manager::new(ports(store), config, ctx.shutdown.clone());
                    let resumed = mgr.resume().await?;
                    tracing::info!(state_dir = %dir.display(), resumed, "groups resumed");
                    Ok::<_, Box<dyn std::error::Error>>(
                        PluginHost::new(ctx.name, KIND)
                            .add_service(GroupServer::new(GroupService::new(mgr, ctx.shutdown))),
                    )
                }
                StoreChoice::Etcd(url) => {
                    let shared = etcd_args.start(&url, ports, config, &ctx).await?;
                    Ok(PluginHost::new(ctx.name, KIND)
                        .add_service(GroupServer::new(shared.service))
                        .after_stop(shared.stopped))
                }
            }
        },
    )
}
