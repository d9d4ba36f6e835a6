//! Integration tests: the real binaries over real sockets. Build them first with
//! `cargo build --workspace --bins`; `.ci/setup` installs grpcurl and Python's grpcio-tools.

mod support;

mod discovery;
mod file_plugin;
mod grpcurl;
mod ikctl;
mod plugin_host;
mod python_client;
