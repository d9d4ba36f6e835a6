//! `infrakit-bench`: measures the mesh against the group controller's speed targets and prints a
//! markdown table (or `--json`). See the library documentation for what is measured.

use clap::Parser;
use infrakit_bench::args::Args;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = Args::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("infrakit-bench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // On Ctrl-C the scenario's future is dropped, which kills its processes and removes its
    // directory.
    let result = rt.block_on(async {
        tokio::select! {
            r = infrakit_bench::run(&args) => r,
            _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
        }
    });
    match result {
        Ok(report) => {
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report.json()).unwrap_or_default()
                );
            } else {
                print!("{}", report.markdown());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("infrakit-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}
