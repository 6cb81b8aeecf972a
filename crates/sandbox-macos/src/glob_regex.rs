//! Git-style glob to anchored regex, for deny-read globs (Seatbelt cannot expand globs).
//!
//! `*` → `[^/]*`, `?` → `[^/]`, `/**/` → `/(.*/)?` (zero or more directories), a trailing
//! `/**` → `/.*`, `[!x]` → `[^/x]`, `{a,b}` → `(a|b)`, an unclosed `[` is a literal `[`, and
//! `\c` is the literal `c`. Literal text goes through [`crate::escape::regex_quote`]. The
//! result matches exactly the paths the core's `DenyGlob` matches; the property tests check
//! that against the core.

use crate::escape::{regex_quote, EscapeError};
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GlobRegexError {
    #[error(transparent)]
    Escape(#[from] EscapeError),
    #[error("deny glob `{pattern}`: the character class `[{class}]` uses `{bad}`, which the macOS backend does not translate; write the class without it")]
    Class {
        pattern: String,
        class: String,
        bad: char,
    },
    #[error("deny glob `{pattern}`: unbalanced `{{`/`}}`")]
    Braces { pattern: String },
}

/// The regex for everything a deny glob denies: a matching path and everything below it
/// (the core's `DenyGlob::denies`).
pub fn glob_subtree_regex(pattern: &str) -> Result<String, GlobRegexError> {
    let re = glob_to_regex(pattern)?;
    let body = re.strip_suffix('$').unwrap_or(&re);
    Ok(format!("{body}(/.*)?$"))
}

/// Translates an absolute glob into an anchored regex source (`^…$`).
pub fn glob_to_regex(pattern: &str) -> Result<String, GlobRegexError> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::from("^");
    let mut depth = 0usize;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' if i + 1 < chars.len() => {
                out.push_str(&regex_quote(&chars[i + 1].to_string())?);
                i += 2;
                continue;
            }
            '*' => {
                let star2 = chars.get(i + 1) == Some(&'*');
                let at_start = i == 0 || chars[i - 1] == '/';
                if star2 && at_start {
                    match chars.get(i + 2) {
                        Some('/') => {
                            out.push_str("(.*/)?");
                            i += 3;
                            continue;
                        }
                        None => {
                            out.push_str(".*");
                            i += 2;
                            continue;
                        }
                        _ => {}
                    }
                }
                out.push_str("[^/]*");
            }
            '?' => out.push_str("[^/]"),
            '[' => match class_end(&chars, i) {
                Some(end) => {
                    out.push_str(&class(pattern, &chars[i + 1..end])?);
                    i = end + 1;
                    continue;
                }
                None => out.push_str("\\["),
            },
            '{' => {
                depth += 1;
                out.push('(');
            }
            '}' if depth > 0 => {
                depth -= 1;
                out.push(')');
            }
            ',' if depth > 0 => out.push('|'),
            c => out.push_str(&regex_quote(&c.to_string())?),
        }
        i += 1;
    }
    if depth != 0 {
        return Err(GlobRegexError::Braces {
            pattern: pattern.into(),
        });
    }
    out.push('$');
    Ok(out)
}

/// Index of the `]` closing the class opened at `open`, as the core decides it: after an
/// optional `!`/`^` and an optional leading `]`, the first `]` before any `/`.
fn class_end(chars: &[char], open: usize) -> Option<usize> {
    let mut j = open + 1;
    if j < chars.len() && (chars[j] == '!' || chars[j] == '^') {
        j += 1;
    }
    if j < chars.len() && chars[j] == ']' {
        j += 1;
    }
    (j..chars.len())
        .take_while(|&k| chars[k] != '/')
        .find(|&k| chars[k] == ']')
}

/// A bracket expression. Only plain members and ranges are accepted, so the class means the
/// same to every regex engine; a negated class never matches `/`, as in the glob.
fn class(pattern: &str, body: &[char]) -> Result<String, GlobRegexError> {
    let (negated, members) = match body.first() {
        Some('!') | Some('^') => (true, &body[1..]),
        _ => (false, body),
    };
    let text: String = body.iter().collect();
    for &c in members {
        let bad = matches!(c, '\\' | '[' | ']' | '/' | '"' | '^') || c.is_control();
        if bad {
            return Err(GlobRegexError::Class {
                pattern: pattern.into(),
                class: text,
                bad: c,
            });
        }
    }
    if members.is_empty() {
        return Err(GlobRegexError::Class {
            pattern: pattern.into(),
            class: text,
            bad: ']',
        });
    }
    let m: String = members.iter().collect();
    Ok(if negated {
        format!("[^/{m}]")
    } else {
        format!("[{m}]")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples() {
        assert_eq!(
            glob_to_regex("/tmp/repo/**/*.env").unwrap(),
            "^/tmp/repo/(.*/)?[^/]*\\.env$"
        );
        assert_eq!(
            glob_to_regex("/tmp/repo/*/file[0-9]?.txt").unwrap(),
            "^/tmp/repo/[^/]*/file[0-9][^/]\\.txt$"
        );
        assert_eq!(
            glob_to_regex("/tmp/repo/[*.env").unwrap(),
            "^/tmp/repo/\\[[^/]*\\.env$"
        );
        assert_eq!(glob_to_regex("/a/[!x]").unwrap(), "^/a/[^/x]$");
        assert_eq!(glob_to_regex("/a/**").unwrap(), "^/a/.*$");
        assert_eq!(glob_to_regex("/a/{b,c*}").unwrap(), "^/a/(b|c[^/]*)$");
        assert_eq!(glob_to_regex("/a/\\*").unwrap(), "^/a/\\*$");
        assert_eq!(glob_to_regex("/a (1)/x").unwrap(), "^/a \\(1\\)/x$");
    }

    #[test]
    fn refusals() {
        assert!(glob_to_regex("/a\"b/*").is_err());
        assert!(glob_to_regex("/a\nb/*").is_err());
        assert!(glob_to_regex("/a/[\\]]").is_err());
        assert!(glob_to_regex("/a/{b").is_err());
    }
}
