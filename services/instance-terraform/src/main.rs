//! `infrakit-instance-terraform`: serves the Terraform instance plugin.

use clap::Parser;
use infrakit_instance_terraform::terraform::{Config, Terraform};
use infrakit_instance_terraform::{Engine, KIND, Store, TerraformInstance, Timing};
use infrakit_model::duration::{self, ErrorKind, Syntax};
use infrakit_runtime::PluginHost;
use infrakit_runtime::cli::{PluginCommand, ServeArgs, default_state_dir, run_binary};
use infrakit_runtime::fence::Fences;
use infrakit_spi::instance::v1::instance_server::InstanceServer;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// An instance plugin whose instances are Terraform resources, one .tf.json file each.
#[derive(Parser, Debug)]
#[command(name = "infrakit-instance-terraform", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<PluginCommand>,
    /// The Terraform working directory (one per plugin; it holds the state, and the plugin's own
    /// in `.infrakit/`, such as `.infrakit/.fences.json`: the highest epoch each group was called
    /// with).
    #[arg(long, env = "INFRAKIT_INSTANCE_TERRAFORM_DIR", default_value_os_t = default_state_dir(KIND), global = true)]
    dir: PathBuf,
    /// The terraform command (1.9 or later).
    #[arg(
        long,
        env = "INFRAKIT_TERRAFORM",
        default_value = "terraform",
        global = true
    )]
    terraform: PathBuf,
    /// A batch of changes is applied after this long without a new change...
    #[arg(long, default_value = "500ms", value_parser = parse_duration, global = true)]
    batch_quiet: Duration,
    /// ...and at most this long after its first change.
    #[arg(long, default_value = "5s", value_parser = parse_duration, global = true)]
    batch_max_wait: Duration,
    /// How often Terraform refreshes and plans without changes, to notice drift.
    #[arg(long, default_value = "30s", value_parser = parse_duration, global = true)]
    refresh_interval: Duration,
    /// How long to wait for the directory lock and Terraform's state lock.
    #[arg(long, default_value = "60s", value_parser = parse_duration, global = true)]
    lock_timeout: Duration,
    /// How long one terraform command may run before it is interrupted.
    #[arg(long, default_value = "30m", value_parser = parse_duration, global = true)]
    command_timeout: Duration,
    #[command(flatten)]
    serve: ServeArgs,
}

/// Parses a duration flag: `500ms`, `30s`, `10m`, `1h`, `1m30s` (whole numbers; `0` alone too).
fn parse_duration(text: &str) -> Result<Duration, String> {
    duration::parse(text, Syntax::WHOLE).map_err(|e| match e.kind() {
        ErrorKind::Empty => "is empty; write e.g. 30s".to_string(),
        ErrorKind::NoUnit | ErrorKind::UnknownUnit(_) => {
            format!("{text:?} has no valid unit; use ms, s, m or h")
        }
        _ => format!("{text:?} is not a duration; write e.g. 500ms, 30s or 1m30s"),
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let timing = Timing {
        quiet: cli.batch_quiet,
        max_wait: cli.batch_max_wait,
        refresh: cli.refresh_interval.max(Duration::from_millis(100)),
    };
    let cfg = Config {
        program: cli.terraform,
        dir: cli.dir,
        lock_timeout: cli.lock_timeout,
        command_timeout: cli.command_timeout,
    };
    run_binary(
        cli.command.as_ref(),
        "infrakit.instance.v1.Instance",
        KIND,
        cli.serve,
        |ctx| async move {
            let store = Arc::new(Store::open(&cfg.dir)?);
            // Beside the plugin's other state, in the sub-directory Terraform does not read.
            let fences = Fences::open_in(store.meta_dir())?;
            let tf = Terraform::new(cfg.clone());
            let version = tf.version().await?;
            tracing::info!(
                dir = %cfg.dir.display(),
                terraform = %cfg.program.display(),
                version,
                instances = store.len(),
                "working directory loaded"
            );
            let engine = Engine::new(store.clone(), tf, timing);
            tokio::spawn(engine.clone().run(ctx.shutdown.clone()));
            Ok::<_, Box<dyn std::error::Error>>(PluginHost::new(ctx.name, KIND).add_service(
                InstanceServer::new(TerraformInstance::new(store, engine, fences, ctx.shutdown)),
            ))
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duration_flags_parse_and_nonsense_is_refused_with_a_hint() {
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration(""), Err("is empty; write e.g. 30s".into()));
        for no_unit in ["5", "3 days", "1.5s"] {
            assert!(
                parse_duration(no_unit)
                    .unwrap_err()
                    .contains("no valid unit")
            );
        }
        assert!(
            parse_duration("s")
                .unwrap_err()
                .contains("is not a duration")
        );
    }
}
