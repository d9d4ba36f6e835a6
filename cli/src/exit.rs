//! From an error to what the user sees: the lines printed on stderr and the exit code.
//!
//! | code | when |
//! | --- | --- |
//! | 0 | success; also when stdout is closed early (e.g. piped into `head`) |
//! | 1 | any failure: a plugin refused or failed a call, stopped answering, bad input file |
//! | 2 | usage: bad flags or arguments (clap's own code), or a usage error found later |
//! | 3 | the plugin named does not exist (the message lists those that do) |

use crate::output::StdoutError;
use crate::rpc::RpcError;
use crate::spec::InvalidDocument;
use infrakit_runtime::dial::DialError;
use std::process::ExitCode;

/// `ikctl`'s exit codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Code {
    /// Success.
    Success = 0,
    /// A failure.
    Failure = 1,
    /// A usage error.
    Usage = 2,
    /// No plugin of that name.
    PluginNotFound = 3,
}

/// A usage error found after parsing (e.g. two inputs both from stdin); exits 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// An error whose message has already been printed (e.g. one of several destroys failed);
/// exits 1 without printing anything more.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Reported(pub String);

/// The exit code for an error.
pub fn code_of(err: &anyhow::Error) -> Code {
    if is_broken_pipe(err) {
        return Code::Success;
    }
    if let Some(d) = find::<DialError>(err) {
        return match d {
            DialError::NotFound { .. } => Code::PluginNotFound,
            DialError::BadName(_) => Code::Usage,
            _ => Code::Failure,
        };
    }
    if find::<UsageError>(err).is_some() {
        return Code::Usage;
    }
    Code::Failure
}

/// The lines to print on stderr for an error, each starting with `error: `. Field violations
/// (from the plugin or from checking an input file) are printed one per line.
pub fn messages(err: &anyhow::Error) -> Vec<String> {
    if is_broken_pipe(err) || find::<Reported>(err).is_some() {
        return Vec::new();
    }
    if let Some(rpc) = find::<RpcError>(err) {
        let violations = rpc.violations();
        if !violations.is_empty() {
            return violations.iter().map(|v| format!("error: {v}")).collect();
        }
    }
    if let Some(doc) = find::<InvalidDocument>(err) {
        return doc
            .violations
            .0
            .iter()
            .map(|v| format!("error: {}: {v}", doc.origin))
            .collect();
    }
    vec![format!("error: {err:#}")]
}

/// Prints the error's messages on stderr and returns its exit code.
pub fn report(err: &anyhow::Error) -> ExitCode {
    for line in messages(err) {
        eprintln!("{line}");
    }
    ExitCode::from(code_of(err) as u8)
}

fn find<T: std::error::Error + Send + Sync + 'static>(err: &anyhow::Error) -> Option<&T> {
    err.chain().find_map(|e| e.downcast_ref::<T>())
}

/// Only stdout's broken pipe counts: a plugin's connection breaking is a failure.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    find::<StdoutError>(err).is_some_and(|e| e.0.kind() == std::io::ErrorKind::BrokenPipe)
}

#[cfg(test)]
mod tests;
