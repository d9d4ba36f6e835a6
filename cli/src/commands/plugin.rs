//! `ikctl plugin ls` and `ikctl plugin info NAME`.
//!
//! `ls` asks the discovery service when one runs (its list already carries health and SPIs);
//! otherwise it probes every socket in the plugins directory in parallel with `Plugin/Info` and
//! `grpc.health.v1.Health/Check`, and shows sockets that do not answer as `unreachable`.

use crate::cli::plugin_name;
use crate::context::Context;
use crate::output::{self, Format};
use infrakit_model::PluginName;
use infrakit_runtime::ListenAddr;
use infrakit_runtime::dial;
use infrakit_runtime::plugins_dir;
use infrakit_spi::discovery::v1::{ListRequest, PluginEntry, PluginHealth, Source};
use infrakit_spi::plugin::v1::plugin_client::PluginClient;
use infrakit_spi::plugin::v1::{InfoRequest, InfoResponse};
use serde::Serialize;
use std::time::Duration;
use tokio::task::JoinSet;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// How long probing one socket, or asking discovery for its list, may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// Arguments of `ikctl plugin`.
#[derive(Debug, clap::Args)]
pub struct PluginArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: PluginCommand,
}

/// The verbs of `ikctl plugin`.
#[derive(Debug, clap::Subcommand)]
pub enum PluginCommand {
    /// List plugins: name, kind, SPIs, endpoint, version, health.
    #[command(visible_alias = "list")]
    Ls {
        /// Print only the names.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Show everything a plugin says about itself.
    Info {
        /// The plugin name.
        #[arg(value_parser = plugin_name)]
        name: PluginName,
    },
}

/// One plugin as `ikctl plugin ls` and `plugin info` print it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PluginRow {
    /// Its name.
    pub name: String,
    /// Its kind (`instance-file`, ...); empty when unknown.
    pub kind: String,
    /// The SPIs it serves.
    pub spis: Vec<SpiRow>,
    /// Where it listens (`unix:///...` or `tcp://...`).
    pub endpoint: String,
    /// Its build version; empty when unknown.
    pub version: String,
    /// `serving`, `not-serving`, `unreachable` or `unknown`.
    pub health: String,
    /// How it was found: `socket` (plugins directory) or `registered` (discovery).
    pub source: String,
}

/// An SPI a plugin serves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SpiRow {
    /// The fully qualified service name, e.g. `infrakit.instance.v1.Instance`.
    pub name: String,
    /// The SPI version, e.g. `1.0`.
    pub version: String,
}

/// What `ikctl plugin info` prints.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InfoView {
    /// The name it was started with.
    pub name: String,
    /// Its kind.
    pub kind: String,
    /// Its build version.
    pub version: String,
    /// The source revision of its build.
    pub revision: String,
    /// The address it says it listens on.
    pub listen: String,
    /// The address ikctl reached it at.
    pub endpoint: String,
    /// The SPIs it serves.
    pub spis: Vec<SpiRow>,
    /// Its overall health.
    pub health: String,
}

/// Runs `ikctl plugin ...`.
pub async fn run(ctx: &Context, args: PluginArgs) -> anyhow::Result<()> {
    match args.command {
        PluginCommand::Ls { quiet } => {
            let rows = list(ctx).await;
            if rows.is_empty() && !quiet && ctx.output == Format::Table {
                eprintln!(
                    "no plugins: {} has no plugin sockets (start one, or point --plugins-dir / {} at the right directory)",
                    ctx.plugins_dir.display(),
                    plugins_dir::ENV
                );
            }
            output::emit(&render_list(ctx.output, quiet, &rows)?)?;
        }
        PluginCommand::Info { name } => {
            let view = info(ctx, &name).await?;
            output::emit(&render_info(ctx.output, &view)?)?;
        }
    }
    Ok(())
}

/// Renders `plugin ls`.
pub fn render_list(format: Format, quiet: bool, rows: &[PluginRow]) -> anyhow::Result<String> {
    if quiet {
        return Ok(rows.iter().map(|r| format!("{}\n", r.name)).collect());
    }
    match format {
        Format::Table => {
            let cells: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    vec![
                        r.name.clone(),
                        dash(&r.kind),
                        short_spis(&r.spis),
                        dash(&r.endpoint),
                        dash(&r.version),
                        r.health.clone(),
                    ]
                })
                .collect();
            Ok(output::table(
                &["NAME", "KIND", "SPIS", "ENDPOINT", "VERSION", "HEALTH"],
                &cells,
            ))
        }
        f => output::structured(f, &rows),
    }
}

/// Renders `plugin info`; the table is one `KEY value` line per field.
pub fn render_info(format: Format, v: &InfoView) -> anyhow::Result<String> {
    match format {
        Format::Table => {
            let spis = v
                .spis
                .iter()
                .map(|s| format!("{}@{}", s.name, s.version))
                .collect::<Vec<_>>()
                .join(", ");
            Ok(output::key_values(&[
                ("name", v.name.clone()),
                ("kind", dash(&v.kind)),
                ("version", dash(&v.version)),
                ("revision", dash(&v.revision)),
                ("listen", dash(&v.listen)),
                ("endpoint", v.endpoint.clone()),
                ("spis", dash(&spis)),
                ("health", v.health.clone()),
            ]))
        }
        f => output::structured(f, v),
    }
}

/// `Instance,Flavor` from the SPIs (without `Plugin`, which every plugin serves); `-` if none.
pub fn short_spis(spis: &[SpiRow]) -> String {
    let names: Vec<&str> = spis
        .iter()
        .filter(|s| s.name != infrakit_spi::service_names::PLUGIN)
        .map(|s| s.name.rsplit('.').next().unwrap_or(&s.name))
        .collect();
    dash(&names.join(","))
}

/// Lists the plugins, through discovery if it answers, else by probing the directory.
async fn list(ctx: &Context) -> Vec<PluginRow> {
    if let Some(mut disco) = dial::discovery(&ctx.plugins_dir, &ctx.dial).await {
        let mut req = tonic::Request::new(ListRequest {});
        req.set_timeout(ctx.timeout.min(PROBE_TIMEOUT));
        match disco.list(req).await {
            Ok(resp) => {
                return resp
                    .into_inner()
                    .plugins
                    .into_iter()
                    .map(|p| from_entry(p, &ctx.plugins_dir))
                    .collect();
            }
            Err(st) => eprintln!(
                "warning: the discovery service did not list plugins ({}); probing {} instead",
                st.message(),
                ctx.plugins_dir.display()
            ),
        }
    }
    scan(ctx).await
}

/// A discovery entry as a row; SPIs arrive as `name@version`. A socket plugin's endpoint is
/// shown in our view of the plugins directory `dir` (discovery may run in a container that
/// mounts it elsewhere).
pub fn from_entry(p: PluginEntry, dir: &std::path::Path) -> PluginRow {
    let health = match PluginHealth::try_from(p.health) {
        Ok(PluginHealth::Serving) => "serving",
        Ok(PluginHealth::NotServing) => "not-serving",
        Ok(PluginHealth::Unreachable) => "unreachable",
        Ok(PluginHealth::Unknown) | Err(_) => "unknown",
    };
    let source = match Source::try_from(p.source) {
        Ok(Source::SocketDir) => "socket",
        Ok(Source::Registered) => "registered",
        Ok(Source::Unspecified) | Err(_) => "unknown",
    };
    let endpoint = if source == "socket" {
        format!(
            "unix://{}",
            infrakit_runtime::plugins_dir::socket_path(dir, &p.name).display()
        )
    } else {
        p.endpoint
    };
    PluginRow {
        spis: p
            .spis
            .iter()
            .map(|s| match s.split_once('@') {
                Some((name, version)) => SpiRow {
                    name: name.to_string(),
                    version: version.to_string(),
                },
                None => SpiRow {
                    name: s.clone(),
                    version: String::new(),
                },
            })
            .collect(),
        name: p.name,
        kind: p.kind,
        endpoint,
        version: p.version,
        health: health.to_string(),
        source: source.to_string(),
    }
}

/// Probes every socket in the plugins directory, in parallel; the rows are sorted by name.
async fn scan(ctx: &Context) -> Vec<PluginRow> {
    let timeout = ctx.timeout.min(PROBE_TIMEOUT);
    let mut tasks = JoinSet::new();
    for name in plugins_dir::socket_names(&ctx.plugins_dir) {
        let addr = ListenAddr::Unix(plugins_dir::socket_path(&ctx.plugins_dir, &name));
        let opts = ctx.dial.clone();
        tasks.spawn(async move {
            let endpoint = addr.to_string();
            let probed = tokio::time::timeout(timeout, async {
                let channel = dial::connect(&addr, false, &opts).await.ok()?;
                Some(probe(channel, timeout).await)
            })
            .await
            .ok()
            .flatten();
            let (info, health) = probed.unwrap_or((None, "unreachable"));
            row_from_probe(name, endpoint, info, health)
        });
    }
    let mut rows = Vec::new();
    while let Some(res) = tasks.join_next().await {
        if let Ok(row) = res {
            rows.push(row);
        }
    }
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    rows
}

fn row_from_probe(
    name: String,
    endpoint: String,
    info: Option<InfoResponse>,
    health: &str,
) -> PluginRow {
    let info = info.unwrap_or_default();
    PluginRow {
        name,
        kind: info.kind,
        spis: spi_rows(&info.spis),
        endpoint,
        version: info.version,
        health: health.to_string(),
        source: "socket".to_string(),
    }
}

/// Calls `Plugin/Info` and `Health/Check` together; the health is `unreachable` when neither
/// answers.
async fn probe(channel: Channel, timeout: Duration) -> (Option<InfoResponse>, &'static str) {
    let mut plugin = PluginClient::new(channel.clone());
    let mut health = HealthClient::new(channel);
    let mut info_req = tonic::Request::new(InfoRequest {});
    info_req.set_timeout(timeout);
    let mut health_req = tonic::Request::new(HealthCheckRequest {
        service: String::new(),
    });
    health_req.set_timeout(timeout);
    let (info, checked) = tokio::join!(plugin.info(info_req), health.check(health_req));
    let info = info.ok().map(tonic::Response::into_inner);
    let status = match checked {
        Ok(r) => health_name(r.into_inner().status),
        Err(_) if info.is_none() => "unreachable",
        Err(_) => "unknown",
    };
    (info, status)
}

fn health_name(status: i32) -> &'static str {
    match ServingStatus::try_from(status) {
        Ok(ServingStatus::Serving) => "serving",
        Ok(ServingStatus::NotServing) => "not-serving",
        Ok(ServingStatus::Unknown | ServingStatus::ServiceUnknown) | Err(_) => "unknown",
    }
}

/// Resolves a plugin by name and asks it about itself.
async fn info(ctx: &Context, name: &PluginName) -> anyhow::Result<InfoView> {
    let target = ctx.dial(name).await?;
    let mut plugin = PluginClient::new(target.channel.clone());
    let mut health = HealthClient::new(target.channel.clone());
    let (info, checked) = tokio::join!(
        plugin.info(ctx.request(InfoRequest {})),
        health.check(ctx.request(HealthCheckRequest {
            service: String::new()
        }))
    );
    let info = info.map_err(target.error("Plugin/Info"))?.into_inner();
    let health = checked
        .map(|r| health_name(r.into_inner().status))
        .unwrap_or("unknown");
    Ok(InfoView {
        name: info.name,
        kind: info.kind,
        version: info.version,
        revision: info.revision,
        listen: info.listen,
        endpoint: target.endpoint.clone(),
        spis: spi_rows(&info.spis),
        health: health.to_string(),
    })
}

fn spi_rows(spis: &[infrakit_spi::plugin::v1::Spi]) -> Vec<SpiRow> {
    spis.iter()
        .map(|s| SpiRow {
            name: s.name.clone(),
            version: s.version.clone(),
        })
        .collect()
}

fn dash(s: &str) -> String {
    if s.is_empty() {
        "-".to_string()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests;
