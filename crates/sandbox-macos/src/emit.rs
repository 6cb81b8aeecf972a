//! Writing profile text: the accumulator [`Out`] (text plus `-D` parameters), quoted
//! literals and name lists, and the effective access per rule path that several sections of
//! the profile consult. Shared by the compiler ([`crate::profile`]) and its network and
//! unix-socket sections, so none of them imports another.

use crate::error::Error;
use crate::escape::{sbpl_literal, EscapeError, Literal};
use sandbox_core::index::prefixes;
use sandbox_core::{Access, ResolvedPolicy};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `s` as an SBPL string literal.
pub(crate) fn lit(s: &str) -> Result<String, EscapeError> {
    sbpl_literal(Literal::Str(s))
}

/// The path as a parameter value: absolute, no trailing slash, UTF-8.
fn utf8(p: &Path) -> Result<String, Error> {
    let p: PathBuf = p.components().collect();
    p.to_str()
        .map(str::to_string)
        .ok_or_else(|| Error::NonUtf8(p.to_string_lossy().into_owned()))
}

/// Accumulates profile text and parameters.
pub(crate) struct Out {
    pub(crate) text: String,
    pub(crate) params: BTreeMap<String, String>,
}

impl Out {
    pub(crate) fn line(&mut self, s: &str) {
        self.text.push_str(s);
        self.text.push('\n');
    }
    pub(crate) fn section(&mut self, comment: &str) {
        self.text.push('\n');
        for l in comment.lines() {
            self.text.push_str(";; ");
            self.text.push_str(l);
            self.text.push('\n');
        }
    }
    /// Defines a parameter and returns the `(param "NAME")` reference.
    pub(crate) fn param(&mut self, name: String, path: &Path) -> Result<String, Error> {
        let r = format!("(param {})", lit(&name)?);
        self.params.insert(name, utf8(path)?);
        Ok(r)
    }
}

/// One `(FILTER "name")` line per name, each quoted by [`sbpl_literal`].
pub(crate) fn names(filter: &str, list: &[&str]) -> Result<String, EscapeError> {
    let mut s = String::new();
    for n in list {
        s.push_str(&format!("\n  ({filter} {})", lit(n)?));
    }
    Ok(s)
}

/// `(allow OP\n  (FILTER "a")\n  (FILTER "b"))`, each name quoted by [`sbpl_literal`].
pub(crate) fn allow_names(
    out: &mut Out,
    op: &str,
    filter: &str,
    list: &[&str],
) -> Result<(), Error> {
    out.line(&format!("(allow {op}{})", names(filter, list)?));
    Ok(())
}

/// The effective access at each rule path (ties: deny > write > read).
pub(crate) fn effective(policy: &ResolvedPolicy) -> BTreeMap<&Path, Access> {
    let mut eff: BTreeMap<&Path, Access> = BTreeMap::new();
    for r in &policy.rules {
        let e = eff.entry(r.path.as_path()).or_insert(r.access);
        *e = (*e).max(r.access);
    }
    eff
}

/// Rule paths strictly above `p`, deepest first. Looks up `p`'s own prefixes (one per depth)
/// instead of scanning every rule.
pub(crate) fn ancestors<'a>(eff: &BTreeMap<&'a Path, Access>, p: &Path) -> Vec<(&'a Path, Access)> {
    prefixes(p)
        .skip(1)
        .filter_map(|a| eff.get_key_value(a).map(|(k, acc)| (*k, *acc)))
        .collect()
}
