//! Zaslon («заслон», a barrier): a privacy proxy that finds Russian personal
//! data (SNILS, INN, passport, phone, e-mail, card, OMS policy and more) in
//! web traffic and enforces the operator's privacy policy on it.
//!
//! # Layout
//!
//! The direction of dependencies shows in the module names:
//! `detect` ← `rules` ← `policy` ← `proxy` ← `cli`; `ledger` is the
//! proxy's store.
//!
//! - [`detect`]: the detection engine. Pure: bytes in, findings out; no I/O.
//!   Decoding layers, checksums, context, streaming.
//! - [`rules`]: rule files (YAML) compiled into an engine, with positioned
//!   errors and in-file examples. The default Russian rule set is built in.
//! - [`policy`]: what to do with a finding where it was found: actions,
//!   same-length masks, bulk-leak rules, keyed fingerprints, form consent
//!   and transfer rules. Pure.
//! - [`ledger`]: the consent ledger (SQLite or PostgreSQL): evidence of
//!   consents and withdrawals, keyed fingerprints only.
//! - [`proxy`]: `zaslon serve`, the reverse proxy (hyper, rustls), with
//!   metrics, audit log and reload.
//! - [`cli`]: the command line (`zaslon scan`, `zaslon rules`, `zaslon serve`,
//!   `zaslon config check`).
//!
//! ```
//! let engine = zaslon::rules::default_engine().unwrap();
//! let found = engine.scan("Телефон: +7 (999) 123-45-67".as_bytes());
//! assert_eq!(found[0].category.as_str(), "phone");
//! ```
// `unsafe` is denied everywhere but in `detect::simd`, where a benchmark
// showed it pays (STYLE.md, item 11).
#![deny(unsafe_code)]

pub mod cli;
pub mod demo;
pub mod detect;
pub mod ledger;
pub mod policy;
pub mod proxy;
pub mod rules;
