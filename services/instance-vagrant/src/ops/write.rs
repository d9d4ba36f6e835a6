//! Writing a new instance's directory.

use crate::plan::Plan;
use crate::record::{self, Loaded, Phase, StateRecord, StoredAttachment, StoredSpec};
use crate::store::Store;
use crate::template::Template;
use crate::vagrantfile::{self, Context};

/// Writes the directory of a new instance: boot.sh, the Vagrantfile, spec, tags, phase.
pub(super) fn instance(
    store: &Store,
    plugin: &str,
    plan: &Plan,
    template: &Template,
) -> std::io::Result<Loaded> {
    use std::os::unix::fs::DirBuilderExt;
    let dir = store.dir(&plan.id);
    let mut builder = std::fs::DirBuilder::new();
    builder.mode(0o700);
    if let Err(e) = builder.create(&dir) {
        if e.kind() != std::io::ErrorKind::AlreadyExists {
            return Err(e);
        }
        // A directory of this ID but no listed instance: a provision cut short by a crash.
        std::fs::remove_dir_all(&dir)?;
        builder.create(&dir)?;
    }
    let written = (|| {
        let cx = Context {
            plugin,
            root: store.root(),
            dir: &dir,
        };
        infrakit_model::atomic::write_mode(
            &dir.join(record::BOOT_SCRIPT),
            vagrantfile::boot_script(plan).as_bytes(),
            0o700,
        )?;
        record::write_atomic(
            &dir.join(record::VAGRANTFILE),
            vagrantfile::render(template, plan, &cx).as_bytes(),
        )?;
        let spec = StoredSpec {
            id: plan.id.clone(),
            logical_id: plan.logical_id.clone(),
            provider: plan.props.provider.as_str().to_string(),
            properties: plan.raw_properties.clone(),
            init: plan.init.clone(),
            attachments: plan
                .attachments
                .iter()
                .map(|(id, kind)| StoredAttachment {
                    id: id.clone(),
                    kind: kind.clone(),
                })
                .collect(),
            created: record::unix_now(),
        };
        record::write_json(&dir.join(record::SPEC_FILE), &spec)?;
        record::write_json(&dir.join(record::TAGS_FILE), &plan.tags)?;
        let state = StateRecord::now(Phase::Creating, Vec::new());
        record::write_json(&dir.join(record::STATE_FILE), &state)?;
        Ok(Loaded {
            spec,
            tags: plan.tags.clone(),
            state,
        })
    })();
    if written.is_err() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    written
}
