//! `infrakit-discovery`: tells clients which plugins exist, where, and whether they are healthy.
//!
//! It watches the plugins directory (inotify plus a rescan every second), probes each plugin's
//! `Plugin/Info` and `grpc.health.v1` (at once for a new plugin, then every few seconds), and
//! keeps registrations of TCP plugins for as long as their lease is renewed.
//!
//! Layout:
//! - [`registry`]: the known plugins (one entry per registration of a name) and the change events.
//! - [`order`]: which replica of a name is offered first.
//! - [`probe`]: asking a plugin for its info and health.
//! - [`scanner`]: the loop that keeps the registry in line with the directory and the leases.
//! - [`service`]: the `infrakit.discovery.v1.Discovery` gRPC service.

pub mod order;
pub mod probe;
pub mod registry;
pub mod scanner;
pub mod service;

/// The plugin kind; its default name is `discovery`.
pub const KIND: &str = "discovery";
