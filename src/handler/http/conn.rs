//! One keep-alive connection of the `http:` handler, driven by the call that uses it, and the
//! request each event sends on it.

use super::Parts;
use crate::engine::work::Job;
use hyper::body::{Body, Buf, Frame, Incoming, SizeHint};
use hyper::client::conn::http1::{self, Connection, SendRequest};
use hyper::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::task::{Context, Poll};
use tokio::net::TcpStream;

type Io = Connection<TokioIo<TcpStream>, EventBody>;

/// An open HTTP/1.1 connection: hyper's request sender and the connection state machine that
/// does its I/O. Nobody polls the state machine between calls; each call drives it while it
/// waits, which saves a task wake-up per request over a spawned connection task.
pub(super) struct Conn {
    send: SendRequest<EventBody>,
    /// `None` once the connection has ended (closed by either side, or failed): dropping it
    /// fails whatever still waits on it, instead of leaving that waiting.
    io: Option<Pin<Box<Io>>>,
}

/// How one request on a connection went.
pub(super) enum Exchange {
    /// A response arrived and its body was read to its end.
    Answered(StatusCode),
    /// The request was never written (the connection had closed): it can go to another one.
    NotSent(Box<Request<EventBody>>, String),
    /// The exchange broke off after the request may have been written.
    Failed(String),
}

impl Conn {
    /// Connects to the target (the only place a host name is resolved).
    pub(super) async fn open(t: &Parts) -> Result<Conn, String> {
        let tcp = TcpStream::connect((t.host.as_str(), t.port))
            .await
            .map_err(|e| format!("cannot connect to {}:{}: {e}", t.host, t.port))?;
        // One small request, then a wait for its answer: nothing to gain from coalescing.
        tcp.set_nodelay(true)
            .map_err(|e| format!("cannot set TCP_NODELAY: {e}"))?;
        let (send, io) = http1::handshake(TokioIo::new(tcp))
            .await
            .map_err(|e| error_chain(&e))?;
        Ok(Conn {
            send,
            io: Some(Box::pin(io)),
        })
    }

    /// Sends `req` and reads the whole response.
    pub(super) async fn exchange(&mut self, req: Request<EventBody>) -> Exchange {
        let Conn { send, io } = self;
        // Polling the connection first notices an idle connection the server has closed.
        if let Err(e) = drive(io, send.ready()).await {
            return Exchange::NotSent(Box::new(req), error_chain(&e));
        }
        let response = match drive(io, send.try_send_request(req)).await {
            Ok(r) => r,
            Err(mut e) => {
                let msg = error_chain(e.error());
                return match e.take_message() {
                    Some(req) => Exchange::NotSent(Box::new(req), msg),
                    None => Exchange::Failed(msg),
                };
            }
        };
        let status = response.status();
        // To its end: the next request on this connection may only start after it.
        let mut body = response.into_body();
        loop {
            match drive(io, next_frame(&mut body)).await {
                None => return Exchange::Answered(status),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Exchange::Failed(error_chain(&e)),
            }
        }
    }

    /// True while the connection can take another request.
    pub(super) fn reusable(&self) -> bool {
        self.io.is_some() && !self.send.is_closed()
    }
}

/// Runs `fut` while doing the connection's I/O. The connection is polled first: a request
/// already handed to it is written before `fut` starts waiting for the answer.
async fn drive<F: Future>(io: &mut Option<Pin<Box<Io>>>, fut: F) -> F::Output {
    let mut fut = pin!(fut);
    poll_fn(|cx| {
        if let Some(conn) = io {
            if conn.as_mut().poll(cx).is_ready() {
                // Its end (or its error) is reported to `fut` by dropping it.
                *io = None;
            }
        }
        fut.as_mut().poll(cx)
    })
    .await
}

fn next_frame(
    body: &mut Incoming,
) -> impl Future<Output = Option<hyper::Result<Frame<hyper::body::Bytes>>>> + '_ {
    poll_fn(move |cx: &mut Context<'_>| Pin::new(&mut *body).poll_frame(cx))
}

/// The POST for `job`, from the target's prepared parts.
pub(super) fn request(t: &Parts, job: &Job) -> Request<EventBody> {
    let mut headers = HeaderMap::with_capacity(4);
    headers.insert(HOST, t.authority.clone());
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(c) = &t.credentials {
        headers.insert(AUTHORIZATION, c.clone());
    }
    let mut req = Request::new(EventBody(Some(Json::of(job))));
    *req.method_mut() = Method::POST;
    *req.uri_mut() = t.path.clone();
    *req.headers_mut() = headers;
    req
}

/// A request body of one small frame, written in place: `{"account_id":…,"event_id":…}`.
pub(super) struct EventBody(Option<Json>);

/// The JSON of one event; two `u64`s and the keys fit in 72 bytes.
pub(super) struct Json {
    buf: [u8; 72],
    at: u8,
    len: u8,
}

impl Json {
    fn of(job: &Job) -> Self {
        let mut j = Json {
            buf: [0; 72],
            at: 0,
            len: 0,
        };
        let mut account = itoa::Buffer::new();
        let mut event = itoa::Buffer::new();
        for part in [
            "{\"account_id\":",
            account.format(job.account.0),
            ",\"event_id\":",
            event.format(job.event.0),
            "}",
        ] {
            let end = usize::from(j.len) + part.len();
            j.buf[usize::from(j.len)..end].copy_from_slice(part.as_bytes());
            j.len = end as u8;
        }
        j
    }
}

impl Buf for Json {
    fn remaining(&self) -> usize {
        usize::from(self.len - self.at)
    }

    fn chunk(&self) -> &[u8] {
        &self.buf[usize::from(self.at)..usize::from(self.len)]
    }

    fn advance(&mut self, n: usize) {
        assert!(n <= self.remaining(), "advanced past the end of the body");
        self.at += n as u8;
    }
}

impl Body for EventBody {
    type Data = Json;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Json>, Infallible>>> {
        Poll::Ready(self.get_mut().0.take().map(|j| Ok(Frame::data(j))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_none()
    }

    /// Exact, so hyper sends a `Content-Length` rather than chunks.
    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.0.as_ref().map_or(0, |j| j.remaining() as u64))
    }
}

/// hyper's own message ("connection error") alone hides the cause.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{AccountId, EventId, EventIdx, Micros};

    fn job(account: u64, event: u64) -> Job {
        Job {
            index: EventIdx(0),
            event: EventId(event),
            account: AccountId(account),
            duration: Micros(0),
        }
    }

    fn body_of(j: &Job) -> String {
        let mut json = Json::of(j);
        let mut out = Vec::new();
        while json.has_remaining() {
            let n = json.chunk().len().min(5);
            out.extend_from_slice(&json.chunk()[..n]);
            json.advance(n);
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_body_is_the_events_json_even_for_the_largest_ids() {
        assert_eq!(
            body_of(&job(17, 4242)),
            r#"{"account_id":17,"event_id":4242}"#
        );
        let big = body_of(&job(u64::MAX, u64::MAX));
        let v: serde_json::Value = serde_json::from_str(&big).unwrap();
        assert_eq!(v["account_id"], u64::MAX);
        assert_eq!(v["event_id"], u64::MAX);
    }

    #[test]
    fn the_body_has_an_exact_size_and_one_frame() {
        let mut b = EventBody(Some(Json::of(&job(1, 2))));
        assert_eq!(b.size_hint().exact(), Some(29));
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        let Poll::Ready(Some(Ok(frame))) = Pin::new(&mut b).poll_frame(&mut cx) else {
            panic!("no frame");
        };
        assert_eq!(frame.data_ref().map(Buf::remaining), Some(29));
        assert!(b.is_end_stream());
        assert!(matches!(
            Pin::new(&mut b).poll_frame(&mut cx),
            Poll::Ready(None)
        ));
    }
}
