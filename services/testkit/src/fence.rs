//! The fence check every instance plugin passes: calls from a deposed group owner (a lower
//! epoch than one already seen for the group) are refused, before anything is done, and still
//! after a restart.

use crate::instance::{Instance, fence};
use infrakit_model::tags;
use infrakit_spi::instance::v1::InstanceSpec;
use std::fmt::Debug;

/// Asserts that `r` is the refusal of a call at epoch `older` for `group` after epoch `newer`
/// was seen: `FAILED_PRECONDITION` whose message names the group and both epochs. `what` names
/// the call in the failure message.
pub fn assert_fence_refused<T: Debug>(
    r: Result<T, tonic::Status>,
    group: &str,
    older: u64,
    newer: u64,
    what: &str,
) {
    let st = match r {
        Ok(v) => panic!("{what} at epoch {older} after epoch {newer} was let through: {v:?}"),
        Err(st) => st,
    };
    assert_eq!(
        st.code(),
        tonic::Code::FailedPrecondition,
        "{what}: {}",
        st.message()
    );
    let msg = st.message();
    for part in [
        format!("{group:?}"),
        format!("epoch {older} "),
        format!("epoch {newer} "),
    ] {
        assert!(msg.contains(&part), "{what}: {part:?} not in {msg:?}");
    }
}

impl Instance {
    /// Checks that the plugin honours fences as the SPI describes them (`Fence` in
    /// `instance.proto`), with instances made from `base` (which must provision quickly):
    ///
    /// 1. Provision for group `g` at epoch 5 is let through.
    /// 2. Provision, Label and Destroy for `g` at epoch 3 are refused (`FAILED_PRECONDITION`
    ///    naming both epochs); the refused Provision made nothing, the instance is still listed.
    /// 3. Label at epoch 5 again, Provision for group `h` at epoch 1, and Label without a fence
    ///    are let through.
    /// 4. `restart` stops the plugin, starts it again on the same state and returns a client
    ///    of the new process; there, Provision for `g` at epoch 3 is still refused and Label at
    ///    epoch 5 is let through.
    ///
    /// Returns the IDs provisioned, for the caller to clean up.
    pub fn assert_fences(
        mut self,
        base: &InstanceSpec,
        restart: impl FnOnce() -> Instance,
    ) -> Vec<String> {
        let run = infrakit_runtime::socket::random_hex(4);
        let spec = |group: &str| {
            let mut s = base.clone();
            s.tags.insert(tags::GROUP.to_string(), group.to_string());
            s.tags.insert("fence-run".to_string(), run.clone());
            s
        };
        let ids = |c: &mut Instance| {
            let mut v: Vec<String> = c
                .describe(&[("fence-run", &run)])
                .into_iter()
                .map(|d| d.id)
                .collect();
            v.sort();
            v
        };

        let g = self
            .provision_fenced(spec("g"), fence("g", 5))
            .expect("Provision at epoch 5");
        let before = ids(&mut self);
        assert_eq!(
            before,
            std::slice::from_ref(&g),
            "the instance of epoch 5 is listed"
        );
        let stale = self.provision_fenced(spec("g"), fence("g", 3));
        assert_fence_refused(stale, "g", 3, 5, "Provision");
        let stale = self.label_fenced(&g, &[("stale", "yes")], fence("g", 3));
        assert_fence_refused(stale, "g", 3, 5, "Label");
        let stale = self.destroy_fenced(&g, fence("g", 3));
        assert_fence_refused(stale, "g", 3, 5, "Destroy");
        assert_eq!(ids(&mut self), before, "refused calls changed nothing");
        let labels = self.find(&g).expect("listed").tags;
        assert!(
            !labels.contains_key("stale"),
            "the refused Label changed nothing"
        );

        self.label_fenced(&g, &[("owner", "5")], fence("g", 5))
            .expect("Label at the epoch seen");
        let h = self
            .provision_fenced(spec("h"), fence("h", 1))
            .expect("Provision for another group at a lower epoch");
        self.label_fenced(&g, &[("unfenced", "yes")], None)
            .expect("Label without a fence");

        drop(self);
        let mut c = restart();
        let stale = c.provision_fenced(spec("g"), fence("g", 3));
        assert_fence_refused(stale, "g", 3, 5, "Provision after a restart");
        c.label_fenced(&g, &[("owner", "5 again")], fence("g", 5))
            .expect("Label at the epoch seen, after a restart");
        let mut after = vec![g, h];
        after.sort();
        assert_eq!(ids(&mut c), after, "only the instances let through exist");
        after
    }
}
