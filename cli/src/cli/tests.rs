use super::*;
use crate::commands::flavor::FlavorCommand;
use crate::commands::instance::{InstanceCommand, Reason};
use crate::commands::plugin::PluginCommand;
use crate::input::Source;

fn parse(args: &[&str]) -> Cli {
    let mut argv = vec!["ikctl"];
    argv.extend_from_slice(args);
    Cli::try_parse_from(argv).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn usage_error(args: &[&str]) -> clap::Error {
    let mut argv = vec!["ikctl"];
    argv.extend_from_slice(args);
    let e = Cli::try_parse_from(argv).unwrap_err();
    assert_eq!(e.exit_code(), 2, "{args:?}: {e}");
    e
}

#[test]
fn global_flags_work_before_and_after_the_subcommand() {
    let cli = parse(&[
        "plugin",
        "ls",
        "-o",
        "json",
        "--timeout",
        "2s",
        "--plugins-dir",
        "/p",
    ]);
    assert_eq!(cli.global.output, Format::Json);
    assert_eq!(cli.global.timeout, Some(Duration::from_secs(2)));
    assert_eq!(cli.global.plugins_dir, Some(PathBuf::from("/p")));
    let cli = parse(&["-o", "yaml", "version"]);
    assert_eq!(cli.global.output, Format::Yaml);
    assert!(matches!(cli.command, Command::Version));
}

#[test]
fn the_defaults_are_table_and_15s() {
    let cli = parse(&["plugin", "ls", "-q"]);
    assert_eq!(cli.global.output, Format::Table);
    assert_eq!(cli.global.timeout, None);
    assert_eq!(
        crate::context::Context::new(&cli.global).timeout,
        Duration::from_secs(15)
    );
    assert!(matches!(
        cli.command,
        Command::Plugin(plugin::PluginArgs {
            command: PluginCommand::Ls { quiet: true }
        })
    ));
}

#[test]
fn plugin_may_be_given_before_or_after_the_verb_with_a_subtype() {
    for args in [
        &[
            "instance",
            "--plugin",
            "docker/web",
            "describe",
            "--tags",
            "a=1,b=2",
            "--tags",
            "c=3",
        ][..],
        &[
            "instance",
            "describe",
            "-p",
            "docker/web",
            "--tags",
            "a=1,b=2",
            "--tags",
            "c=3",
        ][..],
    ] {
        let Command::Instance(i) = parse(args).command else {
            panic!("not instance");
        };
        let name = i.plugin.unwrap();
        assert_eq!(
            (name.lookup.as_str(), name.subtype_or_default()),
            ("docker", "web")
        );
        let InstanceCommand::Describe {
            tags,
            properties,
            quiet,
        } = i.command
        else {
            panic!("not describe");
        };
        assert_eq!(tags.len(), 3);
        assert_eq!(tags[2], ("c".to_string(), "3".to_string()));
        assert!(!properties && !quiet);
    }
}

#[test]
fn instance_inputs_default_to_stdin() {
    let Command::Instance(i) = parse(&["instance", "--name", "f", "validate"]).command else {
        panic!("not instance");
    };
    assert!(matches!(
        i.command,
        InstanceCommand::Validate {
            file: Source::Stdin
        }
    ));
}

#[test]
fn destroy_takes_ids_and_a_reason() {
    let Command::Instance(i) = parse(&[
        "instance",
        "-p",
        "f",
        "destroy",
        "a",
        "b",
        "--reason",
        "rolling-update",
    ])
    .command
    else {
        panic!("not instance");
    };
    let InstanceCommand::Destroy { ids, reason } = i.command else {
        panic!("not destroy");
    };
    assert_eq!(ids, ["a", "b"]);
    assert_eq!(reason, Reason::RollingUpdate);
    usage_error(&["instance", "-p", "f", "destroy"]);
    usage_error(&["instance", "-p", "f", "destroy", "a", "--reason", "whim"]);
}

#[test]
fn label_needs_key_value_pairs() {
    usage_error(&["instance", "-p", "f", "label", "i-1"]);
    let e = usage_error(&["instance", "-p", "f", "label", "i-1", "novalue"]);
    assert!(e.to_string().contains("not key=value"), "{e}");
}

#[test]
fn flavor_prepare_takes_spec_allocation_and_index() {
    let Command::Flavor(f) = parse(&[
        "flavor",
        "-p",
        "vanilla",
        "prepare",
        "props.yaml",
        "--spec",
        "-",
        "--logical-ids",
        "a,b",
        "--group",
        "g",
        "--sequence",
        "4",
    ])
    .command
    else {
        panic!("not flavor");
    };
    let FlavorCommand::Prepare {
        file,
        spec,
        allocation,
        group,
        sequence,
    } = f.command
    else {
        panic!("not prepare");
    };
    assert_eq!(file, Source::File("props.yaml".into()));
    assert_eq!(spec, Source::Stdin);
    assert_eq!(allocation.logical_ids, ["a", "b"]);
    assert_eq!((group.as_deref(), sequence), (Some("g"), Some(4)));
}

#[test]
fn size_and_logical_ids_exclude_each_other() {
    usage_error(&[
        "flavor",
        "-p",
        "v",
        "validate",
        "f.json",
        "--size",
        "3",
        "--logical-ids",
        "a",
    ]);
}

#[test]
fn flavor_healthy_needs_an_id() {
    usage_error(&["flavor", "-p", "v", "healthy", "f.json"]);
    let Command::Flavor(f) = parse(&[
        "flavor", "-p", "v", "healthy", "f.json", "--id", "i-1", "--tags", "a=1",
    ])
    .command
    else {
        panic!("not flavor");
    };
    assert!(matches!(f.command, FlavorCommand::Healthy { .. }));
}

#[test]
fn bad_plugin_names_and_formats_are_usage_errors() {
    let e = usage_error(&["instance", "-p", "../etc", "describe"]);
    assert!(e.to_string().contains("must not start with '.'"), "{e}");
    usage_error(&["plugin", "info", "a b"]);
    usage_error(&["-o", "xml", "version"]);
    usage_error(&["--timeout", "soon", "version"]);
    usage_error(&["nonsense"]);
}

#[test]
fn completions_accept_the_common_shells() {
    for shell in ["bash", "zsh", "fish"] {
        assert!(matches!(
            parse(&["completions", shell]).command,
            Command::Completions(_)
        ));
    }
    usage_error(&["completions", "cmd.exe"]);
}

#[test]
fn durations_take_units_and_refuse_zero() {
    assert_eq!(parse_duration("15s"), Ok(Duration::from_secs(15)));
    assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
    assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
    assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
    assert!(parse_duration("0s").is_err());
    assert!(parse_duration("3d").unwrap_err().contains("unknown unit"));
    assert!(parse_duration("").is_err());
}

#[test]
fn the_command_tree_is_consistent() {
    use clap::CommandFactory;
    Cli::command().debug_assert();
}
