//! Engine throughput on generated traffic, against a naive baseline of one
//! regex per category over the whole input.
//!
//! Run: `cargo bench --bench engine` (figures in README.md);
//! `cargo bench --bench engine -- page_60k` for the load benchmark's page,
//! 32 pages of its kind scanned in turn, and the SIMD kernels that find
//! their trigger bytes.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use regex::bytes::Regex;
use zaslon::detect::simd::{Kernel, TriggerBits};
use zaslon::rules;

mod data;

use data::{PAGE_SEED, clean_html, clean_html_seeded, dense_forms, json_api};

/// The naive way: one regex per category over every byte.
struct Naive(Vec<Regex>);

impl Naive {
    fn new() -> Naive {
        Naive(
            [
                r"\b\d{3}[- ]\d{3}[- ]\d{3}[- ]\d{2}\b",
                r"\b\d{12}\b",
                r"\b\d{10}\b",
                r"\b\d{2}\s?\d{2}\s\d{6}\b",
                r"(?:\+7|8)[\s(-]*\d{3}[\s)-]*\d{3}[\s-]*\d{2}[\s-]*\d{2}",
                r"[\w.+-]+@[\w-]+\.[\w.-]+",
                r"\b(?:\d{4}[ -]?){3}\d{4}\b",
                r"\b\d{16}\b",
            ]
            .iter()
            .map(|p| Regex::new(p).unwrap())
            .collect(),
        )
    }
    fn count(&self, hay: &[u8]) -> usize {
        self.0.iter().map(|re| re.find_iter(hay).count()).sum()
    }
}

fn bench(c: &mut Criterion) {
    let engine = match std::env::var("ZASLON_BENCH_RULES") {
        Ok(p) => rules::compile(&rules::load_paths(&[p.into()]).unwrap()).unwrap(),
        Err(_) => rules::default_engine().unwrap(),
    };
    let naive = Naive::new();
    let inputs = [
        ("clean_html", clean_html(1 << 20)),
        ("dense_forms", dense_forms(1 << 20)),
        ("json_api", json_api(1 << 20)),
    ];
    for (name, data) in &inputs {
        let mut g = c.benchmark_group(*name);
        g.throughput(Throughput::Bytes(data.len() as u64));
        g.bench_function("zaslon", |b| {
            b.iter(|| black_box(engine.scan(black_box(data))).len())
        });
        g.bench_function("zaslon_streaming_16k", |b| {
            b.iter(|| {
                let mut sc = engine.scanner();
                let mut out = Vec::new();
                for chunk in data.chunks(16 * 1024) {
                    sc.feed(chunk, &mut out);
                }
                sc.finish(&mut out);
                black_box(out.len())
            })
        });
        g.bench_function("naive_regex_per_category", |b| {
            b.iter(|| black_box(naive.count(black_box(data))))
        });
        g.finish();
    }
    // The load benchmark's page (`benches/load.sh`): the whole scan, and
    // the trigger bits that start it with each kernel this CPU runs.
    let page = clean_html(60 * 1024);
    let mut g = c.benchmark_group("page_60k");
    g.throughput(Throughput::Bytes(page.len() as u64));
    g.bench_function("zaslon", |b| {
        b.iter(|| black_box(engine.scan(black_box(&page))).len())
    });
    // Pages of the same kind from 32 seeds, scanned in turn, each copied
    // first into one buffer (as a response lands in the proxy's; the copy
    // is not timed). Scanning one page over and over lets the CPU's branch
    // predictors learn it: a site serves many pages, and the scan of each
    // meets predictors that have not seen it.
    let pages: Vec<Vec<u8>> = (1..=32u64)
        .map(|i| clean_html_seeded(60 * 1024, PAGE_SEED ^ i.wrapping_mul(0x1234_5678_9ABC)))
        .collect();
    g.bench_function("zaslon_32_pages", |b| {
        let mut buf = Vec::new();
        let mut next = pages.iter().cycle();
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                buf.clear();
                buf.extend_from_slice(next.next().expect("a cycle never ends"));
                let t = Instant::now();
                black_box(engine.scan(black_box(&buf)).len());
                spent += t.elapsed();
            }
            spent
        })
    });
    let mut bits = TriggerBits::default();
    for kernel in Kernel::available() {
        g.bench_function(format!("trigger_bits_{}", kernel.name()), |b| {
            b.iter(|| {
                bits.fill(black_box(&page), 0, kernel);
                black_box(bits.next(0))
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3)).warm_up_time(std::time::Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
