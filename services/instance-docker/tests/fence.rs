//! A deposed group owner (a lower epoch than one seen for the group) is refused before any
//! container is created, also after the plugin was killed and started again.

use crate::support::*;
use serde_json::json;

#[test]
fn a_deposed_group_owner_is_refused_also_after_a_crash() {
    let Some(mut env) = Env::new("fence") else {
        return;
    };
    let image = env.build_image("busybox", "1", true);
    let first = env.start_plugin();
    let name = env.plugin_name();
    let c = env.instance_client(&name);
    let base = spec(json!({"Image": image, "Command": ["sleep", "3600"]}), &[]);
    let ids = c.assert_fences(&base, || {
        // kill -9: the epochs must already be on disk.
        env.proc(first).kill();
        env.start_plugin();
        env.instance_client(&name)
    });
    let made = containers(&[env.marker_filter()]);
    assert_eq!(
        made.len(),
        ids.len(),
        "one container per Provision let through: {made:?}"
    );
}
