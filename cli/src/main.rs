//! The `ikctl` binary; everything lives in the library (see `ikctl::main_with`).

use std::process::ExitCode;

fn main() -> ExitCode {
    ikctl::main_with(std::env::args_os())
}
