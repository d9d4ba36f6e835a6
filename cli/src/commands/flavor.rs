//! `ikctl flavor --plugin NAME validate|prepare|healthy|drain`.

use crate::cli::plugin_name;
use crate::commands::required_plugin;
use crate::context::Context;
use crate::exit::UsageError;
use crate::input::Source;
use crate::kv;
use crate::output::{self, Format};
use crate::spec::{self, InvalidDocument};
use infrakit_model::PluginName;
use infrakit_spi::flavor::v1::flavor_client::FlavorClient;
use infrakit_spi::flavor::v1::{
    Allocation, DrainRequest, Health, HealthyRequest, Index, PrepareRequest, ValidateRequest,
};
use infrakit_spi::instance::v1::InstanceDescription;
use serde_json::json;

/// Arguments of `ikctl flavor`.
#[derive(Debug, clap::Args)]
pub struct FlavorArgs {
    /// The flavor plugin: NAME, or NAME/SUBTYPE (the subtype goes into each request's `type`).
    #[arg(short, long, visible_alias = "name", global = true, value_parser = plugin_name, value_name = "NAME")]
    pub plugin: Option<PluginName>,
    /// What to do.
    #[command(subcommand)]
    pub command: FlavorCommand,
}

/// The verbs of `ikctl flavor`. FILE holds the flavor Properties (JSON or YAML; `-` is stdin).
#[derive(Debug, clap::Subcommand)]
pub enum FlavorCommand {
    /// Check flavor Properties against an allocation, without side effects.
    Validate {
        /// The flavor Properties file.
        #[arg(value_name = "FILE")]
        file: Source,
        /// The group's allocation.
        #[command(flatten)]
        allocation: AllocationArgs,
    },
    /// Turn an instance spec into the one to provision; prints it as JSON.
    Prepare {
        /// The flavor Properties file.
        #[arg(value_name = "FILE")]
        file: Source,
        /// The instance spec built so far {Properties, Tags, Init, LogicalID, Attachments}.
        #[arg(long, value_name = "SPECFILE")]
        spec: Source,
        /// The group's allocation.
        #[command(flatten)]
        allocation: AllocationArgs,
        /// The group the instance belongs to.
        #[arg(long)]
        group: Option<String>,
        /// The instance's sequence number in its group.
        #[arg(long)]
        sequence: Option<u64>,
    },
    /// Ask whether an instance is healthy; prints HEALTHY, UNHEALTHY or UNKNOWN and the reason.
    Healthy {
        /// The flavor Properties file.
        #[arg(value_name = "FILE")]
        file: Source,
        /// The instance.
        #[command(flatten)]
        instance: InstanceArgs,
    },
    /// Prepare an instance for removal (e.g. leave a cluster).
    Drain {
        /// The flavor Properties file.
        #[arg(value_name = "FILE")]
        file: Source,
        /// The instance.
        #[command(flatten)]
        instance: InstanceArgs,
    },
}

/// `--size N` (cattle) or `--logical-ids a,b,c` (pets); neither is an empty allocation.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct AllocationArgs {
    /// The number of interchangeable instances.
    #[arg(long, conflicts_with = "logical_ids")]
    pub size: Option<u32>,
    /// The logical IDs of the pets.
    #[arg(long, value_delimiter = ',', value_name = "ID,...")]
    pub logical_ids: Vec<String>,
}

/// The instance a flavor is asked about.
#[derive(Clone, Debug, clap::Args)]
pub struct InstanceArgs {
    /// The instance ID.
    #[arg(long)]
    pub id: String,
    /// Its logical ID, for pets.
    #[arg(long)]
    pub logical_id: Option<String>,
    /// Its tags (repeat, or separate with commas).
    #[arg(long = "tags", visible_alias = "tag", value_parser = kv::parse, value_delimiter = ',', value_name = "KEY=VALUE")]
    pub tags: Vec<(String, String)>,
}

/// Runs `ikctl flavor ...`.
pub async fn run(ctx: &Context, args: FlavorArgs) -> anyhow::Result<()> {
    let name = required_plugin(args.plugin, "flavor")?;
    match args.command {
        FlavorCommand::Validate { file, allocation } => {
            let props = file.read("flavor Properties")?;
            let target = ctx.dial(&name).await?;
            let req = ValidateRequest {
                r#type: target.subtype(),
                properties: spec::properties_bytes(&props.value),
                allocation: Some(allocation.to_spi()),
            };
            FlavorClient::new(target.channel.clone())
                .validate(ctx.request(req))
                .await
                .map_err(target.error("Flavor/Validate"))?;
            output::emit("valid\n")?;
        }
        FlavorCommand::Prepare {
            file,
            spec: spec_file,
            allocation,
            group,
            sequence,
        } => {
            if file == Source::Stdin && spec_file == Source::Stdin {
                return Err(UsageError(
                    "FILE and --spec cannot both be read from stdin: give one of them as a file"
                        .to_string(),
                )
                .into());
            }
            let props = file.read("flavor Properties")?;
            let doc = spec_file.read("an instance spec")?;
            let instance_spec =
                spec::instance_spec_from_json(&doc.value).map_err(|violations| {
                    InvalidDocument {
                        origin: doc.origin.clone(),
                        violations,
                    }
                })?;
            let target = ctx.dial(&name).await?;
            let index = (group.is_some() || sequence.is_some()).then(|| Index {
                group: group.unwrap_or_default(),
                sequence: sequence.unwrap_or_default(),
            });
            let req = PrepareRequest {
                r#type: target.subtype(),
                properties: spec::properties_bytes(&props.value),
                spec: Some(instance_spec),
                allocation: Some(allocation.to_spi()),
                index,
            };
            let prepared = FlavorClient::new(target.channel.clone())
                .prepare(ctx.request(req))
                .await
                .map_err(target.error("Flavor/Prepare"))?
                .into_inner()
                .spec
                .unwrap_or_default();
            output::emit(&output::structured(
                ctx.output,
                &spec::instance_spec_view(&prepared),
            )?)?;
        }
        FlavorCommand::Healthy { file, instance } => {
            let props = file.read("flavor Properties")?;
            let description = instance.to_spi()?;
            let target = ctx.dial(&name).await?;
            let req = HealthyRequest {
                r#type: target.subtype(),
                properties: spec::properties_bytes(&props.value),
                instance: Some(description),
            };
            let resp = FlavorClient::new(target.channel.clone())
                .healthy(ctx.request(req))
                .await
                .map_err(target.error("Flavor/Healthy"))?
                .into_inner();
            output::emit(&render_health(ctx.output, resp.health, &resp.reason)?)?;
        }
        FlavorCommand::Drain { file, instance } => {
            let props = file.read("flavor Properties")?;
            let description = instance.to_spi()?;
            let target = ctx.dial(&name).await?;
            let id = description.id.clone();
            let req = DrainRequest {
                fence: None,
                r#type: target.subtype(),
                properties: spec::properties_bytes(&props.value),
                instance: Some(description),
            };
            FlavorClient::new(target.channel.clone())
                .drain(ctx.request(req))
                .await
                .map_err(target.error("Flavor/Drain"))?;
            output::emit(&format!("drained {id}\n"))?;
        }
    }
    Ok(())
}

/// Renders a health verdict: `HEALTHY`, or `UNHEALTHY: reason`; `{"health", "reason"}` in
/// JSON/YAML with the health in lower case.
pub fn render_health(format: Format, health: i32, reason: &str) -> anyhow::Result<String> {
    let word = match Health::try_from(health) {
        Ok(Health::Healthy) => "healthy",
        Ok(Health::Unhealthy) => "unhealthy",
        Ok(Health::Unknown) | Err(_) => "unknown",
    };
    match format {
        Format::Table if reason.is_empty() => Ok(format!("{}\n", word.to_uppercase())),
        Format::Table => Ok(format!("{}: {reason}\n", word.to_uppercase())),
        f => output::structured(f, &json!({ "health": word, "reason": reason })),
    }
}

// === impl AllocationArgs ===

impl AllocationArgs {
    /// The SPI allocation.
    pub fn to_spi(&self) -> Allocation {
        Allocation {
            size: self.size.unwrap_or(0),
            logical_ids: self.logical_ids.clone(),
        }
    }
}

// === impl InstanceArgs ===

impl InstanceArgs {
    /// The SPI description of the instance (no Properties, no state).
    pub fn to_spi(&self) -> anyhow::Result<InstanceDescription> {
        Ok(InstanceDescription {
            id: self.id.clone(),
            logical_id: self.logical_id.clone(),
            tags: kv::to_map(&self.tags)?,
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_is_printed_with_its_reason() {
        assert_eq!(
            render_health(Format::Table, Health::Healthy as i32, "").unwrap(),
            "HEALTHY\n"
        );
        assert_eq!(
            render_health(Format::Table, Health::Unhealthy as i32, "exited").unwrap(),
            "UNHEALTHY: exited\n"
        );
        let v: serde_json::Value =
            serde_json::from_str(&render_health(Format::Json, 0, "booting").unwrap()).unwrap();
        assert_eq!(v, json!({"health": "unknown", "reason": "booting"}));
    }

    #[test]
    fn allocation_defaults_to_empty() {
        let a = AllocationArgs::default().to_spi();
        assert_eq!((a.size, a.logical_ids.len()), (0, 0));
    }
}
