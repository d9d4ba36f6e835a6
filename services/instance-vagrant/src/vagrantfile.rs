//! What goes into an instance's directory: the Vagrantfile (a template rendered with the
//! instance's values) and `boot.sh` (the Init script).
//!
//! How the Init script runs:
//! - **docker**: there is no ssh, so no shell provisioner. The script is the container's
//!   command, run by the image's `/bin/sh`: `/bin/sh -c "<Init>"`, or with `Command`,
//!   `/bin/sh -c "<Init>\nexec \"$@\"" sh <Command...>` (the script runs first, then execs the
//!   command). Without Init the container runs `Command`, or the image's own command.
//! - **virtualbox**: `boot.sh` is the shell provisioner, as in the original plugin.

use crate::naming::Identity;
use crate::plan::Plan;
use crate::properties::{Provider, RESERVED_PREFIX};
use crate::template::{self, Template, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// The label holding the instance ID.
pub const ID_LABEL: &str = "infrakit.instance-vagrant.id";
/// The label holding the plugin's name.
pub const PLUGIN_LABEL: &str = "infrakit.instance-vagrant.plugin";
/// The label holding the plugin's instances directory (which plugin owns a leftover).
pub const DIR_LABEL: &str = "infrakit.instance-vagrant.dir";

/// The memory a virtualbox VM gets when `Memory` is not set, in MiB (the original's default).
pub const VIRTUALBOX_MEMORY_MIB: u64 = 512;

/// Where the files go and who owns them.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    /// The plugin's name.
    pub plugin: &'a str,
    /// The instances directory (the parent of `dir`).
    pub root: &'a Path,
    /// The instance's directory.
    pub dir: &'a Path,
}

/// The container labels: ownership, the tags, and the user's `Labels`.
pub fn labels(plan: &Plan, cx: &Context<'_>) -> BTreeMap<String, String> {
    let mut out = plan.props.labels.clone();
    out.extend(plan.tags.clone());
    out.insert(ID_LABEL.to_string(), plan.id.clone());
    out.insert(PLUGIN_LABEL.to_string(), cx.plugin.to_string());
    out.insert(DIR_LABEL.to_string(), cx.root.display().to_string());
    debug_assert!(ID_LABEL.starts_with(RESERVED_PREFIX));
    out
}

/// The content of `boot.sh`.
pub fn boot_script(plan: &Plan) -> String {
    let mut s = plan.init.clone();
    if plan.props.provider == Provider::Docker && !plan.props.command.is_empty() && !s.is_empty() {
        if !s.ends_with('\n') {
            s.push('\n');
        }
        s.push_str("exec \"$@\"\n");
    }
    s
}

/// The container's command (docker).
fn command(plan: &Plan) -> Vec<String> {
    if plan.init.is_empty() {
        return plan.props.command.clone();
    }
    let mut cmd = vec!["/bin/sh".to_string(), "-c".to_string(), boot_script(plan)];
    if !plan.props.command.is_empty() {
        cmd.push("sh".to_string());
        cmd.extend(plan.props.command.iter().cloned());
    }
    cmd
}

/// `docker run` arguments beyond what Vagrant adds itself.
fn create_args(plan: &Plan, labels: &BTreeMap<String, String>) -> Vec<String> {
    let p = &plan.props;
    // Never pull: an image that is not on the engine fails at once, without any network access.
    let mut args = vec!["--pull".to_string(), "never".to_string()];
    for (k, v) in labels {
        args.push("--label".to_string());
        args.push(format!("{k}={v}"));
    }
    if let Some(m) = p.memory_mib {
        args.extend(["--memory".to_string(), format!("{m}m")]);
    }
    if let Some(c) = p.cpus {
        args.extend(["--cpus".to_string(), c.to_string()]);
    }
    if let Some(n) = &p.network {
        args.extend(["--network".to_string(), n.clone()]);
    }
    if let Identity::Ip(ip) = &plan.identity {
        let flag = if ip.is_ipv4() { "--ip" } else { "--ip6" };
        args.extend([flag.to_string(), ip.to_string()]);
    }
    args
}

/// The values of every placeholder for this instance.
pub fn values(plan: &Plan, cx: &Context<'_>) -> BTreeMap<&'static str, Value> {
    let p = &plan.props;
    let labels = labels(plan, cx);
    let hostname = match &plan.identity {
        Identity::Hostname(h) => h.clone(),
        Identity::None | Identity::Ip(_) => plan.id.clone(),
    };
    let (memory, cpus) = match p.provider {
        Provider::Docker => (p.memory_mib, p.cpus),
        Provider::Virtualbox => (
            Some(p.memory_mib.unwrap_or(VIRTUALBOX_MEMORY_MIB)),
            Some(p.cpus.unwrap_or(1.0)),
        ),
    };
    let ip = match &plan.identity {
        Identity::Ip(ip) => Some(ip.to_string()),
        _ => None,
    };
    BTreeMap::from([
        ("ID", Value::Str(plan.id.clone())),
        ("NAME", Value::Str(plan.id.clone())),
        ("HOSTNAME", Value::Str(hostname)),
        ("PROVIDER", Value::Str(p.provider.as_str().to_string())),
        ("IMAGE", Value::opt(p.image.as_deref())),
        ("BOX", Value::opt(p.box_name.as_deref())),
        ("MEMORY", memory.map_or(Value::Nil, Value::Int)),
        ("CPUS", cpus.map_or(Value::Nil, Value::Num)),
        ("IP", Value::opt(ip.as_deref())),
        ("LOGICAL_ID", Value::opt(plan.logical_id.as_deref())),
        ("NETWORK", Value::opt(p.network.as_deref())),
        ("CMD", Value::List(command(plan))),
        ("ENV", Value::Map(p.env.clone())),
        ("CREATE_ARGS", Value::List(create_args(plan, &labels))),
        ("LABELS", Value::Map(labels)),
        ("TAGS", Value::Map(plan.tags.clone())),
        ("INIT", Value::Str(plan.init.clone())),
        (
            "BOOT_SCRIPT",
            Value::Str(cx.dir.join("boot.sh").display().to_string()),
        ),
        ("DIR", Value::Str(cx.dir.display().to_string())),
    ])
}

/// The built-in template of a provider.
pub fn built_in(provider: Provider) -> Template {
    let text = match provider {
        Provider::Docker => template::DOCKER,
        Provider::Virtualbox => template::VIRTUALBOX,
    };
    // The built-in templates use only known placeholders (a unit test parses both), so the
    // fallback is never taken.
    Template::parse(text).unwrap_or_else(|_| Template::text(text))
}

/// The Vagrantfile for `plan`, from `template`.
pub fn render(template: &Template, plan: &Plan, cx: &Context<'_>) -> String {
    template.render(&values(plan, cx))
}

#[cfg(test)]
mod tests;
