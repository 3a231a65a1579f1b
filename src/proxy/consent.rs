//! Consent in the request flow: a form submission with personal data and
//! no consent is stopped; one with consent is recorded in the ledger before
//! it is forwarded (a consent acknowledged is a consent kept).

use std::net::SocketAddr;

use crate::detect::{Builtin, Category, Finding};
use crate::ledger::NewConsent;
use crate::policy::consent::ConsentBy;
use crate::policy::{Mode, Target};

use super::State;
use super::audit::now;
use super::inspect::Ctx;
use super::metrics::ConsentLabels;

/// What the request flow does after the consent check.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// No rule, or consent given (and recorded).
    Pass,
    /// Personal data without consent: the block page, with a link back.
    Missing { page: Option<String> },
    /// The ledger could not record the consent: try again later.
    LedgerDown,
}

/// The subject's identifiers in a message, as fingerprints: the first
/// e-mail and the first phone found.
pub fn subject(st: &State, found: &[Finding]) -> (Option<String>, Option<String>) {
    let fp = |b: Builtin| {
        found
            .iter()
            .find(|f| f.category == Category::Builtin(b))
            .map(|f| st.key.fingerprint(&f.category, &f.value))
    };
    (fp(Builtin::Email), fp(Builtin::Phone))
}

pub async fn check(
    st: &State,
    ctx: &Ctx,
    peer: SocketAddr,
    target: &Target<'_>,
    fields: &[(String, String)],
    found: &[Finding],
) -> Outcome {
    let Some(rule) = st.policies.form_for(target, fields) else {
        return Outcome::Pass;
    };
    let has_pd = found.iter().any(|f| f.category.is_personal());
    let consented = rule.consented(fields);
    let count = |outcome: &'static str| {
        st.metrics
            .consents
            .get_or_create(&ConsentLabels {
                form: rule.id.to_string(),
                outcome,
                mode: rule.mode.as_str(),
            })
            .inc();
    };
    if !consented {
        if !has_pd {
            return Outcome::Pass;
        }
        count("missing");
        tracing::warn!(request_id = %ctx.request_id, form = %rule.id, mode = rule.mode.as_str(), "form without consent");
        st.audit.write_value(&serde_json::json!({
            "time": now(),
            "request_id": ctx.request_id,
            "route": ctx.route,
            "flow": "request",
            "event": "consent_missing",
            "form": rule.id.as_ref(),
            "action": "block",
            "mode": rule.mode.as_str(),
        }));
        return if rule.mode == Mode::Enforce {
            Outcome::Missing {
                page: rule.page.clone(),
            }
        } else {
            Outcome::Pass
        };
    }
    let (email_fp, phone_fp) = subject(st, found);
    let Some(ledger) = &st.ledger else {
        count("ledger_error");
        return Outcome::LedgerDown;
    };
    let rec = NewConsent {
        form: rule.id.to_string(),
        purposes: rule.purposes.clone(),
        policy_version: rule.policy_version.clone(),
        client: peer.ip().to_string(),
        request_id: ctx.request_id.clone(),
        email_fp,
        phone_fp,
    };
    match ledger.record(rec).await {
        Ok(id) => {
            count(match rule.consent {
                ConsentBy::Implied => "implied",
                ConsentBy::Field { .. } => "given",
            });
            st.audit.write_value(&serde_json::json!({
                "time": now(),
                "request_id": ctx.request_id,
                "route": ctx.route,
                "flow": "request",
                "event": "consent_recorded",
                "form": rule.id.as_ref(),
                "ledger_id": id,
                "purposes": rule.purposes,
                "policy_version": rule.policy_version,
            }));
            Outcome::Pass
        }
        Err(e) => {
            count("ledger_error");
            tracing::error!(request_id = %ctx.request_id, form = %rule.id, error = %e, "cannot record a consent");
            Outcome::LedgerDown
        }
    }
}
