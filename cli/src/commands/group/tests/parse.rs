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
    assert!(matches!(
        g.command,
        GroupCommand::SetSize { size: Some(10), .. }
    ));
    let (_, g) = parse(&["group", "stop-update", "cattle"]);
    assert!(matches!(g.command, GroupCommand::StopUpdate { .. }));
    let (_, g) = parse(&["group", "destroy-instances", "cattle", "i-1", "i-2"]);
    let GroupCommand::DestroyInstances { args } = g.command else {
        panic!("not destroy-instances");
    };
    assert_eq!(args, ["cattle", "i-1", "i-2"]);
    let (_, g) = parse(&["group", "pause", "cattle", "--reason", "kernel upgrade"]);
    assert!(
        matches!(g.command, GroupCommand::Pause { id: Some(ref id), ref reason } if id == "cattle" && reason == "kernel upgrade")
    );
    let (_, g) = parse(&["group", "-p", "group/cattle", "resume"]);
    assert!(matches!(g.command, GroupCommand::Resume { id: None }));
    let (_, g) = parse(&["group", "events", "cattle", "-f"]);
    assert!(matches!(
        g.command,
        GroupCommand::Events { follow: true, .. }
    ));
    let (_, g) = parse(&["group", "inspect"]);
    assert!(matches!(g.command, GroupCommand::Inspect { id: None }));
    usage_error(&["group", "destroy-instances"]);
    usage_error(&["group", "set-size", "cattle", "-1"]);
    usage_error(&["group", "set-size", "cattle", "ten"]);
    usage_error(&["group", "set-size", "cattle", "10", "11"]);
}

#[test]
fn commit_prints_the_counts_and_steps_only_when_verbose() {
    let (_, g) = parse(&["group", "commit", "f.json", "--pretend"]);
    assert!(matches!(g.command, GroupCommand::Commit(c) if !c.verbose));
    let (_, g) = parse(&["group", "commit", "f.json", "--pretend", "-v"]);
    assert!(matches!(g.command, GroupCommand::Commit(c) if c.verbose));
}

#[test]
fn scale_takes_the_group_from_the_plugin_name_as_infrakit_did() {
    use args::{Scale, scale};
    let plain = PluginName::parse("group").unwrap();
    let named = PluginName::parse("group/cattle").unwrap();
    let cases = [
        (Some("web"), Some(5), &plain, Scale::Set("web".into(), 5)),
        (Some("web"), None, &plain, Scale::Show("web".into())),
        (None, None, &named, Scale::Show("cattle".into())),
        (Some("5"), None, &named, Scale::Set("cattle".into(), 5)),
        (Some("web"), None, &named, Scale::Show("web".into())),
        (Some("web"), Some(2), &named, Scale::Set("web".into(), 2)),
        (Some("+5"), None, &named, Scale::Show("+5".into())),
    ];
    for (id, size, name, want) in cases {
        assert_eq!(
            scale(id.map(str::to_string), size, name).unwrap(),
            want,
            "{id:?} {size:?} {name}"
        );
    }
    let err = scale(None, None, &plain).unwrap_err();
    assert_eq!(code_of(&err), Code::Usage);
}

#[test]
fn destroy_instances_takes_the_group_from_the_plugin_name_as_infrakit_did() {
    use args::destroy_instances;
    let v = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let plain = PluginName::parse("group").unwrap();
    let named = PluginName::parse("group/cattle").unwrap();
    assert_eq!(
        destroy_instances(v(&["web", "i-1", "i-2"]), &plain).unwrap(),
        ("web".to_string(), v(&["i-1", "i-2"]))
    );
    assert_eq!(
        destroy_instances(v(&["i-1", "i-2"]), &named).unwrap(),
        ("cattle".to_string(), v(&["i-1", "i-2"]))
    );
    let err = destroy_instances(v(&["i-1"]), &plain).unwrap_err();
    assert_eq!(code_of(&err), Code::Usage);
    assert!(err.to_string().contains("--plugin group/ID"), "{err}");
}
