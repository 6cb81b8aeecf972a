//! Parses profile text into rules. Accepted forms: `(version 1)`, `(allow OP… FILTER…)`,
//! `(deny OP… FILTER…)`; comments start with `;`. Every operation and filter name must be one
//! the compiler emits; anything else (`define`, `if`, `with`, `import`, unknown filters) is an
//! error, so the evaluator never silently ignores part of a profile.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReadError {
    #[error("profile line {line}: {msg}")]
    Syntax { line: usize, msg: String },
    #[error("profile: `{0}` is outside the subset this reader understands")]
    Unsupported(String),
}

/// The operations the compiler emits.
pub const OPERATIONS: &[&str] = &[
    "default",
    "file-read*",
    "file-read-data",
    "file-read-metadata",
    "file-write*",
    "file-write-data",
    "file-write-create",
    "file-write-unlink",
    "file-ioctl",
    "file-map-executable",
    "process-exec",
    "process-fork",
    "process-info*",
    "mach-priv-task-port",
    "signal",
    "sysctl-read",
    "sysctl-write",
    "iokit-open",
    "iokit-get-properties",
    "mach-lookup",
    "ipc-posix-sem",
    "ipc-posix-shm-read*",
    "ipc-posix-shm-write-create",
    "ipc-posix-shm-write-unlink",
    "pseudo-tty",
    "user-preference-read",
    "system-socket",
    "network-bind",
    "network-inbound",
    "network-outbound",
];

/// Non-path filters: they never match a file path, but must be well formed.
const OTHER_FILTERS: &[&str] = &[
    "sysctl-name",
    "sysctl-name-prefix",
    "global-name",
    "target",
    "socket-domain",
    "ipc-posix-name-prefix",
    "ipc-posix-name-regex",
    "extension",
    "local",
    "remote",
    "socket-protocol",
    "ioctl-command",
    "iokit-registry-entry-class",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Allow,
    Deny,
}

/// A string operand: literal text or a `(param "NAME")` reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Str(String),
    Param(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    Literal(Value),
    Subpath(Value),
    Regex(String),
    RequireAll(Vec<Filter>),
    RequireAny(Vec<Filter>),
    RequireNot(Box<Filter>),
    /// An IP address filter: `(local|remote ip|tcp|udp "HOST:PORT")`, the address also as a
    /// `(param "NAME")`. `local` is the socket's own end, `remote` the peer's.
    Address {
        remote: bool,
        /// `ip` (TCP and UDP), `tcp` or `udp`.
        proto: String,
        addr: Value,
    },
    /// A non-path filter such as `(sysctl-name "hw.ncpu")` or `(local unix-socket …)`.
    Other {
        name: String,
        args: Vec<String>,
        path: Option<Box<Filter>>,
    },
}

/// One `(allow …)` or `(deny …)`. Several filters at the top level mean "any of them".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub action: Action,
    pub ops: Vec<String>,
    pub filters: Vec<Filter>,
    /// `(with message "…")` on a deny rule: the tag of its denial reports.
    pub message: Option<String>,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq)]
enum Sexp {
    List(Vec<Sexp>, usize),
    Sym(String),
    Str(String),
    Regex(String),
}

fn tokenize(text: &str) -> Result<Vec<Sexp>, ReadError> {
    let chars: Vec<char> = text.chars().collect();
    let mut line = 1;
    let mut i = 0;
    let mut stack: Vec<(Vec<Sexp>, usize)> = vec![(Vec::new(), 0)];
    let err = |line: usize, msg: &str| ReadError::Syntax {
        line,
        msg: msg.to_string(),
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\n' => {
                line += 1;
                i += 1;
            }
            c if c.is_whitespace() => i += 1,
            ';' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '(' => {
                stack.push((Vec::new(), line));
                i += 1;
            }
            ')' => {
                let (items, start) = stack.pop().ok_or_else(|| err(line, "unbalanced `)`"))?;
                let parent = stack
                    .last_mut()
                    .ok_or_else(|| err(line, "unbalanced `)`"))?;
                parent.0.push(Sexp::List(items, start));
                i += 1;
            }
            '"' | '#' => {
                let regex = c == '#';
                if regex && chars.get(i + 1) != Some(&'"') {
                    return Err(ReadError::Unsupported(format!(
                        "#{}",
                        chars.get(i + 1).unwrap_or(&' ')
                    )));
                }
                i += if regex { 2 } else { 1 };
                let start = i;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\n' {
                        return Err(err(line, "newline inside a literal"));
                    }
                    if chars[i] == '\\' && !regex {
                        return Err(err(line, "backslash escape inside a string"));
                    }
                    i += 1;
                }
                if i >= chars.len() {
                    return Err(err(line, "unterminated literal"));
                }
                let s: String = chars[start..i].iter().collect();
                i += 1;
                stack
                    .last_mut()
                    .expect("stack has a root")
                    .0
                    .push(if regex { Sexp::Regex(s) } else { Sexp::Str(s) });
            }
            _ => {
                let start = i;
                while i < chars.len()
                    && !chars[i].is_whitespace()
                    && !matches!(chars[i], '(' | ')' | '"' | ';')
                {
                    i += 1;
                }
                let s: String = chars[start..i].iter().collect();
                stack
                    .last_mut()
                    .expect("stack has a root")
                    .0
                    .push(Sexp::Sym(s));
            }
        }
    }
    if stack.len() != 1 {
        return Err(err(line, "unbalanced `(`"));
    }
    Ok(stack.pop().expect("root").0)
}

/// Parses a whole profile. The first form must be `(version 1)`.
pub fn parse(text: &str) -> Result<Profile, ReadError> {
    let forms = tokenize(text)?;
    let mut rules = Vec::new();
    let mut saw_version = false;
    for form in forms {
        let Sexp::List(items, line) = form else {
            return Err(ReadError::Unsupported(format!("{form:?} at top level")));
        };
        match items.first() {
            Some(Sexp::Sym(s)) if s == "version" => {
                if saw_version
                    || !rules.is_empty()
                    || items.len() != 2
                    || items[1] != Sexp::Sym("1".into())
                {
                    return Err(ReadError::Syntax {
                        line,
                        msg: "expected a single leading `(version 1)`".into(),
                    });
                }
                saw_version = true;
            }
            Some(Sexp::Sym(s)) if s == "allow" || s == "deny" => {
                if !saw_version {
                    return Err(ReadError::Syntax {
                        line,
                        msg: "`(version 1)` must come first".into(),
                    });
                }
                let action = if s == "allow" {
                    Action::Allow
                } else {
                    Action::Deny
                };
                let mut ops = Vec::new();
                let mut rest = items[1..].iter().peekable();
                while let Some(Sexp::Sym(op)) = rest.peek() {
                    if !OPERATIONS.contains(&op.as_str()) {
                        return Err(ReadError::Unsupported(format!("operation {op}")));
                    }
                    ops.push(op.clone());
                    rest.next();
                }
                if ops.is_empty() {
                    return Err(ReadError::Syntax {
                        line,
                        msg: "a rule needs at least one operation".into(),
                    });
                }
                let mut items: Vec<&Sexp> = rest.collect();
                // `(with message "TAG")` last: the text Seatbelt adds to the denial report
                // (`--log-denials` filters on it). No other `with` modifier is accepted.
                let message = match items.last() {
                    Some(Sexp::List(w, _)) if w.first() == Some(&Sexp::Sym("with".into())) => {
                        match w.as_slice() {
                            [_, Sexp::Sym(m), Sexp::Str(t)]
                                if m == "message" && action == Action::Deny =>
                            {
                                let t = t.clone();
                                items.pop();
                                Some(t)
                            }
                            _ => {
                                return Err(ReadError::Unsupported(format!(
                                    "{:?} (line {line})",
                                    items.last()
                                )))
                            }
                        }
                    }
                    _ => None,
                };
                let filters = items
                    .into_iter()
                    .map(|f| filter(f, line))
                    .collect::<Result<_, _>>()?;
                rules.push(Rule {
                    action,
                    ops,
                    filters,
                    message,
                    line,
                });
            }
            other => return Err(ReadError::Unsupported(format!("{other:?} at line {line}"))),
        }
    }
    if !saw_version {
        return Err(ReadError::Syntax {
            line: 1,
            msg: "missing `(version 1)`".into(),
        });
    }
    Ok(Profile { rules })
}

fn value(s: &Sexp, line: usize) -> Result<Value, ReadError> {
    match s {
        Sexp::Str(t) => Ok(Value::Str(t.clone())),
        Sexp::List(items, _) => match items.as_slice() {
            [Sexp::Sym(p), Sexp::Str(name)] if p == "param" => Ok(Value::Param(name.clone())),
            _ => Err(ReadError::Unsupported(format!(
                "{s:?} as a value (line {line})"
            ))),
        },
        _ => Err(ReadError::Unsupported(format!(
            "{s:?} as a value (line {line})"
        ))),
    }
}

fn filter(s: &Sexp, line: usize) -> Result<Filter, ReadError> {
    let Sexp::List(items, line) = s else {
        return Err(ReadError::Unsupported(format!(
            "{s:?} as a filter (line {line})"
        )));
    };
    let line = *line;
    let (Some(Sexp::Sym(name)), args) = (items.first(), items.get(1..).unwrap_or(&[])) else {
        return Err(ReadError::Unsupported(format!(
            "{s:?} as a filter (line {line})"
        )));
    };
    let one = || -> Result<&Sexp, ReadError> {
        match args {
            [a] => Ok(a),
            _ => Err(ReadError::Syntax {
                line,
                msg: format!("`{name}` takes one argument"),
            }),
        }
    };
    Ok(match name.as_str() {
        "literal" => Filter::Literal(value(one()?, line)?),
        "subpath" => Filter::Subpath(value(one()?, line)?),
        "regex" => match one()? {
            Sexp::Regex(r) => Filter::Regex(r.clone()),
            other => return Err(ReadError::Unsupported(format!("regex operand {other:?}"))),
        },
        "require-all" | "require-any" => {
            let fs = args
                .iter()
                .map(|a| filter(a, line))
                .collect::<Result<Vec<_>, _>>()?;
            if name == "require-all" {
                Filter::RequireAll(fs)
            } else {
                Filter::RequireAny(fs)
            }
        }
        "require-not" => Filter::RequireNot(Box::new(filter(one()?, line)?)),
        "local" | "remote" if matches!(args.first(), Some(Sexp::Sym(p)) if matches!(p.as_str(), "ip" | "tcp" | "udp")) =>
        {
            let [Sexp::Sym(proto), addr] = args else {
                return Err(ReadError::Syntax {
                    line,
                    msg: format!("`({name} PROTO ADDRESS)` takes one address"),
                });
            };
            Filter::Address {
                remote: name == "remote",
                proto: proto.clone(),
                addr: value(addr, line)?,
            }
        }
        n if OTHER_FILTERS.contains(&n) => {
            let mut words = Vec::new();
            let mut path = None;
            for a in args {
                match a {
                    Sexp::Sym(w) | Sexp::Str(w) | Sexp::Regex(w) if path.is_none() => {
                        words.push(w.clone())
                    }
                    Sexp::List(..) if path.is_none() && matches!(n, "local" | "remote") => {
                        path = Some(Box::new(filter(a, line)?))
                    }
                    _ => return Err(ReadError::Unsupported(format!("{s:?} (line {line})"))),
                }
            }
            if words.is_empty() {
                return Err(ReadError::Syntax {
                    line,
                    msg: format!("`{n}` needs an argument"),
                });
            }
            Filter::Other {
                name: n.to_string(),
                args: words,
                path,
            }
        }
        other => {
            return Err(ReadError::Unsupported(format!(
                "filter {other} (line {line})"
            )))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_subset() {
        let p = parse(
            "(version 1)\n; comment\n(deny default)\n(allow file-read* (require-all (subpath (param \"R\")) (require-not (literal \"/x\"))))\n(deny file-read* (regex #\"^/a\\.b$\"))\n(allow sysctl-read (sysctl-name \"hw.ncpu\"))\n(allow network-bind (local unix-socket (subpath (param \"U\"))))",
        )
        .unwrap();
        assert_eq!(p.rules.len(), 5);
        assert_eq!(p.rules[0].ops, vec!["default"]);
        assert_eq!(p.rules[2].filters, vec![Filter::Regex("^/a\\.b$".into())]);
        let p = parse("(version 1)(deny default (with message \"t-1\"))(deny file-read* (literal \"/x\") (with message \"t-1\"))").unwrap();
        assert_eq!(p.rules[0].message.as_deref(), Some("t-1"));
        assert!(p.rules[0].filters.is_empty());
        assert_eq!(p.rules[1].filters.len(), 1);
        let p = parse("(version 1)(allow network-outbound (remote tcp (param \"P\")) (remote ip \"localhost:*\"))(allow network-bind (local udp \"*:53\"))").unwrap();
        assert_eq!(
            p.rules[0].filters,
            vec![
                Filter::Address {
                    remote: true,
                    proto: "tcp".into(),
                    addr: Value::Param("P".into())
                },
                Filter::Address {
                    remote: true,
                    proto: "ip".into(),
                    addr: Value::Str("localhost:*".into())
                }
            ]
        );
        assert!(matches!(
            &p.rules[1].filters[0],
            Filter::Address { remote: false, .. }
        ));
    }

    #[test]
    fn rejects_outside_the_subset() {
        for bad in [
            "(version 1)(define x 1)",
            "(version 1)(allow file-read* (with-filter x))",
            "(version 1)(allow process-exec (literal \"/bin/ps\") (with no-sandbox))",
            "(version 1)(allow file-read* (with message \"x\"))",
            "(version 1)(deny file-read* (with report))",
            "(version 1)(allow file-write-mode)",
            "(version 1)(import \"bsd.sb\")",
            "(allow file-read*)",
            "(version 2)",
            "(version 1)(allow file-read* (literal \"a\\\"b\"))",
            "(version 1)(allow file-read* (literal \"unterminated",
            "(version 1)(allow file-read*",
            "(version 1))",
            "(version 1)(allow network-outbound (remote ip))",
            "(version 1)(allow network-outbound (remote tcp \"a:1\" \"b:2\"))",
            "(version 1)(allow network-outbound (remote ip (string-append \"localhost:\" \"1\")))",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
