//! The one audited place where text becomes part of the profile source.
//!
//! Paths normally travel as `-D` parameters and never appear in the profile. The exceptions are
//! regexes (deny globs) and our own constant names (sysctls, mach services, devices); both are
//! built here. The rules are deliberately strict: a character that could end a literal or
//! confuse a reader (`"`, control characters such as newline) is refused with an error rather
//! than escaped, so no escaping mistake can turn data into profile code.

use thiserror::Error;

/// Text that cannot be placed in a profile safely.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EscapeError {
    #[error("{what} `{text}` contains {bad}, which cannot be placed in a Seatbelt profile safely")]
    Forbidden {
        what: &'static str,
        text: String,
        bad: String,
    },
}

/// The two kinds of literal the profile uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Literal<'a> {
    /// A plain string: `"text"`. Backslashes are refused too (string escapes differ by reader).
    Str(&'a str),
    /// A regex: `#"source"`. The source is raw; it must not end in an unpaired backslash.
    Regex(&'a str),
}

fn describe(c: char) -> String {
    match c {
        '"' => "a double quote".into(),
        '\\' => "a backslash".into(),
        '\n' => "a newline".into(),
        c => format!("the control character U+{:04X}", c as u32),
    }
}

/// Builds the profile source for one literal; the only function that writes a `"` into a
/// profile.
pub fn sbpl_literal(lit: Literal<'_>) -> Result<String, EscapeError> {
    let (text, what, open) = match lit {
        Literal::Str(t) => (t, "string", "\""),
        Literal::Regex(t) => (t, "regex", "#\""),
    };
    let refuse = |c: char| EscapeError::Forbidden {
        what,
        text: text.escape_debug().to_string(),
        bad: describe(c),
    };
    for c in text.chars() {
        if c == '"' || c.is_control() {
            return Err(refuse(c));
        }
        if c == '\\' && matches!(lit, Literal::Str(_)) {
            return Err(refuse(c));
        }
    }
    if let Literal::Regex(_) = lit {
        let trailing = text.chars().rev().take_while(|&c| c == '\\').count();
        if trailing % 2 == 1 {
            return Err(EscapeError::Forbidden {
                what,
                text: text.escape_debug().to_string(),
                bad: "an unpaired trailing backslash".into(),
            });
        }
    }
    Ok(format!("{open}{text}\""))
}

/// Characters with a meaning in a POSIX extended regex outside a bracket expression.
const REGEX_META: &[char] = &[
    '.', '^', '$', '*', '+', '?', '(', ')', '[', ']', '{', '}', '|', '\\',
];

/// Regex source that matches `text` literally (each metacharacter backslash-escaped).
/// Refuses what [`sbpl_literal`] would refuse, so errors name the path, not the regex.
pub fn regex_quote(text: &str) -> Result<String, EscapeError> {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c == '"' || c.is_control() {
            return Err(EscapeError::Forbidden {
                what: "path",
                text: text.escape_debug().to_string(),
                bad: describe(c),
            });
        }
        if REGEX_META.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_strings_are_quoted() {
        assert_eq!(
            sbpl_literal(Literal::Str("hw.ncpu")).unwrap(),
            "\"hw.ncpu\""
        );
        assert_eq!(
            sbpl_literal(Literal::Regex("^/a/b\\.env$")).unwrap(),
            "#\"^/a/b\\.env$\""
        );
    }

    #[test]
    fn hostile_strings_are_refused() {
        for bad in [
            "a\"b",
            "\")(allow file-write* (subpath \"/\"))",
            "line\nbreak",
            "cr\rhere",
            "tab\there",
            "nul\0",
            "del\u{7f}",
            "c1\u{85}",
        ] {
            assert!(sbpl_literal(Literal::Str(bad)).is_err(), "{bad:?}");
            assert!(sbpl_literal(Literal::Regex(bad)).is_err(), "{bad:?}");
            assert!(regex_quote(bad).is_err(), "{bad:?}");
        }
        assert!(sbpl_literal(Literal::Str("back\\slash")).is_err());
        assert!(sbpl_literal(Literal::Regex("ends\\")).is_err());
        assert!(sbpl_literal(Literal::Regex("ends\\\\")).is_ok());
    }

    #[test]
    fn regex_quote_escapes_every_metacharacter() {
        assert_eq!(
            regex_quote("/a.b(c)[d]{e}|f*g+h?i^j$k\\l").unwrap(),
            "/a\\.b\\(c\\)\\[d\\]\\{e\\}\\|f\\*g\\+h\\?i\\^j\\$k\\\\l"
        );
        // Parentheses and semicolons are inert inside a regex literal.
        let q = regex_quote("/x)(allow file-write* (subpath /));").unwrap();
        assert_eq!(
            sbpl_literal(Literal::Regex(&q))
                .unwrap()
                .matches('"')
                .count(),
            2
        );
    }

    #[test]
    fn quoted_text_matches_itself_only() {
        for text in [
            "/a.b", "/(x)", "/[x]", "/a*b", "/a\\b", "/é ü", "/a+b?c", "/$^",
        ] {
            let q = regex_quote(text).unwrap();
            let re = regex::Regex::new(&format!("^{q}$")).unwrap();
            assert!(re.is_match(text), "{text}");
            assert!(!re.is_match(&format!("{text}x")), "{text}");
        }
        let re = regex::Regex::new(&format!("^{}$", regex_quote("/a.b").unwrap())).unwrap();
        assert!(!re.is_match("/axb"));
    }
}
