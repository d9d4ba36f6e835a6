//! A deposed group owner (a lower epoch than one seen for the group) is refused before any
//! machine is written or started, also after the plugin was killed and started again.

use crate::support::*;

#[test]
fn a_deposed_group_owner_is_refused_also_after_a_crash() {
    let Some(mut env) = Env::new("fence") else {
        return;
    };
    let image = env.build_image("1");
    let first = env.start_plugin(&[]);
    let c = env.client();
    let base = spec(serde_json::json!({"Image": image}), &[], SERVE, None);
    let ids = c.assert_fences(&base, || {
        // kill -9 (during vagrant up): the epochs must already be on disk.
        env.proc(first).kill();
        env.start_plugin(&[]);
        env.client()
    });
    assert_eq!(
        env.instance_dirs(),
        ids,
        "one directory per Provision let through"
    );
}
