//! `[shell_environment_policy]`: which environment the command is given (Codex's keys).

use super::reader::Cx;
use crate::env::{EnvPolicy, Inherit};
use crate::error::CoreError;
use toml::{Table, Value};

impl Cx {
    /// `[shell_environment_policy]`, Codex's keys; absent means the environment passes unchanged.
    pub(super) fn env_from(&mut self, t: &Table) -> Result<EnvPolicy, CoreError> {
        const KEY: &str = "shell_environment_policy";
        let mut env = EnvPolicy::default();
        let Some(sp) = self.table(t, KEY, KEY)? else {
            return Ok(env);
        };
        for key in sp.keys() {
            match key.as_str() {
                "inherit" | "ignore_default_excludes" | "exclude" | "set" | "include_only" => {}
                "experimental_use_profile" => self.warnings.push(format!(
                    "{}: `{KEY}.{key}` ignored: commands are not run through a shell profile",
                    self.file
                )),
                _ => self.warn_unknown(&format!("{KEY}.{key}")),
            }
        }
        if let Some(name) = self.string(sp, "inherit", &format!("{KEY}.inherit"))? {
            env.inherit = Inherit::from_name(name).ok_or_else(|| {
                self.value_err(
                    &format!("{KEY}.inherit"),
                    format!("unknown value `{name}`; expected \"all\", \"core\" or \"none\""),
                )
            })?;
        }
        let ignore = format!("{KEY}.ignore_default_excludes");
        if let Some(b) = self.boolean(sp, "ignore_default_excludes", &ignore)? {
            env.ignore_default_excludes = b;
        }
        if let Some(v) = self.string_list(sp, "exclude", &format!("{KEY}.exclude"))? {
            env.exclude = v;
        }
        if let Some(v) = self.string_list(sp, "include_only", &format!("{KEY}.include_only"))? {
            env.include_only = v;
        }
        if let Some(set) = self.table(sp, "set", &format!("{KEY}.set"))? {
            for (name, value) in set {
                let path = format!("{KEY}.set.{name}");
                let Value::String(value) = value else {
                    return Err(self.type_err(&path, "a string", value));
                };
                if name.is_empty() || name.contains('=') || name.contains('\0') {
                    return Err(self.value_err(&path, "not a valid variable name"));
                }
                if value.contains('\0') {
                    return Err(self.value_err(&path, "a value cannot contain a NUL byte"));
                }
                env.set.insert(name.clone(), value.clone());
            }
        }
        Ok(env)
    }
}
