//! Evaluates a parsed profile for one operation on one path: the last rule whose operation
//! and filters match decides; `(deny default)` is the fallback. File operations match path
//! filters; socket operations (`network-outbound`, `network-bind`) on a unix socket's path
//! match `(remote|local unix-socket [FILTER])`; socket operations on an IP endpoint match
//! `(remote|local ip|tcp|udp "HOST:PORT")`. Every other non-path filter never matches.

use super::reader::{Action, Filter, Profile, Value};
use std::collections::BTreeMap;
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EvalError {
    #[error("profile uses parameter `{0}`, which is not defined")]
    MissingParam(String),
    #[error("profile regex `{regex}` does not compile: {reason}")]
    BadRegex { regex: String, reason: String },
    /// `sandbox-exec` takes `*` or `localhost` as host and `*` or a port number.
    #[error("profile address `{0}` is not HOST:PORT with HOST `*` or `localhost` and PORT `*` or 1-65535")]
    BadAddress(String),
}

/// The transport of an IP socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Tcp,
    Udp,
}

/// One end of an IP connection: on the loopback or not, and its port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    pub loopback: bool,
    pub port: u16,
}

/// A socket operation on IP: its transport, the socket's own end and (for a connection) the
/// peer's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpQuery {
    pub proto: Proto,
    pub local: Endpoint,
    pub remote: Option<Endpoint>,
}

/// A port an outbound connection gets for its own end.
const EPHEMERAL: u16 = 55_555;

impl IpQuery {
    /// `connect`/`sendto` to `to`: the own end is on the loopback exactly when `to` is.
    pub fn connect(proto: Proto, to: Endpoint) -> IpQuery {
        IpQuery {
            proto,
            local: Endpoint {
                loopback: to.loopback,
                port: EPHEMERAL,
            },
            remote: Some(to),
        }
    }

    /// `bind` (or accepting) on `at`.
    pub fn bind(proto: Proto, at: Endpoint) -> IpQuery {
        IpQuery {
            proto,
            local: at,
            remote: None,
        }
    }
}

/// A filter with parameters substituted and regexes compiled.
#[derive(Debug)]
enum Compiled {
    Literal(String),
    Subpath(String),
    Regex(regex::Regex),
    All(Vec<Compiled>),
    Any(Vec<Compiled>),
    Not(Box<Compiled>),
    /// `(local|remote unix-socket [FILTER])`: true for a unix-socket address that the inner
    /// path filter (if any) matches; never true for a file.
    UnixSocket(Option<Box<Compiled>>),
    /// `(local|remote ip|tcp|udp "HOST:PORT")`: true for an IP query whose end matches.
    Address {
        remote: bool,
        tcp: bool,
        udp: bool,
        /// `localhost` (else `*`: any host).
        localhost: bool,
        /// `None`: any port.
        port: Option<u16>,
    },
    /// A non-path filter: never true for a path.
    Never,
}

/// What is being asked about: a file by path, a unix-socket address by path, or an IP
/// socket operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Subject {
    File,
    UnixSocket,
    Ip(IpQuery),
}

#[derive(Debug)]
struct CompiledRule {
    allow: bool,
    ops: Vec<String>,
    /// Empty means "always"; otherwise any one of them.
    filters: Vec<Compiled>,
    line: usize,
}

/// A profile ready to answer questions.
#[derive(Debug)]
pub struct Evaluator {
    rules: Vec<CompiledRule>,
}

/// The evaluator's answer: allowed or not, and the line of the deciding rule (0: no rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub allowed: bool,
    pub line: usize,
}

impl Evaluator {
    /// Binds `params` (the `-D` values) into `profile`.
    pub fn new(
        profile: &Profile,
        params: &BTreeMap<String, String>,
    ) -> Result<Evaluator, EvalError> {
        let rules = profile
            .rules
            .iter()
            .map(|r| {
                Ok(CompiledRule {
                    allow: r.action == Action::Allow,
                    ops: r.ops.clone(),
                    filters: r
                        .filters
                        .iter()
                        .map(|f| compile(f, params))
                        .collect::<Result<_, EvalError>>()?,
                    line: r.line,
                })
            })
            .collect::<Result<_, EvalError>>()?;
        Ok(Evaluator { rules })
    }

    /// The decision for file operation `op` (e.g. `file-write-create`) on the absolute `path`.
    pub fn decide(&self, op: &str, path: &str) -> Verdict {
        self.decide_as(op, path, Subject::File)
    }

    /// The decision for socket operation `op` (`network-outbound` for connect/sendto,
    /// `network-bind`) on the unix socket at the absolute `path`.
    pub fn decide_unix_socket(&self, op: &str, path: &str) -> Verdict {
        self.decide_as(op, path, Subject::UnixSocket)
    }

    /// The decision for socket operation `op` (`network-outbound`, `network-bind`,
    /// `network-inbound`) on IP, as `q` describes it.
    pub fn decide_ip(&self, op: &str, q: &IpQuery) -> Verdict {
        self.decide_as(op, "", Subject::Ip(*q))
    }

    /// The decision for `rename(from, to)` as Seatbelt checks it: an unlink of the old name
    /// and a creation of the new one, each by path. Nothing below a renamed directory is
    /// checked, which is why the compiler pins the directories above protected paths.
    pub fn rename(&self, from: &str, to: &str) -> Verdict {
        let unlink = self.decide("file-write-unlink", from);
        if !unlink.allowed {
            return unlink;
        }
        self.decide("file-write-create", to)
    }

    fn decide_as(&self, op: &str, path: &str, subject: Subject) -> Verdict {
        let mut verdict = Verdict {
            allowed: false,
            line: 0,
        };
        for r in &self.rules {
            if r.ops.iter().any(|o| op_matches(o, op))
                && (r.filters.is_empty() || r.filters.iter().any(|f| matches(f, path, subject)))
            {
                verdict = Verdict {
                    allowed: r.allow,
                    line: r.line,
                };
            }
        }
        verdict
    }
}

fn op_matches(rule_op: &str, op: &str) -> bool {
    rule_op == "default"
        || rule_op == op
        || rule_op
            .strip_suffix('*')
            .is_some_and(|prefix| op.starts_with(prefix))
}

fn bind(v: &Value, params: &BTreeMap<String, String>) -> Result<String, EvalError> {
    match v {
        Value::Str(s) => Ok(s.clone()),
        Value::Param(p) => params
            .get(p)
            .cloned()
            .ok_or_else(|| EvalError::MissingParam(p.clone())),
    }
}

fn compile(f: &Filter, params: &BTreeMap<String, String>) -> Result<Compiled, EvalError> {
    Ok(match f {
        Filter::Literal(v) => Compiled::Literal(bind(v, params)?),
        Filter::Subpath(v) => Compiled::Subpath(bind(v, params)?),
        // POSIX regexes let `.` match a newline; `(?s)` makes the regex crate agree.
        Filter::Regex(r) => {
            Compiled::Regex(regex::Regex::new(&format!("(?s){r}")).map_err(|e| {
                EvalError::BadRegex {
                    regex: r.clone(),
                    reason: e.to_string(),
                }
            })?)
        }
        Filter::RequireAll(fs) => Compiled::All(
            fs.iter()
                .map(|f| compile(f, params))
                .collect::<Result<_, _>>()?,
        ),
        Filter::RequireAny(fs) => Compiled::Any(
            fs.iter()
                .map(|f| compile(f, params))
                .collect::<Result<_, _>>()?,
        ),
        Filter::RequireNot(f) => Compiled::Not(Box::new(compile(f, params)?)),
        Filter::Other { name, args, path }
            if matches!(name.as_str(), "local" | "remote")
                && args.first().map(String::as_str) == Some("unix-socket") =>
        {
            Compiled::UnixSocket(match path {
                Some(p) => Some(Box::new(compile(p, params)?)),
                None => None,
            })
        }
        Filter::Address {
            remote,
            proto,
            addr,
        } => {
            let text = bind(addr, params)?;
            let bad = || EvalError::BadAddress(text.clone());
            let (host, port) = text.rsplit_once(':').ok_or_else(bad)?;
            let localhost = match host {
                "localhost" => true,
                "*" => false,
                _ => return Err(bad()),
            };
            let port = match port {
                "*" => None,
                p if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                    Some(p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(bad)?)
                }
                _ => return Err(bad()),
            };
            Compiled::Address {
                remote: *remote,
                tcp: proto != "udp",
                udp: proto != "tcp",
                localhost,
                port,
            }
        }
        Filter::Other { path, .. } => {
            // Still bind the nested path filter, so a missing parameter is reported.
            if let Some(p) = path {
                compile(p, params)?;
            }
            Compiled::Never
        }
    })
}

fn matches(f: &Compiled, path: &str, subject: Subject) -> bool {
    match f {
        Compiled::Address {
            remote,
            tcp,
            udp,
            localhost,
            port,
        } => {
            let Subject::Ip(q) = subject else {
                return false;
            };
            let end = if *remote { q.remote } else { Some(q.local) };
            let proto_ok = match q.proto {
                Proto::Tcp => *tcp,
                Proto::Udp => *udp,
            };
            proto_ok
                && end.is_some_and(|e| {
                    (!*localhost || e.loopback) && port.is_none_or(|p| p == e.port)
                })
        }
        Compiled::Literal(_) | Compiled::Subpath(_) | Compiled::Regex(_)
            if subject != Subject::File =>
        {
            false
        }
        Compiled::Literal(l) => path == l,
        Compiled::Subpath(root) => {
            path == root
                || root == "/"
                || path
                    .strip_prefix(root.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
        }
        Compiled::Regex(r) => r.is_match(path),
        Compiled::All(fs) => fs.iter().all(|f| matches(f, path, subject)),
        Compiled::Any(fs) => fs.iter().any(|f| matches(f, path, subject)),
        Compiled::Not(f) => !matches(f, path, subject),
        Compiled::UnixSocket(inner) => {
            subject == Subject::UnixSocket
                && inner
                    .as_ref()
                    .is_none_or(|f| matches(f, path, Subject::File))
        }
        Compiled::Never => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sbpl::parse;

    fn eval(text: &str, params: &[(&str, &str)]) -> Evaluator {
        let params = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Evaluator::new(&parse(text).unwrap(), &params).unwrap()
    }

    #[test]
    fn last_match_wins_and_default_denies() {
        let e = eval(
            "(version 1)(deny default)(allow file-read*)(deny file-read* (subpath (param \"S\")))(allow file-read-data (literal \"/s/ok\"))",
            &[("S", "/s")],
        );
        assert!(e.decide("file-read-data", "/x").allowed);
        assert!(!e.decide("file-read-data", "/s/y").allowed);
        assert!(!e.decide("file-read-metadata", "/s/ok").allowed);
        assert!(e.decide("file-read-data", "/s/ok").allowed);
        assert!(e.decide("file-read-data", "/sx").allowed);
        assert!(!e.decide("file-write-data", "/x").allowed);
    }

    #[test]
    fn require_forms() {
        let e = eval(
            "(version 1)(deny default)(allow file-write* (require-all (subpath (param \"W\")) (require-not (subpath (param \"E\"))) (require-any (regex #\"\\.txt$\") (literal \"/w/f\"))))",
            &[("W", "/w"), ("E", "/w/.git")],
        );
        assert!(e.decide("file-write-data", "/w/a.txt").allowed);
        assert!(e.decide("file-write-data", "/w/f").allowed);
        assert!(!e.decide("file-write-data", "/w/g").allowed);
        assert!(!e.decide("file-write-data", "/w/.git/a.txt").allowed);
        assert!(e.decide("file-write-data", "/w/.gitx.txt").allowed);
    }

    #[test]
    fn unix_socket_filters_match_socket_questions_only() {
        let e = eval(
            "(version 1)(deny default)(allow network-outbound (remote unix-socket (subpath (param \"S\"))))(allow file-read* (subpath (param \"S\")))(deny network-outbound (remote unix-socket (literal \"/s/no\")))(allow network-outbound (remote ip \"localhost:*\"))",
            &[("S", "/s")],
        );
        assert!(e.decide_unix_socket("network-outbound", "/s/a").allowed);
        assert!(!e.decide_unix_socket("network-outbound", "/s/no").allowed);
        assert!(!e.decide_unix_socket("network-outbound", "/t").allowed);
        assert!(!e.decide_unix_socket("network-bind", "/s/a").allowed);
        assert!(!e.decide("network-outbound", "/s/a").allowed);
        // A file rule never answers a socket question, and the reverse.
        assert!(!e.decide_unix_socket("file-read-data", "/s/a").allowed);
        assert!(e.decide("file-read-data", "/s/a").allowed);
        let all = eval(
            "(version 1)(deny default)(allow network-outbound)(deny network-outbound (remote unix-socket))",
            &[],
        );
        assert!(!all.decide_unix_socket("network-outbound", "/x").allowed);
    }

    #[test]
    fn rename_is_unlink_then_create() {
        let e = eval(
            "(version 1)(deny default)(allow file-write* (subpath \"/w\"))(deny file-write-unlink (literal \"/w/pin\"))",
            &[],
        );
        assert!(e.rename("/w/a", "/w/b").allowed);
        assert!(!e.rename("/w/pin", "/w/b").allowed);
        assert!(!e.rename("/w/a", "/elsewhere").allowed);
        assert_eq!(e.rename("/w/pin", "/w/b").line, 1);
    }

    #[test]
    fn missing_param_is_an_error() {
        let p = parse("(version 1)(allow file-read* (subpath (param \"NOPE\")))").unwrap();
        assert_eq!(
            Evaluator::new(&p, &BTreeMap::new()).unwrap_err(),
            EvalError::MissingParam("NOPE".into())
        );
    }

    #[test]
    fn ip_addresses_match_their_end_transport_and_port() {
        let e = eval(
            "(version 1)(deny default)(allow network-outbound (remote tcp (param \"P\")))(allow network-bind (local ip \"localhost:*\"))(allow network-outbound (remote udp \"*:53\"))",
            &[("P", "localhost:3128")],
        );
        let lo = |port| Endpoint {
            loopback: true,
            port,
        };
        let net = |port| Endpoint {
            loopback: false,
            port,
        };
        let out = |proto, e2| e.decide_ip("network-outbound", &IpQuery::connect(proto, e2));
        assert!(out(Proto::Tcp, lo(3128)).allowed);
        assert!(!out(Proto::Udp, lo(3128)).allowed);
        assert!(!out(Proto::Tcp, lo(3129)).allowed);
        assert!(!out(Proto::Tcp, net(3128)).allowed);
        assert!(out(Proto::Udp, net(53)).allowed);
        assert!(!out(Proto::Tcp, net(53)).allowed);
        let bind = |e2| e.decide_ip("network-bind", &IpQuery::bind(Proto::Tcp, e2));
        assert!(bind(lo(8080)).allowed);
        assert!(!bind(net(8080)).allowed);
        // An address filter never matches a file or a unix socket, nor a path filter an IP.
        assert!(!e.decide_unix_socket("network-outbound", "/x").allowed);
        let f = eval("(version 1)(allow network-outbound (subpath \"/\"))", &[]);
        assert!(
            !f.decide_ip("network-outbound", &IpQuery::connect(Proto::Tcp, net(1)))
                .allowed
        );
    }

    #[test]
    fn the_local_end_of_an_outbound_connection_matches_any_destination() {
        // `(local ip "*:*")` on network-outbound is the connection's own end: it lets every
        // connection out (the mistake other Seatbelt users made with "local binding").
        let e = eval(
            "(version 1)(deny default)(allow network-outbound (local ip \"*:*\"))",
            &[],
        );
        let q = IpQuery::connect(
            Proto::Tcp,
            Endpoint {
                loopback: false,
                port: 443,
            },
        );
        assert!(e.decide_ip("network-outbound", &q).allowed);
    }

    #[test]
    fn addresses_seatbelt_rejects_are_errors() {
        for bad in [
            "127.0.0.1:80",
            "localhost",
            "localhost:0",
            "localhost:70000",
            "*:x",
            ":80",
        ] {
            let p = parse("(version 1)(allow network-outbound (remote ip (param \"A\")))").unwrap();
            let params = BTreeMap::from([("A".to_string(), bad.to_string())]);
            assert_eq!(
                Evaluator::new(&p, &params).unwrap_err(),
                EvalError::BadAddress(bad.into()),
                "{bad}"
            );
        }
    }
}
