//! Rule-file fixtures: what must parse, what must fail and where.

use super::*;
use crate::detect::Builtin;

fn errors(text: &str) -> Vec<String> {
    match compile_texts(&[("r.yaml", text)]) {
        Ok(_) => Vec::new(),
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn shipped_rules_compile_and_pass_their_examples() {
    let files = default_files().unwrap();
    let engine = compile(&files).unwrap();
    let (n, failures) = run_examples(&files, &engine);
    assert!(n >= 10, "the default rules carry examples");
    assert!(failures.is_empty(), "{failures:?}");
}

#[test]
fn bad_files_report_file_line_column() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "unknown top-level key",
            "version: 1\nfoo: 2\n",
            "r.yaml:2:1: unknown field `foo`",
        ),
        (
            "unknown detector",
            "detectors:\n  snls:\n    enabled: true\n",
            "r.yaml:2:3: unknown field `snls`",
        ),
        (
            "unknown detector key",
            "detectors:\n  phone:\n    keyword: [x]\n",
            "r.yaml:3:5: unknown field `keyword`",
        ),
        (
            "confidence out of range",
            "detectors:\n  phone:\n    min_confidence: 1.5\n",
            "r.yaml:3:21: confidence must be between 0 and 1",
        ),
        (
            "unknown format",
            "detectors:\n  snils:\n    formats:\n      dashed: 0.9\n",
            "r.yaml:4:15: unknown format `dashed` of detector snils",
        ),
        (
            "invalid regex",
            "custom:\n  - id: x\n    category: c\n    regex: '(['\n",
            "r.yaml:4:12: invalid regex",
        ),
        (
            "unbounded regex",
            "custom:\n  - id: x\n    category: c\n    regex: 'a+'\n",
            "r.yaml:4:12: regex can match more than",
        ),
        (
            "unknown validator",
            "custom:\n  - id: x\n    category: c\n    regex: 'a{3}'\n    validator: crc\n",
            "r.yaml:5:16: unknown validator `crc`",
        ),
        (
            "regex and dictionary",
            "custom:\n  - id: x\n    category: c\n",
            "r.yaml:2:9: a custom detector needs exactly one",
        ),
        (
            "duplicate id",
            "custom:\n  - id: x\n    category: c\n    regex: a\n  - id: x\n    category: c\n    regex: b\n",
            "r.yaml:5:9: duplicate detector id",
        ),
        (
            "bad allow pattern",
            "detectors:\n  email:\n    allow:\n      patterns: ['(']\n",
            "r.yaml:4:18: invalid regex",
        ),
        ("wrong type", "context:\n  window: lots\n", "r.yaml:2:11:"),
        ("not yaml", "detectors: [\n", "r.yaml:"),
        (
            "version",
            "version: 2\n",
            "r.yaml:1:10: unsupported version 2",
        ),
    ];
    for (name, text, want) in cases {
        let got = errors(text);
        assert!(
            got.iter().any(|e| e.starts_with(want)),
            "case {name}: want {want:?}, got {got:?}"
        );
    }
}

#[test]
fn later_files_override_and_accumulate() {
    let base = "detectors:\n  phone:\n    min_confidence: 0.5\n    allow:\n      values: ['+7 (812) 923-52-23']\n";
    let site = "detectors:\n  phone:\n    allow:\n      values: ['8 800 100-00-00']\n  snils:\n    enabled: false\n";
    let files = [
        parse("base.yaml", DEFAULT_RULES[0].1).unwrap(),
        parse("a.yaml", base).unwrap(),
        parse("b.yaml", site).unwrap(),
    ];
    let spec = to_spec(&files).unwrap();
    assert!(!spec.builtins[Builtin::Snils.index()].enabled);
    assert_eq!(spec.builtins[Builtin::Phone.index()].allow.values.len(), 2);
    let engine = compile(&files).unwrap();
    let text = "Звоните: +7 (812) 923-52-23 или 8-800-100-00-00, пациент: +7 (999) 123-45-67. СНИЛС 112-233-445 95";
    let found = engine.scan(text.as_bytes());
    let cats: Vec<&str> = found.iter().map(|f| f.category.as_str()).collect();
    assert_eq!(
        cats,
        ["phone"],
        "allow-listed phones and disabled snils are not reported"
    );
}

#[test]
fn custom_detectors_from_yaml() {
    let text = r#"
custom:
  - id: med_card
    category: medical_card
    regex: 'МК-[0-9]{6}'
  - id: luhn_ref
    category: patient_ref
    regex: '\bREF[0-9]{8}\b'
    validator: luhn
  - id: diagnoses
    category: diagnosis
    dictionary: [меланома, "рак молочной железы"]
  - id: after_kw
    category: code
    regex: '[A-Z][0-9]{3}'
    keywords: [шифр]
    require_keyword: true
    window: 16
    allow:
      values: [Z999]
"#;
    let engine = compile_texts(&[("c.yaml", text)]).unwrap();
    let scan = |s: &str| -> Vec<String> {
        engine
            .scan(s.as_bytes())
            .iter()
            .map(|f| format!("{}:{}", f.category, &s[f.start as usize..f.end as usize]))
            .collect()
    };
    assert_eq!(scan("карта МК-123456."), ["medical_card:МК-123456"]);
    assert_eq!(scan("REF12345674 REF12345675"), ["patient_ref:REF12345674"]);
    assert_eq!(scan("Диагноз: МЕЛАНОМА кожи"), ["diagnosis:МЕЛАНОМА"]);
    assert_eq!(scan("меланомами"), Vec::<String>::new(), "whole words only");
    assert_eq!(scan("A123 шифр B456, шифр Z999"), ["code:B456"]);
}

#[test]
fn examples_that_fail_name_their_line() {
    let text = "examples:\n  - text: 'СНИЛС 112-233-445 95'\n    match: inn\n  - text: 'ничего'\n    no_match: any\n";
    let files = [
        parse("base.yaml", DEFAULT_RULES[0].1).unwrap(),
        parse("ex.yaml", text).unwrap(),
    ];
    let engine = compile(&files).unwrap();
    let (_, failures) = run_examples(&files[1..], &engine);
    assert_eq!(failures.len(), 1);
    let msg = failures[0].0.to_string();
    assert!(
        msg.starts_with("ex.yaml:2:11: example should contain inn, found snils"),
        "{msg}"
    );
    assert!(
        !msg.contains("112-233"),
        "failures never echo the example's data"
    );
}
