//! `ikctl completions SHELL`: a completion script generated from the command tree.

use crate::cli::Cli;
use crate::output;
use clap::CommandFactory;

/// Arguments of `ikctl completions`.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Renders the script. (Generated into memory first: clap_complete panics when its writer
/// fails, and stdout may be a closed pipe.)
pub fn render(shell: clap_complete::Shell) -> String {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "ikctl", &mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

/// Prints the script.
pub fn run(args: CompletionsArgs) -> anyhow::Result<()> {
    output::emit(&render(args.shell))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap_complete::Shell;

    #[test]
    fn scripts_mention_the_nouns() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let s = render(shell);
            for noun in ["plugin", "instance", "flavor", "completions"] {
                assert!(s.contains(noun), "{shell:?} script lacks {noun}");
            }
        }
    }
}
