//! The command tree: global flags and one subcommand per noun.
//!
//! To add a noun (e.g. `manager`): write `commands/<noun>.rs` with a `clap::Args` struct and an
//! `async fn run(ctx: &Context, args: ...) -> anyhow::Result<()>`, add a variant to
//! [`Command`], and one arm to `commands::run`.

use crate::commands::{completions, flavor, group, instance, plugin};
use crate::output::Format;
use clap::{Args, Parser, Subcommand};
use infrakit_model::PluginName;
use std::path::PathBuf;
use std::time::Duration;

/// The InfraKit command line.
#[derive(Debug, Parser)]
#[command(
    name = "ikctl",
    version = infrakit_spi::VERSION,
    about = "Drive InfraKit plugins: list them, and call the Instance, Flavor and Group SPIs",
    after_help = "Exit codes: 0 success, 1 failure, 2 usage error, 3 plugin not found.",
    propagate_version = true
)]
pub struct Cli {
    /// Flags every command accepts.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command accepts (they may come before or after the subcommand).
#[derive(Clone, Debug, Args)]
pub struct GlobalArgs {
    /// The plugins directory [default: /run/infrakit/plugins if it exists, else a per-user directory].
    #[arg(long, env = infrakit_runtime::plugins_dir::ENV, global = true, value_name = "DIR")]
    pub plugins_dir: Option<PathBuf>,
    /// Output format of commands that print data.
    #[arg(short, long, value_enum, default_value_t = Format::Table, global = true)]
    pub output: Format,
    /// How long to wait for each call to a plugin, e.g. 15s, 500ms, 2m [default: 15s]. With
    /// `group ... --wait`: how long to wait in all [default: 10m].
    #[arg(long, value_parser = parse_duration, global = true, value_name = "DURATION")]
    pub timeout: Option<Duration>,
    /// CA (PEM) that signed the certificates of TCP plugins.
    #[arg(long, env = "INFRAKIT_TLS_CA", global = true, value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,
    /// Client certificate (PEM), for TCP plugins that verify clients.
    #[arg(long, env = "INFRAKIT_TLS_CERT", global = true, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// Client private key (PEM), with --tls-cert.
    #[arg(long, env = "INFRAKIT_TLS_KEY", global = true, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// The name to verify TCP plugins' certificates against [default: the host dialled].
    #[arg(
        long,
        env = "INFRAKIT_TLS_SERVER_NAME",
        global = true,
        value_name = "NAME"
    )]
    pub tls_server_name: Option<String>,
}

/// The nouns.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List running plugins, or show one.
    Plugin(plugin::PluginArgs),
    /// Call an instance plugin (validate, provision, label, destroy, describe).
    Instance(instance::InstanceArgs),
    /// Call a flavor plugin (validate, prepare, healthy, drain).
    Flavor(flavor::FlavorArgs),
    /// Drive a group plugin: commit specs (with a plan), follow groups converging, scale, destroy.
    Group(group::GroupArgs),
    /// Print ikctl's version.
    Version,
    /// Print a shell completion script, e.g. `ikctl completions bash > /etc/bash_completion.d/ikctl`.
    Completions(completions::CompletionsArgs),
}

/// Parses a duration: a number with a unit (`ms`, `s`, `m`, `h`), or bare seconds; decimals
/// are allowed (`1.5s`). Zero is refused: a call with no time to answer always fails.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (write e.g. 15s, 500ms, 2m)"))?;
    let secs = match unit.trim() {
        "ms" => n / 1000.0,
        "" | "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        other => {
            return Err(format!(
                "unknown unit {other:?} in {s:?} (use ms, s, m or h)"
            ));
        }
    };
    if !secs.is_finite() || secs <= 0.0 || secs > 86_400.0 {
        return Err(format!("{s:?} must be more than 0 and at most 24h"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Parses a plugin name `lookup[/subtype]`. Used as a clap value parser, so that a malformed
/// name is a usage error (exit 2).
pub fn plugin_name(s: &str) -> Result<PluginName, String> {
    PluginName::parse(s).map_err(|e| e.problem.to_string())
}

#[cfg(test)]
mod tests;
