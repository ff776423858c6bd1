//! The shutdown signal of the long-running commands (`serve`, `worker`): the first SIGINT or
//! SIGTERM. (`run` and `compare` watch Ctrl-C themselves: a second one aborts them at once.)

/// Completes on the first SIGINT (Ctrl-C) or, on Unix, SIGTERM.
pub async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
