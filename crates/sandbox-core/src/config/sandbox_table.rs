//! Our own `[sandbox]` table: protected names, unix sockets, scan depths, git mode, network
//! mode, and the toolchain and home-directory presets.

use super::reader::Cx;
use crate::error::CoreError;
use crate::policy::Policy;
use toml::{Table, Value};

impl Cx {
    /// Our own `[sandbox]` table: `protected_names`, `unix_sockets`, `glob_scan_max_depth`.
    pub(super) fn sandbox_table(
        &mut self,
        t: &Table,
        policy: &mut Policy,
    ) -> Result<(), CoreError> {
        let Some(s) = self.table(t, "sandbox", "sandbox")? else {
            return Ok(());
        };
        if let Some(names) = self.string_list(s, "protected_names", "sandbox.protected_names")? {
            for (i, n) in names.iter().enumerate() {
                if n.is_empty() || n.contains('/') || n == "." || n == ".." {
                    return Err(self.value_err(
                        &format!("sandbox.protected_names[{i}]"),
                        format!("`{n}` must be a single file name"),
                    ));
                }
            }
            policy.protected_names = names;
        }
        if let Some(v) = s.get("unix_sockets") {
            policy.unix_sockets = self.unix_sockets(v, "sandbox.unix_sockets")?;
        }
        self.sandbox_network(s, policy)?;
        self.toolchain_keys(s, policy)?;
        match s.get("glob_scan_max_depth") {
            None => {}
            Some(Value::Integer(n)) if *n >= 0 => policy.glob_scan_max_depth = Some(*n as usize),
            Some(other) => {
                return Err(self.type_err(
                    "sandbox.glob_scan_max_depth",
                    "a non-negative integer",
                    other,
                ))
            }
        }
        match s.get("git") {
            None => {}
            Some(Value::String(v)) => {
                policy.git.mode = crate::git::GitMode::from_name(v).ok_or_else(|| {
                    self.value_err(
                        "sandbox.git",
                        format!("`{v}` is not a git mode: expected \"read-only\" or \"commit\""),
                    )
                })?
            }
            Some(other) => {
                return Err(self.type_err("sandbox.git", "\"read-only\" or \"commit\"", other))
            }
        }
        match s.get("git_scan_max_depth") {
            None => {}
            Some(Value::Integer(n)) if *n >= 0 => policy.git.scan_max_depth = Some(*n as usize),
            Some(other) => {
                return Err(self.type_err(
                    "sandbox.git_scan_max_depth",
                    "a non-negative integer",
                    other,
                ))
            }
        }
        for k in s.keys() {
            if !matches!(
                k.as_str(),
                "protected_names"
                    | "unix_sockets"
                    | "glob_scan_max_depth"
                    | "git"
                    | "git_scan_max_depth"
                    | "network"
                    | "protected_home_files"
                    | "deny_credentials"
                    | "caches"
            ) {
                self.warn_unknown(&format!("sandbox.{k}"));
            }
        }
        Ok(())
    }

    /// `[sandbox] protected_home_files`, `deny_credentials` and `caches` (the toolchain and
    /// home-directory presets of `home_files`, `credentials` and `caches`).
    fn toolchain_keys(&mut self, s: &Table, policy: &mut Policy) -> Result<(), CoreError> {
        const PHF: &str = "sandbox.protected_home_files";
        if let Some(files) = self.string_list(s, "protected_home_files", PHF)? {
            for (i, f) in files.iter().enumerate() {
                crate::home_files::check_entry(f)
                    .map_err(|why| self.value_err(&format!("{PHF}[{i}]"), why))?;
            }
            policy.protected_home_files = files;
        }
        if let Some(b) = self.boolean(s, "deny_credentials", "sandbox.deny_credentials")? {
            self.deny_credentials = b;
        }
        self.caches = match s.get("caches") {
            None | Some(Value::Boolean(false)) => crate::caches::Selection::None,
            Some(Value::Boolean(true)) => crate::caches::Selection::All,
            Some(Value::Array(_)) => crate::caches::Selection::Tools(
                self.string_list(s, "caches", "sandbox.caches")?
                    .unwrap_or_default(),
            ),
            Some(other) => {
                return Err(self.type_err(
                    "sandbox.caches",
                    "true, false or an array of tool names",
                    other,
                ))
            }
        };
        Ok(())
    }
}
