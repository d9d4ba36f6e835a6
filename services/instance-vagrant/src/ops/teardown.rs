//! Taking instances down: Destroy (`vagrant destroy -f`, the containers labelled with the ID,
//! the directory) and the cleanup after a machine that vanished behind the plugin's back.

use super::{DestroyResult, Inner, vagrant_leftover};
use crate::properties::Provider;
use crate::record::Phase;
use crate::vagrant::Outcome;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

// === impl Inner ===

impl Inner {
    /// Starts destroying instance `id` (or joins a destroy under way); the result arrives on
    /// the returned channel. `None` when there is no such instance.
    pub fn start_destroy(self: &Arc<Self>, id: &str) -> Option<watch::Receiver<DestroyResult>> {
        let entry = self.store.get(id)?;
        let mut ops = self.ops();
        let o = ops.entry(id.to_string()).or_default();
        if let Some(rx) = &o.destroy {
            return Some(rx.clone());
        }
        let (tx, rx) = watch::channel(None);
        o.destroy = Some(rx.clone());
        if let Some(c) = &o.cancel_up {
            c.cancel();
        }
        let up = o.up.take();
        drop(ops);
        if entry.state.phase != Phase::Destroying
            && let Err(e) = self.store.set_phase(id, Phase::Destroying, Vec::new())
        {
            tracing::warn!(%id, error = %e, "cannot record the destroy");
        }
        let me = self.clone();
        let id = id.to_string();
        tokio::spawn(async move {
            if let Some(up) = up {
                let _ = up.await;
            }
            let result = me.destroy(&id, &entry.spec.provider).await;
            match &result {
                Ok(()) => tracing::info!(%id, "destroyed"),
                Err(e) => {
                    tracing::warn!(%id, error = %e, "destroy failed");
                    let output = vec![format!("destroy failed: {e}")];
                    if let Err(e) = me.store.set_phase(&id, Phase::Failed, output) {
                        tracing::warn!(%id, error = %e, "cannot record the failed destroy");
                    }
                }
            }
            me.ops().remove(&id);
            let _ = tx.send(Some(result));
        });
        Some(rx)
    }

    /// `vagrant destroy -f`, then the containers labelled with the ID, then the directory.
    async fn destroy(&self, id: &str, provider: &str) -> Result<(), String> {
        let dir = self.store.dir(id);
        vagrant_leftover(&dir).await;
        let store = self.store.clone();
        let run = self
            .cfg
            .vagrant
            .run(
                &dir,
                &["destroy", "-f"],
                // Not cancelled by shutdown: an unfinished destroy resumes after a restart.
                &CancellationToken::new(),
                self.cfg.destroy_timeout,
                |l| store.set_progress(id, l),
            )
            .await;
        let vagrant_error = match run {
            Ok(r) if r.outcome == Outcome::Success => None,
            Ok(r) => Some(format!(
                "vagrant destroy -f: {:?}: {}",
                r.outcome,
                r.tail.join(" | ")
            )),
            Err(e) => Some(e.to_string()),
        };
        if provider == Provider::Docker.as_str() {
            // Whatever Vagrant did, no container of this instance may remain.
            let removed = self.cfg.docker.remove_instance(id).await?;
            if let Some(e) = &vagrant_error {
                tracing::warn!(%id, error = %e, removed, "vagrant destroy failed; removed the instance's containers directly");
            }
        } else if let Some(e) = vagrant_error {
            return Err(e);
        }
        remove_dir(&dir).await?;
        self.store.remove(id);
        Ok(())
    }

    /// Cleans up after an instance whose machine disappeared (it is already unlisted):
    /// `vagrant destroy -f` (to forget the machine), leftovers, the directory.
    pub fn clean_up_gone(self: &Arc<Self>, id: &str, provider: &str) {
        {
            let mut ops = self.ops();
            let o = ops.entry(id.to_string()).or_default();
            if o.cleaning {
                return;
            }
            o.cleaning = true;
        }
        let me = self.clone();
        let (id, provider) = (id.to_string(), provider.to_string());
        tokio::spawn(async move {
            let dir = me.store.dir(&id);
            let run = me
                .cfg
                .vagrant
                .run(
                    &dir,
                    &["destroy", "-f"],
                    &CancellationToken::new(),
                    me.cfg.destroy_timeout,
                    |_| {},
                )
                .await;
            if let Err(e) = &run {
                tracing::warn!(%id, error = %e, "vagrant destroy of a vanished machine failed");
            }
            if provider == Provider::Docker.as_str()
                && let Err(e) = me.cfg.docker.remove_instance(&id).await
            {
                tracing::warn!(%id, error = %e, "cannot remove leftover containers");
            }
            match remove_dir(&dir).await {
                Ok(()) => tracing::info!(%id, "cleaned up after a machine that disappeared"),
                Err(e) => tracing::warn!(%id, error = %e, "cannot remove the instance's directory"),
            }
            me.ops().remove(&id);
        });
    }
}

/// Removes a directory; one already gone is fine.
async fn remove_dir(dir: &Path) -> Result<(), String> {
    match tokio::fs::remove_dir_all(dir).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("cannot remove {}: {e}", dir.display())),
    }
}
