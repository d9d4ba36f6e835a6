//! The InfraKit plugin SPI, generated from the `.proto` files next to this crate.
//!
//! Layout:
//! - [`plugin::v1`]: `Plugin/Info`, served by every plugin.
//! - [`instance::v1`]: the Instance SPI (providers of machines, containers, processes).
//! - [`flavor::v1`]: the Flavor SPI (what runs on an instance, and whether it is healthy).
//! - [`group::v1`]: the Group SPI (self-healing groups and rolling updates).
//! - [`discovery::v1`]: the Discovery SPI (finding plugins by name).
//! - [`etcd`]: a client of etcd's v3 API (not an SPI), for the group controller's etcd store.
//!
//! Plugin-specific `properties` fields are `bytes` holding UTF-8 JSON.

/// The plugin identity SPI.
pub mod plugin {
    /// Version 1.
    #[allow(missing_docs, clippy::all, unreachable_pub)]
    pub mod v1 {
        tonic::include_proto!("infrakit.plugin.v1");
    }
}

/// The Instance SPI.
pub mod instance {
    /// Version 1.
    #[allow(missing_docs, clippy::all, unreachable_pub)]
    pub mod v1 {
        tonic::include_proto!("infrakit.instance.v1");
    }
}

/// The Flavor SPI.
pub mod flavor {
    /// Version 1.
    #[allow(missing_docs, clippy::all, unreachable_pub)]
    pub mod v1 {
        tonic::include_proto!("infrakit.flavor.v1");
    }
}

/// The Group SPI.
pub mod group {
    /// Version 1.
    #[allow(missing_docs, clippy::all, unreachable_pub)]
    pub mod v1 {
        tonic::include_proto!("infrakit.group.v1");
    }
}

/// The Discovery SPI.
pub mod discovery {
    /// Version 1.
    #[allow(missing_docs, clippy::all, unreachable_pub)]
    pub mod v1 {
        tonic::include_proto!("infrakit.discovery.v1");
    }
}

/// The client of etcd's v3 API (the subset in `proto/etcd/`), for the group controller's etcd
/// store. Not an SPI: no plugin serves it.
pub mod etcd {
    /// `etcdserverpb`: KV, Watch, Lease and Maintenance.
    #[allow(missing_docs, clippy::all, unreachable_pub)]
    pub mod etcdserverpb {
        tonic::include_proto!("etcdserverpb");
    }
    /// `mvccpb`: stored keys and watch events.
    #[allow(missing_docs, clippy::all, unreachable_pub)]
    pub mod mvccpb {
        tonic::include_proto!("mvccpb");
    }
}

/// The encoded `FileDescriptorSet` of every SPI file, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("infrakit_descriptor");

/// The version of this build (the workspace version).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The source revision this build came from (a git commit), or `unknown`.
pub const REVISION: &str = env!("INFRAKIT_REVISION");

/// The version every v1 SPI reports in `Plugin/Info`.
pub const SPI_VERSION: &str = "1.0";

/// Fully qualified gRPC service names, as registered with health and reflection.
pub mod service_names {
    /// `infrakit.plugin.v1.Plugin`.
    pub const PLUGIN: &str = "infrakit.plugin.v1.Plugin";
    /// `infrakit.instance.v1.Instance`.
    pub const INSTANCE: &str = "infrakit.instance.v1.Instance";
    /// `infrakit.flavor.v1.Flavor`.
    pub const FLAVOR: &str = "infrakit.flavor.v1.Flavor";
    /// `infrakit.group.v1.Group`.
    pub const GROUP: &str = "infrakit.group.v1.Group";
    /// `infrakit.discovery.v1.Discovery`.
    pub const DISCOVERY: &str = "infrakit.discovery.v1.Discovery";
}
