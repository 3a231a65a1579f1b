//! The files under deploy/ are read by Zaslon's own parsers: a config or
//! policy there that Zaslon would refuse fails here first.

use std::collections::BTreeMap;

use zaslon::proxy::{Config, Overrides};

#[test]
fn the_caop1_config_and_policies_are_valid() {
    let text = std::fs::read_to_string("deploy/caop1/zaslon.yaml").unwrap();
    let c = Config::parse("deploy/caop1/zaslon.yaml", &text, &Overrides::default()).unwrap();
    assert!(c.tls.is_some() && c.egress.is_some() && c.admin.is_some());
    assert_eq!(c.routes.len(), 3);
    let site = std::fs::read_to_string("deploy/caop1/site.policies.yaml").unwrap();
    let defaults = std::fs::read_to_string("rules/default.policies.yaml").unwrap();
    let set = zaslon::policy::compile(&[
        ("rules/default.policies.yaml", &defaults),
        ("deploy/caop1/site.policies.yaml", &site),
    ])
    .unwrap();
    assert!(!set.forms.is_empty() && !set.destinations.is_empty() && !set.bulk.is_empty());
}

#[derive(serde::Deserialize)]
struct ConfigMap {
    data: BTreeMap<String, String>,
}

#[test]
fn the_kubernetes_config_map_is_valid() {
    let text = std::fs::read_to_string("deploy/kubernetes/zaslon.yaml").unwrap();
    let first = text.split("\n---\n").next().unwrap();
    let cm: ConfigMap = serde_saphyr::from_str(first).unwrap();
    let c = Config::parse(
        "zaslon.yaml",
        &cm.data["zaslon.yaml"],
        &Overrides::default(),
    )
    .unwrap();
    assert_eq!(c.admin.unwrap().port(), 9090, "the probes' port");
    let set = zaslon::policy::compile(&[
        ("default.policies.yaml", &cm.data["default.policies.yaml"]),
        ("site.policies.yaml", &cm.data["site.policies.yaml"]),
    ])
    .unwrap();
    // The copy in the ConfigMap says what the built-in defaults say.
    let builtin = zaslon::policy::PolicySet::default_set().unwrap();
    assert_eq!(set.policies.len(), builtin.policies.len());
    assert_eq!(set.bulk.len(), builtin.bulk.len());
    assert_eq!(set.forms.len(), 1);
}

mod common;

/// The metric names the dashboard and the alert rules use, without the
/// `_total`/`_bucket` suffixes.
fn names_in(text: &str) -> Vec<String> {
    let mut v: Vec<String> = regex::Regex::new(r"zaslon_[a-z_]+")
        .unwrap()
        .find_iter(text)
        .map(|m| {
            let n = m.as_str();
            n.trim_end_matches("_bucket")
                .trim_end_matches("_total")
                .to_string()
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_and_alerts_use_metrics_zaslon_exposes() {
    use bytes::Bytes;
    use http_body_util::Full;
    let up = common::upstream().await;
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let dir = common::Scratch::new("deploy-metrics");
    let defaults = dir.write(
        "default.policies.yaml",
        include_str!("../rules/default.policies.yaml"),
    );
    let site = dir.write(
        "site.policies.yaml",
        &format!(
            "forms:\n  - {{ id: f, route: {{ path: \"/form\" }}, consent: {{ field: agree, values: [\"on\"] }}, purposes: [mailing], policy_version: v1 }}\ndestinations:\n  - {{ id: d, prefix: /d/, url: \"http://{dead}\", ground: contract, categories: [email] }}\n"
        ),
    );
    let text = format!(
        "listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\negress: 127.0.0.1:0\naudit: {{ path: \"{}\" }}\nledger: {{ sqlite: ledger.sqlite }}\npolicies: [\"{}\", \"{}\"]\nupstreams:\n  site: {{ url: \"http://{}\" }}\n  dead: {{ url: \"http://{dead}\" }}\nroutes:\n  - {{ upstream: site }}\n  - {{ upstream: dead, path: /dead/ }}\n",
        dir.path("audit.jsonl").display(),
        defaults.display(),
        site.display(),
        up.addr
    );
    let running = zaslon::proxy::start(zaslon::proxy::Source {
        config: Some(dir.write("zaslon.yaml", &text)),
        overrides: Overrides::default(),
    })
    .await
    .unwrap();
    // Traffic that touches every family.
    for p in ["/patient", "/export", "/compress", "/dead/x"] {
        common::get(running.listen, p).await;
    }
    let form = hyper::Request::post("/form")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from("snils=112-233-445+95")))
        .unwrap();
    common::send(running.listen, form).await;
    let call = hyper::Request::post("/d/x")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from("{}")))
        .unwrap();
    common::send(running.egress.unwrap(), call).await;
    running.reload();
    let mut exposed = String::new();
    for _ in 0..50 {
        exposed = common::metrics(&running).await;
        if exposed.contains("zaslon_reloads_total") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    running.shutdown().await;
    let dashboard = std::fs::read_to_string("deploy/grafana/zaslon.json").unwrap();
    let _: serde_json::Value = serde_json::from_str(&dashboard).unwrap();
    let rules = std::fs::read_to_string("deploy/prometheus/zaslon.rules.yml").unwrap();
    let used = names_in(&format!("{dashboard}\n{rules}"));
    assert!(used.len() >= 10, "{used:?}");
    for n in used {
        assert!(
            exposed.contains(&format!("# TYPE {n} ")),
            "{n} is used but not exposed:\n{exposed}"
        );
    }
}
