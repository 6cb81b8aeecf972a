//! Where a config comes from: the file (read with a size limit and parsed as TOML) and the
//! `-c key=value` overrides applied on top of it, in order.

use crate::error::CoreError;
use std::path::PathBuf;
use toml::{Table, Value};

/// Most dotted parts a `-c` key may have (config files have their own nesting limit).
const MAX_KEY_DEPTH: usize = 32;
/// Largest config file read; a bigger one (or an endless device) is refused, not read.
const MAX_CONFIG_BYTES: u64 = 16 * 1024 * 1024;

/// What messages call the source of `-c` overrides when no config file is read.
pub(super) const COMMAND_LINE: &str = "command line";

/// Reads and parses the config file at `path`: at most [`MAX_CONFIG_BYTES`], UTF-8, TOML.
pub(super) fn read_table(path: &PathBuf) -> Result<Table, CoreError> {
    let file = path.display().to_string();
    let read_err = |reason: String| CoreError::ConfigRead {
        file: file.clone(),
        reason,
    };
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(
            std::fs::File::open(path).map_err(|e| read_err(e.to_string()))?,
            MAX_CONFIG_BYTES + 1,
        ),
        &mut bytes,
    )
    .map_err(|e| read_err(e.to_string()))?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(read_err(format!(
            "larger than {} MiB: not a config file",
            MAX_CONFIG_BYTES / (1024 * 1024)
        )));
    }
    let text = String::from_utf8(bytes).map_err(|_| read_err("not valid UTF-8".into()))?;
    text.parse::<Table>().map_err(|e| CoreError::ConfigSyntax {
        file,
        // toml's message is a first line with the position, a quote of the line, and last
        // the reason ("duplicate key `x`"): keep the first and the last.
        reason: {
            let text = e.to_string();
            let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
            let first = lines.next().unwrap_or("parse error").to_string();
            match lines.next_back() {
                Some(reason) if !reason.starts_with('|') && !reason.starts_with('^') => {
                    format!("{first}: {reason}")
                }
                _ => first,
            }
        } + &e
            .span()
            .map(|s| format!(" (at byte {})", s.start))
            .unwrap_or_default(),
    })
}

/// Applies one `-c a.b."c/d"=VALUE`; VALUE is TOML, or a plain string when it is not.
pub(super) fn apply_override(table: &mut Table, spec: &str) -> Result<(), CoreError> {
    let err = |reason: &str| CoreError::Override {
        // A message names the override, but not a megabyte of it.
        spec: match spec.char_indices().nth(120) {
            Some((i, _)) => format!("{}…", &spec[..i]),
            None => spec.into(),
        },
        reason: reason.into(),
    };
    let (key, raw) = spec
        .split_once('=')
        .ok_or_else(|| err("expected key=value"))?;
    let path = split_dotted(key.trim()).ok_or_else(|| err("malformed key"))?;
    if path.is_empty() || path.iter().any(|p| p.is_empty()) {
        return Err(err("empty key"));
    }
    if path.len() > MAX_KEY_DEPTH {
        return Err(err(&format!("more than {MAX_KEY_DEPTH} dotted parts")));
    }
    let raw = raw.trim();
    let value = match format!("v = {raw}").parse::<Table>() {
        Ok(mut t) => t.remove("v").unwrap_or(Value::String(raw.into())),
        Err(_) => Value::String(raw.into()),
    };
    let mut cur = table;
    for part in &path[..path.len() - 1] {
        let slot = cur
            .entry(part.clone())
            .or_insert_with(|| Value::Table(Table::new()));
        cur = match slot {
            Value::Table(t) => t,
            other => {
                return Err(err(&format!(
                    "`{part}` is a {}, not a table",
                    other.type_str()
                )));
            }
        };
    }
    cur.insert(path[path.len() - 1].clone(), value);
    Ok(())
}

/// The dotted keys the overrides set (`a.b."c.d"` as `a.b.c.d`), so that a message about one
/// of them names `-c` rather than the file.
pub(super) fn overridden_keys(overrides: &[String]) -> Vec<String> {
    overrides
        .iter()
        .filter_map(|o| o.split_once('=').and_then(|(k, _)| split_dotted(k.trim())))
        .map(|parts| parts.join("."))
        .collect()
}

/// Splits `a.b."c.d"` into `[a, b, c.d]`; `None` on an unterminated quote.
fn split_dotted(key: &str) -> Option<Vec<String>> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut chars = key.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => loop {
                match chars.next()? {
                    '"' => break,
                    ch => cur.push(ch),
                }
            },
            '.' => parts.push(std::mem::take(&mut cur)),
            ch => cur.push(ch),
        }
    }
    parts.push(cur);
    Some(parts)
}
