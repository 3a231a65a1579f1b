//! A response body scanned as it streams: bytes are released as soon as
//! the scanner says no finding can start before them, masked in place
//! first. Nothing is buffered beyond the scanner's window. A compressed
//! body is decoded slice by slice, scanned, and encoded again.
//!
//! Clean bytes are not copied: the frames that came in go out as slices of
//! themselves. Only a stretch with findings to act on is gathered into one
//! buffer, to be masked in place.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use hyper::body::{Body, Frame};

use crate::detect::{Engine, Scanner};

use super::State;
use super::codec::{Decoder, Encoder};
use super::handler::ProxyBody;
use super::inspect::{Ctx, Inspector};
use super::metrics::{FlowLabels, UninspectedLabels};

/// Encoded input is decoded this much at a time, so that one frame of a
/// compressed body never turns into more than `SLICE × decode_ratio`
/// bytes in memory.
const SLICE: usize = 16 * 1024;

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

/// A compressed body's decoder and encoder, and encoded input not yet
/// decoded.
pub struct Codec {
    pub decoder: Decoder,
    pub encoder: Option<Encoder>,
    pub input: Bytes,
}

impl Codec {
    pub fn new(coding: super::codec::Coding, max_bytes: u64, max_ratio: u64) -> Codec {
        Codec {
            decoder: Decoder::new(coding, max_bytes, max_ratio),
            encoder: Some(Encoder::new(coding)),
            input: Bytes::new(),
        }
    }
}

pub struct ScanBody {
    inner: ProxyBody,
    codec: Option<Codec>,
    state: Arc<State>,
    ctx: Ctx,
    inspector: Inspector,
    scanner: Scanner<Arc<Engine>>,
    /// Bytes scanned but not released yet, as they came in.
    held: VecDeque<Bytes>,
    /// Bytes released beyond the one frame a call returns, to go out next.
    out: VecDeque<Bytes>,
    released: u64,
    fed: u64,
    found: Vec<crate::detect::Finding>,
    trailers: Option<http::HeaderMap>,
    done: bool,
    scan_time: std::time::Duration,
}

impl ScanBody {
    pub fn new(
        inner: ProxyBody,
        codec: Option<Codec>,
        state: Arc<State>,
        ctx: Ctx,
        inspector: Inspector,
    ) -> ScanBody {
        let scanner = Scanner::new(state.engine.clone());
        ScanBody {
            inner,
            codec,
            state,
            ctx,
            inspector,
            scanner,
            held: VecDeque::new(),
            out: VecDeque::new(),
            released: 0,
            fed: 0,
            found: Vec::new(),
            trailers: None,
            done: false,
            scan_time: std::time::Duration::ZERO,
        }
    }

    /// Acts on new findings and returns the bytes that may go out. When
    /// they span frames that came in apart, the first comes back and the
    /// others wait in `out`; a body encoded again takes them as one.
    fn release(&mut self, upto: u64) -> Result<Option<Bytes>, BoxError> {
        if !self.found.is_empty() {
            // Masking needs the held bytes in one mutable buffer.
            let mut all = concat(self.held.drain(..));
            let v =
                self.inspector
                    .act(&self.state, &self.ctx, &self.found, &mut all, self.released);
            self.held.push_back(all.freeze());
            self.found.clear();
            if let Some((policy, _)) = v.bulk.or(v.blocked.map(|p| (p, 0))) {
                self.done = true;
                return Err(Box::new(Aborted(policy)));
            }
        }
        let mut n = (upto.min(self.fed) - self.released) as usize;
        if n == 0 {
            return Ok(None);
        }
        self.released += n as u64;
        // `out` is empty here: `poll_frame` sends it all before reading on.
        while n > 0 {
            let Some(front) = self.held.front_mut() else {
                break;
            };
            let part = if front.len() <= n {
                self.held.pop_front().unwrap_or_default()
            } else {
                front.split_to(n)
            };
            n -= part.len();
            if !part.is_empty() {
                self.out.push_back(part);
            }
        }
        if self.codec.is_some() {
            return Ok(join(self.out.drain(..)));
        }
        Ok(self.out.pop_front())
    }

    /// Scans decoded bytes and returns what may go out, encoded again
    /// when the body is compressed.
    fn scan(&mut self, data: Bytes) -> Result<Option<Bytes>, BoxError> {
        let t = Instant::now();
        self.scanner.feed(&data, &mut self.found);
        self.scan_time += t.elapsed();
        self.fed += data.len() as u64;
        self.held.push_back(data);
        let settled = self.scanner.settled();
        let out = self.release(settled)?;
        self.encode(out)
    }

    /// The end of the decoded stream: the last findings and bytes.
    fn end(&mut self) -> Result<Option<Bytes>, BoxError> {
        let t = Instant::now();
        self.scanner.finish(&mut self.found);
        self.scan_time += t.elapsed();
        let out = self.release(u64::MAX);
        self.done = true;
        self.finish_metrics();
        let out = self.encode(out?)?;
        let Some(c) = self.codec.as_mut() else {
            return Ok(out);
        };
        let Some(encoder) = c.encoder.take().filter(|_| c.decoder.read() > 0) else {
            return Ok(out);
        };
        let mut all = out.map(Vec::from).unwrap_or_default();
        all.extend(encoder.finish()?);
        Ok(Some(all.into()))
    }

    fn encode(&mut self, out: Option<Bytes>) -> Result<Option<Bytes>, BoxError> {
        match (&mut self.codec, out) {
            (
                Some(Codec {
                    encoder: Some(e), ..
                }),
                Some(b),
            ) => {
                let enc = e.push(&b)?;
                Ok((!enc.is_empty()).then(|| enc.into()))
            }
            (_, out) => Ok(out),
        }
    }

    /// A compressed body that cannot be decoded within the bounds is cut:
    /// its headers are gone, and its rest must not go out unseen.
    fn undecodable(&mut self, reason: &'static str) -> BoxError {
        self.done = true;
        self.state
            .metrics
            .uninspected
            .get_or_create(&UninspectedLabels {
                flow: self.inspector.flow.as_str(),
                reason,
                handling: "fail_closed",
            })
            .inc();
        tracing::warn!(request_id = %self.ctx.request_id, route = %self.ctx.route, reason, "compressed body cut");
        Box::new(Aborted(reason.to_string()))
    }

    /// Decodes the next slice of encoded input, if there is one.
    fn decode_next(&mut self) -> Option<Result<Option<Bytes>, BoxError>> {
        let c = self.codec.as_mut()?;
        if c.input.is_empty() {
            return None;
        }
        let slice = c.input.split_to(c.input.len().min(SLICE));
        Some(match c.decoder.push(&slice) {
            Ok(d) => self.scan(d.into()),
            Err(e) => Err(self.undecodable(e.reason())),
        })
    }

    /// The end of the body: the decoder's last bytes, then the scanner's.
    fn end_of_input(&mut self) -> Result<Option<Bytes>, BoxError> {
        let mut first = None;
        if let Some(c) = self.codec.as_mut() {
            match c.decoder.finish() {
                Ok(d) => first = self.scan(d.into())?,
                Err(e) => return Err(self.undecodable(e.reason())),
            }
        }
        let rest = self.end()?;
        Ok(join(first.into_iter().chain(rest)))
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

/// The bytes of `parts` in one buffer.
fn concat(parts: impl Iterator<Item = Bytes>) -> BytesMut {
    let mut all = BytesMut::new();
    for b in parts {
        all.extend_from_slice(&b);
    }
    all
}

/// `parts` as one piece: a single part as it is, more copied together.
fn join(mut parts: impl Iterator<Item = Bytes>) -> Option<Bytes> {
    let first = parts.next()?;
    match parts.next() {
        None => Some(first),
        Some(second) => Some(concat([first, second].into_iter().chain(parts)).freeze()),
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
            if let Some(b) = this.out.pop_front() {
                return Poll::Ready(Some(Ok(Frame::data(b))));
            }
            if this.done {
                return Poll::Ready(this.trailers.take().map(|t| Ok(Frame::trailers(t))));
            }
            let step = match this.decode_next() {
                Some(r) => r,
                None => match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                    Some(Ok(frame)) => match frame.into_data() {
                        Ok(data) => match this.codec.as_mut() {
                            Some(c) => {
                                c.input = data;
                                continue;
                            }
                            None => this.scan(data),
                        },
                        Err(frame) => {
                            if let Ok(t) = frame.into_trailers() {
                                this.trailers = Some(t);
                            }
                            continue;
                        }
                    },
                    Some(Err(e)) => {
                        this.done = true;
                        Err(e)
                    }
                    None => this.end_of_input(),
                },
            };
            match step {
                Err(e) => return Poll::Ready(Some(Err(e))),
                Ok(Some(b)) => return Poll::Ready(Some(Ok(Frame::data(b)))),
                Ok(None) => continue,
            }
        }
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        if self.codec.is_some() {
            // Encoded again: the length is not known.
            return hyper::body::SizeHint::default();
        }
        // Masking keeps the length.
        self.inner.size_hint()
    }
}
