//! The flags every service binary shares, the `version` subcommand, and [`run_plugin`], which
//! does everything a plugin's `main` needs around building its services.

use crate::accept::DEFAULT_MAX_CONNECTIONS;
use crate::host::{BindOptions, HostError, Listener, PluginHost};
use crate::listen::ListenAddr;
use crate::logging::{self, LogFormat};
use crate::plugins_dir;
use crate::shutdown::Shutdown;
use crate::tls::ServerTlsFiles;
use std::future::Future;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Flags shared by every plugin binary.
#[derive(Clone, Debug, clap::Args)]
pub struct ServeArgs {
    /// Where to listen: unix:///path/name.sock or tcp://host:port [default: unix://<plugins-dir>/<name>.sock].
    #[arg(long, env = "INFRAKIT_LISTEN", global = true)]
    pub listen: Option<String>,
    /// The plugin name others use to reach it [default: the plugin's kind].
    #[arg(long, global = true)]
    pub name: Option<String>,
    /// The plugins directory [default: /run/infrakit/plugins if usable, else a per-user directory].
    #[arg(long, env = plugins_dir::ENV, global = true)]
    pub plugins_dir: Option<PathBuf>,
    /// Let this group connect to the unix socket (mode 0660 instead of 0600).
    #[arg(long, global = true)]
    pub socket_group: Option<String>,
    /// TLS certificate (PEM) for a TCP listener.
    #[arg(long, global = true, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM) for a TCP listener.
    #[arg(long, global = true, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// CA (PEM) that client certificates must be signed by; enables client verification.
    #[arg(long, global = true, requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,
    /// Allow a TCP listener without TLS (only on a trusted network).
    #[arg(long, global = true)]
    pub insecure: bool,
    /// The most connections the listener holds open at once; more wait until one closes.
    #[arg(
        long,
        default_value_t = DEFAULT_MAX_CONNECTIONS,
        value_parser = parse_max_connections,
        env = "INFRAKIT_MAX_CONNECTIONS",
        global = true
    )]
    pub max_connections: usize,
    /// How long a TLS client may take to finish its handshake before it is disconnected.
    #[arg(
        long,
        default_value = "10s",
        value_parser = parse_handshake_timeout,
        env = "INFRAKIT_TLS_HANDSHAKE_TIMEOUT",
        global = true
    )]
    pub tls_handshake_timeout: Duration,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, env = "INFRAKIT_LOG_FORMAT", global = true)]
    pub log_format: LogFormat,
    /// Log level or filter directive (RUST_LOG overrides it).
    #[arg(
        long,
        default_value = "info",
        env = "INFRAKIT_LOG_LEVEL",
        global = true
    )]
    pub log_level: String,
}

/// Subcommands every plugin binary has besides serving.
#[derive(Clone, Debug, clap::Subcommand)]
pub enum PluginCommand {
    /// Print the version as JSON: {"name","revision","type","version"}.
    Version,
    /// Ask the plugin serving at --listen (or its default socket) whether it is healthy
    /// (grpc.health.v1); exit 0 when SERVING, 1 otherwise. For container health checks.
    Healthcheck,
}

/// Handles a plugin binary's subcommand, if one was given. Returns true when the process should
/// exit instead of serving.
pub fn handle_command(
    command: Option<&PluginCommand>,
    args: &ServeArgs,
    kind: &str,
    spi_type: &str,
) -> bool {
    match command {
        Some(PluginCommand::Version) => {
            println!(
                "{}",
                version_json(args.name.as_deref().unwrap_or(kind), spi_type)
            );
            true
        }
        Some(PluginCommand::Healthcheck) => {
            let code = healthcheck(args, kind);
            std::process::exit(code);
        }
        None => false,
    }
}

/// Runs a plugin binary: its subcommand when one was given ([`handle_command`]), else the
/// plugin itself ([`run_plugin`]). Returns the process exit code.
pub fn run_binary<F, Fut, E>(
    command: Option<&PluginCommand>,
    spi_type: &str,
    kind: &str,
    args: ServeArgs,
    build: F,
) -> ExitCode
where
    F: FnOnce(Context) -> Fut,
    Fut: Future<Output = Result<PluginHost, E>>,
    E: Into<Box<dyn std::error::Error>>,
{
    if handle_command(command, &args, kind, spi_type) {
        return ExitCode::SUCCESS;
    }
    run_plugin(kind, args, build)
}

/// The default directory for a plugin of `kind`'s state: `$HOME/.infrakit/<kind>`
/// (`/tmp/.infrakit/<kind>` without `HOME`).
pub fn default_state_dir(kind: &str) -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp"))
        .join(".infrakit")
        .join(kind)
}

/// How long a health check may take.
const HEALTHCHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// Checks the plugin's own listener; returns the exit code.
fn healthcheck(args: &ServeArgs, kind: &str) -> i32 {
    let name = args.name.clone().unwrap_or_else(|| kind.to_string());
    let addr = match &args.listen {
        Some(l) => match ListenAddr::parse(l) {
            Ok(a) => a,
            Err(e) => {
                eprintln!("unhealthy: invalid --listen: {e}");
                return 1;
            }
        },
        None => ListenAddr::Unix(plugins_dir::socket_path(
            &plugins_dir::for_client(args.plugins_dir.as_deref()),
            &name,
        )),
    };
    let tls = args.tls_cert.is_some();
    let opts = crate::dial::DialOptions {
        tls: tls.then(|| crate::tls::ClientTlsFiles {
            ca: args.tls_cert.clone(),
            domain: Some("localhost".into()),
            ..Default::default()
        }),
    };
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        eprintln!("unhealthy: cannot start a runtime");
        return 1;
    };
    let verdict = rt.block_on(async {
        tokio::time::timeout(HEALTHCHECK_TIMEOUT, crate::dial::health(&addr, tls, &opts))
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {HEALTHCHECK_TIMEOUT:?}")))
    });
    match verdict {
        Ok(s) if s == tonic_health::pb::health_check_response::ServingStatus::Serving as i32 => {
            println!("serving");
            0
        }
        Ok(s) => {
            eprintln!("unhealthy: status {s} at {addr}");
            1
        }
        Err(e) => {
            eprintln!("unhealthy: {e}");
            1
        }
    }
}

/// What a plugin's builder gets to work with.
#[derive(Clone, Debug)]
pub struct Context {
    /// The plugin's name.
    pub name: String,
    /// The plugins directory.
    pub plugins_dir: PathBuf,
    /// The process's shutdown; streams should end when it starts.
    pub shutdown: Shutdown,
}

/// The JSON printed by `<binary> version`: `{"name","revision","type","version"}`.
pub fn version_json(name: &str, spi_type: &str) -> String {
    serde_json::json!({
        "name": name,
        "revision": infrakit_spi::REVISION,
        "type": spi_type,
        "version": infrakit_spi::VERSION,
    })
    .to_string()
}

/// Runs a plugin: initialises logging, binds the listener (before building anything slow, so a
/// second instance fails fast), builds the services with `build`, registers TCP plugins with
/// discovery, and serves until SIGTERM/SIGINT. Returns the process exit code; errors are
/// printed once, with their causes.
pub fn run_plugin<F, Fut, E>(kind: &str, args: ServeArgs, build: F) -> ExitCode
where
    F: FnOnce(Context) -> Fut,
    Fut: Future<Output = Result<PluginHost, E>>,
    E: Into<Box<dyn std::error::Error>>,
{
    logging::init(args.log_format, &args.log_level);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(kind, args, build)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run<F, Fut, E>(kind: &str, args: ServeArgs, build: F) -> Result<(), String>
where
    F: FnOnce(Context) -> Fut,
    Fut: Future<Output = Result<PluginHost, E>>,
    E: Into<Box<dyn std::error::Error>>,
{
    let name = args.name.clone().unwrap_or_else(|| kind.to_string());
    infrakit_model::name::validate_lookup(&name)
        .map_err(|p| format!("invalid --name {name:?}: {p}"))?;
    let dir = plugins_dir::for_server(args.plugins_dir.as_deref());
    let addr = match &args.listen {
        Some(l) => ListenAddr::parse(l).map_err(|e| format!("invalid --listen: {e}"))?,
        None => ListenAddr::Unix(plugins_dir::socket_path(&dir, &name)),
    };
    let opts = BindOptions {
        socket_group: args.socket_group.clone(),
        tls: match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => Some(ServerTlsFiles {
                cert: cert.clone(),
                key: key.clone(),
                client_ca: args.tls_client_ca.clone(),
            }),
            _ => None,
        },
        insecure: args.insecure,
        max_connections: args.max_connections,
        tls_handshake_timeout: args.tls_handshake_timeout,
    };
    let shutdown = Shutdown::on_signals();
    let listener = Listener::bind(&addr, &opts).await.map_err(|e| chain(&e))?;
    let ctx = Context {
        name: name.clone(),
        plugins_dir: dir.clone(),
        shutdown: shutdown.clone(),
    };
    let host = build(ctx).await.map_err(|e| chain(e.into().as_ref()))?;
    let registration = matches!(addr, ListenAddr::Tcp(_)).then(|| {
        let endpoint = listener.local_addr().to_string();
        crate::register::spawn(name, endpoint, listener.has_tls(), dir, shutdown.clone())
    });
    let served = host.serve(listener, shutdown).await;
    if let Some(task) = registration {
        if served.is_ok() {
            // Stopped by shutdown: let the deregistration out before the runtime stops (the
            // task bounds it by DEREGISTER_TIMEOUT; so does this, in case it is stuck).
            let _ = tokio::time::timeout(crate::register::DEREGISTER_TIMEOUT, task).await;
        } else {
            task.abort();
        }
    }
    served.map_err(|e: HostError| chain(&e))
}

/// Parses `--max-connections`: a whole number of at least 1.
fn parse_max_connections(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "{text:?} is not a number of connections: give a whole number of at least 1 (default {DEFAULT_MAX_CONNECTIONS})"
        )),
    }
}

/// Parses `--tls-handshake-timeout`: a duration such as `10s` or `500ms`, more than zero.
fn parse_handshake_timeout(text: &str) -> Result<Duration, String> {
    match infrakit_model::duration::parse(text, infrakit_model::duration::Syntax::WHOLE) {
        Ok(d) if !d.is_zero() => Ok(d),
        _ => Err(format!(
            "{text:?} is not a handshake timeout: give a duration above zero such as \"10s\" or \"500ms\""
        )),
    }
}

fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    crate::dial::error_chain(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_dirs_are_per_kind_under_dot_infrakit() {
        let dir = default_state_dir("instance-file");
        assert!(
            dir.ends_with(".infrakit/instance-file"),
            "{}",
            dir.display()
        );
        assert!(dir.is_absolute(), "{}", dir.display());
    }

    #[test]
    fn connection_limits_must_be_positive_and_say_how_to_fix_them() {
        assert_eq!(parse_max_connections("7"), Ok(7));
        let e = parse_max_connections("0").unwrap_err();
        assert!(e.contains("at least 1"), "{e}");
        assert_eq!(
            parse_handshake_timeout("1500ms"),
            Ok(Duration::from_millis(1500))
        );
        for bad in ["0s", "ten", "5"] {
            let e = parse_handshake_timeout(bad).unwrap_err();
            assert!(e.contains("such as \"10s\""), "{bad}: {e}");
        }
    }

    #[test]
    fn the_listener_limits_default_to_the_documented_values() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            serve: ServeArgs,
        }
        let cli = <Cli as clap::Parser>::try_parse_from(["plugin"]).unwrap();
        assert_eq!(cli.serve.max_connections, DEFAULT_MAX_CONNECTIONS);
        assert_eq!(
            cli.serve.tls_handshake_timeout,
            crate::host::DEFAULT_TLS_HANDSHAKE_TIMEOUT
        );
    }

    #[test]
    fn version_json_names_the_plugin_and_its_spi() {
        let v: serde_json::Value =
            serde_json::from_str(&version_json("files", "infrakit.instance.v1.Instance")).unwrap();
        assert_eq!(v["name"], "files");
        assert_eq!(v["type"], "infrakit.instance.v1.Instance");
    }
}
