//! The walk over one config table: typed getters that fail with the file (or `-c`), the dotted
//! key, what was expected and what was found, and the warnings met on the way.

use super::domains::DomainAcc;
use crate::error::CoreError;
use toml::{Table, Value};

/// The walk over one config: knows the file name for messages and collects warnings.
pub(super) struct Cx {
    pub(super) file: String,
    /// The dotted keys set by `-c`, so a message about one names `-c`, not the file.
    pub(super) overridden: Vec<String>,
    pub(super) warnings: Vec<String>,
    /// Domain rules met so far (see [`super::network`]).
    pub(super) domains: DomainAcc,
    /// `[sandbox] deny_credentials`.
    pub(super) deny_credentials: bool,
    /// `[sandbox] caches`.
    pub(super) caches: crate::caches::Selection,
}

impl Cx {
    /// A walk over the config from `file` (or [`super::source::COMMAND_LINE`]), where
    /// `overridden` are the dotted keys set by `-c`.
    pub(super) fn new(file: String, overridden: Vec<String>) -> Cx {
        Cx {
            file,
            overridden,
            warnings: Vec::new(),
            domains: DomainAcc::default(),
            deny_credentials: false,
            caches: crate::caches::Selection::None,
        }
    }

    /// Where `key` came from: `-c` when an override set it (or a table above it), else the file.
    pub(super) fn source(&self, key: &str) -> String {
        let from_override = self.overridden.iter().any(|o| {
            key == o || key.starts_with(&format!("{o}.")) || key.starts_with(&format!("{o}["))
        });
        if from_override {
            "-c".to_string()
        } else {
            self.file.clone()
        }
    }

    pub(super) fn type_err(&self, key: &str, expected: &str, found: &Value) -> CoreError {
        CoreError::ConfigType {
            file: self.source(key),
            key: key.into(),
            expected: expected.into(),
            found: describe(found),
        }
    }

    pub(super) fn value_err(&self, key: &str, reason: impl Into<String>) -> CoreError {
        CoreError::ConfigValue {
            file: self.source(key),
            key: key.into(),
            reason: reason.into(),
        }
    }

    pub(super) fn warn_unknown(&mut self, key: &str) {
        let source = self.source(key);
        self.warnings
            .push(format!("{source}: unknown key `{key}` ignored"));
    }

    pub(super) fn string<'a>(
        &self,
        t: &'a Table,
        key: &str,
        path: &str,
    ) -> Result<Option<&'a str>, CoreError> {
        match t.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(self.type_err(path, "a string", v)),
        }
    }

    pub(super) fn boolean(
        &self,
        t: &Table,
        key: &str,
        path: &str,
    ) -> Result<Option<bool>, CoreError> {
        match t.get(key) {
            None => Ok(None),
            Some(Value::Boolean(b)) => Ok(Some(*b)),
            Some(v) => Err(self.type_err(path, "a boolean (true or false)", v)),
        }
    }

    pub(super) fn table<'a>(
        &self,
        t: &'a Table,
        key: &str,
        path: &str,
    ) -> Result<Option<&'a Table>, CoreError> {
        match t.get(key) {
            None => Ok(None),
            Some(Value::Table(tb)) => Ok(Some(tb)),
            Some(v) => Err(self.type_err(path, "a table", v)),
        }
    }

    pub(super) fn string_list(
        &self,
        t: &Table,
        key: &str,
        path: &str,
    ) -> Result<Option<Vec<String>>, CoreError> {
        match t.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(self.type_err(&format!("{path}[{i}]"), "a string", other)),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(v) => Err(self.type_err(path, "an array of strings", v)),
        }
    }
}

/// `integer 42`, `string "x"`: the type and a short rendering of what was found.
fn describe(v: &Value) -> String {
    let shown = v.to_string();
    let shown = if shown.len() > 40 {
        format!("{}…", &shown[..40])
    } else {
        shown
    };
    format!("{} {shown}", v.type_str())
}
