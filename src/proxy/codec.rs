//! Content codings: decoding a compressed body for inspection, bounded in
//! size and ratio, and encoding the inspected bytes again with the same
//! coding. Both sides work chunk by chunk, so a compressed stream is
//! scanned and masked as it flows, like a plain one.

use std::io::{self, Write};

use flate2::Compression;

/// A content coding Zaslon can decode and encode again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coding {
    Gzip,
    Deflate,
    Br,
    Zstd,
}

impl Coding {
    /// Reads a `Content-Encoding` value: `Ok(None)` for no coding (absent
    /// or `identity`), `Err(())` for a coding Zaslon does not decode
    /// (an unknown one, or several stacked).
    #[allow(clippy::result_unit_err)]
    pub fn parse(value: &str) -> Result<Option<Coding>, ()> {
        let mut codings = value
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case("identity"));
        let Some(first) = codings.next() else {
            return Ok(None);
        };
        if codings.next().is_some() {
            return Err(());
        }
        let c = match first.to_ascii_lowercase().as_str() {
            "gzip" | "x-gzip" => Coding::Gzip,
            "deflate" => Coding::Deflate,
            "br" => Coding::Br,
            "zstd" => Coding::Zstd,
            _ => return Err(()),
        };
        Ok(Some(c))
    }
}

/// Why decoding stopped.
#[derive(Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The ratio of decoded to encoded bytes passed the bound: a
    /// compression bomb.
    Ratio,
    /// The decoded size passed the bound.
    Size,
    /// The encoded bytes are not a valid stream of the coding.
    Corrupt,
}

impl DecodeError {
    /// The reason label for `zaslon_uninspected_bodies_total`.
    pub fn reason(&self) -> &'static str {
        match self {
            DecodeError::Ratio => "decode_ratio",
            DecodeError::Size => "too_large",
            DecodeError::Corrupt => "decode_error",
        }
    }
}

/// The decoders' output: a buffer that refuses to grow past `room`.
#[derive(Default)]
struct Sink {
    buf: Vec<u8>,
    /// Bytes handed out so far plus those in `buf`.
    total: u64,
    /// The most `total` may reach now.
    room: u64,
    overflowed: bool,
    /// Count only: keep nothing.
    discard: bool,
}

impl Write for Sink {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.total + data.len() as u64 > self.room {
            self.overflowed = true;
            return Err(io::Error::other("decoded size bound"));
        }
        self.total += data.len() as u64;
        if !self.discard {
            self.buf.extend_from_slice(data);
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

enum Dec {
    /// `deflate` before its first two bytes: zlib-wrapped as the RFC says,
    /// or raw as some servers send it.
    Sniff(Vec<u8>),
    Gzip(flate2::write::MultiGzDecoder<Sink>),
    Zlib(flate2::write::ZlibDecoder<Sink>),
    Raw(flate2::write::DeflateDecoder<Sink>),
    Br(Box<brotli::DecompressorWriter<Sink>>),
    Zstd(zstd::stream::write::Decoder<'static, Sink>),
}

/// A streaming decoder with bounds on the decoded size and on the ratio
/// of decoded to encoded bytes.
pub struct Decoder {
    dec: Dec,
    max_bytes: u64,
    max_ratio: u64,
    read: u64,
    /// Count only: keep no decoded bytes.
    discard: bool,
}

/// The decoded size always allowed, whatever the ratio: small bodies of
/// repeated markup compress very well and are no bomb.
const RATIO_SLACK: u64 = 1 << 20;

impl Decoder {
    pub fn new(coding: Coding, max_bytes: u64, max_ratio: u64) -> Decoder {
        let dec = match coding {
            Coding::Gzip => Dec::Gzip(flate2::write::MultiGzDecoder::new(Sink::default())),
            Coding::Deflate => Dec::Sniff(Vec::new()),
            Coding::Br => Dec::Br(Box::new(brotli::DecompressorWriter::new(
                Sink::default(),
                8192,
            ))),
            Coding::Zstd => {
                let mut d = zstd::stream::write::Decoder::new(Sink::default())
                    .expect("zstd decoder context");
                // 8 MiB, the window HTTP's zstd coding allows (RFC 9659).
                let _ = d.window_log_max(23);
                Dec::Zstd(d)
            }
        };
        Decoder {
            dec,
            max_bytes,
            max_ratio,
            read: 0,
            discard: false,
        }
    }

    fn sink(&mut self) -> Option<&mut Sink> {
        Some(match &mut self.dec {
            Dec::Sniff(_) => return None,
            Dec::Gzip(d) => d.get_mut(),
            Dec::Zlib(d) => d.get_mut(),
            Dec::Raw(d) => d.get_mut(),
            Dec::Br(d) => d.get_mut(),
            Dec::Zstd(d) => d.get_mut(),
        })
    }

    fn ratio_room(&self) -> u64 {
        self.read.saturating_mul(self.max_ratio).max(RATIO_SLACK)
    }

    fn set_room(&mut self) {
        let room = self.max_bytes.min(self.ratio_room());
        if let Some(s) = self.sink() {
            s.room = room;
        }
    }

    fn fail(&mut self, _e: io::Error) -> DecodeError {
        let ratio_bound = self.ratio_room() < self.max_bytes;
        match self.sink() {
            Some(s) if s.overflowed && ratio_bound => DecodeError::Ratio,
            Some(s) if s.overflowed => DecodeError::Size,
            _ => DecodeError::Corrupt,
        }
    }

    /// Encoded bytes fed so far.
    pub fn read(&self) -> u64 {
        self.read
    }

    fn take(&mut self) -> Vec<u8> {
        self.sink()
            .map(|s| std::mem::take(&mut s.buf))
            .unwrap_or_default()
    }

    /// Feeds encoded bytes; returns the bytes decoded from them so far.
    pub fn push(&mut self, input: &[u8]) -> Result<Vec<u8>, DecodeError> {
        self.read += input.len() as u64;
        if let Dec::Sniff(head) = &mut self.dec {
            head.extend_from_slice(input);
            if head.len() < 2 {
                return Ok(Vec::new());
            }
            let head = std::mem::take(head);
            let zlib =
                head[0] & 0x0f == 8 && (u16::from(head[0]) << 8 | u16::from(head[1])) % 31 == 0;
            self.dec = if zlib {
                Dec::Zlib(flate2::write::ZlibDecoder::new(Sink::default()))
            } else {
                Dec::Raw(flate2::write::DeflateDecoder::new(Sink::default()))
            };
            self.read -= head.len() as u64;
            return self.push(&head);
        }
        self.set_room();
        let discard = self.discard;
        if let Some(s) = self.sink() {
            s.discard = discard;
        }
        let r = match &mut self.dec {
            Dec::Sniff(_) => unreachable!("handled above"),
            Dec::Gzip(d) => d.write_all(input).and_then(|()| d.flush()),
            Dec::Zlib(d) => d.write_all(input).and_then(|()| d.flush()),
            Dec::Raw(d) => d.write_all(input).and_then(|()| d.flush()),
            Dec::Br(d) => d.write_all(input).and_then(|()| d.flush()),
            Dec::Zstd(d) => d.write_all(input).and_then(|()| d.flush()),
        };
        match r {
            Ok(()) => Ok(self.take()),
            Err(e) => Err(self.fail(e)),
        }
    }

    /// Ends the stream; returns the last decoded bytes. A stream cut short
    /// is corrupt.
    pub fn finish(&mut self) -> Result<Vec<u8>, DecodeError> {
        if self.read == 0 {
            // An empty body (a HEAD answer, a 304) is no stream at all.
            return Ok(Vec::new());
        }
        self.set_room();
        let r = match &mut self.dec {
            Dec::Sniff(head) if head.is_empty() => Ok(()),
            Dec::Sniff(_) => Err(io::Error::other("truncated")),
            Dec::Gzip(d) => d.try_finish(),
            Dec::Zlib(d) => d.try_finish(),
            Dec::Raw(d) => d.try_finish(),
            Dec::Br(d) => d.close(),
            Dec::Zstd(d) => d.do_finish(),
        };
        match r {
            Ok(()) => Ok(self.take()),
            Err(e) => Err(self.fail(e)),
        }
    }
}

enum Enc {
    Gzip(flate2::write::GzEncoder<Vec<u8>>),
    Zlib(flate2::write::ZlibEncoder<Vec<u8>>),
    Br(Box<brotli::CompressorWriter<Vec<u8>>>),
    Zstd(zstd::stream::write::Encoder<'static, Vec<u8>>),
}

/// A streaming encoder. Levels are chosen for a proxy's latency budget,
/// not for the smallest output: gzip and deflate 4, brotli 4, zstd 3.
pub struct Encoder(Enc);

impl Encoder {
    pub fn new(coding: Coding) -> Encoder {
        Encoder(match coding {
            Coding::Gzip => Enc::Gzip(flate2::write::GzEncoder::new(
                Vec::new(),
                Compression::new(4),
            )),
            Coding::Deflate => Enc::Zlib(flate2::write::ZlibEncoder::new(
                Vec::new(),
                Compression::new(4),
            )),
            Coding::Br => Enc::Br(Box::new(brotli::CompressorWriter::new(
                Vec::new(),
                8192,
                4,
                22,
            ))),
            Coding::Zstd => Enc::Zstd(
                zstd::stream::write::Encoder::new(Vec::new(), 3).expect("zstd encoder context"),
            ),
        })
    }

    fn out(&mut self) -> &mut Vec<u8> {
        match &mut self.0 {
            Enc::Gzip(e) => e.get_mut(),
            Enc::Zlib(e) => e.get_mut(),
            Enc::Br(e) => e.get_mut(),
            Enc::Zstd(e) => e.get_mut(),
        }
    }

    /// Encodes `data` and flushes, so the client can decode everything
    /// given so far; returns the encoded bytes ready to send.
    pub fn push(&mut self, data: &[u8]) -> io::Result<Vec<u8>> {
        match &mut self.0 {
            Enc::Gzip(e) => e.write_all(data).and_then(|()| e.flush()),
            Enc::Zlib(e) => e.write_all(data).and_then(|()| e.flush()),
            Enc::Br(e) => e.write_all(data).and_then(|()| e.flush()),
            Enc::Zstd(e) => e.write_all(data).and_then(|()| e.flush()),
        }?;
        Ok(std::mem::take(self.out()))
    }

    /// Ends the stream; returns its last bytes.
    pub fn finish(self) -> io::Result<Vec<u8>> {
        match self.0 {
            Enc::Gzip(e) => e.finish(),
            Enc::Zlib(e) => e.finish(),
            Enc::Br(e) => Ok(e.into_inner()),
            Enc::Zstd(e) => e.finish(),
        }
    }
}

/// Decodes a whole body, within the bounds.
pub fn decode_all(
    coding: Coding,
    input: &[u8],
    max_bytes: u64,
    max_ratio: u64,
) -> Result<Vec<u8>, DecodeError> {
    let mut d = Decoder::new(coding, max_bytes, max_ratio);
    let mut out = d.push(input)?;
    out.extend(d.finish()?);
    Ok(out)
}

/// Checks that a whole body decodes within the bounds, keeping nothing;
/// returns its decoded size.
pub fn check_all(
    coding: Coding,
    input: &[u8],
    max_bytes: u64,
    max_ratio: u64,
) -> Result<u64, DecodeError> {
    let mut d = Decoder::new(coding, max_bytes, max_ratio);
    d.discard = true;
    d.push(input)?;
    d.finish()?;
    Ok(d.sink().map_or(0, |s| s.total))
}

/// Encodes a whole body.
pub fn encode_all(coding: Coding, input: &[u8]) -> io::Result<Vec<u8>> {
    let mut e = Encoder::new(coding);
    let mut out = e.push(input)?;
    out.extend(e.finish()?);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Coding; 4] = [Coding::Gzip, Coding::Deflate, Coding::Br, Coding::Zstd];

    fn text() -> Vec<u8> {
        "<p>Запись на приём по телефону, СНИЛС 112-233-445 95.</p>\n"
            .repeat(500)
            .into_bytes()
    }

    #[test]
    fn parses_content_encoding() {
        assert_eq!(Coding::parse(""), Ok(None));
        assert_eq!(Coding::parse("identity"), Ok(None));
        assert_eq!(Coding::parse("GZIP"), Ok(Some(Coding::Gzip)));
        assert_eq!(Coding::parse(" br "), Ok(Some(Coding::Br)));
        assert_eq!(Coding::parse("zstd"), Ok(Some(Coding::Zstd)));
        assert_eq!(Coding::parse("x-gzip"), Ok(Some(Coding::Gzip)));
        assert_eq!(Coding::parse("gzip, br"), Err(()));
        assert_eq!(Coding::parse("compress"), Err(()));
    }

    #[test]
    fn round_trips_every_coding_in_small_chunks() {
        let plain = text();
        for c in ALL {
            let encoded = encode_all(c, &plain).unwrap();
            assert!(encoded.len() < plain.len() / 4, "{c:?} compresses");
            for step in [1, 7, 1000, encoded.len()] {
                let mut d = Decoder::new(c, 1 << 30, 1000);
                let mut out = Vec::new();
                for chunk in encoded.chunks(step) {
                    out.extend(d.push(chunk).unwrap());
                }
                out.extend(d.finish().unwrap());
                assert_eq!(out, plain, "{c:?} in chunks of {step}");
            }
        }
    }

    #[test]
    fn streamed_encoding_is_decodable_at_every_flush() {
        let plain = text();
        for c in ALL {
            let mut e = Encoder::new(c);
            let mut d = Decoder::new(c, 1 << 30, 1000);
            let mut seen = Vec::new();
            let mut pushed = 0;
            for chunk in plain.chunks(4096) {
                let enc = e.push(chunk).unwrap();
                seen.extend(d.push(&enc).unwrap());
                pushed += chunk.len();
                // Everything pushed so far has reached the decoder.
                assert_eq!(seen.len(), pushed, "{c:?}");
            }
            seen.extend(d.push(&e.finish().unwrap()).unwrap());
            seen.extend(d.finish().unwrap());
            assert_eq!(seen, plain, "{c:?}");
        }
    }

    #[test]
    fn empty_bodies_decode_to_nothing() {
        for c in ALL {
            assert_eq!(decode_all(c, b"", 10, 10).unwrap(), b"");
        }
    }

    #[test]
    fn raw_deflate_is_accepted() {
        let plain = text();
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), Compression::default());
        e.write_all(&plain).unwrap();
        let raw = e.finish().unwrap();
        assert_eq!(
            decode_all(Coding::Deflate, &raw, 1 << 30, 1000).unwrap(),
            plain
        );
    }

    #[test]
    fn bombs_stop_at_the_ratio_bound() {
        let zeros = vec![b'0'; 64 << 20];
        for c in ALL {
            let bomb = encode_all(c, &zeros).unwrap();
            assert!(bomb.len() < (64 << 20) / 200, "{c:?} is a bomb");
            assert_eq!(
                decode_all(c, &bomb, 1 << 40, 100),
                Err(DecodeError::Ratio),
                "{c:?}"
            );
            // And at the size bound, whatever the ratio.
            assert_eq!(
                decode_all(c, &bomb, 1 << 20, u64::MAX),
                Err(DecodeError::Size),
                "{c:?}"
            );
            assert_eq!(check_all(c, &bomb, 1 << 40, 100), Err(DecodeError::Ratio));
            assert_eq!(check_all(c, &bomb, 1 << 30, 1 << 20), Ok(64 << 20));
            // Within both bounds, it decodes.
            assert_eq!(decode_all(c, &bomb, 1 << 30, 1 << 20).unwrap(), zeros);
        }
    }

    #[test]
    fn corrupt_and_truncated_streams_are_errors() {
        let plain = text();
        for c in ALL {
            assert_eq!(
                decode_all(
                    c,
                    b"this is not compressed at all, not even close",
                    1 << 30,
                    1000
                ),
                Err(DecodeError::Corrupt),
                "{c:?} garbage"
            );
            let encoded = encode_all(c, &plain).unwrap();
            let cut = &encoded[..encoded.len() / 2];
            assert_eq!(
                decode_all(c, cut, 1 << 30, 1000),
                Err(DecodeError::Corrupt),
                "{c:?} truncated"
            );
        }
    }
}
