//! `ikctl`, the InfraKit command line: a thin gRPC client of the plugins in the plugins
//! directory (and of the discovery service, when one runs).
//!
//! It never links a service crate: it speaks the SPI only, so it drives third-party plugins
//! exactly as it drives ours.
//!
//! Layout:
//! - [`cli`]: the command tree (clap derive) and the global flags.
//! - [`commands`]: one module per noun (`plugin`, `instance`, `flavor`, `group`, `version`,
//!   `completions`), each with its arguments and what running them does.
//! - [`context`]: what every command shares: the plugins directory, the per-call timeout, TLS,
//!   the output format; dialing a plugin by name.
//! - [`rpc`]: turning a failed gRPC call into an error that names the plugin and the call.
//! - [`input`]: reading a JSON or YAML document from a file or stdin.
//! - [`spec`]: InfraKit's JSON shape of an instance spec, to and from the SPI message.
//! - [`kv`]: `key=value` arguments (tags, labels).
//! - [`timestamp`]: protobuf timestamps as RFC 3339 text.
//! - [`output`]: rendering tables, JSON and YAML; writing to stdout.
//! - [`exit`]: mapping an error to the message printed and the exit code.
//!
//! Exit codes: 0 success, 1 failure, 2 usage error, 3 plugin not found (see [`exit::Code`]).

pub mod cli;
pub mod commands;
pub mod context;
pub mod exit;
pub mod input;
pub mod kv;
pub mod output;
pub mod rpc;
pub mod spec;
#[cfg(test)]
mod testing;
pub mod timestamp;

pub use cli::Cli;

use std::ffi::OsString;
use std::process::ExitCode;

/// Runs `ikctl` with these arguments (the first is the program name) and returns the exit
/// code. Errors have been printed on stderr by then.
pub fn main_with<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    use clap::Parser;
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // Help and --version are "errors" too; clap knows their exit codes (0 or 2).
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(exit::Code::Usage as u8));
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return exit::report(&anyhow::Error::new(e).context("cannot start the async runtime"));
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => exit::report(&e),
    }
}
