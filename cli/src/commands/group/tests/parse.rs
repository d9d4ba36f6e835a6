use super::super::*;
use crate::cli::{Cli, Command, GlobalArgs};
use crate::exit::{Code, code_of};
use crate::input::Source;
use clap::Parser;

fn parse(args: &[&str]) -> (GlobalArgs, GroupArgs) {
    let mut argv = vec!["ikctl"];
    argv.extend_from_slice(args);
    let Cli { global, command } =
        Cli::try_parse_from(argv).unwrap_or_else(|e| panic!("{args:?}: {e}"));
    let Command::Group(g) = command else {
        panic!("not group");
    };
    (global, g)
}

fn usage_error(args: &[&str]) -> clap::Error {
    let mut argv = vec!["ikctl"];
    argv.extend_from_slice(args);
    let e = Cli::try_parse_from(argv).unwrap_err();
    assert_eq!(e.exit_code(), 2, "{args:?}: {e}");
    e
}

#[test]
fn commit_watch_and_update_are_one_verb() {
    for verb in ["commit", "watch", "update"] {
        let (_, g) = parse(&["group", verb, "cattle.yaml", "--pretend"]);
        let GroupCommand::Commit(c) = g.command else {
            panic!("not commit");
        };
        assert_eq!(c.file, Source::File("cattle.yaml".into()));
        assert!(c.dry_run && !c.wait);
    }
    let (_, g) = parse(&["group", "commit", "-", "--dry-run"]);
    assert!(matches!(g.command, GroupCommand::Commit(c) if c.file == Source::Stdin && c.dry_run));
    usage_error(&["group", "commit"]);
}

#[test]
fn wait_takes_the_global_timeout_and_refuses_a_dry_run() {
    let (global, g) = parse(&["group", "commit", "f.json", "--wait", "--timeout", "2m"]);
    assert_eq!(global.timeout, Some(Duration::from_secs(120)));
    assert!(matches!(g.command, GroupCommand::Commit(c) if c.wait));
    usage_error(&["group", "commit", "f.json", "--wait", "--dry-run"]);
    let (_, g) = parse(&["group", "destroy", "cattle", "--wait"]);
    assert!(matches!(
        g.command,
        GroupCommand::Destroy { wait: true, .. }
    ));
}

#[test]
fn waiting_bounds_the_whole_command_and_each_call() {
    let (global, _) = parse(&["group", "ls"]);
    let ctx = Context::new(&global);
    let w = Waiting::new(&ctx, None);
    assert_eq!(
        (w.limit, w.ctx.timeout),
        (DEFAULT_WAIT, DEFAULT_CALL_TIMEOUT)
    );
    let w = Waiting::new(&ctx, Some(Duration::from_secs(2)));
    assert_eq!(
        (w.limit, w.ctx.timeout),
        (Duration::from_secs(2), Duration::from_secs(2))
    );
}

#[test]
fn the_plugin_defaults_to_group_and_may_come_after_the_verb() {
    let (_, g) = parse(&["group", "describe", "cattle", "-q"]);
    assert!(g.plugin.is_none());
    assert!(
        matches!(g.command, GroupCommand::Describe { id: Some(ref id), quiet: true } if id == "cattle")
    );
    let (_, g) = parse(&["group", "describe", "--plugin", "mygroup/workers"]);
    let name = g.plugin.unwrap();
    assert_eq!(
        (name.lookup.as_str(), name.subtype.as_deref()),
        ("mygroup", Some("workers"))
    );
    let (_, g) = parse(&["group", "--name", "g2", "ls", "-q"]);
    assert_eq!(g.plugin.unwrap().lookup, "g2");
    usage_error(&["group", "-p", "../x", "ls"]);
}

#[test]
fn the_subtype_is_the_default_group_id() {
    let name = PluginName::parse("group/workers").unwrap();
    assert_eq!(group_id(None, &name).unwrap(), "workers");
    assert_eq!(group_id(Some("cattle".into()), &name).unwrap(), "cattle");
    let err = group_id(None, &PluginName::parse("group").unwrap()).unwrap_err();
    assert_eq!(code_of(&err), Code::Usage);
}

#[test]
fn aliases_and_arguments_of_the_other_verbs() {
    let (_, g) = parse(&["group", "unwatch", "cattle"]);
    assert!(matches!(g.command, GroupCommand::Free { .. }));
    let (_, g) = parse(&["group", "scale", "cattle", "10"]);
    assert!(matches!(g.command, GroupCommand::SetSize { size: 10, .. }));
    let (_, g) = parse(&["group", "stop-update", "cattle"]);
    assert!(matches!(g.command, GroupCommand::StopUpdate { .. }));
    let (_, g) = parse(&["group", "destroy-instances", "cattle", "i-1", "i-2"]);
    let GroupCommand::DestroyInstances { id, instances } = g.command else {
        panic!("not destroy-instances");
    };
    assert_eq!((id.as_str(), instances.len()), ("cattle", 2));
    let (_, g) = parse(&["group", "events", "cattle", "-f"]);
    assert!(matches!(
        g.command,
        GroupCommand::Events { follow: true, .. }
    ));
    let (_, g) = parse(&["group", "inspect"]);
    assert!(matches!(g.command, GroupCommand::Inspect { id: None }));
    usage_error(&["group", "destroy-instances", "cattle"]);
    usage_error(&["group", "set-size", "cattle", "-1"]);
    usage_error(&["group", "set-size", "cattle"]);
}
