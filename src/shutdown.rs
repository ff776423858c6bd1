//! The shutdown signal of the long-running commands (`serve`, `worker`): the first SIGINT or
//! SIGTERM. (`run` and `compare` watch Ctrl-C themselves: a second one aborts them at once.)

use std::future::Future;

/// Completes on the first SIGINT (Ctrl-C) or, on Unix, SIGTERM. The handlers are installed by
/// this call, not at the future's first poll: a signal that arrives while a server is still
/// starting up is then a clean shutdown instead of the default action (death without a
/// report). Must be called inside a tokio runtime.
pub(crate) fn signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let installed = {
        use tokio::signal::unix::{signal, SignalKind};
        (
            signal(SignalKind::interrupt()).ok(),
            signal(SignalKind::terminate()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let (mut int, mut term) = installed;
            let int = async {
                match &mut int {
                    Some(s) => drop(s.recv().await),
                    None => drop(tokio::signal::ctrl_c().await),
                }
            };
            let term = async {
                match &mut term {
                    Some(s) => drop(s.recv().await),
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = int => {}
                _ = term => {}
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}
