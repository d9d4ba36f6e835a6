//! `ikctl instance --plugin NAME validate|provision|label|destroy|describe`.

use crate::cli::plugin_name;
use crate::commands::required_plugin;
use crate::context::{Context, Target};
use crate::exit::{self, Reported};
use crate::input::Source;
use crate::kv;
use crate::output::{self, Format};
use crate::spec::{self, InvalidDocument};
use infrakit_model::PluginName;
use infrakit_spi::instance::v1::instance_client::InstanceClient;
use infrakit_spi::instance::v1::{
    DescribeInstancesRequest, DestroyReason, DestroyRequest, InstanceDescription, LabelRequest,
    ProvisionRequest, ValidateRequest,
};
use serde_json::{Value, json};
use tonic::transport::Channel;

/// Arguments of `ikctl instance`.
#[derive(Debug, clap::Args)]
pub struct InstanceArgs {
    /// The instance plugin: NAME, or NAME/SUBTYPE (the subtype goes into each request's `type`).
    #[arg(short, long, visible_alias = "name", global = true, value_parser = plugin_name, value_name = "NAME")]
    pub plugin: Option<PluginName>,
    /// What to do.
    #[command(subcommand)]
    pub command: InstanceCommand,
}

/// The verbs of `ikctl instance`.
#[derive(Debug, clap::Subcommand)]
pub enum InstanceCommand {
    /// Check instance Properties (JSON or YAML) without creating anything.
    Validate {
        /// The Properties file; `-` reads stdin.
        #[arg(default_value = "-", value_name = "FILE")]
        file: Source,
    },
    /// Create one instance from a spec {Properties, Tags, Init, LogicalID, Attachments}; prints its ID.
    Provision {
        /// The instance spec file; `-` reads stdin.
        #[arg(default_value = "-", value_name = "FILE")]
        file: Source,
    },
    /// Merge labels into an instance's tags.
    Label {
        /// The instance.
        id: String,
        /// The labels, key=value.
        #[arg(required = true, value_parser = kv::parse, value_name = "KEY=VALUE")]
        labels: Vec<(String, String)>,
    },
    /// Destroy instances.
    Destroy {
        /// The instances.
        #[arg(required = true, value_name = "ID")]
        ids: Vec<String>,
        /// Why, as told to the plugin.
        #[arg(long, value_enum, default_value_t = Reason::Terminate)]
        reason: Reason,
    },
    /// List instances, optionally only those carrying all the given tags.
    Describe {
        /// Only instances with this tag (repeat, or separate with commas; all must match).
        #[arg(long = "tags", visible_alias = "tag", value_parser = kv::parse, value_delimiter = ',', value_name = "KEY=VALUE")]
        tags: Vec<(String, String)>,
        /// Also fetch each instance's Properties.
        #[arg(long)]
        properties: bool,
        /// Print only the IDs.
        #[arg(short, long)]
        quiet: bool,
    },
}

/// Why an instance is destroyed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Reason {
    /// It is no longer wanted.
    Terminate,
    /// It is replaced by a newer configuration.
    RollingUpdate,
    /// It is unhealthy and replaced.
    Heal,
}

/// Runs `ikctl instance ...`. Input files are read and checked before the plugin is dialed, so
/// a bad file is reported even when the plugin is down.
pub async fn run(ctx: &Context, args: InstanceArgs) -> anyhow::Result<()> {
    let name = required_plugin(args.plugin, "instance")?;
    match args.command {
        InstanceCommand::Validate { file } => {
            let doc = file.read("instance Properties")?;
            let target = ctx.dial(&name).await?;
            let req = ValidateRequest {
                r#type: target.subtype(),
                properties: spec::properties_bytes(&doc.value),
            };
            client(&target)
                .validate(ctx.request(req))
                .await
                .map_err(target.error("Instance/Validate"))?;
            output::emit("valid\n")?;
        }
        InstanceCommand::Provision { file } => {
            let doc = file.read("an instance spec")?;
            let spec = spec::instance_spec_from_json(&doc.value).map_err(|violations| {
                InvalidDocument {
                    origin: doc.origin.clone(),
                    violations,
                }
            })?;
            let target = ctx.dial(&name).await?;
            let req = ProvisionRequest {
                fence: None,
                r#type: target.subtype(),
                spec: Some(spec),
            };
            let id = client(&target)
                .provision(ctx.request(req))
                .await
                .map_err(target.error("Instance/Provision"))?
                .into_inner()
                .id;
            output::emit(&render_id(ctx.output, &id)?)?;
        }
        InstanceCommand::Label { id, labels } => {
            let labels = kv::to_map(&labels)?;
            let target = ctx.dial(&name).await?;
            let req = LabelRequest {
                fence: None,
                r#type: target.subtype(),
                id: id.clone(),
                labels,
            };
            client(&target)
                .label(ctx.request(req))
                .await
                .map_err(target.error("Instance/Label"))?;
            output::emit(&format!("labelled {id}\n"))?;
        }
        InstanceCommand::Destroy { ids, reason } => {
            let target = ctx.dial(&name).await?;
            destroy(ctx, &target, &ids, reason).await?;
        }
        InstanceCommand::Describe {
            tags,
            properties,
            quiet,
        } => {
            let tags = kv::to_map(&tags)?;
            let target = ctx.dial(&name).await?;
            let req = DescribeInstancesRequest {
                r#type: target.subtype(),
                tags,
                properties,
                unless_revision: 0,
            };
            let mut instances = client(&target)
                .describe_instances(ctx.request(req))
                .await
                .map_err(target.error("Instance/DescribeInstances"))?
                .into_inner()
                .instances;
            instances.sort_by(|a, b| a.id.cmp(&b.id));
            output::emit(&render_describe(ctx.output, quiet, properties, &instances)?)?;
        }
    }
    Ok(())
}

fn client(target: &Target) -> InstanceClient<Channel> {
    InstanceClient::new(target.channel.clone())
}

/// Destroys each instance in turn; a failure is reported and the others are still tried.
async fn destroy(
    ctx: &Context,
    target: &Target,
    ids: &[String],
    reason: Reason,
) -> anyhow::Result<()> {
    let mut client = client(target);
    let reason = match reason {
        Reason::Terminate => DestroyReason::Terminate,
        Reason::RollingUpdate => DestroyReason::RollingUpdate,
        Reason::Heal => DestroyReason::Heal,
    };
    let mut failed = 0;
    for id in ids {
        let req = DestroyRequest {
            fence: None,
            r#type: target.subtype(),
            id: id.clone(),
            reason: reason as i32,
        };
        match client.destroy(ctx.request(req)).await {
            Ok(_) => output::emit(&format!("destroyed {id}\n"))?,
            Err(status) if ids.len() == 1 => {
                return Err(target.error("Instance/Destroy")(status).into());
            }
            Err(status) => {
                failed += 1;
                let err = anyhow::Error::new(target.error("Instance/Destroy")(status));
                for line in exit::messages(&err.context(format!("cannot destroy {id}"))) {
                    eprintln!("{line}");
                }
            }
        }
    }
    if failed > 0 {
        return Err(Reported(format!("{failed} of {} destroys failed", ids.len())).into());
    }
    Ok(())
}

/// Renders a new instance ID: the bare ID, or `{"id": ...}`.
pub fn render_id(format: Format, id: &str) -> anyhow::Result<String> {
    match format {
        Format::Table => Ok(format!("{id}\n")),
        f => output::structured(f, &json!({ "id": id })),
    }
}

/// Renders `instance describe`: a table (ID, LOGICAL, STATE, TAGS, and PROPERTIES when asked
/// for), IDs only with `quiet`, or an array of [`spec::DescriptionView`] objects.
pub fn render_describe(
    format: Format,
    quiet: bool,
    properties: bool,
    instances: &[InstanceDescription],
) -> anyhow::Result<String> {
    if quiet {
        return Ok(instances.iter().map(|d| format!("{}\n", d.id)).collect());
    }
    match format {
        Format::Table => {
            let mut headers = vec!["ID", "LOGICAL", "STATE", "TAGS"];
            if properties {
                headers.push("PROPERTIES");
            }
            let rows: Vec<Vec<String>> = instances
                .iter()
                .map(|d| {
                    let mut row = vec![
                        d.id.clone(),
                        d.logical_id.clone().unwrap_or_else(|| "-".to_string()),
                        spec::state_name(d.state).unwrap_or("-").to_string(),
                        output::tags_cell(&d.tags),
                    ];
                    if properties {
                        row.push(match spec::properties_value(&d.properties) {
                            Value::Null => "-".to_string(),
                            v => v.to_string(),
                        });
                    }
                    row
                })
                .collect();
            Ok(output::table(&headers, &rows))
        }
        f => {
            let items: Vec<_> = instances.iter().map(spec::description_view).collect();
            output::structured(f, &items)
        }
    }
}

#[cfg(test)]
mod tests;
