//! The `zaslon` binary end to end: real files, real processes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn zaslon(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zaslon"))
        .args(args)
        .output()
        .expect("run zaslon")
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("zaslon-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sample-page.html")
}

fn jsonl(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

const RAW_VALUES: &[&str] = &[
    "112-233-445 95",
    "4508 № 123456",
    "123456789047",
    "8 (999) 123-45-67",
    "m.ivanova@mail.ru",
    "6011 0960 1722 2623",
];

#[test]
fn jsonl_offsets_point_at_the_raw_bytes() {
    let path = sample();
    let raw = std::fs::read(&path).unwrap();
    let out = zaslon(&[
        "scan",
        "--format",
        "jsonl",
        "--show-values",
        path.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = jsonl(&out);
    let cats: Vec<&str> = rows
        .iter()
        .map(|r| r["category"].as_str().unwrap())
        .collect();
    for want in [
        "snils",
        "passport",
        "inn",
        "phone",
        "email",
        "oms",
        "card",
        "inn_legal",
    ] {
        assert!(cats.contains(&want), "{want} missing from {cats:?}");
    }
    for r in &rows {
        assert_eq!(r["path"].as_str().unwrap(), path.to_str().unwrap());
        let (s, e) = (
            r["start"].as_u64().unwrap() as usize,
            r["end"].as_u64().unwrap() as usize,
        );
        assert_eq!(
            String::from_utf8_lossy(&raw[s..e]),
            r["value"].as_str().unwrap()
        );
        assert!(r["detector"].is_string() && r["confidence"].as_f64().unwrap() > 0.0);
        assert!(r["preview"].as_str().unwrap().contains('*'));
    }
    // The order number fails Luhn as a card and sits after «Заказ»: not reported.
    assert!(!rows.iter().any(|r| r["value"] == "4111111111111112"));
}

#[test]
fn values_appear_only_with_show_values() {
    let path = sample();
    for format in ["jsonl", "text"] {
        let out = zaslon(&["scan", "--format", format, path.to_str().unwrap()]);
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        for v in RAW_VALUES {
            assert!(!text.contains(v), "{format} output leaks {v}");
        }
        let digits: String = "11223344595".into();
        assert!(!text.contains(&digits));
    }
}

#[test]
fn text_format_has_positions_and_summary() {
    let out = zaslon(&["scan", sample().to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    let snils = text
        .lines()
        .find(|l| l.contains(" snils "))
        .expect("a snils line");
    // Line 9; column 19, counted in characters: `<dt>СНИЛС</dt><dd>` is 18.
    assert!(
        snils.contains("sample-page.html:9:19: snils ***-***-*45 95"),
        "{snils}"
    );
    assert!(text.contains("finding(s) in 1 file(s)"));
    assert!(text.lines().any(|l| l.trim() == "snils: 1"), "{text}");
}

#[test]
fn directories_recurse_and_stdin_works() {
    let d = tmpdir("dirs");
    std::fs::create_dir_all(d.join("a/b")).unwrap();
    std::fs::write(d.join("a/b/x.txt"), "ИНН 123456789047").unwrap();
    std::fs::write(d.join("y.json"), r#"{"snils":"112-233-445 95"}"#).unwrap();
    let out = zaslon(&["scan", "--format", "jsonl", d.to_str().unwrap()]);
    let rows = jsonl(&out);
    let paths: Vec<String> = rows
        .iter()
        .map(|r| r["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        paths,
        [
            d.join("a/b/x.txt").display().to_string(),
            d.join("y.json").display().to_string()
        ]
    );

    let mut child = Command::new(env!("CARGO_BIN_EXE_zaslon"))
        .args(["scan", "--format", "jsonl", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all("тел. +7 999 123-45-67".as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let rows = jsonl(&out);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["path"], "-");
    assert_eq!(rows[0]["category"], "phone");
    assert_eq!(rows[0]["start"], "тел. ".len());
}

#[test]
fn errors_exit_2_and_name_the_file() {
    let d = tmpdir("errors");
    let missing = d.join("missing.html");
    let out = zaslon(&["scan", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.html"));

    let bad = d.join("bad.yaml");
    std::fs::write(&bad, "detectors:\n  phone:\n    colour: red\n").unwrap();
    let out = zaslon(&[
        "scan",
        "--rules",
        bad.to_str().unwrap(),
        sample().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.yaml:3:5: unknown field `colour`"),
        "{err}"
    );
}

#[test]
fn rules_check_and_test() {
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let out = zaslon(&["rules", "check", rules.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = zaslon(&["rules", "test", rules.to_str().unwrap()]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(" passed, 0 failed"));

    let d = tmpdir("rules");
    let bad = d.join("bad.yaml");
    std::fs::write(
        &bad,
        "custom:\n  - id: x\n    category: c\n    regex: '\\d+'\n",
    )
    .unwrap();
    let out = zaslon(&["rules", "check", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(&format!(
            "{}:4:12: regex can match more than",
            bad.display()
        )),
        "{err}"
    );

    let empty = d.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = zaslon(&["rules", "check", empty.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no rule files"));

    let failing = d.join("failing.yaml");
    std::fs::copy(rules.join("ru-default.yaml"), d.join("base.yaml")).unwrap();
    std::fs::write(
        &failing,
        "examples:\n  - text: 'ИНН 123456789047'\n    no_match: inn\n",
    )
    .unwrap();
    let out = zaslon(&[
        "rules",
        "test",
        d.join("base.yaml").to_str().unwrap(),
        failing.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("failing.yaml:2:11: example should not contain inn"),
        "{err}"
    );
}
