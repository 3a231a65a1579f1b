//! `zaslon scan`: files through the streaming scanner, findings out as
//! text for people or JSON lines for tools.

use std::collections::BTreeMap;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{OutputFormat, ScanArgs, load, print_errors};
use crate::detect::{Engine, Finding};

const CHUNK: usize = 64 * 1024;

/// Follows line and column (in characters, 1-based) through a stream, and
/// keeps the bytes that findings may still need.
struct Cursor {
    /// Absolute offset of `held[0]`.
    base: u64,
    held: Vec<u8>,
    /// Position reached, with its line and column.
    at: u64,
    line: u64,
    col: u64,
}

impl Cursor {
    fn new() -> Cursor {
        Cursor {
            base: 0,
            held: Vec::new(),
            at: 0,
            line: 1,
            col: 1,
        }
    }

    fn advance_to(&mut self, to: u64) {
        let from = (self.at - self.base) as usize;
        let to_rel = ((to.max(self.at)) - self.base) as usize;
        let to_rel = to_rel.min(self.held.len());
        for &b in &self.held[from..to_rel] {
            if b == b'\n' {
                self.line += 1;
                self.col = 1;
            } else if b & 0xC0 != 0x80 {
                self.col += 1;
            }
        }
        self.at = self.base + to_rel as u64;
    }

    fn text(&self, f: &Finding) -> &[u8] {
        let s = (f.start.saturating_sub(self.base) as usize).min(self.held.len());
        let e = (f.end.saturating_sub(self.base) as usize).min(self.held.len());
        &self.held[s..e]
    }

    /// Forgets bytes before `keep`.
    fn trim(&mut self, keep: u64) {
        let keep = keep.min(self.at);
        if keep > self.base {
            let n = ((keep - self.base) as usize).min(self.held.len());
            self.held.drain(..n);
            self.base += n as u64;
        }
    }
}

struct Output<'a> {
    format: OutputFormat,
    show_values: bool,
    out: &'a mut dyn Write,
    totals: BTreeMap<String, u64>,
}

impl Output<'_> {
    fn finding(&mut self, path: &str, cur: &mut Cursor, f: &Finding) -> io::Result<()> {
        cur.advance_to(f.start);
        let raw = cur.text(f);
        let preview = f.preview(raw);
        *self
            .totals
            .entry(f.category.as_str().to_string())
            .or_default() += 1;
        match self.format {
            OutputFormat::Jsonl => {
                let mut obj = serde_json::json!({
                    "path": path,
                    "start": f.start,
                    "end": f.end,
                    "line": cur.line,
                    "column": cur.col,
                    "category": f.category.as_str(),
                    "detector": &*f.detector,
                    "format": f.format.map(|x| x.name()),
                    "confidence": (f.confidence * 100.0).round() / 100.0,
                    "preview": preview,
                });
                if self.show_values {
                    obj["value"] = String::from_utf8_lossy(raw).into_owned().into();
                    obj["normalized"] = f.value.as_str().into();
                }
                writeln!(self.out, "{obj}")
            }
            OutputFormat::Text => {
                let shown = if self.show_values {
                    String::from_utf8_lossy(raw).into_owned()
                } else {
                    preview
                };
                writeln!(
                    self.out,
                    "{path}:{}:{}: {} {} ({}, {:.2})",
                    cur.line, cur.col, f.category, shown, f.detector, f.confidence
                )
            }
        }
    }
}

/// Scans one stream.
fn scan_stream(
    engine: &Engine,
    path: &str,
    mut input: impl Read,
    out: &mut Output<'_>,
) -> io::Result<()> {
    let mut scanner = engine.scanner();
    let mut cur = Cursor::new();
    let mut chunk = vec![0u8; CHUNK];
    let mut found = Vec::new();
    loop {
        let n = match input.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        cur.held.extend_from_slice(&chunk[..n]);
        scanner.feed(&chunk[..n], &mut found);
        for f in found.drain(..) {
            out.finding(path, &mut cur, &f)?;
        }
        let settled = scanner.settled();
        cur.advance_to(settled);
        cur.trim(settled);
    }
    scanner.finish(&mut found);
    for f in found.drain(..) {
        out.finding(path, &mut cur, &f)?;
    }
    Ok(())
}

fn walk(path: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        entries.sort();
        for e in entries {
            walk(&e, out)?;
        }
    } else {
        out.push(path.to_path_buf());
    }
    Ok(())
}

pub fn run(args: &ScanArgs) -> ExitCode {
    let engine = match load(&args.rules) {
        Ok((_, e)) => e,
        Err(e) => {
            print_errors(&e);
            return ExitCode::from(2);
        }
    };
    let stdout = io::stdout();
    let mut lock = BufWriter::new(stdout.lock());
    let mut out = Output {
        format: args.format,
        show_values: args.show_values,
        out: &mut lock,
        totals: BTreeMap::new(),
    };
    let mut failed = false;
    let mut files = 0u64;
    for p in &args.paths {
        if p.as_os_str() == "-" {
            files += 1;
            if let Err(e) = scan_stream(&engine, "-", io::stdin().lock(), &mut out) {
                eprintln!("zaslon: -: {e}");
                failed = true;
            }
            continue;
        }
        let mut list = Vec::new();
        if let Err(e) = walk(p, &mut list) {
            eprintln!("zaslon: {}: {e}", p.display());
            failed = true;
            continue;
        }
        for f in list {
            files += 1;
            let name = f.display().to_string();
            let res = std::fs::File::open(&f)
                .and_then(|file| scan_stream(&engine, &name, file, &mut out));
            if let Err(e) = res {
                if e.kind() == io::ErrorKind::BrokenPipe {
                    return ExitCode::SUCCESS;
                }
                eprintln!("zaslon: {name}: {e}");
                failed = true;
            }
        }
    }
    if args.format == OutputFormat::Text {
        let total: u64 = out.totals.values().sum();
        let _ = writeln!(out.out, "-- {total} finding(s) in {files} file(s)");
        for (cat, n) in &out.totals {
            let _ = writeln!(out.out, "   {cat}: {n}");
        }
    }
    let _ = out.out.flush();
    if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}
