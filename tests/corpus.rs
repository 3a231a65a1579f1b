//! Quality on the labelled sample traffic in `../shared/corpus/dev`, when
//! it is present beside the checkout (CI has it): precision ≥ 0.99 and
//! recall ≥ 0.98 per category, and recall on obfuscated copies of the
//! labelled values (entities, escapes, zero-width and full-width
//! characters, NBSP, soft hyphens, percent-encoding) ≥ 0.95.
//!
//! Scoring follows `score.py`: a finding counts when its category matches a
//! label and their byte ranges overlap; findings on `dontcare` spans are
//! ignored.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use zaslon::rules;

const CATS: [&str; 7] = ["snils", "inn", "passport", "phone", "email", "card", "oms"];

fn corpus() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/dev");
    p.join("labels.jsonl").exists().then_some(p)
}

fn jsonl(p: &Path) -> Vec<Value> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

struct Span {
    start: usize,
    end: usize,
    cat: String,
}

fn span(v: &Value) -> Span {
    Span {
        start: v["start"].as_u64().unwrap() as usize,
        end: v["end"].as_u64().unwrap() as usize,
        cat: v["category"].as_str().unwrap().to_string(),
    }
}

fn overlaps(a: &Span, s: usize, e: usize) -> bool {
    a.start < e && s < a.end
}

#[test]
fn dev_corpus_precision_and_recall() {
    let Some(root) = corpus() else {
        eprintln!("skipped: ../shared/corpus/dev is not present");
        return;
    };
    let engine = rules::default_engine().unwrap();
    let mut labels: HashMap<String, Vec<Span>> = HashMap::new();
    for l in jsonl(&root.join("labels.jsonl")) {
        labels
            .entry(l["file"].as_str().unwrap().into())
            .or_default()
            .push(span(&l));
    }
    let mut dontcare: HashMap<String, Vec<Span>> = HashMap::new();
    for l in jsonl(&root.join("dontcare.jsonl")) {
        dontcare
            .entry(l["file"].as_str().unwrap().into())
            .or_default()
            .push(span(&l));
    }
    let mut tp: HashMap<&str, usize> = HashMap::new();
    let mut fp: HashMap<&str, usize> = HashMap::new();
    let mut fnn: HashMap<&str, usize> = HashMap::new();
    let manifest = jsonl(&root.join("manifest.jsonl"));
    assert!(!manifest.is_empty());
    for m in &manifest {
        let file = m["file"].as_str().unwrap();
        let data = std::fs::read(root.join(file)).unwrap();
        let found = engine.scan(&data);
        let labs = labels.get(file).map(Vec::as_slice).unwrap_or(&[]);
        let dcs = dontcare.get(file).map(Vec::as_slice).unwrap_or(&[]);
        for &cat in &CATS {
            let mut hit = vec![false; labs.len()];
            for f in found.iter().filter(|f| f.category.as_str() == cat) {
                let (s, e) = (f.start as usize, f.end as usize);
                match labs.iter().position(|l| l.cat == cat && overlaps(l, s, e)) {
                    Some(i) => {
                        if !hit[i] {
                            hit[i] = true;
                            *tp.entry(cat).or_default() += 1;
                        }
                    }
                    None if dcs.iter().any(|d| d.cat == cat && overlaps(d, s, e)) => {}
                    None => *fp.entry(cat).or_default() += 1,
                }
            }
            for (i, l) in labs.iter().enumerate() {
                if l.cat == cat && !hit[i] {
                    *fnn.entry(cat).or_default() += 1;
                }
            }
        }
    }
    for cat in CATS {
        let (t, f, n) = (
            tp.get(cat).copied().unwrap_or(0),
            fp.get(cat).copied().unwrap_or(0),
            fnn.get(cat).copied().unwrap_or(0),
        );
        let p = t as f64 / (t + f).max(1) as f64;
        let r = t as f64 / (t + n).max(1) as f64;
        eprintln!("{cat:9} tp={t:4} fp={f:3} fn={n:3} precision={p:.4} recall={r:.4}");
        assert!(t > 0, "{cat}: no labels matched");
        assert!(p >= 0.99, "{cat}: precision {p:.4}");
        assert!(r >= 0.98, "{cat}: recall {r:.4}");
    }
}

type Transform = fn(&str) -> String;

fn obfuscations() -> Vec<(&'static str, Transform)> {
    fn digits_map(s: &str, f: impl Fn(char) -> String) -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_digit() {
                    f(c)
                } else {
                    c.to_string()
                }
            })
            .collect()
    }
    fn other_digits(s: &str, zero: u32) -> String {
        digits_map(s, |c| {
            char::from_u32(zero + c.to_digit(10).unwrap())
                .unwrap()
                .to_string()
        })
    }
    vec![
        ("decimal entities", |s| {
            digits_map(s, |c| format!("&#{};", c as u32))
        }),
        ("hex entities", |s| {
            digits_map(s, |c| format!("&#x{:x};", c as u32))
        }),
        ("json escapes", |s| {
            digits_map(s, |c| format!("\\u{:04x}", c as u32))
        }),
        ("percent", |s| {
            digits_map(s, |c| format!("%{:02X}", c as u32))
        }),
        ("full-width", |s| {
            digits_map(s, |c| {
                char::from_u32(0xFF10 + c.to_digit(10).unwrap())
                    .unwrap()
                    .to_string()
            })
        }),
        // Other decimal digits that the decoder reads as ASCII ones:
        // Arabic-Indic, Persian (extended Arabic-Indic) and Devanagari.
        ("arabic-indic", |s| other_digits(s, 0x0660)),
        ("persian", |s| other_digits(s, 0x06F0)),
        ("devanagari", |s| other_digits(s, 0x0966)),
        ("zero-width", |s| {
            s.chars()
                .map(String::from)
                .collect::<Vec<_>>()
                .join("\u{200B}")
        }),
        ("soft hyphens", |s| {
            s.chars()
                .map(String::from)
                .collect::<Vec<_>>()
                .join("\u{AD}")
        }),
        ("nbsp", |s| s.replace(' ', "\u{A0}")),
        ("en dash", |s| s.replace('-', "\u{2013}")),
    ]
}

#[test]
fn obfuscated_values_are_still_found() {
    let Some(root) = corpus() else {
        eprintln!("skipped: ../shared/corpus/dev is not present");
        return;
    };
    let engine = rules::default_engine().unwrap();
    let labels = jsonl(&root.join("labels.jsonl"));
    for (name, t) in obfuscations() {
        let (mut found, mut total) = (0, 0);
        for l in &labels {
            // Values in page text: rewrite the value in place, keep the page.
            if l["enc"] != serde_json::json!(["html"]) {
                continue;
            }
            let file = l["file"].as_str().unwrap();
            let data = std::fs::read(root.join(file)).unwrap();
            let sp = span(l);
            let value = std::str::from_utf8(&data[sp.start..sp.end]).unwrap();
            let ob = t(value);
            let mut doc = data[..sp.start].to_vec();
            doc.extend_from_slice(ob.as_bytes());
            doc.extend_from_slice(&data[sp.end..]);
            let end = sp.start + ob.len();
            total += 1;
            if engine.scan(&doc).iter().any(|f| {
                f.category.as_str() == sp.cat
                    && (f.start as usize) < end
                    && sp.start < f.end as usize
            }) {
                found += 1;
            }
        }
        let r = found as f64 / total.max(1) as f64;
        eprintln!("{name:16} recall={r:.4} ({found}/{total})");
        assert!(total > 100);
        assert!(r >= 0.95, "{name}: recall {r:.4}");
    }
}
