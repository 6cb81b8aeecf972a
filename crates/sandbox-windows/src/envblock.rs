//! The environment block for `CreateProcess*` with `CREATE_UNICODE_ENVIRONMENT`: UTF-16
//! `NAME=VALUE` strings, each NUL-terminated, sorted by name ignoring case (as Windows expects
//! and Codex's `make_env_block` does), the block ending in an extra NUL.
//!
//! Works on UTF-16 code units so it builds and is tested on every OS; the launcher feeds it
//! `OsStrExt::encode_wide` of `std::env::vars_os()` (the environment the policy left).

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum EnvBlockError {
    #[error("environment variable `{name}` cannot be passed on Windows: {why}")]
    Invalid { name: String, why: &'static str },
}

/// Uppercases one UTF-16 unit when it is a character with a one-unit uppercase form.
fn upper(u: u16) -> u16 {
    match char::from_u32(u32::from(u)) {
        Some(c) => {
            let mut up = c.to_uppercase();
            match (up.next(), up.next()) {
                (Some(x), None) if (x as u32) <= 0xFFFF => x as u32 as u16,
                _ => u,
            }
        }
        None => u,
    }
}

fn upper_key(name: &[u16]) -> Vec<u16> {
    name.iter().map(|&u| upper(u)).collect()
}

/// Builds the block. A later variable replaces an earlier one whose name differs only in case.
/// Names may start with `=` (the hidden per-drive `=C:` variables) but hold no other `=`.
pub fn env_block<I>(vars: I) -> Result<Vec<u16>, EnvBlockError>
where
    I: IntoIterator<Item = (Vec<u16>, Vec<u16>)>,
{
    let mut entries: Vec<(Vec<u16>, Vec<u16>, Vec<u16>)> = Vec::new();
    for (name, value) in vars {
        let shown = || String::from_utf16_lossy(&name);
        let bad = |why| EnvBlockError::Invalid { name: shown(), why };
        if name.is_empty() {
            return Err(bad("the name is empty"));
        }
        if name.iter().skip(1).any(|&u| u == u16::from(b'=')) {
            return Err(bad("the name holds `=`"));
        }
        if name.contains(&0) || value.contains(&0) {
            return Err(bad("it holds a NUL character"));
        }
        let key = upper_key(&name);
        entries.retain(|(k, _, _)| *k != key);
        entries.push((key, name, value));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let mut block = Vec::new();
    for (_, name, value) in entries {
        block.extend_from_slice(&name);
        block.push(u16::from(b'='));
        block.extend_from_slice(&value);
        block.push(0);
    }
    if block.is_empty() {
        // An empty block is two NULs: the empty list and its terminator.
        block.push(0);
    }
    block.push(0);
    Ok(block)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<u16> {
        s.encode_utf16().collect()
    }

    fn block(vars: &[(&str, &str)]) -> Result<String, EnvBlockError> {
        env_block(vars.iter().map(|(k, v)| (w(k), w(v)))).map(|b| String::from_utf16(&b).unwrap())
    }

    #[test]
    fn sorted_ignoring_case_and_double_terminated() {
        let b = block(&[
            ("path", "C:\\bin"),
            ("Zeta", "1"),
            ("ALPHA", "x=y"),
            ("=C:", "C:\\w"),
        ])
        .unwrap();
        assert_eq!(b, "=C:=C:\\w\0ALPHA=x=y\0path=C:\\bin\0Zeta=1\0\0");
    }

    #[test]
    fn later_duplicate_in_other_case_wins() {
        assert_eq!(
            block(&[("Path", "a"), ("PATH", "b")]).unwrap(),
            "PATH=b\0\0"
        );
    }

    #[test]
    fn empty_environment_is_two_nuls() {
        assert_eq!(env_block(Vec::new()).unwrap(), vec![0, 0]);
    }

    #[test]
    fn values_may_be_empty_and_non_ascii() {
        assert_eq!(block(&[("É", ""), ("e", "ü")]).unwrap(), "e=ü\0É=\0\0");
    }

    #[test]
    fn bad_names_and_nuls_are_refused_by_name() {
        for (k, v) in [("", "x"), ("A=B", "x"), ("A", "x\0y"), ("A\0", "x")] {
            let e = block(&[(k, v)]).unwrap_err();
            assert!(e.to_string().contains("cannot be passed on Windows"), "{e}");
        }
        assert!(block(&[("A=B", "")])
            .unwrap_err()
            .to_string()
            .contains("`A=B`"));
    }
}
