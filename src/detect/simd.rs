//! Trigger bits: which bytes of a buffer the scan must stop at. The one
//! place in the crate with `unsafe`, as in aho-corasick and memchr.
//!
//! Finding the trigger bytes (ASCII digits, `@`, `%`, `&`, `\`, and the
//! first bytes `0xEF`/`0xF0` of full-width forms) is the only work the scan
//! does on every byte of a page. With the SSE2 that every x86-64 CPU has
//! (through the `wide` crate, no `unsafe`), it takes 3.9 µs for a 60 KB
//! page; with AVX2 1.8 µs and with AVX-512BW 1.2 µs, found at run time
//! (`cargo bench --bench engine -- trigger_bits`). These kernels need
//! `unsafe` twice: to load 32 or 64 bytes through a pointer, and to call a
//! function compiled for a CPU feature once the feature has been checked.
//! A [`Kernel`] can only be had from that check, so no safe caller can run
//! an instruction its CPU lacks. Every kernel agrees with [`is_trigger`] on
//! every byte (tests below).

/// Whether the scan stops at this byte.
#[inline]
fn is_trigger(b: u8) -> bool {
    b.is_ascii_digit() || matches!(b, b'@' | b'%' | b'&' | b'\\' | 0xEF | 0xF0)
}

/// Trigger bits of `buf[start..]`: bit `i % 64` of word `i / 64` is set
/// when the byte at `start + i` is a trigger. Public for benchmarks.
#[derive(Debug, Default)]
pub struct TriggerBits {
    start: usize,
    end: usize,
    words: Vec<u64>,
}

impl TriggerBits {
    /// Computes the bits of `buf[start..]`, reusing the allocation.
    pub fn fill(&mut self, buf: &[u8], start: usize, kernel: Kernel) {
        let bytes = &buf[start.min(buf.len())..];
        self.start = start;
        self.end = buf.len();
        // Every word is written below: no need to clear the old ones.
        let n = bytes.len().div_ceil(64);
        self.words.resize(n, 0);
        kernel.run(bytes, &mut self.words[..n]);
    }

    /// The first trigger at or after `from` (and after the start).
    #[inline]
    pub fn next(&self, from: usize) -> Option<usize> {
        if from >= self.end {
            return None;
        }
        let rel = from.saturating_sub(self.start);
        let mut w = rel / 64;
        let mut m = self.words[w] & (u64::MAX << (rel % 64));
        while m == 0 {
            w += 1;
            m = *self.words.get(w)?;
        }
        Some(self.start + w * 64 + m.trailing_zeros() as usize)
    }
}

/// How trigger bits are computed on this CPU. Made only by [`Kernel::detect`]
/// and [`Kernel::available`], which check the CPU first (`Isa::runs_here`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kernel(Isa);

/// Every instruction set, fastest first.
#[cfg(target_arch = "x86_64")]
const FASTEST_FIRST: [Isa; 3] = [Isa::Avx512, Isa::Avx2, Isa::Portable];
#[cfg(not(target_arch = "x86_64"))]
const FASTEST_FIRST: [Isa; 1] = [Isa::Portable];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Isa {
    /// SSE2 through `wide`: every x86-64 CPU; plain code elsewhere.
    Portable,
    /// AVX2, 32 bytes per step: nearly every x86-64 server since 2015.
    #[cfg(target_arch = "x86_64")]
    Avx2,
    /// AVX-512BW, 64 bytes per step.
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

impl Isa {
    /// Whether this CPU has the instructions (the check is the only way a
    /// [`Kernel`] of AVX2 or AVX-512BW is made).
    fn runs_here(self) -> bool {
        match self {
            Isa::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => std::arch::is_x86_feature_detected!("avx512bw"),
        }
    }
}

impl Kernel {
    /// The fastest kernel this CPU runs (the check is cached by `std`).
    pub fn detect() -> Kernel {
        Kernel(
            FASTEST_FIRST
                .into_iter()
                .find(|isa| isa.runs_here())
                .unwrap_or(Isa::Portable),
        )
    }

    /// Every kernel this CPU runs, slowest first: for tests and benchmarks.
    pub fn available() -> Vec<Kernel> {
        let mut all: Vec<Kernel> = FASTEST_FIRST
            .into_iter()
            .filter(|isa| isa.runs_here())
            .map(Kernel)
            .collect();
        all.reverse();
        all
    }

    /// A short name: `portable`, `avx2`, `avx512`.
    pub fn name(self) -> &'static str {
        match self.0 {
            Isa::Portable => "portable",
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => "avx2",
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => "avx512",
        }
    }

    /// Writes the bits of `bytes` into every word of `words` (`bytes.len()`
    /// rounded up to 64 bits).
    fn run(self, bytes: &[u8], words: &mut [u64]) {
        let (body, tail) = bytes.split_at(bytes.len() / 64 * 64);
        match self.0 {
            Isa::Portable => portable(body, words),
            #[cfg(target_arch = "x86_64")]
            // SAFETY: a kernel of AVX2 is only made after `runs_here`
            // found AVX2 on this CPU.
            Isa::Avx2 => unsafe { x86::avx2(body, words) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: a kernel of AVX-512BW is only made after
            // `runs_here` found AVX-512BW on this CPU.
            Isa::Avx512 => unsafe { x86::avx512(body, words) },
        }
        if !tail.is_empty() {
            let mut last = 0;
            for (i, &b) in tail.iter().enumerate() {
                last |= u64::from(is_trigger(b)) << i;
            }
            words[body.len() / 64] = last;
        }
    }
}

/// Sixteen bytes at a time with SSE2: three range tests and two equality
/// tests.
fn portable(body: &[u8], words: &mut [u64]) {
    use wide::u8x16;
    for (block, word) in body.chunks_exact(64).zip(words.iter_mut()) {
        let mut bits = 0u64;
        for (k, part) in block.chunks_exact(16).enumerate() {
            let mut b = [0u8; 16];
            b.copy_from_slice(part);
            let v = u8x16::new(b);
            let in_range = |lo: u8, span: u8| {
                let x = v - u8x16::splat(lo);
                x.min(u8x16::splat(span)).simd_eq(x)
            };
            let hits = in_range(b'0', 9)
                | in_range(b'%', 1)
                | in_range(0xEF, 1)
                | v.simd_eq(u8x16::splat(b'@'))
                | v.simd_eq(u8x16::splat(b'\\'));
            bits |= u64::from(hits.to_bitmask()) << (16 * k);
        }
        *word = bits;
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// Sixty-four bytes at a time: three range tests and two equality
    /// tests, each straight into a mask register.
    #[target_feature(enable = "avx512bw")]
    pub(super) fn avx512(body: &[u8], words: &mut [u64]) {
        let splat = |b: u8| _mm512_set1_epi8(b as i8);
        let in_range = |v: __m512i, lo: u8, span: u8| {
            _mm512_cmple_epu8_mask(_mm512_sub_epi8(v, splat(lo)), splat(span))
        };
        for (block, word) in body.chunks_exact(64).zip(words.iter_mut()) {
            // SAFETY: `block` holds 64 readable bytes; the load needs no
            // alignment.
            let v = unsafe { _mm512_loadu_si512(block.as_ptr().cast()) };
            *word = in_range(v, b'0', 9)
                | in_range(v, b'%', 1)
                | in_range(v, 0xEF, 1)
                | _mm512_cmpeq_epi8_mask(v, splat(b'@'))
                | _mm512_cmpeq_epi8_mask(v, splat(b'\\'));
        }
    }

    /// Thirty-two bytes at a time, the same tests as [`super::portable`].
    #[target_feature(enable = "avx2")]
    pub(super) fn avx2(body: &[u8], words: &mut [u64]) {
        let splat = |b: u8| _mm256_set1_epi8(b as i8);
        let half = |part: &[u8]| -> u64 {
            // SAFETY: `part` holds 32 readable bytes; the load needs no
            // alignment.
            let v = unsafe { _mm256_loadu_si256(part.as_ptr().cast()) };
            let in_range = |lo: u8, span: u8| {
                let x = _mm256_sub_epi8(v, splat(lo));
                _mm256_cmpeq_epi8(_mm256_min_epu8(x, splat(span)), x)
            };
            let hits = _mm256_or_si256(
                _mm256_or_si256(in_range(b'0', 9), in_range(b'%', 1)),
                _mm256_or_si256(
                    in_range(0xEF, 1),
                    _mm256_or_si256(
                        _mm256_cmpeq_epi8(v, splat(b'@')),
                        _mm256_cmpeq_epi8(v, splat(b'\\')),
                    ),
                ),
            );
            u64::from(_mm256_movemask_epi8(hits) as u32)
        };
        for (block, word) in body.chunks_exact(64).zip(words.iter_mut()) {
            *word = half(&block[..32]) | (half(&block[32..]) << 32);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytewise(bytes: &[u8]) -> Vec<usize> {
        (0..bytes.len()).filter(|&i| is_trigger(bytes[i])).collect()
    }

    fn by_bits(bytes: &[u8], start: usize, kernel: Kernel) -> Vec<usize> {
        let mut bits = TriggerBits::default();
        bits.fill(bytes, start, kernel);
        let mut out = Vec::new();
        let mut at = start;
        while let Some(t) = bits.next(at) {
            out.push(t);
            at = t + 1;
        }
        out
    }

    #[test]
    fn every_kernel_agrees_with_bytewise() {
        // Every byte value at every position of a word, and buffers of
        // every length around the 64-byte steps, from every start.
        let all: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
        for kernel in Kernel::available() {
            for len in 0..200 {
                let bytes = &all[..len];
                for start in [0, 1, 13, 63, 64, 65, 130]
                    .into_iter()
                    .filter(|&s| s <= len)
                {
                    let want: Vec<usize> = bytewise(bytes)
                        .into_iter()
                        .filter(|&i| i >= start)
                        .collect();
                    assert_eq!(
                        by_bits(bytes, start, kernel),
                        want,
                        "{kernel:?} {len} {start}"
                    );
                }
            }
            for shift in 0..64 {
                let bytes: Vec<u8> = all.iter().cycle().skip(shift).take(700).copied().collect();
                assert_eq!(
                    by_bits(&bytes, 0, kernel),
                    bytewise(&bytes),
                    "{kernel:?} {shift}"
                );
            }
        }
    }

    #[test]
    fn detect_picks_the_last_available() {
        assert_eq!(Some(&Kernel::detect()), Kernel::available().last());
    }

    #[test]
    fn next_reads_from_the_start_and_ends_at_the_end() {
        let mut bits = TriggerBits::default();
        bits.fill(b"ab1cd", 1, Kernel(Isa::Portable));
        assert_eq!(bits.next(1), Some(2));
        assert_eq!(bits.next(3), None);
        assert_eq!(bits.next(0), Some(2));
        assert_eq!(bits.next(9), None);
    }
}
