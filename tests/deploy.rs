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
