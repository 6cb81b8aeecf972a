//! Properties of the egress host matcher: the apex rule, no look-alike matches, deny wins, an
//! empty allowlist allows nothing, and arbitrary input never panics.

use proptest::prelude::*;
use sandbox_core::domain::{normalize_host, DomainDecision, DomainPattern, DomainRules, Host};

fn label() -> impl Strategy<Value = String> {
    "[a-z0-9][a-z0-9-]{0,10}[a-z]"
}

fn name() -> impl Strategy<Value = String> {
    prop::collection::vec(label(), 1..4).prop_map(|l| l.join("."))
}

/// The same name in random letter case, maybe with a trailing dot.
fn spelled(name: String) -> impl Strategy<Value = String> {
    (
        prop::collection::vec(any::<bool>(), name.len()),
        any::<bool>(),
    )
        .prop_map(move |(up, dot)| {
            let mut s: String = name
                .chars()
                .zip(up)
                .map(|(c, u)| if u { c.to_ascii_uppercase() } else { c })
                .collect();
            if dot {
                s.push('.');
            }
            s
        })
}

fn host(s: &str) -> Host {
    normalize_host(s).unwrap_or_else(|| panic!("{s} is a valid name"))
}

proptest! {
    #[test]
    fn wildcard_covers_exactly_the_apex_and_names_below(
        base in name(),
        sub in label(),
        other in name(),
        port in 1u16..,
    ) {
        let p = DomainPattern::parse(&format!("*.{base}")).unwrap();
        prop_assert!(p.matches(&host(&base), port));
        let below = format!("{sub}.{base}");
        prop_assert!(p.matches(&host(&below), port));
        let expected = other == base || other.ends_with(&format!(".{base}"));
        prop_assert_eq!(p.matches(&host(&other), port), expected);
        // A name that merely ends with the same characters is not below it.
        let glued = format!("{sub}{base}");
        prop_assert!(!p.matches(&host(&glued), port));
    }

    #[test]
    fn exact_pattern_ignores_case_and_trailing_dot(
        (n, written) in name().prop_flat_map(|n| (Just(n.clone()), spelled(n))),
        sub in label(),
        port in 1u16..,
    ) {
        let p = DomainPattern::parse(&n).unwrap();
        prop_assert!(p.matches(&host(&written), port));
        let below = format!("{sub}.{n}");
        prop_assert!(!p.matches(&host(&below), port));
    }

    #[test]
    fn a_port_pattern_matches_only_that_port(n in name(), port in 1u16.., other in 1u16..) {
        let p = DomainPattern::parse(&format!("{n}:{port}")).unwrap();
        prop_assert_eq!(p.matches(&host(&n), other), other == port);
    }

    #[test]
    fn deny_wins_and_empty_allowlist_allows_nothing(
        allow in prop::collection::vec(name(), 0..4),
        deny in prop::collection::vec(name(), 0..4),
        wild in any::<bool>(),
        target in name(),
        port in 1u16..,
    ) {
        let pat = |n: &String| if wild { format!("*.{n}") } else { n.clone() };
        let allow: Vec<String> = allow.iter().map(pat).collect();
        let deny: Vec<String> = deny.iter().map(pat).collect();
        let rules = DomainRules::parse(&allow, &deny).unwrap();
        let h = host(&target);
        let denied = rules.deny.iter().any(|p| p.matches(&h, port));
        let allowed = rules.allow.iter().any(|p| p.matches(&h, port));
        let d = rules.decide(&h, port);
        if denied {
            prop_assert!(matches!(d, DomainDecision::Denied(_)));
        } else if allowed {
            prop_assert!(matches!(d, DomainDecision::Allowed(_)));
        } else {
            prop_assert_eq!(d, DomainDecision::NotAllowed);
        }
        let empty = DomainRules::parse(&[], &deny).unwrap();
        prop_assert!(!matches!(empty.decide(&h, port), DomainDecision::Allowed(_)));
    }

    #[test]
    fn arbitrary_input_never_panics(s in ".{0,80}", t in "[a-z0-9*.:\\[\\]-]{0,40}", port in any::<u16>()) {
        for input in [&s, &t] {
            let parsed = DomainPattern::parse(input);
            if let Some(h) = normalize_host(input) {
                if let Ok(p) = &parsed {
                    let _ = p.matches(&h, port);
                }
            }
        }
    }
}
