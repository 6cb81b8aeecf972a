//! Case-insensitive names. APFS volumes are case-insensitive by default: `mkdir .GIT` where
//! `.git` is missing makes a directory git then opens as `.git`. Seatbelt checks a *new* name
//! in the spelling the caller used, so an exclusion written with the policy's spelling alone
//! does not stop its case variants from being created.
//!
//! [`variants_regex`] builds the regex the compiler adds to every write exclusion; it names
//! the root only by its depth (paths stay `-D` parameters). [`same_name`] is the same
//! equivalence, for the verifier's model of such a volume. Both use [`forms`], so they agree.
//! Unicode normalization (NFC vs NFD), which APFS also ignores, is not modelled.

use crate::escape::regex_quote;
use std::path::{Component, Path};

/// The spellings a volume treats as `c`: itself and its one-character lower and upper case.
pub fn forms(c: char) -> Vec<char> {
    let mut v = vec![c];
    for other in [single(c.to_lowercase()), single(c.to_uppercase())]
        .into_iter()
        .flatten()
    {
        if !v.contains(&other) {
            v.push(other);
        }
    }
    v
}

fn single(mut it: impl Iterator<Item = char>) -> Option<char> {
    let c = it.next()?;
    it.next().is_none().then_some(c)
}

/// True when a case-insensitive volume treats `a` and `b` as one name.
pub fn same_name(a: &str, b: &str) -> bool {
    a.chars().count() == b.chars().count()
        && a.chars().zip(b.chars()).all(|(x, y)| forms(x).contains(&y))
}

/// Regex source for one name in any case: ASCII letters become `[xX]`, other letters with a
/// case pair `(ü|Ü)` (a bracket would be read byte by byte by a byte-oriented engine), the
/// rest is quoted.
fn caseless(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        let f = forms(c);
        if f.len() > 1 && f.iter().all(|c| c.is_ascii_alphabetic()) {
            out.push('[');
            out.extend(f);
            out.push(']');
        } else if f.len() > 1 && f.iter().all(|c| c.is_alphabetic()) {
            let alts: Vec<String> = f.iter().map(|c| c.to_string()).collect();
            out.push('(');
            out.push_str(&alts.join("|"));
            out.push(')');
        } else {
            // A character no literal may carry (a quote, a control character) stands for
            // any one character: the exclusion grows a little, it never shrinks.
            out.push_str(&regex_quote(&c.to_string()).unwrap_or_else(|_| "[^/]".into()));
        }
    }
    out
}

/// Number of named components of an absolute path (`/` is 0, `/a/b` is 2).
pub fn depth(p: &Path) -> usize {
    p.components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .count()
}

/// `^(/[^/]+){depth}/R1/R2(/|$)` with each `Ri` caseless: every path whose components after
/// the first `depth` ones are `rel` in any case, and everything below it. Used inside
/// `(require-all (subpath ROOT) …)`, where `depth` is ROOT's depth, so it names `ROOT/rel`
/// without putting ROOT's text in the profile.
pub fn variants_regex(depth: usize, rel: &Path) -> String {
    let mut out = String::from("^");
    for _ in 0..depth {
        out.push_str("/[^/]+");
    }
    for c in rel.components() {
        let Component::Normal(name) = c else { continue };
        out.push('/');
        out.push_str(&caseless(&name.to_string_lossy()));
    }
    out.push_str("(/|$)");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn re(depth: usize, rel: &str) -> regex::Regex {
        regex::Regex::new(&variants_regex(depth, Path::new(rel))).unwrap()
    }

    #[test]
    fn variants_below_the_root_depth_only() {
        let r = re(2, ".git");
        for yes in ["/w/s/.git", "/w/s/.GIT", "/w/s/.Git/config", "/a/b/.gIt"] {
            assert!(r.is_match(yes), "{yes}");
        }
        for no in [
            "/w/s/.gitx",
            "/w/s/sub/.git",
            "/w/.git",
            "/w/s/.gi",
            "/w/s/xgit",
        ] {
            assert!(!r.is_match(no), "{no}");
        }
        assert!(re(0, ".codex").is_match("/.CODEX/x"));
        assert!(re(1, "a.b/c").is_match("/r/A.B/C"));
        assert!(!re(1, "a.b/c").is_match("/r/aXb/c"));
        // Unquotable characters widen to one any-character.
        assert!(re(1, "a\"b").is_match("/r/A\"B/x"));
        assert!(re(1, "a\nb").is_match("/r/a\nb"));
    }

    #[test]
    fn same_name_matches_the_regex() {
        for (a, b, want) in [
            (".git", ".GIT", true),
            ("ünï", "ÜNÏ", true),
            (".git", ".gitx", false),
            ("a.b", "A.B", true),
            ("straße", "STRASSE", false),
        ] {
            assert_eq!(same_name(a, b), want, "{a} {b}");
            let r = regex::Regex::new(&variants_regex(0, Path::new(a))).unwrap();
            assert_eq!(r.is_match(&format!("/{b}")), want, "{a} {b}");
        }
    }
}
