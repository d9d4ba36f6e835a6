//! `infrakit-instance-vagrant`: serves the Vagrant instance plugin.

use clap::Parser;
use infrakit_instance_vagrant::docker::Docker;
use infrakit_instance_vagrant::ops::{Config, load_template};
use infrakit_instance_vagrant::vagrant::Vagrant;
use infrakit_instance_vagrant::{KIND, Store, VagrantInstance};
use infrakit_model::duration::{self, Syntax};
use infrakit_runtime::PluginHost;
use infrakit_runtime::cli::{
    PluginCommand, ServeArgs, default_state_dir, handle_command, run_plugin,
};
use infrakit_runtime::fence::Fences;
use infrakit_spi::instance::v1::instance_server::InstanceServer;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// An instance plugin whose instances are Vagrant machines (docker provider by default), one
/// directory per instance.
#[derive(Parser, Debug)]
#[command(name = "infrakit-instance-vagrant", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<PluginCommand>,
    /// The directory holding one directory per instance (Vagrantfile, boot.sh, tags.json, ...),
    /// and `.fences.json` (the highest epoch each group was called with).
    #[arg(long, env = "INFRAKIT_INSTANCE_VAGRANT_DIR", default_value_os_t = default_state_dir(KIND), global = true)]
    dir: PathBuf,
    /// A Vagrantfile template replacing the built-in ones (Properties' `Template` overrides it).
    #[arg(long, env = "INFRAKIT_VAGRANT_TEMPLATE", global = true)]
    template: Option<PathBuf>,
    /// The vagrant executable.
    #[arg(long, default_value = "vagrant", global = true)]
    vagrant: PathBuf,
    /// The docker executable (Vagrant's docker provider uses the one on PATH).
    #[arg(long, default_value = "docker", global = true)]
    docker: PathBuf,
    /// The longest `vagrant up`; slower machines are stopped and reported failed.
    #[arg(long, default_value = "15m", value_parser = parse_duration, global = true)]
    up_timeout: Duration,
    /// The longest `vagrant destroy -f`.
    #[arg(long, default_value = "5m", value_parser = parse_duration, global = true)]
    destroy_timeout: Duration,
    /// How often containers are listed (states, containers removed behind the plugin's back).
    #[arg(long, default_value = "1s", value_parser = parse_duration, global = true)]
    poll_interval: Duration,
    /// How often `vagrant status` asks about machines of providers other than docker.
    #[arg(long, default_value = "30s", value_parser = parse_duration, global = true)]
    status_interval: Duration,
    /// How many lines of Vagrant's output DescribeInstances shows.
    #[arg(long, default_value_t = 20, global = true)]
    output_lines: usize,
    #[command(flatten)]
    serve: ServeArgs,
}

/// Parses a duration flag: `500ms`, `30s`, `10m`, `1h`, or combinations like `1m30s`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    duration::parse(text, Syntax::WHOLE).map_err(|_| {
        format!("{text:?} is not a duration (write e.g. \"500ms\", \"30s\", \"10m\", \"1h\")")
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if handle_command(
        cli.command.as_ref(),
        &cli.serve,
        KIND,
        "infrakit.instance.v1.Instance",
    ) {
        return ExitCode::SUCCESS;
    }
    let template = match &cli.template {
        Some(p) => match load_template(p) {
            Ok(t) => Some((p.clone(), t)),
            Err(e) => {
                eprintln!("error: invalid --template: {e}");
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    let dir = cli.dir.clone();
    run_plugin(KIND, cli.serve, |ctx| async move {
        let store =
            Arc::new(Store::open(&dir).map_err(|e| {
                std::io::Error::other(format!("cannot open {}: {e}", dir.display()))
            })?);
        // A file, not a directory: the instance scan skips it.
        let fences = Fences::open_in(&dir)?;
        let cfg = Config {
            name: ctx.name.clone(),
            vagrant: Vagrant {
                program: cli.vagrant,
                keep_lines: cli.output_lines.max(1),
            },
            docker: Docker {
                program: cli.docker,
            },
            template,
            up_timeout: cli.up_timeout,
            destroy_timeout: cli.destroy_timeout,
            poll_interval: cli.poll_interval.max(Duration::from_millis(50)),
            status_interval: cli.status_interval.max(Duration::from_secs(1)),
        };
        tracing::info!(dir = %store.root().display(), instances = store.len(), "instances directory loaded");
        let plugin = VagrantInstance::start(store, cfg, fences, ctx.shutdown);
        Ok::<_, Box<dyn std::error::Error>>(
            PluginHost::new(ctx.name, KIND).add_service(InstanceServer::new(plugin)),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duration_flags_parse_and_nonsense_does_not() {
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        for bad in ["", "5", "s", "5x", "1.5s", "-1s"] {
            let e = parse_duration(bad).unwrap_err();
            assert!(e.contains("is not a duration (write e.g."), "{bad:?}: {e}");
        }
    }
}
