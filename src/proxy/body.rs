//! A response body scanned as it streams: bytes are released as soon as
//! the scanner says no finding can start before them, masked in place
//! first. Nothing is buffered beyond the scanner's window.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use hyper::body::{Body, Frame, Incoming};

use crate::detect::{Engine, Scanner};

use super::State;
use super::inspect::{Ctx, Inspector};
use super::metrics::FlowLabels;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The error that aborts a stream that turned out to be a bulk leak.
#[derive(Debug)]
pub struct Aborted(pub String);

impl std::fmt::Display for Aborted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "stream aborted by policy {}", self.0)
    }
}

impl std::error::Error for Aborted {}

pub struct ScanBody {
    inner: Incoming,
    state: Arc<State>,
    ctx: Ctx,
    inspector: Inspector,
    scanner: Scanner<Arc<Engine>>,
    pending: BytesMut,
    released: u64,
    fed: u64,
    found: Vec<crate::detect::Finding>,
    trailers: Option<http::HeaderMap>,
    done: bool,
    scan_time: std::time::Duration,
}

impl ScanBody {
    pub fn new(inner: Incoming, state: Arc<State>, ctx: Ctx, inspector: Inspector) -> ScanBody {
        let scanner = Scanner::new(state.engine.clone());
        ScanBody {
            inner,
            state,
            ctx,
            inspector,
            scanner,
            pending: BytesMut::new(),
            released: 0,
            fed: 0,
            found: Vec::new(),
            trailers: None,
            done: false,
            scan_time: std::time::Duration::ZERO,
        }
    }

    /// Acts on new findings and returns the bytes that may go out.
    fn release(&mut self, upto: u64) -> Result<Option<Bytes>, BoxError> {
        let v = self.inspector.act(
            &self.state,
            &self.ctx,
            &self.found,
            &mut self.pending,
            self.released,
        );
        self.found.clear();
        if let Some((policy, _)) = v.bulk.or(v.blocked.map(|p| (p, 0))) {
            self.done = true;
            return Err(Box::new(Aborted(policy)));
        }
        let n = (upto.min(self.fed) - self.released) as usize;
        if n == 0 {
            return Ok(None);
        }
        self.released += n as u64;
        Ok(Some(self.pending.split_to(n).freeze()))
    }

    fn finish_metrics(&self) {
        let flow = FlowLabels {
            flow: self.inspector.flow.as_str(),
        };
        self.state
            .metrics
            .scan_seconds
            .get_or_create(&flow)
            .observe(self.scan_time.as_secs_f64());
        self.state
            .metrics
            .scanned_bytes
            .get_or_create(&flow)
            .inc_by(self.fed);
    }
}

impl Body for ScanBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        loop {
            if this.done {
                return Poll::Ready(this.trailers.take().map(|t| Ok(Frame::trailers(t))));
            }
            match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => {
                        let t = Instant::now();
                        this.scanner.feed(&data, &mut this.found);
                        this.scan_time += t.elapsed();
                        this.pending.extend_from_slice(&data);
                        this.fed += data.len() as u64;
                        let settled = this.scanner.settled();
                        match this.release(settled) {
                            Err(e) => return Poll::Ready(Some(Err(e))),
                            Ok(Some(b)) => return Poll::Ready(Some(Ok(Frame::data(b)))),
                            Ok(None) => continue,
                        }
                    }
                    Err(frame) => {
                        if let Ok(t) = frame.into_trailers() {
                            this.trailers = Some(t);
                        }
                    }
                },
                Some(Err(e)) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(Box::new(e))));
                }
                None => {
                    let t = Instant::now();
                    this.scanner.finish(&mut this.found);
                    this.scan_time += t.elapsed();
                    let r = this.release(u64::MAX);
                    this.done = true;
                    this.finish_metrics();
                    match r {
                        Err(e) => return Poll::Ready(Some(Err(e))),
                        Ok(Some(b)) => return Poll::Ready(Some(Ok(Frame::data(b)))),
                        Ok(None) => continue,
                    }
                }
            }
        }
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        // Masking keeps the length.
        self.inner.size_hint()
    }
}
