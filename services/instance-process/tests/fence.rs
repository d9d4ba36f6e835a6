//! A deposed group owner (a lower epoch than one seen for the group) is refused before any
//! process starts, also after the plugin was killed and started again.

use crate::support::*;
use serde_json::json;

#[test]
fn a_deposed_group_owner_is_refused_also_after_a_crash() {
    let mut env = Env::new();
    let first = env.start_plugin();
    let before = env.instance_processes().len();
    let c = env.client();
    let ids = c.assert_fences(&spec(json!({"Command": "exec sleep 1000"}), &[]), || {
        // kill -9: the epochs must already be on disk; the instances outlive the plugin.
        env.proc(first).kill();
        env.start_plugin();
        env.client()
    });
    wait_until("one process per instance let through", || {
        env.instance_processes().len() == before + ids.len()
    });
}
