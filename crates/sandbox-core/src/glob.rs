//! Git-style deny globs: `*` and `?` never cross `/`, `**/` is zero or more directories.

use crate::error::CoreError;
use globset::{GlobBuilder, GlobMatcher};
use serde::{Serialize, Serializer};
use std::path::{Path, PathBuf};

/// One compiled, absolute deny glob.
#[derive(Clone, Debug)]
pub struct DenyGlob {
    /// The absolute pattern, with its static prefix canonicalized.
    pub pattern: String,
    /// Where the glob came from (`--deny-read`, a config key).
    pub origin: String,
    matcher: GlobMatcher,
}

impl PartialEq for DenyGlob {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern && self.origin == other.origin
    }
}
impl Eq for DenyGlob {}

impl Serialize for DenyGlob {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.pattern)
    }
}

/// Longest pattern accepted (a path plus wildcards; more is a mistake, and costly to match).
const MAX_PATTERN_LEN: usize = 4096;
/// Deepest `{…}` nesting accepted: deeper nesting makes the matcher's regex too large to build.
const MAX_BRACE_DEPTH: usize = 8;

/// Adds `/` to every negated class (`[!a]` becomes `[!/a]`), leaving escaped brackets alone.
fn negated_classes_exclude_slash(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 4);
    let mut chars = pattern.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        out.push(c);
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            }
            '[' if !in_class => {
                in_class = true;
                if let Some(&neg @ ('!' | '^')) = chars.peek() {
                    chars.next();
                    out.push(neg);
                    out.push('/');
                }
            }
            ']' if in_class => in_class = false,
            _ => {}
        }
    }
    out
}

/// Checks the `{a,b}` alternations: closed, at most [`MAX_BRACE_DEPTH`] deep, and without an
/// empty alternative (`{a,}`), which the OS backends would each read differently.
fn check_braces(pattern: &str) -> Result<(), String> {
    let mut depth = 0usize;
    let mut prev = '\0';
    let mut escaped = false;
    let mut in_class = false;
    for c in pattern.chars() {
        if escaped {
            escaped = false;
            prev = 'x';
            continue;
        }
        match c {
            '\\' => escaped = true,
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            _ if in_class => {}
            '{' => {
                depth += 1;
                if depth > MAX_BRACE_DEPTH {
                    return Err(format!("braces nested more than {MAX_BRACE_DEPTH} deep"));
                }
            }
            ',' | '}' if depth > 0 && matches!(prev, '{' | ',') => {
                return Err("an empty alternative in braces (`{a,}`)".into());
            }
            '}' if depth > 0 => depth -= 1,
            _ => {}
        }
        prev = c;
    }
    Ok(())
}

/// Characters that make a path component a pattern.
pub const GLOB_META: [char; 4] = ['*', '?', '[', '{'];

impl DenyGlob {
    /// Compiles an absolute pattern. An unclosed `[` is taken literally, as git does.
    pub fn new(pattern: &str, origin: &str) -> Result<DenyGlob, CoreError> {
        let bad = |reason: &str| CoreError::BadGlob {
            origin: origin.to_string(),
            pattern: pattern.to_string(),
            reason: reason.to_string(),
        };
        if pattern.len() > MAX_PATTERN_LEN {
            return Err(bad(&format!("longer than {MAX_PATTERN_LEN} bytes")));
        }
        check_braces(pattern).map_err(|r| bad(&r))?;
        // A negated class never matches `/`, as in git (`*` and `?` do not either).
        let escaped = negated_classes_exclude_slash(&escape_unclosed_classes(pattern));
        let glob = GlobBuilder::new(&escaped)
            .literal_separator(true)
            .backslash_escape(true)
            .build()
            .map_err(|e| CoreError::BadGlob {
                origin: origin.to_string(),
                pattern: pattern.to_string(),
                reason: e.kind().to_string(),
            })?;
        Ok(DenyGlob {
            pattern: pattern.to_string(),
            origin: origin.to_string(),
            matcher: glob.compile_matcher(),
        })
    }

    /// Whether `path` itself matches.
    pub fn is_match(&self, path: &Path) -> bool {
        self.matcher.is_match(path)
    }

    /// Whether the glob denies `path`: it matches `path` or a directory above it. A matching
    /// directory is denied with everything in it, as git ignores a matching directory's
    /// contents and as the Linux backends enforce it (the directory cannot be entered).
    pub fn denies(&self, path: &Path) -> bool {
        path.ancestors().any(|a| self.matcher.is_match(a))
    }

    /// The directory part before the first component that holds a metacharacter.
    /// Linux expands a glob by walking this directory.
    pub fn static_prefix(&self) -> PathBuf {
        static_prefix(&self.pattern)
    }

    /// The part of the pattern after [`DenyGlob::static_prefix`].
    pub fn relative_pattern(&self) -> String {
        let prefix = self.static_prefix();
        let p = prefix.to_string_lossy();
        let rest = self
            .pattern
            .strip_prefix(p.as_ref())
            .unwrap_or(&self.pattern);
        rest.trim_start_matches('/').to_string()
    }
}

/// The leading components of `pattern` that contain no glob metacharacter.
pub fn static_prefix(pattern: &str) -> PathBuf {
    let mut prefix = PathBuf::from("/");
    let comps: Vec<&str> = pattern.split('/').filter(|c| !c.is_empty()).collect();
    // The last component is a file-name pattern even without metacharacters only when the
    // pattern has some; a fully literal pattern is its own prefix's parent plus name.
    for c in &comps {
        if c.contains(GLOB_META) || c.contains('\\') {
            return prefix;
        }
        prefix.push(c);
    }
    prefix.pop();
    prefix
}

/// Escapes each `[` that has no closing `]`, so it matches itself.
fn escape_unclosed_classes(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 2);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && i + 1 < chars.len() {
            out.push(c);
            out.push(chars[i + 1]);
            i += 2;
            continue;
        }
        if c == '[' {
            // A class closes at the first `]` after an optional leading `!`/`^` and `]`.
            let mut j = i + 1;
            if j < chars.len() && (chars[j] == '!' || chars[j] == '^') {
                j += 1;
            }
            if j < chars.len() && chars[j] == ']' {
                j += 1;
            }
            let closed = chars[j..]
                .iter()
                .take_while(|&&ch| ch != '/')
                .any(|&ch| ch == ']');
            if !closed {
                out.push_str("\\[");
                i += 1;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, path: &str) -> bool {
        DenyGlob::new(pattern, "test")
            .unwrap()
            .is_match(Path::new(path))
    }

    #[test]
    fn star_does_not_cross_slash() {
        assert!(m("/ws/*.env", "/ws/a.env"));
        assert!(!m("/ws/*.env", "/ws/sub/a.env"));
    }

    #[test]
    fn double_star_is_zero_or_more_dirs() {
        assert!(m("/ws/**/*.env", "/ws/a.env"));
        assert!(m("/ws/**/*.env", "/ws/x/y/a.env"));
        assert!(!m("/ws/**/*.env", "/ws/x/y/a.envx"));
        assert!(!m("/ws/**/*.env", "/other/a.env"));
    }

    #[test]
    fn unclosed_class_is_literal() {
        assert!(m("/ws/[*.env", "/ws/[a.env"));
        assert!(m("/ws/file[0-9].txt", "/ws/file7.txt"));
        assert!(!m("/ws/file[0-9].txt", "/ws/filex.txt"));
    }

    #[test]
    fn static_prefix_stops_at_first_meta() {
        assert_eq!(static_prefix("/ws/sub/**/*.env"), PathBuf::from("/ws/sub"));
        assert_eq!(static_prefix("/**/*.env"), PathBuf::from("/"));
        assert_eq!(static_prefix("/ws/a.env"), PathBuf::from("/ws"));
        let g = DenyGlob::new("/ws/sub/**/*.env", "t").unwrap();
        assert_eq!(g.relative_pattern(), "**/*.env");
    }

    #[test]
    fn negated_classes_never_match_a_slash() {
        let g = DenyGlob::new("/w/x[!a]y", "t").unwrap();
        assert!(g.is_match(Path::new("/w/xby")));
        assert!(!g.is_match(Path::new("/w/xay")));
        assert!(!g.is_match(Path::new("/w/x/y")));
        let g = DenyGlob::new("/w/x[^a]y", "t").unwrap();
        assert!(!g.is_match(Path::new("/w/x/y")));
        // An escaped bracket is a literal, not a class.
        let g = DenyGlob::new(r"/w/\[!a]", "t").unwrap();
        assert!(g.is_match(Path::new("/w/[!a]")));
    }

    #[test]
    fn braces_are_bounded_and_have_no_empty_alternative() {
        let deep = format!("/w/{}b{}", "{a,".repeat(125), "}".repeat(125));
        let e = DenyGlob::new(&deep, "t").unwrap_err().to_string();
        assert!(e.contains("nested more than 8"), "{e}");
        for p in ["/w/{a,}b", "/w/{,a}b", "/w/{}b", "/w/{a,,b}"] {
            let e = DenyGlob::new(p, "t").unwrap_err().to_string();
            assert!(e.contains("empty alternative"), "{p}: {e}");
        }
        assert!(DenyGlob::new("/w/{a,b}{c,{d,e}}", "t").is_ok());
        assert!(DenyGlob::new(r"/w/\{,\}", "t").is_ok());
        let long = format!("/{}", "a".repeat(5000));
        assert!(DenyGlob::new(&long, "t")
            .unwrap_err()
            .to_string()
            .contains("longer than"));
    }
}
