use super::*;

const T: Duration = Duration::from_secs(60);

fn node(state: NodeState, manager: bool, reach: Option<Reachability>) -> NodeView {
    NodeView {
        id: "n1".into(),
        hostname: "h1".into(),
        state: Some(state),
        manager,
        reachability: reach,
        ..Default::default()
    }
}

#[test]
fn no_node_is_unknown_within_the_join_timeout_then_unhealthy() {
    let v = judge(Role::Worker, &[], Duration::from_secs(5), T);
    assert_eq!(v.health, Health::Unknown);
    assert_eq!(v.recheck_after, WAITING_RECHECK);
    assert!(v.reason.contains("waited 5s of JoinTimeout 60s"), "{v:?}");
    let v = judge(Role::Worker, &[], T, T);
    assert_eq!(v.health, Health::Unhealthy);
    assert!(v.reason.contains("did not join"), "{v:?}");
}

#[test]
fn a_ready_worker_is_healthy_and_a_down_one_is_not() {
    let v = judge(Role::Worker, &[node(NodeState::READY, false, None)], T, T);
    assert_eq!(v.health, Health::Healthy);
    assert_eq!(v.reason, "node h1 (n1) is ready");
    let v = judge(Role::Worker, &[node(NodeState::DOWN, false, None)], T, T);
    assert_eq!(
        (v.health, v.reason.as_str()),
        (Health::Unhealthy, "node h1 (n1) is down")
    );
    let v = judge(Role::Worker, &[node(NodeState::UNKNOWN, false, None)], T, T);
    assert_eq!(v.health, Health::Unknown);
}

#[test]
fn a_ready_node_wins_over_a_stale_down_one() {
    let stale = node(NodeState::DOWN, false, None);
    let v = judge(
        Role::Worker,
        &[stale, node(NodeState::READY, false, None)],
        T,
        T,
    );
    assert_eq!(v.health, Health::Healthy);
}

#[test]
fn managers_must_be_reachable_managers() {
    let ready = |m, r| judge(Role::Manager, &[node(NodeState::READY, m, r)], T, T).health;
    assert_eq!(ready(true, Some(Reachability::REACHABLE)), Health::Healthy);
    assert_eq!(
        ready(true, Some(Reachability::UNREACHABLE)),
        Health::Unhealthy
    );
    assert_eq!(ready(true, None), Health::Unknown);
    assert_eq!(ready(false, None), Health::Unhealthy);
    // A worker instance promoted by hand still does its job.
    let v = judge(
        Role::Worker,
        &[node(NodeState::READY, true, Some(Reachability::REACHABLE))],
        T,
        T,
    );
    assert_eq!(v.health, Health::Healthy);
}

#[test]
fn memory_counts_the_wait_from_the_first_question() {
    let t0 = Instant::now();
    let mut m = Memory::new(t0);
    assert_eq!(m.asked("l", false, t0), Duration::ZERO);
    assert_eq!(
        m.asked("l", false, t0 + Duration::from_secs(7)),
        Duration::from_secs(7)
    );
    assert_eq!(
        m.asked("l", true, t0 + Duration::from_secs(8)),
        Duration::ZERO
    );
    // Once found, a later absence starts a new wait.
    assert_eq!(
        m.asked("l", false, t0 + Duration::from_secs(9)),
        Duration::ZERO
    );
}

#[test]
fn links_are_forgotten_only_after_the_plugin_and_the_link_were_quiet_long_enough() {
    let t0 = Instant::now();
    let mut m = Memory::new(t0);
    let early = t0 + Duration::from_secs(1);
    assert!(!m.is_forgotten(Some("x"), early), "too soon after start");
    m.asked("live", true, t0 + Duration::from_secs(10));
    let later = t0 + Duration::from_secs(20);
    assert!(m.is_forgotten(Some("x"), later));
    assert!(m.is_forgotten(None, later));
    assert!(!m.is_forgotten(Some("live"), later));
    assert!(m.is_forgotten(Some("live"), t0 + Duration::from_secs(26)));
}

#[test]
fn sweeps_are_spaced_per_group() {
    let t0 = Instant::now();
    let mut m = Memory::new(t0);
    assert!(m.sweep_due("g", t0));
    assert!(!m.sweep_due("g", t0 + Duration::from_secs(1)));
    assert!(m.sweep_due("h", t0 + Duration::from_secs(1)));
    assert!(m.sweep_due("g", t0 + SWEEP_EVERY));
    m.prune(t0 + Duration::from_secs(7200));
    assert!(m.sweep_due("g", t0 + Duration::from_secs(7200)));
}
