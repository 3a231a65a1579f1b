//! Property tests of the detection engine: valid identifiers in random
//! text are found, off-by-one check digits are not, any split of the input
//! gives the same findings, every trigger kernel gives the same findings,
//! and no input makes it panic.

use proptest::prelude::*;
use zaslon::detect::simd::Kernel;
use zaslon::detect::{Engine, Finding};
use zaslon::rules;

fn engine() -> &'static Engine {
    use std::sync::OnceLock;
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| rules::default_engine().unwrap())
}

fn snils_check(d: &[u8]) -> u32 {
    let s: u32 = d
        .iter()
        .enumerate()
        .map(|(i, &x)| u32::from(x) * (9 - i as u32))
        .sum();
    match s {
        0..=99 => s,
        100 | 101 => 0,
        _ => s % 101 % 100,
    }
}

fn mod11(d: &[u8], w: &[u32]) -> u8 {
    (d.iter()
        .zip(w)
        .map(|(&x, &w)| u32::from(x) * w)
        .sum::<u32>()
        % 11
        % 10) as u8
}

fn luhn_digit(body: &[u8]) -> u8 {
    let s: u32 = body
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &x)| {
            let x = u32::from(x);
            if i % 2 == 0 {
                let y = x * 2;
                if y > 9 { y - 9 } else { y }
            } else {
                x
            }
        })
        .sum();
    ((10 - s % 10) % 10) as u8
}

fn s(d: &[u8]) -> String {
    d.iter().map(|&x| char::from(b'0' + x)).collect()
}

/// A valid identifier, its text, its category, and the same text with the
/// last check digit off by one.
#[derive(Debug, Clone)]
struct Id {
    text: String,
    bad: String,
    category: &'static str,
    keyword: &'static str,
}

fn bump_last(t: &str) -> String {
    let mut v: Vec<char> = t.chars().collect();
    let i = v.iter().rposition(char::is_ascii_digit).unwrap();
    v[i] = char::from(b'0' + ((v[i] as u8 - b'0' + 1) % 10));
    v.into_iter().collect()
}

fn id_strategy() -> impl Strategy<Value = Id> {
    let digits = |n: usize| proptest::collection::vec(0u8..10, n);
    prop_oneof![
        digits(9)
            .prop_filter("issued with checksum", |d| d
                .iter()
                .fold(0u32, |a, &x| a * 10 + u32::from(x))
                > 1_001_998)
            .prop_map(|d| {
                let c = snils_check(&d);
                let t = format!("{}-{}-{} {:02}", s(&d[..3]), s(&d[3..6]), s(&d[6..9]), c);
                Id {
                    bad: bump_last(&t),
                    text: t,
                    category: "snils",
                    keyword: "СНИЛС",
                }
            }),
        digits(10)
            .prop_filter("not all zero", |d| d.iter().any(|&x| x != 0))
            .prop_map(|mut d| {
                d.push(mod11(&d, &[7, 2, 4, 10, 3, 5, 9, 4, 6, 8]));
                d.push(mod11(&d, &[3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8]));
                let t = s(&d);
                Id {
                    bad: bump_last(&t),
                    text: t,
                    category: "inn",
                    keyword: "ИНН",
                }
            }),
        (0u8..5, digits(11)).prop_map(|(p, mut d)| {
            let mut body = vec![2, 2, 0, p];
            body.append(&mut d);
            body.push(luhn_digit(&body));
            let t = format!(
                "{} {} {} {}",
                s(&body[..4]),
                s(&body[4..8]),
                s(&body[8..12]),
                s(&body[12..])
            );
            Id {
                bad: bump_last(&t),
                text: t,
                category: "card",
                keyword: "карта",
            }
        }),
        digits(15).prop_map(|mut d| {
            d.push(luhn_digit(&d));
            let t = s(&d);
            Id {
                bad: bump_last(&t),
                text: t,
                category: "oms",
                keyword: "полис ОМС",
            }
        }),
        (prop::sample::select(vec![3u8, 4, 8, 9]), digits(9)).prop_map(|(first, d)| {
            let t = format!(
                "+7 ({}{}) {}-{}-{}",
                first,
                s(&d[..2]),
                s(&d[2..5]),
                s(&d[5..7]),
                s(&d[7..])
            );
            // A phone has no check digit: its look-alike is a Kazakh number.
            let bad = format!(
                "+7 (7{}) {}-{}-{}",
                s(&d[..2]),
                s(&d[2..5]),
                s(&d[5..7]),
                s(&d[7..])
            );
            Id {
                text: t,
                bad,
                category: "phone",
                keyword: "тел.",
            }
        }),
    ]
}

/// Surrounding text: words, punctuation and markup, no digits.
fn filler() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop::sample::select(vec![
            "пациент",
            " ",
            "<p>",
            "</p>",
            ", ",
            "данные",
            "\n",
            "<td>",
            "&nbsp;",
            "запись",
            "«",
            "»",
            "приём",
            "врач",
            ": ",
        ]),
        0..8,
    )
    .prop_map(|v| v.concat())
}

fn stream(e: &Engine, input: &[u8], cuts: &[usize]) -> Vec<Finding> {
    let mut sc = e.scanner();
    let mut out = Vec::new();
    let mut prev = 0;
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    cuts.sort_unstable();
    for c in cuts {
        sc.feed(&input[prev..c], &mut out);
        prev = c;
    }
    sc.feed(&input[prev..], &mut out);
    sc.finish(&mut out);
    out
}

/// Text built from pieces that exercise every layer.
fn mixed_text() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        id_strategy().prop_map(|i| format!("{} {}", i.keyword, i.text)),
        filler(),
        Just("ivan.petrov@mail.ru".to_string()),
        Just("%2B7%20999%20123-45-67&snils=112-233-445%2095".to_string()),
        Just("&#49;&#49;&#50;-233-445&nbsp;95".to_string()),
        Just("\\u0031\\u0031\\u0032-233-445 95".to_string()),
        Just(
            "<table><tr><th>Полис ОМС</th></tr><tr><td>6011096017222623</td></tr></table>"
                .to_string()
        ),
        Just(r#"{"series": "4508", "number": "496087"}"#.to_string()),
        Just("Диагноз: C50.1".to_string()),
        Just("１１２-２３３-４４５ ９５".to_string()),
        Just(
            "\u{661}\u{661}\u{662}-\u{662}\u{663}\u{663}-\u{664}\u{664}\u{665} \u{669}\u{665}"
                .to_string()
        ),
        "[0-9 ()+-]{0,20}",
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|v| v.concat().into_bytes())
}

/// Text where short digit runs (the ones a kernel may leave out) stand
/// right next to identifiers, keywords and every byte that ends or
/// continues a run: quotes, letters, capitals, escapes, markup.
fn short_runs_text() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        id_strategy().prop_map(|i| format!("{} {}", i.keyword, i.text)),
        id_strategy().prop_map(|i| i.text),
        prop::sample::select(vec![
            "1",
            "12",
            "123",
            "1234",
            "1234567",
            "12345678",
            "4508",
            "496087",
            " ",
            "-",
            ".",
            "(",
            ")",
            "+",
            "/",
            "#",
            "№",
            "\t",
            "\n",
            "\"",
            "a",
            "x",
            "Z",
            "C",
            "N",
            "<td>",
            "</td>",
            ">",
            ",",
            ":",
            "=",
            "%",
            "%20",
            "&",
            "&nbsp;",
            "&amp;",
            "\\",
            "@",
            "_",
            "\u{a0}",
            "г.",
            "серия",
            "номер",
            "\", \"number\": \"",
            "Диагноз: ",
            "C50.1",
            "дата рождения ",
            "12.05.1980",
            "+7",
            "ivan@mail.ru",
        ])
        .prop_map(str::to_string),
    ];
    proptest::collection::vec(piece, 0..24).prop_map(|v| v.concat().into_bytes())
}

/// Identifiers, ICD-10 codes, dates and passport series with every kind of
/// byte before and after them, whole and byte by byte: the same findings
/// with every kernel as with the one that keeps every trigger.
#[test]
fn every_kernel_agrees_at_the_edges() {
    let before = [
        "",
        "x",
        "Z",
        " ",
        "Диагноз: C",
        "Диагноз: ",
        "паспорт серия ",
        "{\"series\": \"",
        "СНИЛС ",
        "ИНН ",
        "дата рождения ",
        "<td>",
    ];
    let core = [
        "5",
        "50",
        "50.1",
        "12",
        "123",
        "4508",
        "4508 ",
        "12.05.",
        "12.05.1980",
        "1234567",
        "12345678",
        "112-233-445 95",
        "7707083893",
        "4508 496087",
    ];
    let after = [
        "",
        "<td>",
        "\"",
        "\", \"number\": \"496087\"",
        " номер 496087",
        " серия",
        "a",
        " a",
        "%20",
        "&nbsp;",
        "\u{a0}",
        "@mail.ru",
        ".",
        " 12",
        "Z",
    ];
    let every = engine().clone().with_kernel(Kernel::detect().exhaustive());
    let mut found = 0;
    for b in before {
        for c in core {
            for a in after {
                let text = format!("{b}{c}{a}");
                let bytes = text.as_bytes();
                let cuts: Vec<usize> = (0..bytes.len()).collect();
                let whole = every.scan(bytes);
                let streamed = stream(&every, bytes, &cuts);
                found += whole.len();
                for kernel in Kernel::available() {
                    let e = engine().clone().with_kernel(kernel);
                    assert_eq!(e.scan(bytes), whole, "{kernel:?} {text:?}");
                    assert_eq!(stream(&e, bytes, &cuts), streamed, "{kernel:?} {text:?}");
                }
            }
        }
    }
    // The texts hold identifiers: the comparison is not of empty lists.
    assert!(found > 300, "{found}");
}

/// `n` bytes of Latin text with no trigger, ending in a line break: what
/// moves a text to any place in the input.
fn padding(n: usize) -> String {
    let mut f: String = "lorem ipsum dolor sit amet\n".repeat(n / 27 + 1)[..n - 1].to_string();
    f.push('\n');
    f
}

/// Findings as `(start, end, category)`, moved back by `by` bytes.
fn shifted(found: Vec<Finding>, by: usize) -> Vec<(u64, u64, String)> {
    found
        .into_iter()
        .map(|f| {
            (
                f.start - by as u64,
                f.end - by as u64,
                f.category.as_str().to_string(),
            )
        })
        .collect()
}

/// The scan's loop computes trigger bits for 8 KiB at a time: identifiers,
/// dates, prices and short numbers that straddle where one window ends and
/// the next begins are read as in one piece. The same text after filler of
/// every length around 8 KiB gives the findings it gives far from any
/// window's end, shifted, with every kernel, whole and streamed.
#[test]
fn findings_straddle_trigger_windows() {
    let text = "дата рождения 12.05.1980, СНИЛС 112-233-445 95, ИНН 7707083893, \
                паспорт серия 4508 номер 496087, тел. +7 (812) 555-12-34, 12 345,00&nbsp;₽, \
                № 138. пациент, /400/85707213.jpg ivan@mail.ru Диагноз: C50.1 \
                <td>4508 496087</td> 1234567 12345678 id7707083893 x";
    let far = padding(1000);
    let input = format!("{far}{text}");
    let reference = shifted(engine().scan(input.as_bytes()), far.len());
    assert!(reference.len() >= 7, "{reference:?}");
    for kernel in Kernel::available() {
        let e = engine().clone().with_kernel(kernel);
        for k in 0..text.len() + 8 {
            let pad = padding(8 * 1024 + 8 - k);
            let input = format!("{pad}{text}");
            let bytes = input.as_bytes();
            assert_eq!(
                shifted(e.scan(bytes), pad.len()),
                reference,
                "{kernel:?} {k}"
            );
            let cuts = [pad.len() / 2, pad.len() + text.len() / 2];
            assert_eq!(
                shifted(stream(&e, bytes, &cuts), pad.len()),
                reference,
                "{kernel:?} {k} streamed"
            );
        }
    }
}

/// Table columns give context across the scan's 8 KiB trigger windows,
/// where the kernel of AVX-512VBMI tells the table tracker where `<table`
/// tags start: tables whose tag stands at every place around a window's
/// end (before it, on it, after an island that runs past it) give the
/// findings they give far from it, shifted, with every kernel, whole and
/// streamed. A date counts in a column headed «Дата рождения» alone, a
/// policy number in one headed «Полис ОМС»; a date after the table does
/// not.
#[test]
fn table_columns_across_trigger_windows() {
    let text = "<TABLE class=\"list\"><tr><th>Дата рождения</th><th>Полис ОМС</th></tr>\
                <tr><td>нет</td><td>"
        .to_string()
        + &"данные пациента скрыты ".repeat(12)
        + "</td></tr><tr><td>12.05.1980</td><td>6011096017222623</td></tr></table>\
           <p>обновлено 13.06.2021</p>\
           <table><tr><th>Примечание</th></tr><tr><td>14.07.1975</td></tr></table> x";
    let filler = |n: usize, island: bool| {
        let mut f = padding(n);
        if island && n > 40 {
            // An island of digits that runs past where it stands.
            f.replace_range(n - 40..n - 18, "id 12345678901234567890");
        }
        f
    };
    let far = filler(1000, false);
    let input = format!("{far}{text}");
    let reference = shifted(engine().scan(input.as_bytes()), far.len());
    let cats: Vec<&str> = reference.iter().map(|(_, _, c)| c.as_str()).collect();
    assert_eq!(cats, ["birth_date", "oms"], "{reference:?}");
    for kernel in Kernel::available() {
        let e = engine().clone().with_kernel(kernel);
        for island in [false, true] {
            for k in (0..48).chain((48..text.len() + 8).step_by(7)) {
                let pad = filler(8 * 1024 + 8 - k, island);
                let input = format!("{pad}{text}");
                let bytes = input.as_bytes();
                assert_eq!(
                    shifted(e.scan(bytes), pad.len()),
                    reference,
                    "{kernel:?} {k} {island}"
                );
                let cuts = [pad.len() / 2, pad.len() + 3, pad.len() + text.len() / 2];
                assert_eq!(
                    shifted(stream(&e, bytes, &cuts), pad.len()),
                    reference,
                    "{kernel:?} {k} {island} streamed"
                );
            }
        }
    }
}

/// Identifiers written in the other decimal digits the decoder reads
/// (Arabic-Indic, Persian, Devanagari) are found where they start, plainly
/// or percent-encoded, after a percent-encoded Cyrillic word (which the
/// scan skips whole), by every kernel, whole and cut at every byte; and
/// masked to the same length.
#[test]
fn identifiers_in_other_digit_scripts_are_found() {
    let write = |text: &str, zero: u32| -> String {
        text.chars()
            .map(|c| match c.to_digit(10) {
                Some(d) => char::from_u32(zero + d).unwrap(),
                None => c,
            })
            .collect()
    };
    let pct = |text: &str| -> String { text.bytes().map(|b| format!("%{b:02X}")).collect() };
    for zero in [0x0660, 0x06F0, 0x0966] {
        let snils = write("112-233-445 95", zero);
        let inn = write("7707083893", zero);
        let plain = format!("<p>СНИЛС {snils}</p><p>ИНН {inn}</p>");
        let encoded = format!(
            "snils={}%20{}&inn={}{}",
            pct("СНИЛС"),
            pct(&snils),
            pct("ИНН"),
            pct(&inn)
        );
        for input in [plain, encoded] {
            let bytes = input.as_bytes();
            let cats = |found: &[Finding]| -> Vec<String> {
                found
                    .iter()
                    .map(|f| f.category.as_str().to_string())
                    .collect()
            };
            let whole = engine().scan(bytes);
            assert_eq!(cats(&whole), ["snils", "inn_legal"], "{input}");
            for kernel in Kernel::available() {
                let e = engine().clone().with_kernel(kernel);
                assert_eq!(e.scan(bytes), whole, "{input} {kernel:?}");
                for cut in 0..=bytes.len() {
                    assert_eq!(stream(&e, bytes, &[cut]), whole, "{input} {kernel:?} {cut}");
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    /// Leaving out the digits of short runs changes no finding, whole or
    /// streamed: every kernel agrees with the one that keeps every trigger.
    #[test]
    fn every_kernel_gives_the_same_findings(text in short_runs_text(), cuts in proptest::collection::vec(any::<usize>(), 0..8)) {
        let every = engine().clone().with_kernel(Kernel::detect().exhaustive());
        let whole = every.scan(&text);
        let streamed = stream(&every, &text, &cuts);
        for kernel in Kernel::available() {
            let e = engine().clone().with_kernel(kernel);
            prop_assert_eq!(&e.scan(&text), &whole, "{:?}", kernel);
            prop_assert_eq!(&stream(&e, &text, &cuts), &streamed, "{:?}", kernel);
        }
    }

    #[test]
    fn valid_identifiers_are_found(id in id_strategy(), pre in filler(), post in filler()) {
        let text = format!("{pre}{} {}{post}", id.keyword, id.text);
        let found = engine().scan(text.as_bytes());
        let start = pre.len() + id.keyword.len() + 1;
        let end = start + id.text.len();
        prop_assert!(
            found.iter().any(|f| f.category.as_str() == id.category && f.start as usize == start && f.end as usize == end),
            "{} not found exactly at {start}..{end}: {found:?}", id.category
        );
    }

    #[test]
    fn off_by_one_is_not_found(id in id_strategy(), pre in filler(), post in filler()) {
        let text = format!("{pre}{} {}{post}", id.keyword, id.bad);
        let found = engine().scan(text.as_bytes());
        prop_assert!(
            !found.iter().any(|f| f.category.as_str() == id.category),
            "{} found in an invalid value: {found:?}", id.category
        );
    }

    #[test]
    fn any_split_gives_the_same_findings(text in mixed_text(), cuts in proptest::collection::vec(any::<usize>(), 0..16)) {
        let e = engine();
        let whole = e.scan(&text);
        prop_assert_eq!(stream(e, &text, &cuts), whole);
    }

    #[test]
    fn byte_by_byte_gives_the_same_findings(text in mixed_text()) {
        let e = engine();
        let cuts: Vec<usize> = (0..text.len()).collect();
        prop_assert_eq!(stream(e, &text, &cuts), e.scan(&text));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048), cuts in proptest::collection::vec(any::<usize>(), 0..8)) {
        let e = engine();
        let whole = e.scan(&bytes);
        for f in &whole {
            prop_assert!(f.start < f.end && f.end as usize <= bytes.len());
        }
        prop_assert_eq!(stream(e, &bytes, &cuts), whole);
    }
}

#[test]
fn streaming_memory_is_bounded() {
    // 16 MiB of page-like text with identifiers, fed in 8 KiB chunks:
    // the scanner holds a fixed window, not the input.
    let page = "<tr><td>Пациент</td><td>СНИЛС 112-233-445 95</td><td>+7 (999) 123-45-67</td><td>ivan@mail.ru</td></tr>\n"
        .repeat(64);
    let e = engine();
    let mut sc = e.scanner();
    let mut out = Vec::new();
    let mut max_held = 0;
    let mut total = 0usize;
    let chunk = page.as_bytes().chunks(8192).collect::<Vec<_>>();
    for _ in 0..(16 << 20) / page.len() {
        for c in &chunk {
            sc.feed(c, &mut out);
            total += c.len();
            max_held = max_held.max(sc.buffered());
        }
        out.clear();
    }
    sc.finish(&mut out);
    assert!(total > 16_000_000);
    assert!(max_held < 8192 + 4096, "held {max_held} bytes");
}

#[test]
fn settled_offset_is_honest() {
    // Every finding returned after `settled()` reached X starts at or after X.
    let e = engine();
    let text = "x ".repeat(100) + "ivan@mail.ru СНИЛС 112-233-445 95 +7 999 123 45 67";
    let mut sc = e.scanner();
    let mut out = Vec::new();
    let mut settled = 0;
    for b in text.as_bytes().chunks(3) {
        let before = out.len();
        sc.feed(b, &mut out);
        for f in &out[before..] {
            assert!(
                f.start >= settled,
                "finding at {} after settling {settled}",
                f.start
            );
        }
        settled = sc.settled();
    }
    sc.finish(&mut out);
    assert_eq!(out.len(), 3);
}

/// YAML-ish fragments, so that generated rule files reach deep into the
/// parser and the validator, not only its first line.
fn yamlish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("detectors:\n".to_string()),
        Just("  phone:\n".to_string()),
        Just("    min_confidence: 2\n".to_string()),
        Just("    formats: {bare10: 0.9, nope: 1}\n".to_string()),
        Just("custom:\n  - id: x\n    category: c\n".to_string()),
        Just("    regex: '[0-9]{3}'\n".to_string()),
        Just("    regex: '('\n".to_string()),
        Just("    dictionary: [а, b]\n".to_string()),
        Just("examples:\n  - text: 'СНИЛС 112-233-445 95'\n    match: snils\n".to_string()),
        Just("allow: {values: [x], patterns: ['[']}\n".to_string()),
        Just("&a [*a, *a]\n".to_string()),
        "[ -~\n]{0,40}",
        any::<String>(),
    ];
    proptest::collection::vec(piece, 0..10).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn rule_files_never_panic(text in yamlish()) {
        match rules::compile_texts(&[("fuzz.yaml", &text)]) {
            Ok(engine) => {
                let _ = engine.scan(text.as_bytes());
            }
            Err(errors) => {
                for e in &errors.0 {
                    prop_assert_eq!(&e.file, "fuzz.yaml");
                    prop_assert!(e.line >= 1 && e.column >= 1);
                    prop_assert!(!e.message.is_empty());
                }
            }
        }
    }
}
