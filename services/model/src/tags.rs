//! Tag names the group controller writes on the instances it manages.

/// The group an instance belongs to; the membership query filters on it.
pub const GROUP: &str = "infrakit.group";
/// The config hash (of the group's Instance and Flavor sections) an instance was created with.
pub const CONFIG_HASH: &str = "infrakit.config.hash";
/// The logical ID of a pet, for plugins that cannot store one natively.
pub const LOGICAL_ID: &str = "infrakit.logical_id";
/// A unique token per provision, so that an instance whose Provision reply was lost is adopted
/// instead of provisioned twice.
pub const PROVISION_TOKEN: &str = "infrakit.provision.token";
