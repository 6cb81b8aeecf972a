//! Per-run identifiers: the run id names the journal file and the AppContainer profile, and the
//! run SID is the restricting SID of the token. Both are fresh for every launch, so concurrent
//! runs of one policy never share grants and a revoke removes exactly one run's entries.

use std::fmt;

/// The prefix of every AppContainer profile name this launcher creates (`sandbox-<run id>`).
pub const PROFILE_PREFIX: &str = "sandbox-";

/// 128 random bits identifying one launch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RunId(pub u128);

impl RunId {
    /// A new id from the process id, the time, and the OS random source behind std's
    /// `RandomState` (`ProcessPrng` on Windows, `getrandom` elsewhere).
    pub fn fresh() -> RunId {
        use std::collections::hash_map::RandomState;
        use std::hash::{BuildHasher, Hasher};
        let mut words = [0u64; 2];
        for (i, w) in words.iter_mut().enumerate() {
            let mut h = RandomState::new().build_hasher();
            h.write_u32(std::process::id());
            h.write_usize(i);
            if let Ok(d) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
                h.write_u128(d.as_nanos());
            }
            *w = h.finish();
        }
        RunId((u128::from(words[0]) << 64) | u128::from(words[1]))
    }

    /// Parses the 32 lowercase hex digits of [`fmt::Display`].
    pub fn parse(s: &str) -> Option<RunId> {
        if s.len() != 32
            || !s
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return None;
        }
        u128::from_str_radix(s, 16).ok().map(RunId)
    }

    /// The run's restricting SID: `S-1-5-21-a-b-c-d`, the form of a domain or machine account
    /// SID whose four sub-authorities are the id's 32-bit words. No account has it, so an ACE
    /// naming it grants or denies only this run's token.
    pub fn sid(self) -> String {
        let w = |i: u32| (self.0 >> (96 - 32 * i)) as u32;
        format!("S-1-5-21-{}-{}-{}-{}", w(0), w(1), w(2), w(3))
    }

    /// The AppContainer profile name for this run.
    pub fn profile_name(self) -> String {
        format!("{PROFILE_PREFIX}{self}")
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

/// Whether `sid` has the shape of a run SID (what a sweep is willing to revoke).
pub fn is_run_sid(sid: &str) -> bool {
    let Some(rest) = sid.strip_prefix("S-1-5-21-") else {
        return false;
    };
    let parts: Vec<&str> = rest.split('-').collect();
    parts.len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.parse::<u32>().is_ok())
}

/// Whether `sid` is an AppContainer SID (`S-1-15-2-…`).
pub fn is_app_container_sid(sid: &str) -> bool {
    sid.strip_prefix("S-1-15-2-").is_some_and(|r| {
        r.split('-')
            .all(|p| !p.is_empty() && p.parse::<u32>().is_ok())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_fresh_and_round_trip() {
        let a = RunId::fresh();
        let b = RunId::fresh();
        assert_ne!(a, b);
        assert_eq!(RunId::parse(&a.to_string()), Some(a));
        assert_eq!(RunId::parse("xyz"), None);
        assert_eq!(RunId::parse(&"A".repeat(32)), None);
    }

    #[test]
    fn sid_has_four_sub_authorities_from_the_id() {
        let id = RunId(0x0000_0001_0000_0002_0000_0003_ffff_ffff);
        assert_eq!(id.sid(), "S-1-5-21-1-2-3-4294967295");
        assert!(is_run_sid(&id.sid()));
        assert!(is_run_sid(&RunId::fresh().sid()));
        assert!(!is_run_sid("S-1-5-21-1-2-3"));
        assert!(!is_run_sid("S-1-5-18"));
        assert!(!is_run_sid("S-1-5-21-1-2-3-x"));
        assert_eq!(id.profile_name(), format!("sandbox-{id}"));
        assert!(is_app_container_sid("S-1-15-2-1-2-3-4-5-6-7"));
        assert!(!is_app_container_sid("S-1-15-3-1"));
    }
}
