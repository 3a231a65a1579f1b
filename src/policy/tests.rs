use super::*;
use crate::detect::Builtin;

fn target<'a>(flow: Flow, path: &'a str, ct: &'a str) -> Target<'a> {
    Target {
        flow,
        host: "www.caop1.ru",
        method: "GET",
        path,
        content_type: ct,
    }
}

#[test]
fn defaults_compile_and_decide() {
    let set = PolicySet::default_set().unwrap();
    let t = target(Flow::Response, "/", "text/html");
    let snils = Builtin::Snils.category();
    let p = set.decide(&t, &snils).unwrap();
    assert_eq!(&*p.id, "mask-identifiers");
    assert_eq!(p.action, Action::Mask(Mask::KeepLast(2)));
    let phone = Builtin::Phone.category();
    assert_eq!(set.decide(&t, &phone).unwrap().action, Action::Monitor);
    let req = target(
        Flow::Request,
        "/feedback/",
        "application/x-www-form-urlencoded",
    );
    assert_eq!(&*set.decide(&req, &snils).unwrap().id, "monitor-requests");
    assert_eq!(set.bulk_for(&t).count(), 1);
}

#[test]
fn first_match_wins_and_routes_filter() {
    let text = r#"
policies:
  - id: api-block
    flow: response
    routes: [{ host: "*.caop1.ru", path: "/api/**", methods: [get] }]
    content_types: [application/json]
    categories: [snils]
    action: block
  - id: all-mask
    flow: response
    action: mask
    mask: { strategy: token, token: "[скрыто]" }
    mode: report
"#;
    let set = compile(&[("p.yaml", text)]).unwrap();
    let snils = Builtin::Snils.category();
    let api = target(Flow::Response, "/api/v1/patients", "application/json");
    assert_eq!(&*set.decide(&api, &snils).unwrap().id, "api-block");
    let page = target(Flow::Response, "/api", "application/json");
    assert_eq!(&*set.decide(&page, &snils).unwrap().id, "all-mask");
    let html = target(Flow::Response, "/api/v1/x", "text/html");
    let p = set.decide(&html, &snils).unwrap();
    assert_eq!(p.mode, Mode::Report);
    assert_eq!(p.action, Action::Mask(Mask::Token("[скрыто]".into())));
    assert!(
        set.decide(&target(Flow::Request, "/", ""), &snils)
            .is_none()
    );
}

#[test]
fn errors_have_positions() {
    let cases: &[(&str, &str)] = &[
        (
            "policies:\n  - id: a\n    flow: response\n    action: mask\n    colour: red\n",
            "p.yaml:5:5",
        ),
        (
            "policies:\n  - id: a\n    flow: sideways\n    action: allow\n",
            "p.yaml:3:11",
        ),
        (
            "policies:\n  - id: a\n    flow: response\n    routes: [{ path: \"/a[\" }]\n    action: allow\n",
            "p.yaml:4:",
        ),
        (
            "policies:\n  - id: a\n    flow: response\n    action: allow\n  - id: a\n    flow: request\n    action: allow\n",
            "p.yaml:5:9",
        ),
        (
            "policies:\n  - id: \"a b\"\n    flow: response\n    action: allow\n",
            "p.yaml:2:9",
        ),
        (
            "bulk:\n  - id: b\n    flow: response\n    distinct: 0\n",
            "p.yaml:4:15",
        ),
        (
            "bulk:\n  - id: b\n    flow: response\n    distinct: 3\n    status: 500\n",
            "p.yaml:5:13",
        ),
        (
            "policies:\n  - id: a\n    flow: response\n    action: monitor\n    mask: { strategy: full }\n",
            "p.yaml:4:13",
        ),
    ];
    for (text, want) in cases {
        let e = compile(&[("p.yaml", text)]).unwrap_err().to_string();
        assert!(e.starts_with(want), "{text}\n→ {e}");
    }
}

#[test]
fn fingerprints_are_keyed_and_stable() {
    let a = Keyed::new(b"k1");
    let b = Keyed::new(b"k2");
    let c = Builtin::Snils.category();
    assert_eq!(
        a.fingerprint(&c, "11223344595"),
        a.fingerprint(&c, "11223344595")
    );
    assert_ne!(
        a.fingerprint(&c, "11223344595"),
        b.fingerprint(&c, "11223344595")
    );
    assert_eq!(a.fingerprint(&c, "11223344595").len(), 32);
    assert!(!a.fingerprint(&c, "11223344595").contains("11223344595"));
}

#[test]
fn masks_keep_length() {
    let engine = crate::rules::default_engine().unwrap();
    let text = "СНИЛС 112-233-445 95";
    let f = &engine.scan(text.as_bytes())[0];
    let key = Keyed::new(b"k");
    for (mask, want) in [
        (Mask::Full, "***-***-*** **"),
        (Mask::KeepLast(2), "***-***-*** 95"),
        (Mask::Token("[x]".into()), "[x]***********"),
    ] {
        let mut raw = text.as_bytes()[f.start as usize..f.end as usize].to_vec();
        apply_mask(&mask, f, &mut raw, &key);
        assert_eq!(String::from_utf8(raw).unwrap(), want);
    }
    let mut raw = text.as_bytes()[f.start as usize..f.end as usize].to_vec();
    apply_mask(&Mask::Hmac, f, &mut raw, &key);
    assert_eq!(raw.len(), 14);
    assert!(raw.starts_with(b"#"));
    assert!(!String::from_utf8_lossy(&raw).contains("445"));
}

#[test]
fn the_clinics_consent_and_transfer_rules_compile() {
    let text = include_str!("../../deploy/caop1/site.policies.yaml");
    let set = compile(&[("deploy/caop1/site.policies.yaml", text)]).unwrap();
    assert_eq!(set.forms.len(), 2);
    assert_eq!(set.destinations.len(), 3);
    let sms = set.destination_for("/sms/send").unwrap();
    assert_eq!(sms.ground, consent::Ground::Consent("mailing".into()));
    assert_eq!(
        set.destination_for("/crm/leads").unwrap().ground,
        consent::Ground::Contract
    );
    assert!(set.headers.csp(None).unwrap().contains("frame-src 'self'"));
    assert!(
        set.headers
            .csp(Some("caop1_cookie_consent=all"))
            .unwrap()
            .contains("https://vk.com")
    );
}
