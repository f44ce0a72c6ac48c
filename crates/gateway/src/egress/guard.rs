//! The egress verdict: the policy's decision on the request, then the built-in guard on the
//! address actually connected to.
//!
//! Private, loopback, link-local, metadata and other internal destinations (by the URL's host or
//! by the resolved address) are refused unless the rule that allowed the request names the
//! address: its condition reads `egress.address`. A rule that allows a host by name therefore
//! never lets a name that resolves to an internal address through (no DNS-rebinding gap). Pure.

use std::net::IpAddr;

use warden_analyze::url::{UrlFacts, classify_ip};
use warden_policy::{Bundle, Constraints, Decision, Outcome};

/// The rule id recorded when the guard refuses an internal destination.
pub const INTERNAL_ADDRESS_RULE: &str = "warden-egress-internal-address";
/// The fact path a rule must read to allow an internal destination.
pub const ADDRESS_FACT: &str = "egress.address";

/// Whether a destination is internal: by the URL's host, or by the resolved address.
pub fn internal(facts: &UrlFacts, address: Option<IpAddr>) -> bool {
    facts.internal
        || facts.private
        || facts.loopback
        || facts.link_local
        || facts.metadata
        || address.is_some_and(|ip| {
            let class = classify_ip(ip);
            class.internal || class.private || class.loopback || class.link_local || class.metadata
        })
}

/// Whether the decision lets the request go: `allow` or `allow_with_constraints` (the proxy
/// cannot hold a request for approval nor rewrite it).
pub fn permits(outcome: Outcome) -> bool {
    match outcome {
        Outcome::Allow | Outcome::AllowWithConstraints => true,
        Outcome::Remediate | Outcome::RequireApproval | Outcome::Deny => false,
    }
}

/// The final decision: `decision` as the policy made it, or the guard's refusal when the
/// destination is internal and no deciding rule names the address.
pub fn apply(bundle: &Bundle, decision: Decision, internal: bool, shown: &str) -> Decision {
    if !internal || !permits(decision.outcome) || names_address(bundle, &decision) {
        return decision;
    }
    Decision {
        outcome: Outcome::Deny,
        rules: vec![INTERNAL_ADDRESS_RULE.into()],
        reason: format!(
            "{shown} is a private, loopback, link-local, metadata or otherwise internal destination; only a rule that names the address (its condition reads `{ADDRESS_FACT}`) may allow it"
        ),
        matched: decision.matched,
        constraints: Constraints::default(),
        approvals: Vec::new(),
        rewrite: None,
        errors: Vec::new(),
        defaulted: decision.defaulted,
        bundle: decision.bundle,
    }
}

/// Whether one of the rules that decided reads `egress.address`.
fn names_address(bundle: &Bundle, decision: &Decision) -> bool {
    !decision.defaulted
        && decision.rules.iter().any(|id| {
            bundle.rules().iter().any(|rule| {
                rule.id == *id
                    && rule.condition.as_ref().is_some_and(|c| {
                        c.reads().iter().any(|path| path.starts_with(ADDRESS_FACT))
                    })
            })
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use warden_analyze::url::analyze;
    use warden_policy::{Action, SourceFile};

    const BUNDLE: &str = r#"
rules:
  - id: by-name
    kinds: [egress]
    when: url.host == "localhost" || url.host == "example.com"
    decision: allow
    reason: allowed by name
  - id: by-address
    kinds: [egress]
    when: egress.address == "127.0.0.1" && url.port == 8080
    decision: allow
    reason: the local test server
default: allow
"#;

    fn bundle() -> Bundle {
        Bundle::load(&[SourceFile {
            name: "egress.yaml".into(),
            text: BUNDLE.into(),
        }])
        .unwrap()
    }

    fn judge(url: &str, address: &str) -> Decision {
        let bundle = bundle();
        let action = Action::from_json(&format!(
            r#"{{"kind":"egress","egress":{{"url":"{url}","method":"GET","address":"{address}"}}}}"#
        ))
        .unwrap();
        let decision = bundle.evaluate(&action);
        let ip = address.parse().ok();
        apply(&bundle, decision, internal(&analyze(url), ip), address)
    }

    #[test]
    fn a_name_allowed_by_name_but_resolving_internal_is_refused() {
        let d = judge("http://localhost:9000/", "127.0.0.1");
        assert_eq!(d.outcome, Outcome::Deny);
        assert_eq!(d.rules, vec![INTERNAL_ADDRESS_RULE.to_owned()]);
        let d = judge("http://example.com/", "10.0.0.7");
        assert_eq!(d.outcome, Outcome::Deny);
    }

    #[test]
    fn the_default_never_allows_an_internal_destination() {
        for (url, address) in [
            ("http://169.254.169.254/latest", "169.254.169.254"),
            ("http://intranet/", "192.168.1.9"),
            ("http://public.example/", "::ffff:127.0.0.1"),
            ("http://foo.localhost/", ""),
        ] {
            let d = judge(url, address);
            assert_eq!(d.outcome, Outcome::Deny, "{url} {address}");
            assert_eq!(d.rules, vec![INTERNAL_ADDRESS_RULE.to_owned()]);
        }
    }

    #[test]
    fn a_rule_naming_the_address_allows_it_and_public_destinations_pass() {
        let d = judge("http://127.0.0.1:8080/", "127.0.0.1");
        assert_eq!(d.outcome, Outcome::Allow);
        assert_eq!(d.rules, vec!["by-address".to_owned()]);
        let d = judge("http://127.0.0.1:8081/", "127.0.0.1");
        assert_eq!(d.outcome, Outcome::Deny);
        let d = judge("http://example.com/", "93.184.215.14");
        assert_eq!(d.outcome, Outcome::Allow);
    }
}
