//! Choosing the Linux backend from probed host facts (pure; the probes live elsewhere).
//!
//! `auto`: bubblewrap when it is installed and can create a user namespace (the strongest
//! isolation: private mount view, PID and network namespaces); otherwise Landlock; otherwise
//! refuse. An explicit `bwrap` or `landlock` request never falls back: it runs that backend or
//! refuses with the reason. Whether the Landlock fallback enforces the *whole* policy is decided
//! by the Landlock compiler afterwards (it refuses, or degrades with `--best-effort`).

#[cfg(target_os = "linux")]
pub mod host;

use serde::Serialize;

/// What the user asked for with `--backend`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Requested {
    #[default]
    Auto,
    Bwrap,
    Landlock,
}

/// A backend that can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Backend {
    Bwrap,
    Landlock,
}

impl Backend {
    /// The name as `--backend` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Bwrap => "bwrap",
            Backend::Landlock => "landlock",
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Requested {
    type Err = String;

    /// `auto`, `bwrap` or `landlock`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Requested::Auto),
            "bwrap" => Ok(Requested::Bwrap),
            "landlock" => Ok(Requested::Landlock),
            _ => Err(format!(
                "unknown Linux backend `{s}` (expected auto, bwrap or landlock)"
            )),
        }
    }
}

/// The probe results selection depends on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HostFacts {
    /// Absolute path of the bwrap that would be used, with its version (`None`: not installed).
    pub bwrap: Option<(String, Option<String>)>,
    /// `Ok` when bwrap created a user namespace; `Err` holds the diagnosis.
    pub bwrap_userns: Result<(), String>,
    /// Best Landlock ABI the kernel offers (`None` or `Some(0)`: no Landlock).
    pub landlock_abi: Option<u32>,
}

/// The chosen backend and why, in a sentence for `-v` and `doctor`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Selection {
    pub backend: Backend,
    pub reason: String,
}

/// No backend can run: why, and the way out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{reason}")]
pub struct Refusal {
    pub reason: String,
    pub hint: String,
}

/// Picks the backend for `requested` on a host described by `facts`.
pub fn select(requested: Requested, facts: &HostFacts) -> Result<Selection, Refusal> {
    let bwrap_problem: Option<String> = match (&facts.bwrap, &facts.bwrap_userns) {
        (None, _) => Some("bubblewrap (bwrap) is not installed".into()),
        (Some(_), Err(why)) => Some(why.clone()),
        (Some(_), Ok(())) => None,
    };
    let landlock = facts.landlock_abi.filter(|&abi| abi >= 1);
    let bwrap_ok = |(path, version): &(String, Option<String>)| Selection {
        backend: Backend::Bwrap,
        reason: format!(
            "bubblewrap {} at {path} can create user namespaces",
            version.as_deref().unwrap_or("(unknown version)")
        ),
    };
    match requested {
        Requested::Bwrap => match (&facts.bwrap, bwrap_problem) {
            (Some(b), None) => Ok(bwrap_ok(b)),
            (None, Some(p)) => Err(Refusal {
                reason: p,
                hint: "install bubblewrap (e.g. `apt-get install bubblewrap`), or use --backend landlock".into(),
            }),
            (_, Some(p)) => Err(Refusal {
                reason: p,
                hint: "fix the host setting named above, or use --backend landlock".into(),
            }),
            (None, None) => unreachable!("a missing bwrap is always a problem"),
        },
        Requested::Landlock => match landlock {
            Some(abi) => Ok(Selection {
                backend: Backend::Landlock,
                reason: format!("--backend landlock requested; the kernel offers Landlock ABI {abi}"),
            }),
            None => Err(no_landlock()),
        },
        Requested::Auto => match (&facts.bwrap, bwrap_problem, landlock) {
            (Some(b), None, _) => Ok(bwrap_ok(b)),
            (_, Some(p), Some(abi)) => Ok(Selection {
                backend: Backend::Landlock,
                reason: format!("bwrap cannot be used ({p}); using Landlock ABI {abi}"),
            }),
            (_, Some(p), None) => Err(Refusal {
                reason: format!(
                    "no Linux sandbox is available: bwrap cannot be used ({p}) and the kernel has no Landlock"
                ),
                hint: "install bubblewrap and allow unprivileged user namespaces, or boot a kernel with Landlock (5.13+, `lsm=landlock,…`)".into(),
            }),
            (None, None, _) => unreachable!("a missing bwrap is always a problem"),
        },
    }
}

fn no_landlock() -> Refusal {
    Refusal {
        reason: "the kernel does not offer Landlock (needs Linux 5.13+ with Landlock enabled in the LSM list)".into(),
        hint: "boot with `lsm=landlock,…`, or use --backend bwrap".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(bwrap: bool, userns: bool, abi: Option<u32>) -> HostFacts {
        HostFacts {
            bwrap: bwrap.then(|| ("/usr/bin/bwrap".into(), Some("0.8.0".into()))),
            bwrap_userns: if userns {
                Ok(())
            } else {
                Err("AppArmor restricts unprivileged user namespaces".into())
            },
            landlock_abi: abi,
        }
    }

    #[test]
    fn auto_prefers_bwrap_when_namespaces_work() {
        let s = select(Requested::Auto, &facts(true, true, Some(7))).unwrap();
        assert_eq!(s.backend, Backend::Bwrap);
        assert!(s.reason.contains("0.8.0") && s.reason.contains("/usr/bin/bwrap"));
    }

    #[test]
    fn auto_falls_back_to_landlock_with_the_reason() {
        let s = select(Requested::Auto, &facts(true, false, Some(7))).unwrap();
        assert_eq!(s.backend, Backend::Landlock);
        assert!(s.reason.contains("AppArmor"), "{}", s.reason);
        assert!(s.reason.contains("ABI 7"));
        let s = select(Requested::Auto, &facts(false, true, Some(3))).unwrap();
        assert_eq!(s.backend, Backend::Landlock);
        assert!(s.reason.contains("not installed"));
    }

    #[test]
    fn auto_refuses_without_either() {
        let r = select(Requested::Auto, &facts(false, true, None)).unwrap_err();
        assert!(r.reason.contains("no Linux sandbox"));
        let r = select(Requested::Auto, &facts(true, false, Some(0))).unwrap_err();
        assert!(r.reason.contains("AppArmor"));
    }

    #[test]
    fn explicit_bwrap_never_falls_back() {
        let r = select(Requested::Bwrap, &facts(true, false, Some(7))).unwrap_err();
        assert!(r.reason.contains("AppArmor"));
        assert!(r.hint.contains("--backend landlock"));
        let r = select(Requested::Bwrap, &facts(false, false, Some(7))).unwrap_err();
        assert!(r.reason.contains("not installed"));
        assert!(r.hint.contains("install bubblewrap"));
    }

    #[test]
    fn backend_names_parse_and_a_bad_one_says_what_is_expected() {
        assert_eq!("auto".parse::<Requested>().unwrap(), Requested::Auto);
        assert_eq!("bwrap".parse::<Requested>().unwrap(), Requested::Bwrap);
        assert_eq!(
            "landlock".parse::<Requested>().unwrap(),
            Requested::Landlock
        );
        let e = "seatbelt".parse::<Requested>().unwrap_err();
        assert!(
            e.contains("`seatbelt`") && e.contains("auto, bwrap or landlock"),
            "{e}"
        );
        assert_eq!(Backend::Bwrap.to_string(), "bwrap");
    }

    #[test]
    fn explicit_landlock_needs_landlock() {
        assert_eq!(
            select(Requested::Landlock, &facts(true, true, Some(1)))
                .unwrap()
                .backend,
            Backend::Landlock
        );
        assert!(select(Requested::Landlock, &facts(true, true, None)).is_err());
    }
}
