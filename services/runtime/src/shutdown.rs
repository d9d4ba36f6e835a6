//! Graceful shutdown: the first SIGTERM or SIGINT cancels a token that stops the listener and ends
//! every open stream; a second signal exits at once.

use tokio_util::sync::CancellationToken;

/// A cloneable handle on the process's shutdown.
#[derive(Clone, Debug, Default)]
pub struct Shutdown {
    token: CancellationToken,
}

// === impl Shutdown ===

impl Shutdown {
    /// A shutdown that only [`Shutdown::trigger`] starts (for tests and embedding).
    pub fn new() -> Self {
        Self::default()
    }

    /// A shutdown started by SIGTERM or SIGINT. Must be called inside a tokio runtime.
    pub fn on_signals() -> Self {
        let s = Self::new();
        let token = s.token.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("shutting down (send the signal again to exit at once)");
            token.cancel();
            wait_for_signal().await;
            tracing::warn!("second signal: exiting now");
            std::process::exit(130);
        });
        s
    }

    /// Starts the shutdown.
    pub fn trigger(&self) {
        self.token.cancel();
    }

    /// True once the shutdown has started.
    pub fn is_triggered(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Completes when the shutdown starts.
    pub async fn wait(&self) {
        self.token.cancelled().await;
    }

    /// The underlying token, to end streams with `take_until(token.cancelled_owned())`.
    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            // Without signal handlers the process can still be stopped by SIGKILL; wait forever.
            std::future::pending::<()>().await;
        }
    }
}
