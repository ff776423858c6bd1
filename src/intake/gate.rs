//! What every connection of a server shares: the body deadline, the shutdown signal and the
//! count of requests in progress, which a shutdown waits for (and nothing else).
//!
//! [`Gated`] is the hyper service in front of the router: it counts each request and wraps its
//! body in a [`Timed`] one, which ends in a [`BodyCut`] error if the body is still arriving at
//! its deadline or when the server starts shutting down; the router answers that 408 or 503.
//! A body that is already there (the usual case: it came with the header) costs no timer and
//! no allocation; the timer starts only when a read would wait.

use crate::types::Micros;
use axum::response::Response;
use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use hyper::Request;
use hyper_util::service::TowerToHyperService;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

/// Why a request body ended before its last byte: the server's doing, not the client's bytes,
/// so the router answers it apart from a broken body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BodyCut {
    #[error("the body did not arrive within {0} of its header")]
    TimedOut(Micros),
    #[error("the server is shutting down")]
    Closing,
}

/// See the module docs.
pub(crate) struct Gate {
    body_timeout: Duration,
    closing: watch::Sender<bool>,
    busy: AtomicUsize,
    idle: Notify,
}

impl Gate {
    pub(crate) fn new(body_timeout: Duration) -> Self {
        Gate {
            body_timeout,
            closing: watch::Sender::new(false),
            busy: AtomicUsize::new(0),
            idle: Notify::new(),
        }
    }

    /// Cuts off every body still arriving, now and from now on.
    pub(crate) fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Returns once no request is in progress.
    pub(crate) async fn quiet(&self) {
        loop {
            let idle = self.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            if self.busy.load(SeqCst) == 0 {
                return;
            }
            idle.await;
        }
    }
}

/// One request in progress, counted from its header to its response (or until hyper drops it).
struct Busy(Arc<Gate>);

impl Busy {
    fn enter(gate: &Arc<Gate>) -> Self {
        gate.busy.fetch_add(1, SeqCst);
        Busy(Arc::clone(gate))
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        if self.0.busy.fetch_sub(1, SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// The router as hyper calls it, behind the gate.
#[derive(Clone)]
pub(crate) struct Gated {
    router: TowerToHyperService<axum::Router>,
    gate: Arc<Gate>,
}

impl Gated {
    pub(crate) fn new(router: TowerToHyperService<axum::Router>, gate: &Arc<Gate>) -> Self {
        Gated {
            router,
            gate: Arc::clone(gate),
        }
    }
}

type Answer = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

impl hyper::service::Service<Request<Incoming>> for Gated {
    type Response = Response;
    type Error = Infallible;
    type Future = Answer;

    fn call(&self, req: Request<Incoming>) -> Answer {
        let busy = Busy::enter(&self.gate);
        let req = req.map(|body| Timed::new(body, &self.gate));
        let answer = self.router.call(req);
        Box::pin(async move {
            let answer = answer.await;
            drop(busy);
            answer
        })
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A request body on the clock; see the module docs.
pub(crate) struct Timed {
    inner: Incoming,
    deadline: Instant,
    gate: Arc<Gate>,
    /// Started at the first read that would wait: the deadline or the shutdown.
    cut: Option<Pin<Box<dyn Future<Output = BodyCut> + Send + Sync>>>,
    ended: bool,
}

impl Timed {
    fn new(inner: Incoming, gate: &Arc<Gate>) -> Self {
        Timed {
            inner,
            deadline: Instant::now() + gate.body_timeout,
            gate: Arc::clone(gate),
            cut: None,
            ended: false,
        }
    }

    fn cut_off(&self) -> Pin<Box<dyn Future<Output = BodyCut> + Send + Sync>> {
        let deadline = self.deadline;
        let limit = Micros::from_duration(self.gate.body_timeout);
        let mut closing = self.gate.closing.subscribe();
        Box::pin(async move {
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => BodyCut::TimedOut(limit),
                _ = closing.wait_for(|c| *c) => BodyCut::Closing,
            }
        })
    }
}

impl Body for Timed {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(BoxError::from)));
        }
        if this.cut.is_none() {
            this.cut = Some(this.cut_off());
        }
        let Some(cut) = this.cut.as_mut() else {
            return Poll::Pending;
        };
        match cut.as_mut().poll(cx) {
            Poll::Ready(why) => {
                this.ended = true;
                Poll::Ready(Some(Err(BoxError::from(why))))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
