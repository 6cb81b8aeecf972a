//! Proptest strategies shared by the property tests of every crate in the workspace
//! (feature `testing`, enabled only by dev-dependencies).

use crate::Access;
use proptest::prelude::*;
use std::path::PathBuf;

/// Path components that make lookups hard: repeats, a protected name, `.` and `..`.
const NAMES: [&str; 6] = ["a", "b", ".git", "..", ".", "a"];

/// A path in one of many spellings: absolute or relative, empty, with `.`/`..` components,
/// with or without a trailing `/`. For comparing an index or a lookup with a plain scan.
pub fn odd_path() -> impl Strategy<Value = PathBuf> {
    (
        any::<bool>(),
        prop::collection::vec(prop::sample::select(&NAMES[..]), 0..4),
        any::<bool>(),
    )
        .prop_map(|(absolute, comps, trailing)| {
            let mut s = if absolute {
                "/".to_string()
            } else {
                String::new()
            };
            s.push_str(&comps.join("/"));
            if trailing && !comps.is_empty() {
                s.push('/');
            }
            PathBuf::from(s)
        })
}

/// Any access a rule can give.
pub fn access() -> impl Strategy<Value = Access> {
    prop_oneof![Just(Access::Read), Just(Access::Write), Just(Access::Deny)]
}
