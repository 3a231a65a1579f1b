//! Trigger bits: which bytes of a buffer the scan must stop at. The one
//! place in the crate with `unsafe`, as in aho-corasick and memchr.
//!
//! Finding the trigger bytes (ASCII digits, `@`, `%`, `&`, `\`, and the
//! first bytes of the other characters the decoder reads as a digit or
//! `@`: `0xEF`/`0xF0` of full-width and mathematical forms, `0xD9`/`0xDB`
//! of Arabic-Indic and Persian digits, `0xE0` of Devanagari ones; see
//! [`is_trigger`]) is the only work the scan
//! does on every byte of a page. With the SSE2 that every x86-64 CPU has
//! (through the `wide` crate, no `unsafe`), it takes 3.9 µs for a 60 KB
//! page; with AVX2 1.8 µs and with AVX-512BW 1.2 µs, found at run time
//! (`cargo bench --bench engine -- trigger_bits`). These kernels need
//! `unsafe` three ways: to load bytes through a pointer (masked loads too,
//! which read nothing past a slice), to store a register into an array, and
//! to call a function compiled for a CPU feature once the feature has been
//! checked. A [`Kernel`] can only be had from that check, so no safe caller
//! can run an instruction its CPU lacks. Every kernel agrees with
//! [`is_trigger`] on every byte (tests below).
//!
//! With AVX-512BW or AVX2 the kernel also leaves out the digits of *short
//! runs* ([`short_run`]): digits the scan would visit only to skip the
//! island there at once, most of a web page's digits. That kernel takes
//! about 3–5.5 µs per 60 KB page with AVX-512BW and 8.5–9 µs with AVX2
//! (which has no mask registers), and saves the loop more visits than that
//! costs. Where the CPU also has AVX-512VBMI, VBMI2 and GFNI (Ice Lake and
//! later, Zen 4), each byte is classified by one lookup of a 256-entry
//! table (`vpermi2b`) instead of a dozen compares, the classes reach the
//! short-run step by an affine transform and a permutation instead of
//! mask registers, and that step joins neighbouring bits in one
//! instruction (`vpshrdq`): 3.3 µs against 5.3 µs on an Intel Xeon that
//! has both, the places where a `<table` may start found on the way (for
//! the table tracker, [`TriggerBits::table_open`]). The kernels are held
//! to the bytewise
//! definition, the definition to the scan's quick walk, and the scan with
//! short runs left out to the scan without.
//!
//! [`PairTables`] is the same kind of kernel for the keyword gate of dates
//! and diagnoses: which positions of a 64-byte window may start one of a
//! set of byte pairs, with AVX-512BW or AVX2.

/// Whether the scan stops at this byte: an ASCII digit, `@`, the first
/// byte of an escape (`%`, `&`, `\`), or the first byte of a character
/// that [`super::decode::normalize`] reads as a digit or `@`: full-width
/// forms (`0xEF`), mathematical digits (`0xF0`), Arabic-Indic (`0xD9`),
/// Persian (`0xDB`) and Devanagari (`0xE0`) digits. Other characters with
/// those first bytes are stops too (the loop decodes them and moves on);
/// on Russian pages they are rare.
#[inline]
const fn is_trigger(b: u8) -> bool {
    b.is_ascii_digit()
        || matches!(
            b,
            b'@' | b'%' | b'&' | b'\\' | 0xD9 | 0xDB | 0xE0 | 0xEF | 0xF0
        )
}

/// Trigger bits of `buf[start..]`: bit `i % 64` of word `i / 64` is set
/// when the byte at `start + i` is a trigger. Public for benchmarks.
#[derive(Debug, Default)]
pub struct TriggerBits {
    start: usize,
    end: usize,
    words: Vec<u64>,
    /// Where a `<table` may start, bit for bit like `words`, when the
    /// kernel finds those too: `has_tables` is `None` when it does not,
    /// and else whether it found any.
    tables: Vec<u64>,
    has_tables: Option<bool>,
}

impl TriggerBits {
    /// Computes the bits of `buf[start..]`, reusing the allocation.
    pub fn fill(&mut self, buf: &[u8], start: usize, kernel: Kernel) {
        self.fill_to(buf, start, buf.len(), kernel);
    }

    /// Computes the bits of `buf[start..end]` only, as if the input ended
    /// at `end`: a short run that would reach past it keeps its digits.
    pub fn fill_to(&mut self, buf: &[u8], start: usize, end: usize, kernel: Kernel) {
        let end = end.min(buf.len());
        let from = start.min(end);
        let bytes = &buf[from..end];
        self.start = start;
        self.end = end;
        // Every word is written below: no need to clear the old ones.
        let n = bytes.len().div_ceil(64);
        self.words.resize(n, 0);
        self.tables.resize(n, 0);
        let before = from.checked_sub(1).map(|i| buf[i]);
        self.has_tables = kernel.run(bytes, before, &mut self.words[..n], &mut self.tables[..n]);
    }

    /// What the kernel found of `<table` tags in the bytes of the bits
    /// (`buf` being the buffer they were computed from), when it looks for
    /// them: where the first one starts, or else how far none does (the
    /// last five bytes are left out: a tag there may go on past the end).
    pub fn table_open(&self, buf: &[u8]) -> Option<Result<usize, usize>> {
        let reach = self.end.saturating_sub(5).max(self.start);
        if !self.has_tables? {
            return Some(Err(reach));
        }
        for (w, &word) in self.tables.iter().enumerate() {
            let at = self.start + w * 64;
            if at >= reach {
                break;
            }
            if word != 0
                && let Some(i) = first_table_open(buf, at, word)
                && i < reach
            {
                return Some(Ok(i));
            }
        }
        Some(Err(reach))
    }

    /// Where the bits end: the `end` they were computed to.
    pub fn end(&self) -> usize {
        self.end
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
///
/// The AVX-512BW and AVX2 kernels also leave out the digits of *short
/// runs* (see [`short_run`]) unless made [`Kernel::exhaustive`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kernel {
    isa: Isa,
    short_runs: bool,
}

/// Every instruction set, fastest first.
#[cfg(target_arch = "x86_64")]
const FASTEST_FIRST: [Isa; 4] = [Isa::Avx512Vbmi, Isa::Avx512, Isa::Avx2, Isa::Portable];
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
    /// AVX-512BW with AVX-512VBMI, VBMI2 and GFNI (Ice Lake and later,
    /// Zen 4), 64 bytes per step, each byte classified by one table lookup
    /// of all 256 values.
    #[cfg(target_arch = "x86_64")]
    Avx512Vbmi,
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
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512Vbmi => {
                std::arch::is_x86_feature_detected!("avx512bw")
                    && std::arch::is_x86_feature_detected!("avx512vbmi")
                    && std::arch::is_x86_feature_detected!("avx512vbmi2")
                    && std::arch::is_x86_feature_detected!("gfni")
            }
        }
    }
}

impl Kernel {
    /// The fastest kernel this CPU runs (the check is cached by `std`).
    pub fn detect() -> Kernel {
        Kernel::new(
            FASTEST_FIRST
                .into_iter()
                .find(|isa| isa.runs_here())
                .unwrap_or(Isa::Portable),
        )
    }

    /// With short runs left out where the instruction set can afford it.
    fn new(isa: Isa) -> Kernel {
        Kernel {
            isa,
            #[cfg(target_arch = "x86_64")]
            short_runs: matches!(isa, Isa::Avx512Vbmi | Isa::Avx512 | Isa::Avx2),
            #[cfg(not(target_arch = "x86_64"))]
            short_runs: false,
        }
    }

    /// The same kernel, keeping every trigger byte (short runs included):
    /// for tests that hold the scan with short runs left out to the scan
    /// without, and for benchmarks.
    pub fn exhaustive(self) -> Kernel {
        Kernel {
            short_runs: false,
            ..self
        }
    }

    /// Whether this kernel leaves out the digits of short runs.
    pub fn skips_short_runs(self) -> bool {
        self.short_runs
    }

    /// Every kernel this CPU runs, slowest first, each that leaves out
    /// short runs right after the same kernel keeping every trigger: for
    /// tests and benchmarks.
    pub fn available() -> Vec<Kernel> {
        let mut all: Vec<Kernel> = FASTEST_FIRST
            .into_iter()
            .filter(|isa| isa.runs_here())
            .map(Kernel::new)
            .flat_map(|k| {
                let every = k.exhaustive();
                [Some(k), (every != k).then_some(every)]
            })
            .flatten()
            .collect();
        all.reverse();
        all
    }

    /// A short name: `portable`, `avx2`, `avx512`, and `avx2_short` or
    /// `avx512_short` when it leaves out short runs.
    pub fn name(self) -> &'static str {
        match (self.isa, self.short_runs) {
            #[cfg(target_arch = "x86_64")]
            (Isa::Avx2, true) => "avx2_short",
            #[cfg(target_arch = "x86_64")]
            (Isa::Avx512, true) => "avx512_short",
            #[cfg(target_arch = "x86_64")]
            (Isa::Avx512Vbmi, true) => "avx512vbmi_short",
            (Isa::Portable, _) => "portable",
            #[cfg(target_arch = "x86_64")]
            (Isa::Avx2, false) => "avx2",
            #[cfg(target_arch = "x86_64")]
            (Isa::Avx512, false) => "avx512",
            #[cfg(target_arch = "x86_64")]
            (Isa::Avx512Vbmi, false) => "avx512vbmi",
        }
    }

    /// Writes the bits of `bytes` into every word of `words` (`bytes.len()`
    /// rounded up to 64 bits). `before`: the byte before `bytes`, if any.
    /// The kernel of AVX-512VBMI with short runs also writes the `<table`
    /// candidates into `tables`, and says whether there are any; the
    /// others give `None`.
    fn run(
        self,
        bytes: &[u8],
        before: Option<u8>,
        words: &mut [u64],
        tables: &mut [u64],
    ) -> Option<bool> {
        // Only kernels of AVX-512BW and AVX2 leave out short runs
        // (`Kernel::new`).
        #[cfg(target_arch = "x86_64")]
        match (self.isa, self.short_runs) {
            // SAFETY: a kernel of AVX-512VBMI is only made after
            // `runs_here` found AVX-512BW, AVX-512VBMI, AVX-512VBMI2 and
            // GFNI on this CPU.
            (Isa::Avx512Vbmi, true) => {
                return Some(unsafe { x86::avx512vbmi_short_runs(bytes, before, words, tables) });
            }
            // SAFETY: a kernel of AVX-512BW is only made after `runs_here`
            // found AVX-512BW on this CPU.
            (Isa::Avx512, true) => {
                unsafe { x86::avx512_short_runs(bytes, before, words) };
                return None;
            }
            // SAFETY: a kernel of AVX2 is only made after `runs_here` found
            // AVX2 on this CPU.
            (Isa::Avx2, true) => {
                unsafe { x86::avx2_short_runs(bytes, before, words) };
                return None;
            }
            _ => {}
        }
        let _ = (before, tables);
        let (body, tail) = bytes.split_at(bytes.len() / 64 * 64);
        match self.isa {
            Isa::Portable => portable(body, words),
            #[cfg(target_arch = "x86_64")]
            // SAFETY: a kernel of AVX2 is only made after `runs_here`
            // found AVX2 on this CPU.
            Isa::Avx2 => unsafe { x86::avx2(body, words) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: a kernel of AVX-512BW is only made after
            // `runs_here` found AVX-512BW on this CPU.
            Isa::Avx512 => unsafe { x86::avx512(body, words) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: a kernel of AVX-512VBMI is only made after
            // `runs_here` found AVX-512BW and AVX-512VBMI on this CPU.
            Isa::Avx512Vbmi => unsafe { x86::avx512vbmi(body, words) },
        }
        if !tail.is_empty() {
            let mut last = 0;
            for (i, &b) in tail.iter().enumerate() {
                last |= u64::from(is_trigger(b)) << i;
            }
            words[body.len() / 64] = last;
        }
        None
    }
}

/// Nibble tables for [`PairTables::candidates`]: a pair of bytes may be one
/// of a set of pairs when the entries of its four nibbles share a bit (the
/// pairs are spread over eight buckets, one bit each; as in the Teddy
/// search of aho-corasick). Every pair of the set passes; some others do
/// too, so each candidate is then tested exactly.
#[derive(Clone, Debug)]
pub struct PairTables {
    /// First byte's low and high nibbles, second byte's low and high, each
    /// table four times over (one per 128-bit lane).
    tables: [[u8; 64]; 4],
}

impl PairTables {
    /// Tables for `pairs`, bytes already ASCII case folded (`| 0x20`).
    ///
    /// A bucket passes every pair its four nibble sets make, so each pair
    /// goes to the bucket it widens least: `д` (`D0 B4`) and `р` (`D1 80`)
    /// together would pass `а` (`D0 B0`), the commonest Russian letter.
    pub fn new(pairs: &[[u8; 2]]) -> PairTables {
        let mut tables = [[0u8; 64]; 4];
        // Each bucket's nibble sets: first byte low and high, second low
        // and high.
        let mut sets = [[0u16; 4]; 8];
        let size = |s: &[u16; 4]| s.iter().map(|x| x.count_ones()).product::<u32>();
        for &[a, b] in pairs {
            let nibbles = [a & 15, a >> 4, b & 15, b >> 4];
            let with = |s: &[u16; 4]| {
                let mut w = *s;
                for (set, n) in w.iter_mut().zip(nibbles) {
                    *set |= 1 << n;
                }
                w
            };
            let k = (0..8)
                .min_by_key(|&k| size(&with(&sets[k])) - size(&sets[k]))
                .unwrap_or_default();
            sets[k] = with(&sets[k]);
            let bit = 1u8 << k;
            for lane in 0..4 {
                let at = lane * 16;
                tables[0][at + usize::from(a & 15)] |= bit;
                tables[1][at + usize::from(a >> 4)] |= bit;
                tables[2][at + usize::from(b & 15)] |= bit;
                tables[3][at + usize::from(b >> 4)] |= bit;
            }
        }
        PairTables { tables }
    }

    /// Bit `i` set when the folded bytes at `i` and `i + 1` of `w` may be
    /// a pair of the set, for `w` of at most 65 bytes. `None` when this CPU
    /// lacks both AVX-512BW and AVX2 (the caller tests pairs its own way).
    pub fn candidates(&self, w: &[u8]) -> Option<u64> {
        if w.len() > 65 {
            return None;
        }
        #[cfg(target_arch = "x86_64")]
        if Isa::Avx512.runs_here() {
            // SAFETY: AVX-512BW was found on this CPU just above.
            return Some(unsafe { x86::pair_candidates(&self.tables, w) });
        } else if Isa::Avx2.runs_here() {
            // SAFETY: AVX2 was found on this CPU just above.
            return Some(unsafe { x86::pair_candidates_avx2(&self.tables, w) });
        }
        None
    }

    /// The same, byte by byte: what the kernel is held to.
    #[cfg(test)]
    fn candidates_bytewise(&self, w: &[u8]) -> u64 {
        let t = &self.tables;
        let mut m = 0;
        for i in 0..w.len().saturating_sub(1) {
            let (a, b) = (w[i] | 0x20, w[i + 1] | 0x20);
            let hit = t[0][usize::from(a & 15)]
                & t[1][usize::from(a >> 4)]
                & t[2][usize::from(b & 15)]
                & t[3][usize::from(b >> 4)];
            m |= u64::from(hit != 0) << i;
        }
        m
    }
}

/// Plain ASCII bytes that stand between the digit groups of an island:
/// the separators of [`super::numbers::separator`], with tabs and line
/// breaks, which the scan reads as spaces.
#[inline]
pub(crate) fn is_plain_separator(b: u8) -> bool {
    b.is_ascii()
        && (super::numbers::separator(b as char).is_some() || matches!(b, b'\t' | b'\n' | b'\r'))
}

/// Whether the digit at `i` of `buf` starts a *short run*: the scan's
/// quick walk from it would skip the island at once, so its trigger bit
/// may be left out. It holds when, counting from `i`:
/// - the bytes up to some `j` are all digits or plain separators, `j - i`
///   is at most 7 (so at most seven digits: too few for any identifier
///   or date), and the byte at `j` is in the buffer;
/// - the byte at `j` ends every island: plain ASCII that is no digit,
///   separator, escape (`%`, `&`, `\`), `@`, quote or letter; or a quote
///   after a separator;
/// - or `j - i` is at most 3 and the byte at `j` is a quote, a letter, or
///   the lead byte of a Cyrillic letter (`0xD0`, `0xD1`) with a byte after
///   it in the buffer: these end the island unless it has exactly four
///   digits (a passport series before a JSON field jump or a connector
///   word); the same when `j - i` is at most 6 and the bytes from `i + 3`
///   up to `j` are all separators, so that the run holds at most three
///   digits (`кабинет № 138. Приём`);
/// - and the byte before `i` is no capital (an ICD-10 code keeps its bit).
///
/// A letter right after a digit ends the island too (glued to it, it joins
/// nothing), and so does `@`, but the definition leaves them to the quick
/// walk: the kernels tell bytes apart by three bits each (`x86::Planes4`),
/// and these would take a fourth.
///
/// This is the definition the kernels are held to. The scan's own tests
/// hold it to the quick walk, and the scan with short runs left out to
/// the scan without.
pub fn short_run(buf: &[u8], i: usize) -> bool {
    if !buf[i].is_ascii_digit() || (i > 0 && buf[i - 1].is_ascii_uppercase()) {
        return false;
    }
    let len = buf[i..]
        .iter()
        .take_while(|&&b| b.is_ascii_digit() || is_plain_separator(b))
        .count();
    let Some(&x) = buf.get(i + len) else {
        return false;
    };
    let after_digit = buf[i + len - 1].is_ascii_digit();
    let hard = (x.is_ascii()
        && !x.is_ascii_alphabetic()
        && !matches!(x, b'%' | b'&' | b'\\' | b'"' | b'@'))
        || (x == b'"' && !after_digit);
    let cyrillic = matches!(x, 0xD0 | 0xD1) && buf.len() > i + len + 1;
    let soft = x == b'"' || x.is_ascii_alphabetic() || cyrillic;
    // At most three digits: only separators after the first three bytes.
    let three_digits = buf[i + len.min(3)..i + len]
        .iter()
        .all(|b| !b.is_ascii_digit());
    (hard && len <= 7) || (soft && (len <= 3 || (len <= 6 && three_digits)))
}

/// The first `<table` in `hay`, in any ASCII case, as the table tracker
/// reads tag names. A `<` with a `b` or `B` three bytes on is found
/// sixty-four bytes at a time with AVX-512BW where the CPU has it,
/// thirty-two with AVX2, sixteen with SSE2 elsewhere (`memchr`'s pair
/// search, made blind to case), and each such place is then compared
/// whole.
pub fn find_table_open(hay: &[u8]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    let from = if Isa::Avx512.runs_here() {
        // SAFETY: AVX-512BW was found on this CPU.
        match unsafe { x86::table_open_avx512(hay) } {
            Ok(at) => return Some(at),
            Err(rest) => rest,
        }
    } else if Isa::Avx2.runs_here() {
        // SAFETY: AVX2 was found on this CPU.
        match unsafe { x86::table_open_avx2(hay) } {
            Ok(at) => return Some(at),
            Err(rest) => rest,
        }
    } else {
        0
    };
    #[cfg(not(target_arch = "x86_64"))]
    let from = 0;
    let from = match table_open_sse2(hay, from) {
        Ok(at) => return Some(at),
        Err(rest) => rest,
    };
    (from..hay.len()).find(|&i| table_open_at(hay, i))
}

/// Whether `<table`, in any ASCII case, starts at `i` of `hay`.
fn table_open_at(hay: &[u8], i: usize) -> bool {
    hay.get(i..i + 6)
        .is_some_and(|w| w.eq_ignore_ascii_case(b"<table"))
}

/// The first of the candidate places in `bits` (bit `k` for `base + k`)
/// where `<table` stands.
fn first_table_open(hay: &[u8], base: usize, mut bits: u64) -> Option<usize> {
    while bits != 0 {
        let at = base + bits.trailing_zeros() as usize;
        if table_open_at(hay, at) {
            return Some(at);
        }
        bits &= bits - 1;
    }
    None
}

/// [`find_table_open`]'s pair search from `from`, sixteen bytes at a time:
/// `Ok` with the first tag, or `Err` with where whole steps ran out.
fn table_open_sse2(hay: &[u8], mut from: usize) -> Result<usize, usize> {
    use wide::u8x16;
    let load = |i: usize| {
        let mut b = [0u8; 16];
        b.copy_from_slice(&hay[i..i + 16]);
        u8x16::new(b)
    };
    while from + 19 <= hay.len() {
        let lt = load(from).simd_eq(u8x16::splat(b'<'));
        let b = (load(from + 3) | u8x16::splat(0x20)).simd_eq(u8x16::splat(b'b'));
        if let Some(at) = first_table_open(hay, from, (lt & b).to_bitmask().into()) {
            return Ok(at);
        }
        from += 16;
    }
    Err(from)
}

/// Sixteen bytes at a time with SSE2: three range tests and four equality
/// tests (`0xD9` and `0xDB` in one, with bit 1 set).
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
                | v.simd_eq(u8x16::splat(b'\\'))
                | (v | u8x16::splat(2)).simd_eq(u8x16::splat(0xDB))
                | v.simd_eq(u8x16::splat(0xE0));
            bits |= u64::from(hits.to_bitmask()) << (16 * k);
        }
        *word = bits;
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// Sixty-four bytes at a time: three range tests and four equality
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
                | _mm512_cmpeq_epi8_mask(v, splat(b'\\'))
                | other_digit_leads(v);
        }
    }

    /// The first bytes of Arabic-Indic, Persian and Devanagari digits
    /// (`0xD9`, `0xDB`: the same with bit 1 set; `0xE0`).
    #[inline]
    #[target_feature(enable = "avx512bw")]
    fn other_digit_leads(v: __m512i) -> u64 {
        _mm512_cmpeq_epi8_mask(
            _mm512_or_si512(v, _mm512_set1_epi8(2)),
            _mm512_set1_epi8(0xDBu8 as i8),
        ) | _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(0xE0u8 as i8))
    }

    /// [`super::find_table_open`]'s pair search, thirty-two bytes at a
    /// time: `Ok` with the first tag, or `Err` with where whole steps ran
    /// out.
    #[target_feature(enable = "avx2")]
    pub(super) fn table_open_avx2(hay: &[u8]) -> Result<usize, usize> {
        let lt = _mm256_set1_epi8(b'<' as i8);
        let b = _mm256_set1_epi8(b'b' as i8);
        let fold = _mm256_set1_epi8(0x20);
        // The places of thirty-two bytes from `i` where a `<` has a `b`
        // three bytes on.
        let hits = |i: usize| {
            // SAFETY: every caller checks that bytes `i..i + 35` are in
            // the slice; the loads need no alignment.
            let (v0, v3) = unsafe {
                (
                    _mm256_loadu_si256(hay.as_ptr().add(i).cast()),
                    _mm256_loadu_si256(hay.as_ptr().add(i + 3).cast()),
                )
            };
            _mm256_and_si256(
                _mm256_cmpeq_epi8(v0, lt),
                _mm256_cmpeq_epi8(_mm256_or_si256(v3, fold), b),
            )
        };
        let mut i = 0;
        // 128 bytes a step, tested for any place at once: most steps have
        // none, and a mask is gathered only where one is.
        while i + 131 <= hay.len() {
            let h = [hits(i), hits(i + 32), hits(i + 64), hits(i + 96)];
            let any = _mm256_or_si256(_mm256_or_si256(h[0], h[1]), _mm256_or_si256(h[2], h[3]));
            if _mm256_testz_si256(any, any) == 0 {
                for (k, h) in h.into_iter().enumerate() {
                    let bits = _mm256_movemask_epi8(h) as u32;
                    if let Some(at) = super::first_table_open(hay, i + 32 * k, bits.into()) {
                        return Ok(at);
                    }
                }
            }
            i += 128;
        }
        while i + 35 <= hay.len() {
            let bits = _mm256_movemask_epi8(hits(i)) as u32;
            if let Some(at) = super::first_table_open(hay, i, bits.into()) {
                return Ok(at);
            }
            i += 32;
        }
        Err(i)
    }

    /// The same, sixty-four bytes at a time, each test straight into a
    /// mask register. Each block is loaded once: the `b`s three bytes on
    /// are its own mask moved down, and the low bits of the next block's.
    #[target_feature(enable = "avx512bw")]
    pub(super) fn table_open_avx512(hay: &[u8]) -> Result<usize, usize> {
        let lt = _mm512_set1_epi8(b'<' as i8);
        let b = _mm512_set1_epi8(b'b' as i8);
        let fold = _mm512_set1_epi8(0x20);
        let load = |i: usize| {
            // SAFETY: every caller checks that bytes `i..i + 64` are in the
            // slice; the load needs no alignment.
            unsafe { _mm512_loadu_si512(hay.as_ptr().add(i).cast()) }
        };
        let bs = |v: __m512i| _mm512_cmpeq_epi8_mask(_mm512_or_si512(v, fold), b);
        if hay.len() < 128 {
            return Err(0);
        }
        let mut v = load(0);
        let mut b_here = bs(v);
        let mut i = 0;
        while i + 128 <= hay.len() {
            let next = load(i + 64);
            let b_next = bs(next);
            let bits = _mm512_cmpeq_epi8_mask(v, lt) & (b_here >> 3 | b_next << 61);
            if let Some(at) = super::first_table_open(hay, i, bits) {
                return Ok(at);
            }
            (v, b_here) = (next, b_next);
            i += 64;
        }
        Err(i)
    }

    /// Class bits looked up by nibble: a byte is in a class when the
    /// entries for its low and its high nibble share the class's bit.
    /// Every class here is a product of a set of high nibbles and a set of
    /// low nibbles, so one bit each does (two for separators and letters,
    /// which span two high nibbles each; `\\` has its own escape bit).
    const SEP_0: u8 = 1 << 0;
    const SEP_2: u8 = 1 << 1;
    const QUOTE: u8 = 1 << 2;
    const ESC_2: u8 = 1 << 3;
    const DIGIT: u8 = 1 << 4;
    const LETTER_46: u8 = 1 << 5;
    const LETTER_57: u8 = 1 << 6;
    const ESC_5: u8 = 1 << 7;

    /// `(class bit, high nibbles, low nibbles)`.
    const CLASSES: [(u8, &[u8], &[u8]); 8] = [
        (SEP_0, &[0x0], &[0x9, 0xA, 0xD]),
        (SEP_2, &[0x2], &[0x0, 0x3, 0x8, 0x9, 0xB, 0xD, 0xE, 0xF]),
        (QUOTE, &[0x2], &[0x2]),
        (ESC_2, &[0x2], &[0x5, 0x6]),
        (DIGIT, &[0x3], &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
        (
            LETTER_46,
            &[0x4, 0x6],
            &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
        ),
        (LETTER_57, &[0x5, 0x7], &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
        (ESC_5, &[0x5], &[0xC]),
    ];

    /// The low-nibble (`high == false`) or high-nibble table of `classes`,
    /// four times over (one per 128-bit lane).
    const fn nibble_table(classes: &[(u8, &[u8], &[u8])], high: bool) -> [u8; 64] {
        let mut t = [0u8; 64];
        let mut c = 0;
        while c < classes.len() {
            let (bit, his, los) = classes[c];
            let set = if high { his } else { los };
            let mut k = 0;
            while k < set.len() {
                let mut lane = 0;
                while lane < 4 {
                    t[lane * 16 + set[k] as usize] |= bit;
                    lane += 1;
                }
                k += 1;
            }
            c += 1;
        }
        t
    }
    const LOW: [u8; 64] = nibble_table(&CLASSES, false);
    const HIGH: [u8; 64] = nibble_table(&CLASSES, true);

    /// The classes of the AVX2 kernel. Digits, escapes and `@` are in
    /// [`OTHER_TRIGGERS`] instead, which frees the bits for the lead bytes
    /// of Cyrillic letters (`0xD0`, `0xD1`) and for capitals apart from
    /// small letters.
    const CYRILLIC: u8 = 1 << 3;
    const CAPITAL_4: u8 = 1 << 4;
    const CAPITAL_5: u8 = 1 << 5;
    const SMALL_6: u8 = 1 << 6;
    const SMALL_7: u8 = 1 << 7;
    const CAPITALS: u8 = CAPITAL_4 | CAPITAL_5;
    const LETTERS: u8 = CAPITALS | SMALL_6 | SMALL_7;
    const CLASSES_AVX2: [(u8, &[u8], &[u8]); 8] = [
        CLASSES[0], // SEP_0
        CLASSES[1], // SEP_2
        CLASSES[2], // QUOTE
        (CYRILLIC, &[0xD], &[0x0, 0x1]),
        (
            CAPITAL_4,
            &[0x4],
            &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
        ),
        (CAPITAL_5, &[0x5], &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
        (
            SMALL_6,
            &[0x6],
            &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
        ),
        (SMALL_7, &[0x7], &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
    ];
    // The first three entries are taken from `CLASSES` by place.
    const _: () = assert!(CLASSES[0].0 == SEP_0 && CLASSES[1].0 == SEP_2 && CLASSES[2].0 == QUOTE);
    const LOW_AVX2: [u8; 64] = nibble_table(&CLASSES_AVX2, false);
    const HIGH_AVX2: [u8; 64] = nibble_table(&CLASSES_AVX2, true);

    /// The triggers, for the AVX2 kernel, by a second pair of nibble
    /// lookups: a byte is one when its two entries share a bit. Seven
    /// products of nibble sets make the nineteen bytes exactly. Digits
    /// have the top bit, [`DIGIT_TOP`], which is the bit `vpmovmskb`
    /// gathers, so the entries of a byte ANDed are its digit mask as they
    /// are; the other triggers have the six bits of [`OTHER_BITS`].
    const OTHER_TRIGGERS: [(u8, &[u8], &[u8]); 7] = [
        (1 << 0, &[0x4], &[0x0]),      // `@`
        (1 << 1, &[0xD], &[0x9, 0xB]), // Arabic-Indic and Persian digits
        (1 << 2, &[0xE], &[0x0, 0xF]), // Devanagari digits, full-width forms
        (1 << 3, &[0xF], &[0x0]),      // mathematical digits
        (1 << 4, &[0x2], &[0x5, 0x6]), // `%`, `&`
        (1 << 5, &[0x5], &[0xC]),      // `\`
        (DIGIT_TOP, &[0x3], &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
    ];
    const DIGIT_TOP: u8 = 1 << 7;
    const OTHER_BITS: u8 = (1 << 6) - 1;
    const LOW_OTHER: [u8; 64] = nibble_table(&OTHER_TRIGGERS, false);
    const HIGH_OTHER: [u8; 64] = nibble_table(&OTHER_TRIGGERS, true);

    /// Three bit planes of eight 64-byte blocks, one 64-bit lane each: the
    /// eight kinds of byte of [`Planes4`], in the same three bits.
    #[derive(Clone, Copy)]
    struct Planes {
        a: __m512i,
        b: __m512i,
        c: __m512i,
    }

    /// What [`super::short_run`] needs of eight blocks, the bits of the
    /// block before each carried in.
    #[derive(Clone, Copy)]
    struct Ends {
        /// Digits and separators: what a run is made of.
        run: __m512i,
        /// Bytes that end any run.
        hard: __m512i,
        /// Bytes that end a run of at most three bytes, or of at most six
        /// when separators alone follow its first three.
        soft: __m512i,
        /// Separators: run bytes that are no digit.
        sep: __m512i,
        /// Digits with no capital before them.
        digit: __m512i,
    }

    /// Each lane's bits from bit `$k` on, then the low bits of the lane
    /// after it in `$next` (`$k` and `64 - $k` spelled out: immediates).
    macro_rules! ahead {
        ($a:expr, $next:expr, $k:literal, $rest:literal) => {
            _mm512_or_si512(
                _mm512_srli_epi64::<$k>($a),
                _mm512_slli_epi64::<$rest>($next),
            )
        };
    }

    /// `a | (b & c)`, lane by lane, in one instruction.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn or_and(a: __m512i, b: __m512i, c: __m512i) -> __m512i {
        _mm512_ternarylogic_epi64::<0xF8>(a, b, c)
    }

    /// `f(a, b, c)` of three planes, bit by bit, in one instruction: `F`
    /// is `f` of the bytes `0xF0`, `0xCC` and `0xAA`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn logic<const F: i32>(p: Planes) -> __m512i {
        _mm512_ternarylogic_epi64::<F>(p.a, p.b, p.c)
    }

    impl Planes {
        /// No byte in any plane: the blocks past the end of the input.
        #[inline]
        #[target_feature(enable = "avx512f")]
        fn none() -> Planes {
            let zero = _mm512_setzero_si512();
            Planes {
                a: zero,
                b: zero,
                c: zero,
            }
        }

        /// The blocks before the first: only whether the byte before the
        /// input (`before`) is a capital, which keeps a first digit's bit.
        #[inline]
        #[target_feature(enable = "avx512f")]
        fn before_input(before: Option<u8>) -> Planes {
            let capital = if before.is_some_and(|b| b.is_ascii_uppercase()) {
                _mm512_set1_epi64(i64::MIN)
            } else {
                _mm512_setzero_si512()
            };
            Planes {
                b: capital,
                c: capital,
                ..Planes::none()
            }
        }
    }

    /// [`Planes::ends`] and [`Ends::short_runs`], written once for two
    /// instruction sets: with AVX-512F alone, a lane's bits and the next
    /// lane's are shifted and joined in three steps (`ahead!`, `after!`);
    /// with AVX-512VBMI2 in one (`vpshrdq`, `vpshldq`).
    macro_rules! short_run_steps {
        ($feature:literal, $ends:ident, $short_runs:ident, $ahead:ident, $after:ident) => {
            impl Planes {
                /// [`Ends`] of these blocks, `before` being the eight blocks
                /// before them (lane 7 is the block right before lane 0). As in
                /// [`Planes4::ends`], the byte before a run's end is in the run, so
                /// only whether it is a digit is asked of it.
                #[inline]
                #[target_feature(enable = $feature)]
                fn $ends(self, before: Planes) -> Ends {
                    // Each byte's bit moved to the byte after it.
                    let shift = |cur: __m512i, prev: __m512i| {
                        $after!(cur, _mm512_alignr_epi64::<7>(cur, prev))
                    };
                    // a & b & c, and !a & b & c.
                    let digit = logic::<0x80>(self);
                    let upper = logic::<0x08>(self);
                    let digit_before = shift(digit, logic::<0x80>(before));
                    let upper_before = shift(upper, logic::<0x08>(before));
                    // a & !b & c.
                    let quote = logic::<0x20>(self);
                    Ends {
                        // a & b.
                        run: logic::<0xC0>(self),
                        // a & !b & !c, or a quote after no digit.
                        hard: _mm512_ternarylogic_epi64::<0xF4>(
                            logic::<0x10>(self),
                            quote,
                            digit_before,
                        ),
                        // !a & b, or a quote.
                        soft: logic::<0x2C>(self),
                        // a & b & !c.
                        sep: logic::<0x40>(self),
                        digit: _mm512_andnot_si512(upper_before, digit),
                    }
                }
            }

            impl Ends {
                /// The digits of these eight blocks that start a short run,
                /// `next` being the eight blocks after them (all clear past the
                /// end of the input).
                ///
                /// Reach by doubling: after the step of shift `s`, a bit is set
                /// where an end lies at most `r` bytes ahead over digits and
                /// separators only, `r` going 0, 1, 3, 7; `runs_k`: the next `k`
                /// bytes are all digits and separators. Every bit reads at most
                /// seven bits ahead, so the `…n` values, which stand for the block
                /// after each one and lack the block after that, are exact in the
                /// low bits that are read.
                #[inline]
                #[target_feature(enable = $feature)]
                fn $short_runs(self, next: Ends) -> __m512i {
                    // Lane `j`: the block after lane `j`.
                    let run_n = _mm512_alignr_epi64::<1>(next.run, self.run);
                    let hard_n = _mm512_alignr_epi64::<1>(next.hard, self.hard);
                    let soft_n = _mm512_alignr_epi64::<1>(next.soft, self.soft);
                    let runs_1 = self.run;
                    let runs_2 = _mm512_and_si512(runs_1, $ahead!(runs_1, run_n, 1, 63));
                    let runs_2n = _mm512_and_si512(run_n, _mm512_srli_epi64::<1>(run_n));
                    let runs_4 = _mm512_and_si512(runs_2, $ahead!(runs_2, runs_2n, 2, 62));
                    let hard_1 = or_and(self.hard, runs_1, $ahead!(self.hard, hard_n, 1, 63));
                    let hard_1n = or_and(hard_n, run_n, _mm512_srli_epi64::<1>(hard_n));
                    let hard_3 = or_and(hard_1, runs_2, $ahead!(hard_1, hard_1n, 2, 62));
                    let hard_3n = or_and(hard_1n, runs_2n, _mm512_srli_epi64::<2>(hard_1n));
                    let hard_7 = or_and(hard_3, runs_4, $ahead!(hard_3, hard_3n, 4, 60));
                    // The soft ends one byte on, read by both soft steps below.
                    let soft_on = $ahead!(self.soft, soft_n, 1, 63);
                    let soft_on_n = _mm512_srli_epi64::<1>(soft_n);
                    let soft_1 = or_and(self.soft, runs_1, soft_on);
                    let soft_1n = or_and(soft_n, run_n, soft_on_n);
                    let soft_3 = or_and(soft_1, runs_2, $ahead!(soft_1, soft_1n, 2, 62));
                    // A soft end at most three bytes on over separators alone
                    // (`seps_3`), three bytes after the digit: six in all, with
                    // no digit but in the first three.
                    let sep_n = _mm512_alignr_epi64::<1>(next.sep, self.sep);
                    let runs_3 = _mm512_and_si512(runs_2, $ahead!(runs_1, run_n, 2, 62));
                    let seps_1 = or_and(self.soft, self.sep, soft_on);
                    let seps_1n = or_and(soft_n, sep_n, soft_on_n);
                    let two_seps = _mm512_and_si512(self.sep, $ahead!(self.sep, sep_n, 1, 63));
                    let two_seps_n = _mm512_and_si512(sep_n, _mm512_srli_epi64::<1>(sep_n));
                    let seps_3 = or_and(seps_1, two_seps, $ahead!(seps_1, seps_1n, 2, 62));
                    let seps_3n = or_and(seps_1n, two_seps_n, _mm512_srli_epi64::<2>(seps_1n));
                    let soft_6 = _mm512_and_si512(runs_3, $ahead!(seps_3, seps_3n, 3, 61));
                    // hard_7 | soft_3 | soft_6.
                    let ends = _mm512_ternarylogic_epi64::<0xFE>(hard_7, soft_3, soft_6);
                    _mm512_and_si512(self.digit, ends)
                }
            }
        };
    }

    /// Each lane's bits moved one bit up, the top bit of the lane before
    /// it in `$before` coming in.
    macro_rules! after {
        ($a:expr, $before:expr) => {
            _mm512_or_si512(_mm512_slli_epi64::<1>($a), _mm512_srli_epi64::<63>($before))
        };
    }

    /// [`ahead!`] in one instruction (AVX-512VBMI2).
    macro_rules! ahead_vbmi2 {
        ($a:expr, $next:expr, $k:literal, $rest:literal) => {
            _mm512_shrdi_epi64::<$k>($a, $next)
        };
    }

    /// [`after!`] in one instruction (AVX-512VBMI2).
    macro_rules! after_vbmi2 {
        ($a:expr, $before:expr) => {
            _mm512_shldi_epi64::<1>($a, $before)
        };
    }

    short_run_steps!("avx512f", ends, short_runs, ahead, after);
    short_run_steps!(
        "avx512f,avx512vbmi2",
        ends_vbmi2,
        short_runs_vbmi2,
        ahead_vbmi2,
        after_vbmi2
    );

    impl Ends {
        /// Clears the bits of [`Ends::short_runs`] in the first eight
        /// words of `words` (fewer at the end of the input).
        #[inline]
        #[target_feature(enable = "avx512f")]
        fn clear_short_runs(self, next: Ends, words: &mut [u64]) {
            let left_out = self.short_runs(next);
            if let Some(eight) = words.get_mut(..8) {
                // SAFETY: `eight` holds 64 readable and writable bytes.
                unsafe {
                    let kept =
                        _mm512_andnot_si512(left_out, _mm512_loadu_si512(eight.as_ptr().cast()));
                    _mm512_storeu_si512(eight.as_mut_ptr().cast(), kept);
                }
                return;
            }
            let mut lanes = [0u64; 8];
            // SAFETY: `lanes` has room for 64 bytes.
            unsafe { _mm512_storeu_si512(lanes.as_mut_ptr().cast(), left_out) };
            for (word, out) in words.iter_mut().zip(lanes) {
                *word &= !out;
            }
        }
    }

    impl Ends {
        /// Writes `triggers` less the bits of [`Ends::short_runs`] into the
        /// first eight words of `words` (fewer at the end of the input).
        #[inline]
        #[target_feature(enable = "avx512f,avx512vbmi2")]
        fn write_short_runs(self, next: Ends, triggers: __m512i, words: &mut [u64]) {
            let kept = _mm512_andnot_si512(self.short_runs_vbmi2(next), triggers);
            store_words(kept, words);
        }
    }

    /// The part of the AVX-512 kernels after each block's classes: eight
    /// blocks' planes go into one register each, and [`Ends`] finds the
    /// short runs of eight words at a time, once the eight blocks after
    /// them are classified. `$block(at, valid, before_last, masks, k)`
    /// writes the three planes ([`Planes`]) of the block at `at` into lane
    /// `k` of `masks` and returns its trigger bits; `valid` are the bytes from `at` that
    /// the slice holds, `before_last` the same but the input's last byte.
    /// A macro, not a function: its body runs under the CPU features of
    /// the kernel it is written into.
    macro_rules! short_runs_over_blocks {
        ($bytes:ident, $before:ident, $words:ident, $block:ident) => {
            let load = |m: &[u64; 8]| {
                // SAFETY: `m` holds 64 readable bytes.
                unsafe { _mm512_loadu_si512(m.as_ptr().cast()) }
            };
            let mut prev = Planes::before_input($before);
            // The eight words waiting for the blocks after them.
            let mut waiting: Option<(usize, Ends)> = None;
            // Two sets of masks: a segment's are loaded into registers one
            // segment after they were written, when the stores have left the
            // store buffer (a 64-byte load of eight 8-byte stores still in it
            // cannot be forwarded, and stalls).
            let mut masks = [[[0u64; 8]; 3]; 2];
            let segments = $words.len().div_ceil(8);
            for s in 0..=segments {
                if s < segments {
                    let m = &mut masks[s % 2];
                    let w = s * 8;
                    if $words.len() - w < 8 {
                        *m = [[0; 8]; 3];
                    }
                    for (k, word) in $words[w..].iter_mut().take(8).enumerate() {
                        let at = (w + k) * 64;
                        *word = if at + 64 < $bytes.len() {
                            $block(at, u64::MAX, u64::MAX, m, k)
                        } else {
                            let valid = u64::MAX >> (64 - ($bytes.len() - at));
                            $block(at, valid, valid >> 1, m, k)
                        };
                    }
                }
                if s > 0 {
                    let m = &masks[(s - 1) % 2];
                    let c = Planes {
                        a: load(&m[0]),
                        b: load(&m[1]),
                        c: load(&m[2]),
                    };
                    let ends = c.ends(prev);
                    if let Some((at, before)) = waiting {
                        before.clear_short_runs(ends, &mut $words[at..]);
                    }
                    waiting = Some(((s - 1) * 8, ends));
                    prev = c;
                }
            }
            if let Some((at, before)) = waiting {
                before.clear_short_runs(Planes::none().ends(prev), &mut $words[at..]);
            }
        };
    }

    /// Trigger bits with the digits of short runs left out
    /// ([`super::short_run`]). Each 64-byte block gets its trigger bits and
    /// seven class masks, six from two nibble lookups, combined into the
    /// three planes of [`Planes`]; then `short_runs_over_blocks` finds the
    /// short runs eight blocks at a time. The last, partial block is read
    /// with a masked load (no byte past the end is touched); its missing
    /// bytes are in no class.
    #[target_feature(enable = "avx512bw")]
    pub(super) fn avx512_short_runs(bytes: &[u8], before: Option<u8>, words: &mut [u64]) {
        let splat = |b: u8| _mm512_set1_epi8(b as i8);
        // SAFETY: the tables hold 64 readable bytes each.
        let (low, high) = unsafe {
            (
                _mm512_loadu_si512(LOW.as_ptr().cast()),
                _mm512_loadu_si512(HIGH.as_ptr().cast()),
            )
        };
        // Trigger bits and class masks of the block at `at`.
        // `valid`: the bytes from `at` that the slice holds.
        // `before_last`: the same but the input's last byte, after which
        // a Cyrillic lead byte ends no run (its second byte is missing).
        let block = |at: usize, valid: u64, before_last: u64, masks: &mut [[u64; 8]; 3], k| {
            // SAFETY: `valid` covers bytes of the slice only; masked-out
            // bytes are not read.
            let v = unsafe { _mm512_maskz_loadu_epi8(valid, bytes.as_ptr().add(at).cast()) };
            let nib = splat(0x0F);
            let lo = _mm512_shuffle_epi8(low, _mm512_and_si512(v, nib));
            let hi = _mm512_shuffle_epi8(high, _mm512_and_si512(_mm512_srli_epi16::<4>(v), nib));
            // No class has the zero byte the masked load leaves past the
            // end, and no trigger is zero: only "plain ASCII" needs `valid`.
            let cls = _mm512_and_si512(lo, hi);
            let is = |bits: u8| _mm512_test_epi8_mask(cls, splat(bits));
            let digit = is(DIGIT);
            let letter = is(LETTER_46 | LETTER_57);
            let ascii = !_mm512_movepi8_mask(v) & valid;
            let wide = _mm512_cmple_epu8_mask(_mm512_sub_epi8(v, splat(0xEF)), splat(1));
            let at_sign = _mm512_cmpeq_epi8_mask(v, splat(b'@'));
            let sep = is(SEP_0 | SEP_2);
            // Plain ASCII in no class, but `@`.
            let hard = _mm512_mask_testn_epi8_mask(ascii & !at_sign, cls, cls);
            let quote = is(QUOTE);
            let upper = _mm512_mask_testn_epi8_mask(letter, v, splat(0x20));
            // Lead bytes of Cyrillic letters, but the input's last byte.
            let cyrillic =
                _mm512_mask_cmple_epu8_mask(before_last, _mm512_sub_epi8(v, splat(0xD0)), splat(1));
            let triggers = is(DIGIT | ESC_2 | ESC_5) | wide | at_sign | other_digit_leads(v);
            // The planes of `Planes4`'s kinds.
            masks[0][k] = digit | sep | quote | hard;
            masks[1][k] = digit | sep | letter | cyrillic;
            masks[2][k] = triggers | quote | upper;
            triggers
        };
        short_runs_over_blocks!(bytes, before, words, block);
    }

    /// Whether byte `b` is in each kind of [`Planes4`], for the tables of
    /// the AVX-512VBMI kernels: from the nibble classes of
    /// [`avx512_short_runs`], as it finds them. `(a, b, c, trigger)`.
    const fn planes_of(b: u8) -> (bool, bool, bool, bool) {
        let cls = LOW[(b & 0x0F) as usize] & HIGH[(b >> 4) as usize];
        let digit = cls & DIGIT != 0;
        let sep = cls & (SEP_0 | SEP_2) != 0;
        // Plain ASCII in no class, but `@`.
        let hard = b.is_ascii() && cls == 0 && b != b'@';
        let letter = cls & (LETTER_46 | LETTER_57) != 0;
        let quote = cls & QUOTE != 0;
        let upper = letter && b & 0x20 == 0;
        let cyrillic = b == 0xD0 || b == 0xD1;
        let trigger = super::is_trigger(b);
        (
            digit || sep || quote || hard,
            digit || sep || letter || cyrillic,
            trigger || quote || upper,
            trigger,
        )
    }

    /// A table of every byte value: its planes (`triggers == false`) or
    /// whether it is a trigger, on the top bit.
    const fn byte_table(triggers: bool) -> [u8; 256] {
        let mut t = [0u8; 256];
        let mut i = 0;
        while i < 256 {
            let (a, b, c, trigger) = planes_of(i as u8);
            t[i] = if triggers {
                (trigger as u8) << 7
            } else {
                let tag = matches!(i as u8, b'<' | b't' | b'T' | b'b' | b'B');
                ((a as u8) << 7)
                    | ((b as u8) * PLANE_B)
                    | ((c as u8) * PLANE_C)
                    | ((tag as u8) * PLANE_TAG)
            };
            i += 1;
        }
        t
    }

    /// Plane `a` on the top bit (read by `vpmovb2m`), `b` and `c` on the
    /// bits below.
    const PLANE_B: u8 = 1 << 0;
    const PLANE_C: u8 = 1 << 1;
    /// Not a plane of [`Planes4`]'s kinds: `<`, `t`, `T`, `b` and `B`, the
    /// bytes of a `<table` search.
    const PLANE_TAG: u8 = 1 << 2;
    const BYTE_PLANES: [u8; 256] = byte_table(false);
    const BYTE_TRIGGERS: [u8; 256] = byte_table(true);

    /// A table of all 256 byte values in four registers.
    #[derive(Clone, Copy)]
    struct ByteTable([__m512i; 4]);

    impl ByteTable {
        #[inline]
        #[target_feature(enable = "avx512bw,avx512vbmi")]
        fn load(table: &[u8; 256]) -> ByteTable {
            // SAFETY: the table holds 256 readable bytes.
            ByteTable(std::array::from_fn(|i| unsafe {
                _mm512_loadu_si512(table.as_ptr().add(64 * i).cast())
            }))
        }

        /// The entry of each byte of `v`: two lookups of 128 entries
        /// (`vpermi2b` reads the low seven bits of each index), the one for
        /// bytes with the top bit set blended in.
        #[inline]
        #[target_feature(enable = "avx512bw,avx512vbmi")]
        fn get(self, v: __m512i) -> __m512i {
            let [t0, t1, t2, t3] = self.0;
            let ascii = _mm512_permutex2var_epi8(t0, v, t1);
            let high = _mm512_permutex2var_epi8(t2, v, t3);
            _mm512_mask_blend_epi8(_mm512_movepi8_mask(v), ascii, high)
        }
    }

    /// [`avx512`] with AVX-512VBMI: the trigger bits are the top bits of
    /// one lookup of [`BYTE_TRIGGERS`].
    #[target_feature(enable = "avx512bw,avx512vbmi")]
    pub(super) fn avx512vbmi(body: &[u8], words: &mut [u64]) {
        let table = ByteTable::load(&BYTE_TRIGGERS);
        for (block, word) in body.chunks_exact(64).zip(words.iter_mut()) {
            // SAFETY: `block` holds 64 readable bytes; the load needs no
            // alignment.
            let v = unsafe { _mm512_loadu_si512(block.as_ptr().cast()) };
            *word = _mm512_movepi8_mask(table.get(v));
        }
    }

    /// The `<table` candidates of eight blocks into the first eight words
    /// of `words` (fewer at the end of the input): bytes of `tag` (`<`,
    /// `t`, `b`, either case) with another one byte on and three bytes on,
    /// over into `next`, the eight blocks after them. Every `<table` starts
    /// at one; the others are turned down by the comparison that follows.
    #[inline]
    #[target_feature(enable = "avx512f,avx512vbmi2")]
    fn write_table_opens(tag: __m512i, next: __m512i, words: &mut [u64]) -> __m512i {
        let tag_n = _mm512_alignr_epi64::<1>(next, tag);
        let opens = _mm512_ternarylogic_epi64::<0x80>(
            tag,
            _mm512_shrdi_epi64::<1>(tag, tag_n),
            _mm512_shrdi_epi64::<3>(tag, tag_n),
        );
        store_words(opens, words);
        opens
    }

    /// Writes the eight lanes of `v` into the first eight words of `words`
    /// (fewer at the end of the input).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn store_words(v: __m512i, words: &mut [u64]) {
        if let Some(eight) = words.get_mut(..8) {
            // SAFETY: `eight` has room for 64 bytes.
            unsafe { _mm512_storeu_si512(eight.as_mut_ptr().cast(), v) };
            return;
        }
        let mut lanes = [0u64; 8];
        // SAFETY: `lanes` has room for 64 bytes.
        unsafe { _mm512_storeu_si512(lanes.as_mut_ptr().cast(), v) };
        for (word, lane) in words.iter_mut().zip(lanes) {
            *word = lane;
        }
    }

    /// [`avx512_short_runs`] with AVX-512VBMI and GFNI: each block's three
    /// planes come from one lookup of [`BYTE_PLANES`], and go to the
    /// short-run step without a mask register: one affine transform per
    /// block turns its bytes' plane bits into bit rows (`vgf2p8affineqb`
    /// with the bytes as the matrix transposes each eight bytes' bits), and
    /// one permutation gathers each plane's rows into a 64-bit word. Eight
    /// blocks' words are stored and loaded back as one register per plane
    /// (their bits then put back in byte order, one affine transform per
    /// plane), and the trigger bits of all eight come from the planes at
    /// once (`c`, and `a == b`). Against three mask reads and three moves
    /// out of mask registers per block, on the two ports that run 512-bit
    /// work on Intel cores.
    ///
    /// It also writes into `tables` (as long as `words`) the places where
    /// a `<table` may start ([`write_table_opens`]), and says whether there
    /// is any. Those whose `b` lies past the end are missing.
    #[target_feature(enable = "avx512bw,avx512vbmi,avx512vbmi2,gfni")]
    pub(super) fn avx512vbmi_short_runs(
        bytes: &[u8],
        before: Option<u8>,
        words: &mut [u64],
        tables: &mut [u64],
    ) -> bool {
        let table = ByteTable::load(&BYTE_PLANES);
        // Byte `t` of every word is bit `t` alone: with a block's bytes as
        // the matrix, byte `t` of each eight comes out as their bits `t`,
        // the eighth byte's bit first.
        let rows = _mm512_set1_epi64(0x8040_2010_0804_0201u64 as i64);
        // Word `p` of the result: row `ROW[p]` of each of the eight words,
        // in order.
        const ROW: [u8; 4] = [7, 0, 1, 2];
        let gather = {
            let mut idx = [0u8; 64];
            for (i, x) in idx.iter_mut().enumerate() {
                *x = (8 * (i % 8) + ROW[(i / 8) % 4] as usize) as u8;
            }
            // SAFETY: `idx` holds 64 readable bytes.
            unsafe { _mm512_loadu_si512(idx.as_ptr().cast()) }
        };
        // The same matrix reverses the bits of each byte.
        let reverse = |x: __m512i| _mm512_gf2p8affine_epi64_epi8::<0>(x, rows);
        // A block's planes `a`, `b`, `c` and its `<table` bytes, 32 bytes.
        let block = |at: usize, valid: u64, before_last: u64| -> __m256i {
            // SAFETY: `valid` covers bytes of the slice only; masked-out
            // bytes are not read.
            let v = unsafe { _mm512_maskz_loadu_epi8(valid, bytes.as_ptr().add(at).cast()) };
            // The bytes past the end are in no plane.
            let [t0, t1, t2, t3] = table.0;
            let ascii = _mm512_maskz_permutex2var_epi8(valid, t0, v, t1);
            let high = _mm512_permutex2var_epi8(t2, v, t3);
            let mut planes = _mm512_mask_blend_epi8(_mm512_movepi8_mask(v), ascii, high);
            // A Cyrillic lead byte that ends the input ends no run: out of
            // plane `b`, where its kind has it.
            let last = valid & !before_last;
            if last != 0 {
                let cyrillic = _mm512_mask_cmple_epu8_mask(
                    last,
                    _mm512_sub_epi8(v, _mm512_set1_epi8(0xD0u8 as i8)),
                    _mm512_set1_epi8(1),
                );
                let without_b = _mm512_andnot_si512(_mm512_set1_epi8(PLANE_B as i8), planes);
                planes = _mm512_mask_mov_epi8(planes, cyrillic, without_b);
            }
            let t = _mm512_gf2p8affine_epi64_epi8::<0>(rows, planes);
            _mm512_castsi512_si256(_mm512_permutexvar_epi8(gather, t))
        };
        let zero = _mm512_setzero_si512();
        let mut prev = Planes::before_input(before);
        // The eight words waiting for the blocks after them, with their
        // trigger bits and `<table` bytes.
        let mut waiting: Option<(usize, Ends, __m512i, __m512i)> = None;
        let mut opens = _mm512_setzero_si512();
        // Two segments of eight blocks' words: a segment's are loaded one
        // segment after they were written, when the stores have left the
        // store buffer (a load of two stores still in it cannot be
        // forwarded, and stalls).
        let mut stored = [[[0u64; 4]; 8]; 2];
        let idx_ab = _mm512_setr_epi64(0, 4, 8, 12, 1, 5, 9, 13);
        let idx_cd = _mm512_setr_epi64(2, 6, 10, 14, 3, 7, 11, 15);
        let segments = words.len().div_ceil(8);
        for s in 0..=segments {
            if s < segments {
                let m = &mut stored[s % 2];
                let w = s * 8;
                if words.len() - w < 8 {
                    *m = [[0; 4]; 8];
                }
                for (k, slot) in m.iter_mut().enumerate().take(words.len() - w) {
                    let at = (w + k) * 64;
                    // Whole blocks apart: their calls know every byte is in.
                    let planes = if at + 64 < bytes.len() {
                        block(at, u64::MAX, u64::MAX)
                    } else {
                        let valid = u64::MAX >> (64 - (bytes.len() - at));
                        block(at, valid, valid >> 1)
                    };
                    // SAFETY: `slot` has room for 32 bytes.
                    unsafe { _mm256_storeu_si256(slot.as_mut_ptr().cast(), planes) };
                }
            }
            if s > 0 {
                let m = &stored[(s - 1) % 2];
                // SAFETY: each pair of slots holds 64 readable bytes.
                let z: [__m512i; 4] = std::array::from_fn(|i| unsafe {
                    _mm512_loadu_si512(m[2 * i].as_ptr().cast())
                });
                let ab_lo = _mm512_permutex2var_epi64(z[0], idx_ab, z[1]);
                let ab_hi = _mm512_permutex2var_epi64(z[2], idx_ab, z[3]);
                let cd_lo = _mm512_permutex2var_epi64(z[0], idx_cd, z[1]);
                let cd_hi = _mm512_permutex2var_epi64(z[2], idx_cd, z[3]);
                let c = Planes {
                    a: reverse(_mm512_shuffle_i64x2::<0x44>(ab_lo, ab_hi)),
                    b: reverse(_mm512_shuffle_i64x2::<0xEE>(ab_lo, ab_hi)),
                    c: reverse(_mm512_shuffle_i64x2::<0x44>(cd_lo, cd_hi)),
                };
                let tag = reverse(_mm512_shuffle_i64x2::<0xEE>(cd_lo, cd_hi));
                // The triggers: `c`, and `a == b`.
                let triggers = logic::<0x82>(c);
                let ends = c.ends_vbmi2(prev);
                if let Some((at, before, t, before_tag)) = waiting {
                    before.write_short_runs(ends, t, &mut words[at..]);
                    let found = write_table_opens(before_tag, tag, &mut tables[at..]);
                    opens = _mm512_or_si512(opens, found);
                }
                waiting = Some(((s - 1) * 8, ends, triggers, tag));
                prev = c;
            }
        }
        if let Some((at, before, t, before_tag)) = waiting {
            before.write_short_runs(Planes::none().ends_vbmi2(prev), t, &mut words[at..]);
            let found = write_table_opens(before_tag, zero, &mut tables[at..]);
            opens = _mm512_or_si512(opens, found);
        }
        _mm512_test_epi64_mask(opens, opens) != 0
    }

    /// [`super::PairTables::candidates`] in one step: both bytes of every
    /// pair from two masked loads (nothing past `w` is read), four nibble
    /// lookups.
    #[target_feature(enable = "avx512bw")]
    pub(super) fn pair_candidates(tables: &[[u8; 64]; 4], w: &[u8]) -> u64 {
        let n = w.len();
        if n < 2 {
            return 0;
        }
        let firsts = u64::MAX >> (65 - n);
        let load = |t: &[u8; 64]| {
            // SAFETY: `t` holds 64 readable bytes.
            unsafe { _mm512_loadu_si512(t.as_ptr().cast()) }
        };
        let fold = _mm512_set1_epi8(0x20);
        let nib = _mm512_set1_epi8(0x0F);
        // SAFETY: the masks cover bytes `0..n - 1` and `1..n` of `w`;
        // masked-out bytes are not read.
        let (a, b) = unsafe {
            (
                _mm512_maskz_loadu_epi8(firsts, w.as_ptr().cast()),
                _mm512_maskz_loadu_epi8(firsts, w.as_ptr().add(1).cast()),
            )
        };
        let look = |v: __m512i, lo: &[u8; 64], hi: &[u8; 64]| {
            let v = _mm512_or_si512(v, fold);
            _mm512_and_si512(
                _mm512_shuffle_epi8(load(lo), _mm512_and_si512(v, nib)),
                _mm512_shuffle_epi8(load(hi), _mm512_and_si512(_mm512_srli_epi16::<4>(v), nib)),
            )
        };
        let hit = _mm512_and_si512(
            look(a, &tables[0], &tables[1]),
            look(b, &tables[2], &tables[3]),
        );
        _mm512_test_epi8_mask(hit, hit) & firsts
    }

    /// [`Ends`] for four blocks.
    #[derive(Clone, Copy)]
    struct Ends4 {
        run: __m256i,
        hard: __m256i,
        soft: __m256i,
        sep: __m256i,
        digit: __m256i,
    }

    /// Lane `j` of the result: lane `j + 1` of `cur`, lane 0 of `next` for
    /// lane 3 (AVX2 has no `valignq`: a lane swap and a byte shift).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn lanes_after(cur: __m256i, next: __m256i) -> __m256i {
        _mm256_alignr_epi8::<8>(_mm256_permute2x128_si256::<0x21>(cur, next), cur)
    }

    /// `a | (b & c)`, lane by lane.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn or_and4(a: __m256i, b: __m256i, c: __m256i) -> __m256i {
        _mm256_or_si256(a, _mm256_and_si256(b, c))
    }

    /// [`ahead!`] for four lanes.
    macro_rules! ahead4 {
        ($a:expr, $next:expr, $k:literal, $rest:literal) => {
            _mm256_or_si256(
                _mm256_srli_epi64::<$k>($a),
                _mm256_slli_epi64::<$rest>($next),
            )
        };
    }

    impl Ends4 {
        /// [`Ends::short_runs`], four blocks at a time, `next` being the
        /// four blocks after these.
        #[inline]
        #[target_feature(enable = "avx2")]
        fn short_runs(self, next: Ends4) -> __m256i {
            let run_n = lanes_after(self.run, next.run);
            let hard_n = lanes_after(self.hard, next.hard);
            let soft_n = lanes_after(self.soft, next.soft);
            let runs_1 = self.run;
            let runs_2 = _mm256_and_si256(runs_1, ahead4!(runs_1, run_n, 1, 63));
            let runs_2n = _mm256_and_si256(run_n, _mm256_srli_epi64::<1>(run_n));
            let runs_4 = _mm256_and_si256(runs_2, ahead4!(runs_2, runs_2n, 2, 62));
            let hard_1 = or_and4(self.hard, runs_1, ahead4!(self.hard, hard_n, 1, 63));
            let hard_1n = or_and4(hard_n, run_n, _mm256_srli_epi64::<1>(hard_n));
            let hard_3 = or_and4(hard_1, runs_2, ahead4!(hard_1, hard_1n, 2, 62));
            let hard_3n = or_and4(hard_1n, runs_2n, _mm256_srli_epi64::<2>(hard_1n));
            let hard_7 = or_and4(hard_3, runs_4, ahead4!(hard_3, hard_3n, 4, 60));
            // The soft ends one byte on, read by both soft steps below.
            let soft_on = ahead4!(self.soft, soft_n, 1, 63);
            let soft_on_n = _mm256_srli_epi64::<1>(soft_n);
            let soft_1 = or_and4(self.soft, runs_1, soft_on);
            let soft_1n = or_and4(soft_n, run_n, soft_on_n);
            let soft_3 = or_and4(soft_1, runs_2, ahead4!(soft_1, soft_1n, 2, 62));
            let sep_n = lanes_after(self.sep, next.sep);
            let runs_3 = _mm256_and_si256(runs_2, ahead4!(runs_1, run_n, 2, 62));
            let seps_1 = or_and4(self.soft, self.sep, soft_on);
            let seps_1n = or_and4(soft_n, sep_n, soft_on_n);
            let two_seps = _mm256_and_si256(self.sep, ahead4!(self.sep, sep_n, 1, 63));
            let two_seps_n = _mm256_and_si256(sep_n, _mm256_srli_epi64::<1>(sep_n));
            let seps_3 = or_and4(seps_1, two_seps, ahead4!(seps_1, seps_1n, 2, 62));
            let seps_3n = or_and4(seps_1n, two_seps_n, _mm256_srli_epi64::<2>(seps_1n));
            let soft_6 = _mm256_and_si256(runs_3, ahead4!(seps_3, seps_3n, 3, 61));
            let ends = _mm256_or_si256(_mm256_or_si256(hard_7, soft_3), soft_6);
            _mm256_and_si256(self.digit, ends)
        }

        /// Clears the bits of [`Ends4::short_runs`] in the first four words
        /// of `words` (fewer at the end of the input).
        #[inline]
        #[target_feature(enable = "avx2")]
        fn clear_short_runs(self, next: Ends4, words: &mut [u64]) {
            let left_out = self.short_runs(next);
            if let Some(four) = words.get_mut(..4) {
                // SAFETY: `four` holds 32 readable and writable bytes.
                unsafe {
                    let kept =
                        _mm256_andnot_si256(left_out, _mm256_loadu_si256(four.as_ptr().cast()));
                    _mm256_storeu_si256(four.as_mut_ptr().cast(), kept);
                }
                return;
            }
            let mut lanes = [0u64; 4];
            // SAFETY: `lanes` has room for 32 bytes.
            unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), left_out) };
            for (word, out) in words.iter_mut().zip(lanes) {
                *word &= !out;
            }
        }
    }

    /// Three bit planes of four 64-byte blocks, one 64-bit lane each: all
    /// that [`super::short_run`] and the trigger bits ask of a byte, in
    /// three bits instead of seven masks, as `vpmovmskb` (which gathers
    /// one mask of thirty-two bytes) is what the AVX2 kernel spends most
    /// on. Each byte is in one of eight kinds, spelled `(a, b, c)`:
    ///
    /// | kind | a | b | c |
    /// |---|---|---|---|
    /// | digit | 1 | 1 | 1 |
    /// | separator | 1 | 1 | 0 |
    /// | quote | 1 | 0 | 1 |
    /// | other plain ASCII (a hard end) | 1 | 0 | 0 |
    /// | capital letter | 0 | 1 | 1 |
    /// | small letter, Cyrillic lead byte | 0 | 1 | 0 |
    /// | escape (`%`, `&`, `\`), `@`, `0xD9`, `0xDB`, `0xE0`, `0xEF`, `0xF0` | 0 | 0 | 1 |
    /// | anything else | 0 | 0 | 0 |
    ///
    /// The triggers are the bytes with `c` set and `a == b`.
    #[derive(Clone, Copy)]
    struct Planes4 {
        a: __m256i,
        b: __m256i,
        c: __m256i,
    }

    impl Planes4 {
        #[inline]
        #[target_feature(enable = "avx2")]
        fn digit(self) -> __m256i {
            _mm256_and_si256(_mm256_and_si256(self.a, self.b), self.c)
        }

        #[inline]
        #[target_feature(enable = "avx2")]
        fn upper(self) -> __m256i {
            _mm256_andnot_si256(self.a, _mm256_and_si256(self.b, self.c))
        }

        /// [`Ends4`] of these blocks, `before` being the four blocks
        /// before them (lane 3 is the block right before lane 0).
        /// [`super::short_run`] reads the byte that ends a run and the
        /// byte before it, which is in the run (a digit or a separator),
        /// so it asks of that byte only whether it is a digit.
        #[inline]
        #[target_feature(enable = "avx2")]
        fn ends(self, before: Planes4) -> Ends4 {
            // Each byte's bit moved to the byte after it.
            let shift = |cur: __m256i, prev: __m256i| {
                let prev =
                    _mm256_alignr_epi8::<8>(cur, _mm256_permute2x128_si256::<0x21>(prev, cur));
                _mm256_or_si256(_mm256_slli_epi64::<1>(cur), _mm256_srli_epi64::<63>(prev))
            };
            let digit = self.digit();
            let digit_before = shift(digit, before.digit());
            let upper_before = shift(self.upper(), before.upper());
            let quote = _mm256_andnot_si256(self.b, _mm256_and_si256(self.a, self.c));
            let plain = _mm256_andnot_si256(_mm256_or_si256(self.b, self.c), self.a);
            Ends4 {
                run: _mm256_and_si256(self.a, self.b),
                hard: _mm256_or_si256(plain, _mm256_andnot_si256(digit_before, quote)),
                // Letters and Cyrillic lead bytes (`b` without `a`), quotes.
                soft: _mm256_or_si256(_mm256_andnot_si256(self.a, self.b), quote),
                sep: _mm256_andnot_si256(self.c, _mm256_and_si256(self.a, self.b)),
                digit: _mm256_andnot_si256(upper_before, digit),
            }
        }
    }

    /// [`avx512_short_runs`] with AVX2, on the three planes of
    /// [`Planes4`]: each thirty-two bytes are classified by two pairs of
    /// `vpshufb` lookups (the triggers with digits on the top bit, and the
    /// classes of [`CLASSES_AVX2`]), their planes gathered by three
    /// `vpmovmskb`, and the trigger bits worked out from the planes; then
    /// four blocks' planes go into one register each, and [`Ends4`] finds
    /// their short runs once the four blocks after them are read. A block
    /// with no digit, after one with none in its last seven bytes, gets
    /// only the first lookup and its trigger bits. The last block is
    /// copied into a padded block first (no byte past the slice is read).
    #[target_feature(enable = "avx2")]
    pub(super) fn avx2_short_runs(bytes: &[u8], before: Option<u8>, words: &mut [u64]) {
        let splat = |b: u8| _mm256_set1_epi8(b as i8);
        // SAFETY: the tables hold 64 readable bytes each; the first 32 are
        // the table for both 128-bit lanes.
        let (low, high, low_other, high_other) = unsafe {
            (
                _mm256_loadu_si256(LOW_AVX2.as_ptr().cast()),
                _mm256_loadu_si256(HIGH_AVX2.as_ptr().cast()),
                _mm256_loadu_si256(LOW_OTHER.as_ptr().cast()),
                _mm256_loadu_si256(HIGH_OTHER.as_ptr().cast()),
            )
        };
        let nib = splat(0x0F);
        let zero = _mm256_setzero_si256();
        let bits = |v: __m256i| _mm256_movemask_epi8(v) as u32;
        // The low and the high nibble of each byte: lookup indices.
        let nibbles = |v: __m256i| {
            (
                _mm256_and_si256(v, nib),
                _mm256_and_si256(_mm256_srli_epi16::<4>(v), nib),
            )
        };
        // The classes of `OTHER_TRIGGERS` of each byte, from its nibbles:
        // its top bit is set on digits only, and the byte is zero on bytes
        // that are no trigger.
        let triggers = |(lo, hi): (__m256i, __m256i)| {
            _mm256_and_si256(
                _mm256_shuffle_epi8(low_other, lo),
                _mm256_shuffle_epi8(high_other, hi),
            )
        };
        // The planes of thirty-two bytes `v`, their nibbles being `lo`
        // and `hi` and their `triggers` `t` (whose top bits are their
        // digits). A set of classes is tested by a compare with zero,
        // which gives the bytes in none of them (`b` and `c` are gathered
        // inverted); no shift moves a class bit to the top.
        let planes = |v: __m256i, (lo, hi): (__m256i, __m256i), t: __m256i| -> [u32; 3] {
            let c = _mm256_and_si256(_mm256_shuffle_epi8(low, lo), _mm256_shuffle_epi8(high, hi));
            let none = |set: u8| _mm256_cmpeq_epi8(_mm256_and_si256(c, splat(set)), zero);
            // No escape, `@` or first byte of other digits.
            let no_other = _mm256_cmpeq_epi8(_mm256_and_si256(t, splat(OTHER_BITS)), zero);
            // ASCII (`andnot(v, x)` keeps the top bit of `x` where `v`'s
            // is clear) that is no letter, escape or `@`.
            let a = _mm256_and_si256(no_other, _mm256_andnot_si256(v, none(LETTERS)));
            let not_b = _mm256_andnot_si256(t, none(SEP_0 | SEP_2 | LETTERS | CYRILLIC));
            // No digit, quote, capital or other trigger.
            let not_c = _mm256_and_si256(no_other, _mm256_andnot_si256(t, none(QUOTE | CAPITALS)));
            [bits(a), !bits(not_b), !bits(not_c)]
        };
        // The trigger bits of `triggers`.
        let trigger_bits = |t: __m256i| !bits(_mm256_cmpeq_epi8(t, zero));
        // The last block is read from `pad`: the block, then `0x80`, which
        // is in no class and no trigger, as if the bytes past the end were
        // not there. A Cyrillic lead byte that ends the slice becomes
        // `0x80` too (its second byte is missing, so it ends no run),
        // which changes no other plane.
        let mut pad = [0x80u8; 64];
        // Whether the block before had a digit in its last seven bytes.
        let mut digit_at_end = false;
        // The block at `at`: its trigger bits, its planes into lane `k`
        // (the two halves of a lane: elements `2k` and `2k + 1`).
        //
        // A block with no digit, after one with no digit in its last seven
        // bytes, holds no digit of a short run nor a byte within seven of
        // one: its planes are read by no digit's test, and it gets only its
        // trigger bits and, for the block after it, whether its last byte
        // is a capital.
        let mut block = |at: usize, planes_out: &mut [[u32; 8]; 3], k: usize| {
            let from: *const u8 = if at + 64 < bytes.len() {
                // SAFETY: `at + 64` is within the slice.
                unsafe { bytes.as_ptr().add(at) }
            } else {
                let rest = &bytes[at..];
                pad[..rest.len()].copy_from_slice(rest);
                if matches!(rest.last(), Some(0xD0 | 0xD1)) {
                    pad[rest.len() - 1] = 0x80;
                }
                pad.as_ptr()
            };
            // SAFETY: `from` points at 64 readable bytes (of the slice or
            // of `pad`); the loads need no alignment.
            let (v0, v1) = unsafe {
                (
                    _mm256_loadu_si256(from.cast()),
                    _mm256_loadu_si256(from.add(32).cast()),
                )
            };
            let (n0, n1) = (nibbles(v0), nibbles(v1));
            let (t0, t1) = (triggers(n0), triggers(n1));
            let d1_bits = bits(t1);
            if _mm256_testz_si256(t0, splat(DIGIT_TOP)) == 1 && d1_bits == 0 && !digit_at_end {
                // SAFETY: `from` points at 64 readable bytes.
                let last = unsafe { *from.add(63) };
                let capital = u32::from(last.is_ascii_uppercase()) << 31;
                for (plane, high) in planes_out.iter_mut().zip([0, capital, capital]) {
                    plane[2 * k] = 0;
                    plane[2 * k + 1] = high;
                }
                return u64::from(trigger_bits(t0)) | u64::from(trigger_bits(t1)) << 32;
            }
            digit_at_end = d1_bits >> 25 != 0;
            let (p, q) = (planes(v0, n0, t0), planes(v1, n1, t1));
            for (plane, (x, y)) in planes_out.iter_mut().zip(p.into_iter().zip(q)) {
                plane[2 * k] = x;
                plane[2 * k + 1] = y;
            }
            // The triggers: `c`, and `a == b`.
            let t = |[a, b, c]: [u32; 3]| c & !(a ^ b);
            u64::from(t(p)) | u64::from(t(q)) << 32
        };
        let load = |m: &[u32; 8]| {
            // SAFETY: `m` holds 32 readable bytes. Little-endian: elements
            // `2k` and `2k + 1` are the low and high halves of lane `k`.
            unsafe { _mm256_loadu_si256(m.as_ptr().cast()) }
        };
        let none = Planes4 {
            a: zero,
            b: zero,
            c: zero,
        };
        // Before the first block: a capital before the first digit.
        let capital = if before.is_some_and(|b| b.is_ascii_uppercase()) {
            _mm256_set1_epi64x(i64::MIN)
        } else {
            zero
        };
        let mut prev = Planes4 {
            b: capital,
            c: capital,
            ..none
        };
        let mut waiting: Option<(usize, Ends4)> = None;
        // Two sets of planes, as in the AVX-512 kernel: a segment's are
        // loaded one segment after they were written.
        let mut planes = [[[0u32; 8]; 3]; 2];
        let segments = words.len().div_ceil(4);
        for s in 0..=segments {
            if s < segments {
                let m = &mut planes[s % 2];
                let w = s * 4;
                if words.len() - w < 4 {
                    *m = [[0; 8]; 3];
                }
                for (k, word) in words[w..].iter_mut().take(4).enumerate() {
                    *word = block((w + k) * 64, m, k);
                }
            }
            if s > 0 {
                let m = &planes[(s - 1) % 2];
                let cur = Planes4 {
                    a: load(&m[0]),
                    b: load(&m[1]),
                    c: load(&m[2]),
                };
                let ends = cur.ends(prev);
                if let Some((at, before)) = waiting {
                    before.clear_short_runs(ends, &mut words[at..]);
                }
                waiting = Some(((s - 1) * 4, ends));
                prev = cur;
            }
        }
        if let Some((at, before)) = waiting {
            before.clear_short_runs(none.ends(prev), &mut words[at..]);
        }
    }

    /// [`super::PairTables::candidates`] in two steps of thirty-two
    /// positions, and the bits past `w`'s last pair dropped. A window of
    /// sixty-four bytes or more (a keyword gate's, but at the start of the
    /// input) is read where it lies; a shorter one from a zeroed copy, as
    /// AVX2 has no byte-masked load. The second byte of each pair comes
    /// from the same two registers moved on by one byte, not from loads
    /// one byte on: those would read a copy just written across two of its
    /// stores, which the CPU cannot forward.
    #[target_feature(enable = "avx2")]
    pub(super) fn pair_candidates_avx2(tables: &[[u8; 64]; 4], w: &[u8]) -> u64 {
        let n = w.len();
        if n < 2 {
            return 0;
        }
        let firsts = u64::MAX >> (65 - n);
        let mut copy = [0u8; 64];
        let block: &[u8] = if n >= 64 {
            &w[..64]
        } else {
            copy[..n].copy_from_slice(w);
            &copy
        };
        // SAFETY: `block` holds 64 readable bytes; the loads need no
        // alignment.
        let (a0, a1) = unsafe {
            (
                _mm256_loadu_si256(block.as_ptr().cast()),
                _mm256_loadu_si256(block.as_ptr().add(32).cast()),
            )
        };
        // The byte after the 64: the second of the last pair of a window
        // of 65 bytes, else one that is read by no kept bit.
        let after = _mm256_set1_epi8(w.get(64).copied().unwrap_or(0) as i8);
        let b0 = _mm256_alignr_epi8::<1>(_mm256_permute2x128_si256::<0x21>(a0, a1), a0);
        let b1 = _mm256_alignr_epi8::<1>(_mm256_permute2x128_si256::<0x21>(a1, after), a1);
        // SAFETY: each table holds 64 readable bytes; its first 32 are the
        // table for both 128-bit lanes.
        let table = |t: &[u8; 64]| unsafe { _mm256_loadu_si256(t.as_ptr().cast()) };
        let [t0, t1, t2, t3] = [
            table(&tables[0]),
            table(&tables[1]),
            table(&tables[2]),
            table(&tables[3]),
        ];
        let fold = _mm256_set1_epi8(0x20);
        let nib = _mm256_set1_epi8(0x0F);
        let look = |v: __m256i, lo: __m256i, hi: __m256i| {
            let v = _mm256_or_si256(v, fold);
            _mm256_and_si256(
                _mm256_shuffle_epi8(lo, _mm256_and_si256(v, nib)),
                _mm256_shuffle_epi8(hi, _mm256_and_si256(_mm256_srli_epi16::<4>(v), nib)),
            )
        };
        let step = |a: __m256i, b: __m256i| {
            let hit = _mm256_and_si256(look(a, t0, t1), look(b, t2, t3));
            let none = _mm256_cmpeq_epi8(hit, _mm256_setzero_si256());
            u64::from(!(_mm256_movemask_epi8(none) as u32))
        };
        (step(a0, b0) | step(a1, b1) << 32) & firsts
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
                    _mm256_or_si256(
                        in_range(0xEF, 1),
                        _mm256_cmpeq_epi8(_mm256_or_si256(v, splat(2)), splat(0xDB)),
                    ),
                    _mm256_or_si256(
                        _mm256_or_si256(
                            _mm256_cmpeq_epi8(v, splat(b'@')),
                            _mm256_cmpeq_epi8(v, splat(0xE0)),
                        ),
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

    /// The trigger bytes of `bytes` from `start` that `kernel` keeps, byte
    /// by byte from the definitions.
    fn bytewise(bytes: &[u8], start: usize, kernel: Kernel) -> Vec<usize> {
        (start..bytes.len())
            .filter(|&i| is_trigger(bytes[i]))
            .filter(|&i| !(kernel.skips_short_runs() && short_run(bytes, i)))
            .collect()
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
                    assert_eq!(
                        by_bits(bytes, start, kernel),
                        bytewise(bytes, start, kernel),
                        "{kernel:?} {len} {start}"
                    );
                }
            }
            for shift in 0..64 {
                let bytes: Vec<u8> = all.iter().cycle().skip(shift).take(700).copied().collect();
                assert_eq!(
                    by_bits(&bytes, 0, kernel),
                    bytewise(&bytes, 0, kernel),
                    "{kernel:?} {shift}"
                );
            }
        }
    }

    #[test]
    fn short_runs_by_example() {
        // (text, the trigger bytes left out)
        let cases: &[(&str, &[usize])] = &[
            ("<td>1234567</td>", &[4, 5, 6, 7, 8, 9, 10]),
            // Eight bytes: the first digit keeps its bit.
            ("<td>12345678</td>", &[5, 6, 7, 8, 9, 10, 11]),
            ("<td>12 34 5</td>", &[4, 5, 7, 8, 10]),
            // A quote after a separator.
            ("=\"123 \"", &[2, 3, 4]),
            // A quote or a letter ends only three bytes: four digits may
            // be a passport series. Glued to the digits, a letter ends
            // the island whatever its length, as `@` does, but the
            // definition leaves both to the quick walk.
            ("x1234567px", &[5, 6, 7]),
            ("12@", &[]),
            ("w=\"100\"", &[3, 4, 5]),
            ("w=\"1000\"", &[4, 5, 6]),
            ("1 a", &[0]),
            ("12 a", &[0, 1]),
            // From the second digit on, three digits and a separator.
            ("1234 a", &[1, 2, 3]),
            // Separators alone after the first three bytes: six bytes.
            ("№ 138. Приём", &[4, 5, 6]),
            ("1 . . a", &[0]),
            ("1  .   a", &[]),
            ("1 23 a", &[2, 3]),
            ("12 3. руб", &[1, 3]),
            ("12 34. a", &[3, 4]),
            // An ICD-10 code keeps its first digit.
            ("C50<", &[2]),
            // Escapes, non-ASCII bytes and the end of the input end
            // nothing.
            ("12%20", &[]),
            ("12&nbsp;", &[]),
            ("12\\", &[]),
            ("12\u{a0}", &[]),
            // A Cyrillic letter ends three bytes, like a Latin one after
            // a separator, but only with its second byte in the buffer.
            ("12 руб", &[0, 1]),
            ("12руб", &[0, 1]),
            ("1234 руб", &[1, 2, 3]),
            ("12 \u{a0}руб", &[]),
            ("<b>12", &[]),
        ];
        for kernel in Kernel::available()
            .into_iter()
            .filter(|k| k.skips_short_runs())
        {
            for &(text, left_out) in cases {
                let bytes = text.as_bytes();
                let want: Vec<usize> = (0..bytes.len())
                    .filter(|&i| is_trigger(bytes[i]) && !left_out.contains(&i))
                    .collect();
                assert_eq!(by_bits(bytes, 0, kernel), want, "{text:?}");
                assert_eq!(bytewise(bytes, 0, kernel), want, "{text:?}");
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        /// The `<table` search finds what comparing at every position
        /// finds, in any case, from every start.
        #[test]
        fn table_open_agrees_with_bytewise(
            text in crate::detect::texts_of(vec![
                "<table", "<TABLE", "<TaBlE", "<tab", "<label", "<Label", "<", "b", "B", "<t",
                "able", " ", "x", "<td>", "д", "<tablex", "<table>",
            ], 0..90),
            start in 0usize..16,
        ) {
            let bytes = text.as_bytes();
            let start = start.min(bytes.len());
            let hay = &bytes[start..];
            let want = (0..hay.len()).find(|&i| table_open_at(hay, i));
            proptest::prop_assert_eq!(find_table_open(hay), want, "{:?}", text);
            // Each wider step, then the narrower ones from where it stops.
            let sse2_on = |from: usize| match table_open_sse2(hay, from) {
                Ok(at) => Some(at),
                Err(rest) => (rest..hay.len()).find(|&i| table_open_at(hay, i)),
            };
            proptest::prop_assert_eq!(sse2_on(0), want, "{:?}", text);
            #[cfg(target_arch = "x86_64")]
            {
                let wide_on = |r: Result<usize, usize>| r.map_or_else(sse2_on, Some);
                if Isa::Avx2.runs_here() {
                    // SAFETY: AVX2 was found on this CPU.
                    let avx2 = wide_on(unsafe { x86::table_open_avx2(hay) });
                    proptest::prop_assert_eq!(avx2, want, "{:?}", text);
                }
                if Isa::Avx512.runs_here() {
                    // SAFETY: AVX-512BW was found on this CPU.
                    let avx512 = wide_on(unsafe { x86::table_open_avx512(hay) });
                    proptest::prop_assert_eq!(avx512, want, "{:?}", text);
                }
            }
        }
    }

    proptest::proptest! {
        /// The `<table` tags a kernel finds with the trigger bits (the one
        /// of AVX-512VBMI, where the CPU has it) are the ones
        /// [`find_table_open`] finds, over windows that start and end
        /// anywhere and span several of the kernel's 512-byte steps; the
        /// last five bytes of a window are left out.
        #[test]
        fn table_opens_of_the_kernel_agree(
            text in crate::detect::texts_of(vec![
                "<table", "<TABLE", "<TaBlE", "<tab", "<label", "<", "b", "B", "<t",
                "able", " ", "x", "<td>", "д", "<table>", "lorem ipsum dolor sit amet ",
            ], 0..400),
            start in 0usize..80,
            cut in 0usize..80,
        ) {
            let bytes = text.as_bytes();
            let start = start.min(bytes.len());
            let end = bytes.len().saturating_sub(cut).max(start);
            let reach = end.saturating_sub(5).max(start);
            let want = (start..reach).find(|&i| table_open_at(bytes, i)).ok_or(reach);
            for kernel in Kernel::available() {
                let mut bits = TriggerBits::default();
                bits.fill_to(bytes, start, end, kernel);
                if let Some(found) = bits.table_open(bytes) {
                    proptest::prop_assert_eq!(found, want, "{:?} {:?}", kernel, text);
                }
            }
        }
    }

    /// A `<table` at every place around the ends of the kernel's blocks
    /// and 512-byte steps is found where it starts, in any case.
    #[test]
    fn table_opens_across_kernel_steps() {
        for tag in ["<table", "<TABLE", "<tAbLe"] {
            for at in (40..90).chain(490..530).chain(1010..1030) {
                let mut text = "lorem ipsum <b> dolor <tab sit amet\n"
                    .repeat(40)
                    .into_bytes();
                text[at..at + 6].copy_from_slice(tag.as_bytes());
                let want = (0..text.len()).find(|&i| table_open_at(&text, i));
                assert!(want.is_some_and(|w| w <= at), "{tag} {at}");
                for kernel in Kernel::available() {
                    let mut bits = TriggerBits::default();
                    bits.fill(&text, 0, kernel);
                    if let Some(found) = bits.table_open(&text) {
                        assert_eq!(found.ok(), want, "{kernel:?} {tag} {at}");
                    }
                }
            }
        }
    }

    /// Cut anywhere, a Cyrillic letter's first byte at the end of the
    /// input ends no run: the scan waits for the second. Every cut of
    /// buffers that run up to and across block ends.
    #[test]
    fn kernels_agree_on_cut_letters() {
        for lead in [0, 57, 60, 61, 62, 63, 64, 120] {
            for text in ["1 д", "12 руб", "123д", "1234 д", "1 \u{a0}д", "12-д"] {
                let full = format!("{}{text}", "x".repeat(lead));
                let bytes = full.as_bytes();
                for cut in lead..=bytes.len() {
                    let part = &bytes[..cut];
                    for kernel in Kernel::available() {
                        assert_eq!(
                            by_bits(part, 0, kernel),
                            bytewise(part, 0, kernel),
                            "{:?} cut at {cut}, {}",
                            String::from_utf8_lossy(part),
                            kernel.name()
                        );
                    }
                }
            }
        }
        assert!(!short_run(b"12 \xD0", 0));
        assert!(short_run(b"12 \xD0\xB4", 0));
    }

    /// Digit-free stretches of every length before a capital and a digit
    /// (an ICD-10 code keeps its bit across a block end), before runs
    /// whose ends lie in the next block, and between runs: the blocks a
    /// kernel reads only for trigger bits change nothing.
    #[test]
    fn kernels_agree_after_digit_free_blocks() {
        for lead in 0..200 {
            for text in ["C50<", "C 12<", "x12345 <", "1 a", "%12&", "12\\"] {
                for tail in ["", "xxxxxxx", "1234567 ", "@@@@@@@@@@@@@"] {
                    let full = format!("{}{text}{}{tail}", "x".repeat(lead), "y".repeat(lead));
                    let bytes = full.as_bytes();
                    for kernel in Kernel::available() {
                        assert_eq!(
                            by_bits(bytes, 0, kernel),
                            bytewise(bytes, 0, kernel),
                            "{full:?} {}",
                            kernel.name()
                        );
                    }
                }
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]
        /// Short runs cut at every place in a word and across words, from
        /// every kind of start: the kernels agree with [`short_run`].
        #[test]
        fn kernels_agree_with_short_run(
            text in crate::detect::texts_of(vec![
                "1", "12", "123", "1234", "1234567", "12345678", " ", "-", ".", "(", ")", "+",
                "/", "#", "\t", "\n", "\r", "\"", "a", "Z", "C", "<", ">", ",", ":", "%",
                "&", "\\", "@", "_", "\u{a0}", "д", "\u{ff11}", "\u{661}", "\u{6f1}", "\u{967}", "\0", "\u{7f}", "xxxxxxxxxxxxxxxxxxxx",
            ], 1..120),
            start in 0usize..80,
        ) {
            let bytes = text.as_bytes();
            let start = start.min(bytes.len());
            for kernel in Kernel::available() {
                proptest::prop_assert_eq!(
                    by_bits(bytes, start, kernel),
                    bytewise(bytes, start, kernel),
                    "{:?} {:?} {}", kernel, text, start
                );
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        /// The pair kernel agrees with the tables read byte by byte, and
        /// every pair of the set is a candidate.
        #[test]
        fn pair_candidates_hold_every_pair(
            pairs in proptest::collection::vec(proptest::array::uniform2(proptest::num::u8::ANY), 1..30),
            // Every length, and more often the gates' full window and the
            // longest the kernels take.
            w in proptest::prop_oneof![
                proptest::collection::vec(proptest::num::u8::ANY, 0..70),
                proptest::collection::vec(proptest::num::u8::ANY, 64..=65),
            ],
            planted in proptest::collection::vec((0usize..65, 0usize..30), 0..4),
        ) {
            let pairs: Vec<[u8; 2]> = pairs.iter().map(|&[a, b]| [a | 0x20, b | 0x20]).collect();
            let t = PairTables::new(&pairs);
            let mut w = w;
            for (at, k) in planted {
                if at + 1 < w.len() {
                    let [a, b] = pairs[k % pairs.len()];
                    // Either case of a folded letter.
                    w[at] = a & !(0x20 * u8::from(at % 2 == 0 && a.is_ascii_lowercase()));
                    w[at + 1] = b;
                }
            }
            let Some(got) = t.candidates(&w) else {
                proptest::prop_assert!(
                    w.len() > 65 || !(Isa::Avx512.runs_here() || Isa::Avx2.runs_here())
                );
                return Ok(());
            };
            // What `candidates` picked, and each kernel this CPU runs.
            let mut all = vec![got];
            #[cfg(target_arch = "x86_64")]
            {
                if Isa::Avx2.runs_here() {
                    // SAFETY: AVX2 was found on this CPU.
                    all.push(unsafe { x86::pair_candidates_avx2(&t.tables, &w) });
                }
                if Isa::Avx512.runs_here() {
                    // SAFETY: AVX-512BW was found on this CPU.
                    all.push(unsafe { x86::pair_candidates(&t.tables, &w) });
                }
            }
            for got in all {
                proptest::prop_assert_eq!(got, t.candidates_bytewise(&w));
                for i in 0..w.len().saturating_sub(1) {
                    if pairs.contains(&[w[i] | 0x20, w[i + 1] | 0x20]) {
                        proptest::prop_assert!(got >> i & 1 == 1, "{}", i);
                    }
                }
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
        bits.fill(b"ab1cd", 1, Kernel::new(Isa::Portable));
        assert_eq!(bits.next(1), Some(2));
        assert_eq!(bits.next(3), None);
        assert_eq!(bits.next(0), Some(2));
        assert_eq!(bits.next(9), None);
    }
}
