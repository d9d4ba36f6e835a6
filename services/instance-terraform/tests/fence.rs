//! A deposed group owner (a lower epoch than one seen for the group) is refused before anything
//! is written to the working directory, also after the plugin was killed and started again.

use crate::support::*;
use infrakit_testkit::spec;
use serde_json::json;

#[test]
fn a_deposed_group_owner_is_refused_also_after_a_crash() {
    let Some(mut env) = Env::new("fence") else {
        return;
    };
    let first = env.start_plugin(&[]);
    let c = env.client();
    let base = spec(
        json!({"resource": {"terraform_data": {"input": {"v": 1}}}}),
        &[],
    );
    let ids = c.assert_fences(&base, || {
        // kill -9: the epochs must already be on disk.
        env.proc(first).kill();
        env.start_plugin(&[]);
        env.client()
    });
    wait_until("one file per Provision let through", || {
        env.instance_files().len() == ids.len()
    });
    assert!(env.work().join(".infrakit/.fences.json").exists());
}
