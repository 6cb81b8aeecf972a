//! Codex's policy keys: `sandbox_mode` with `[sandbox_workspace_write]`, the legacy config
//! profiles (`profile = "NAME"`, `[profiles.NAME]`), and the `[permissions.NAME]` profiles
//! (`default_permissions`, `-P NAME`). Which of them applies, and in what precedence, is
//! decided in [`Cx::policy_from`].

use super::reader::Cx;
use super::source::COMMAND_LINE;
use super::LoadRequest;
use crate::error::CoreError;
use crate::glob::GLOB_META;
use crate::policy::{Access, Entry, NetworkPolicy, Policy, Preset, Special, Target};
use std::path::{Path, PathBuf};
use toml::{Table, Value};

/// Top-level keys of a Codex config that have nothing to do with the sandbox.
const IGNORED_TOP_LEVEL: &[&str] = &[
    "model",
    "model_provider",
    "model_providers",
    "model_reasoning_effort",
    "model_reasoning_summary",
    "model_verbosity",
    "model_context_window",
    "approval_policy",
    "profile",
    "profiles",
    "mcp_servers",
    "features",
    "notify",
    "history",
    "tui",
    "projects",
    "file_opener",
    "hide_agent_reasoning",
    "show_raw_agent_reasoning",
    "disable_response_storage",
    "preferred_auth_method",
    "tools",
    "experimental_network",
    "otel",
    "windows_wsl_setup_acknowledged",
];

impl Cx {
    /// The policy of the config's mode or profile, with the flags' mode or profile first;
    /// then the `[sandbox]` and network tables on top.
    pub(super) fn policy_from(
        &mut self,
        t: &Table,
        req: &LoadRequest,
    ) -> Result<Policy, CoreError> {
        for key in t.keys() {
            let known = matches!(
                key.as_str(),
                "sandbox_mode"
                    | "shell_environment_policy"
                    | "sandbox_workspace_write"
                    | "default_permissions"
                    | "permissions"
                    | "sandbox"
                    | "network_proxy"
            );
            if !known && !IGNORED_TOP_LEVEL.contains(&key.as_str()) {
                self.warn_unknown(key);
            }
        }
        // Sections this tool reads must have the right shape even when this run does not use
        // them, so a typo is found now rather than on the run that selects them.
        self.table(t, "sandbox_workspace_write", "sandbox_workspace_write")?;
        self.table(t, "profiles", "profiles")?;
        if let Some(perms) = self.table(t, "permissions", "permissions")? {
            for (name, v) in perms {
                if !matches!(v, Value::Table(_)) {
                    return Err(self.type_err(&format!("permissions.{name}"), "a table", v));
                }
            }
        }
        let config_mode = match self.config_profile_mode(t)? {
            Some(selected) => Some(selected),
            None => self
                .string(t, "sandbox_mode", "sandbox_mode")?
                .map(|m| ("sandbox_mode".to_string(), m)),
        };
        let default_permissions = self.string(t, "default_permissions", "default_permissions")?;

        // Flags beat the config; within the config the legacy `sandbox_mode` beats profiles.
        let cli_mode = if req.full_auto {
            Some(("--full-auto".to_string(), "workspace-write".to_string()))
        } else {
            req.sandbox_mode
                .clone()
                .map(|m| ("--sandbox".to_string(), m))
        };
        // A mode and a `[permissions]` profile do not compose (Codex applies the mode and
        // ignores the profile): refuse rather than drop the profile's rules without a word.
        if let Some(profile) = default_permissions.filter(|_| req.permissions_profile.is_none()) {
            let second = format!(
                "default_permissions = \"{profile}\" ({})",
                self.source("default_permissions")
            );
            let conflict = match (&cli_mode, &config_mode) {
                (Some((flag, mode)), _) => Some((
                    if flag == "--full-auto" {
                        flag.clone()
                    } else {
                        format!("{flag} {mode}")
                    },
                    format!(
                        "drop {flag} to run profile `{profile}`, or select a profile with -P NAME"
                    ),
                )),
                (None, Some((key, mode))) => Some((
                    format!("{key} = \"{mode}\" ({})", self.source(key)),
                    format!("remove one of the two keys, or select the profile with -P {profile}"),
                )),
                (None, None) => None,
            };
            if let Some((first, hint)) = conflict {
                return Err(CoreError::Conflict {
                    first,
                    second,
                    why: format!("the mode would replace profile `{profile}` and drop its rules"),
                    hint,
                });
            }
        }
        if let (Some(name), Some((key, mode))) = (&req.permissions_profile, &config_mode) {
            self.warnings.push(format!(
                "{}: `{key} = \"{mode}\"` is not applied: -P {name} selects a [permissions] profile",
                self.source(key)
            ));
        }
        let mut policy = if let Some((flag, mode)) = cli_mode {
            let preset = Preset::from_name(&mode).ok_or_else(|| CoreError::ConfigValue {
                file: "command line".into(),
                key: flag,
                reason: format!(
                    "unknown sandbox mode `{mode}`; expected read-only, workspace-write or danger-full-access"
                ),
            })?;
            self.legacy(t, preset)?
        } else if let Some(name) = &req.permissions_profile {
            self.profile(t, name, "--permissions")?
        } else if let Some((key, mode)) = config_mode {
            let preset = Preset::from_name(mode).ok_or_else(|| {
                self.value_err(
                    &key,
                    format!("unknown mode `{mode}`; expected read-only, workspace-write or danger-full-access"),
                )
            })?;
            self.legacy(t, preset)?
        } else if let Some(name) = default_permissions {
            self.profile(t, name, "default_permissions")?
        } else {
            Policy::preset(Preset::ReadOnly)
        };
        self.sandbox_table(t, &mut policy)?;
        self.proxy_unix_sockets(t, &mut policy)?;
        self.network_proxy(t)?;
        Ok(policy)
    }

    /// Codex's legacy config profiles: `profile = "NAME"` selects `[profiles.NAME]`, whose
    /// `sandbox_mode` wins over the top-level one, as in Codex. Gives that key's path and value.
    /// The other sandbox keys of a profile are not read, and each one warns.
    fn config_profile_mode<'t>(
        &mut self,
        t: &'t Table,
    ) -> Result<Option<(String, &'t str)>, CoreError> {
        let Some(name) = self.string(t, "profile", "profile")? else {
            return Ok(None);
        };
        let profiles = self.table(t, "profiles", "profiles")?;
        let Some(selected) = profiles.and_then(|ps| ps.get(name)) else {
            // Newer Codex keeps profiles in `$CODEX_HOME/NAME.config.toml` files, layered over
            // the config; this tool does not layer them, so it refuses rather than ignore one.
            let file = Path::new(&self.file).with_file_name(format!("{name}.config.toml"));
            let reason = if self.file != COMMAND_LINE && file.is_file() {
                format!(
                    "selects `{name}`, a profile file ({}) that this tool does not layer; \
                     pass it with --config, or its keys with -c",
                    file.display()
                )
            } else {
                format!("selects `{name}`, but there is no `[profiles.{name}]` table")
            };
            return Err(self.value_err("profile", reason));
        };
        let path = format!("profiles.{name}");
        let Value::Table(selected) = selected else {
            return Err(self.type_err(&path, "a table", selected));
        };
        for key in selected.keys() {
            if matches!(
                key.as_str(),
                "sandbox_workspace_write"
                    | "default_permissions"
                    | "permissions"
                    | "shell_environment_policy"
                    | "sandbox"
            ) {
                self.warnings.push(format!(
                    "{}: `{path}.{key}` is not applied (only `sandbox_mode` is read from a config profile); set `{key}` at the top level",
                    self.file
                ));
            }
        }
        let key = format!("{path}.sandbox_mode");
        Ok(self
            .string(selected, "sandbox_mode", &key)?
            .map(|m| (key, m)))
    }

    /// `sandbox_mode` plus `[sandbox_workspace_write]`.
    fn legacy(&mut self, t: &Table, preset: Preset) -> Result<Policy, CoreError> {
        let sww = self.table(t, "sandbox_workspace_write", "sandbox_workspace_write")?;
        let get_bool = |cx: &Cx, key: &str| -> Result<bool, CoreError> {
            match sww {
                Some(s) => Ok(cx
                    .boolean(s, key, &format!("sandbox_workspace_write.{key}"))?
                    .unwrap_or(false)),
                None => Ok(false),
            }
        };
        let exclude_tmpdir = get_bool(self, "exclude_tmpdir_env_var")?;
        let exclude_slash_tmp = get_bool(self, "exclude_slash_tmp")?;
        let network = get_bool(self, "network_access")?;
        let roots = match sww {
            Some(s) => self
                .string_list(
                    s,
                    "writable_roots",
                    "sandbox_workspace_write.writable_roots",
                )?
                .unwrap_or_default(),
            None => Vec::new(),
        };
        if let Some(s) = sww {
            for key in s.keys() {
                if !matches!(
                    key.as_str(),
                    "writable_roots"
                        | "network_access"
                        | "exclude_tmpdir_env_var"
                        | "exclude_slash_tmp"
                        | "allowlisted_domains"
                ) {
                    self.warn_unknown(&format!("sandbox_workspace_write.{key}"));
                }
            }
        }
        let mut policy = Policy::preset_with(preset, exclude_tmpdir, exclude_slash_tmp);
        if preset == Preset::WorkspaceWrite {
            for r in roots {
                let origin = format!("{}: sandbox_workspace_write.writable_roots", self.file);
                policy.add_writable_root(PathBuf::from(r), origin);
            }
            if network {
                policy.network = NetworkPolicy::Full;
            }
            if let Some(s) = sww {
                self.workspace_domains(s)?;
            }
        }
        Ok(policy)
    }

    /// A `[permissions.NAME]` profile, or one of the built-in names.
    fn profile(&mut self, t: &Table, name: &str, from: &str) -> Result<Policy, CoreError> {
        if name.starts_with(':') {
            return match Preset::from_name(name) {
                Some(p) => Ok(Policy::preset(p)),
                None => Err(self.value_err(
                    from,
                    format!("unknown built-in profile `{name}`; expected :read-only, :workspace or :danger-full-access"),
                )),
            };
        }
        let key = format!("permissions.{name}");
        let profile = self
            .table(t, "permissions", "permissions")?
            .and_then(|p| p.get(name))
            .ok_or_else(|| {
                let why = if self.file == COMMAND_LINE {
                    "; no config file was read (pass --config FILE, or see `sandbox linux -v`)"
                } else {
                    ""
                };
                self.value_err(
                    &key,
                    format!("no profile `{name}` is defined (from {from}){why}"),
                )
            })?;
        let Value::Table(profile) = profile else {
            return Err(self.type_err(&key, "a table", profile));
        };
        let mut policy = Policy::preset(Preset::ReadOnly);
        policy.preset = None;
        policy.profile = Some(name.to_string());
        policy.entries.clear();

        for k in profile.keys() {
            if k != "filesystem" && k != "network" {
                self.warn_unknown(&format!("{key}.{k}"));
            }
        }
        if let Some(fs) = self.table(profile, "filesystem", &format!("{key}.filesystem"))? {
            self.filesystem(fs, &format!("{key}.filesystem"), &mut policy)?;
        }
        if let Some(net) = self.table(profile, "network", &format!("{key}.network"))? {
            let nk = format!("{key}.network");
            if self.boolean(net, "enabled", &format!("{nk}.enabled"))? == Some(true) {
                policy.network = NetworkPolicy::Full;
            }
            if let Some(v) = net.get("unix_sockets") {
                policy.unix_sockets = self.unix_sockets(v, &format!("{nk}.unix_sockets"))?;
            }
            self.profile_domains(net, &nk)?;
            for k in net.keys() {
                if k != "enabled" && k != "unix_sockets" && k != "domains" {
                    self.warn_unknown(&format!("{nk}.{k}"));
                }
            }
        }
        Ok(policy)
    }

    /// `[permissions.NAME.filesystem]`: `"PATH-or-special" = ACCESS` or `= { SUBPATH = ACCESS }`.
    fn filesystem(&mut self, fs: &Table, key: &str, policy: &mut Policy) -> Result<(), CoreError> {
        for (k, v) in fs {
            let kpath = format!("{key}.\"{k}\"");
            if k == "glob_scan_max_depth" {
                match v {
                    Value::Integer(n) if *n >= 0 => policy.glob_scan_max_depth = Some(*n as usize),
                    other => return Err(self.type_err(&kpath, "a non-negative integer", other)),
                }
                continue;
            }
            let origin = format!("{}: {kpath}", self.file);
            let special = if k.starts_with(':') {
                match Special::from_name(k) {
                    Some(s) => Some(s),
                    None => {
                        self.warnings.push(format!(
                            "{}: unknown special path `{k}` ignored (from a newer version?)",
                            self.file
                        ));
                        continue;
                    }
                }
            } else {
                None
            };
            match v {
                Value::String(_) => {
                    let access = self.access(v, &kpath)?;
                    let target = match special {
                        Some(s) => Target::Special(s),
                        None if k.contains(GLOB_META) => Target::Glob(k.clone()),
                        None => Target::Path(PathBuf::from(k)),
                    };
                    policy.entries.push(Entry::new(target, access, origin));
                }
                Value::Table(sub) => {
                    // Only `:project_roots`/`:cwd` take subpaths.
                    if !matches!(special, Some(Special::Cwd { .. })) {
                        return Err(self.type_err(
                            &kpath,
                            "an access string (\"read\", \"write\" or \"none\")",
                            v,
                        ));
                    }
                    for (sk, sv) in sub {
                        let skpath = format!("{kpath}.\"{sk}\"");
                        let access = self.access(sv, &skpath)?;
                        let origin = format!("{}: {skpath}", self.file);
                        // `../../etc` (or `../**`) would leave the project.
                        if sk.split(['/', '\\']).any(|c| c == "..") {
                            return Err(self.value_err(
                                &skpath,
                                "a subpath of `:project_roots` must not contain `..`",
                            ));
                        }
                        let target = if sk.contains(GLOB_META) {
                            Target::Glob(sk.clone())
                        } else if sk == "." || sk.is_empty() {
                            Target::Special(Special::Cwd { subpath: None })
                        } else if sk.starts_with('/') {
                            return Err(self.value_err(
                                &skpath,
                                "a subpath of `:project_roots` must be relative",
                            ));
                        } else {
                            Target::Special(Special::Cwd {
                                subpath: Some(PathBuf::from(sk)),
                            })
                        };
                        policy.entries.push(Entry::new(target, access, origin));
                    }
                }
                other => {
                    return Err(self.type_err(
                        &kpath,
                        "an access string (\"read\", \"write\" or \"none\") or a table",
                        other,
                    ))
                }
            }
        }
        Ok(())
    }

    fn access(&self, v: &Value, key: &str) -> Result<Access, CoreError> {
        match v {
            Value::String(s) => Access::from_name(s).ok_or_else(|| {
                self.value_err(
                    key,
                    format!("unknown access `{s}`; expected \"read\", \"write\" or \"none\""),
                )
            }),
            other => Err(self.type_err(
                key,
                "an access string (\"read\", \"write\" or \"none\")",
                other,
            )),
        }
    }
}
