//! A minimal reader of git's config format, just enough to list the settings that make git
//! run a program (`core.fsmonitor`, `core.hooksPath`, filters, `include`s, `!` aliases, …).
//!
//! It never runs git: the post-run check ([`crate::git_audit`]) reads configs the sandboxed
//! command may have written, and running git on them would execute what they plant. The parser
//! errs on the side of reporting: a line it cannot make sense of is itself reported as a
//! setting (key `(unparsed line N)`), since git may read it differently.

/// One `section.subsection.name = value` setting. `section` and `name` are lowercased (git
/// treats them case-insensitively); the subsection keeps its case.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub struct Setting {
    /// `core.fsmonitor`, `filter.lfs.smudge`, `includeif.gitdir:/x/.path`.
    pub key: String,
    pub value: String,
}

/// Largest config file looked at; a bigger one is reported as unparsed, never read whole.
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// Parses config text into settings, in file order.
pub fn parse(text: &str) -> Vec<Setting> {
    let mut out = Vec::new();
    let mut section = String::new();
    let mut lines = text.lines().enumerate().peekable();
    while let Some((n, raw)) = lines.next() {
        let mut line = raw.to_string();
        // A value may continue on the next line after a trailing backslash.
        while line.ends_with('\\') && !line.ends_with("\\\\") {
            line.pop();
            match lines.next() {
                Some((_, more)) => line.push_str(more),
                None => break,
            }
        }
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        let rest = if t.starts_with('[') {
            match parse_header(t) {
                Some((name, rest)) => {
                    section = name;
                    rest
                }
                None => {
                    out.push(unparsed(n, t));
                    continue;
                }
            }
        } else {
            t.to_string()
        };
        let rest = rest.trim();
        if rest.is_empty() || rest.starts_with('#') || rest.starts_with(';') {
            continue;
        }
        match parse_entry(rest) {
            Some((name, value)) if !section.is_empty() => out.push(Setting {
                key: format!("{section}.{name}"),
                value,
            }),
            _ => out.push(unparsed(n, t)),
        }
    }
    out
}

fn unparsed(n: usize, line: &str) -> Setting {
    Setting {
        key: format!("(unparsed line {})", n + 1),
        value: line.chars().take(120).collect(),
    }
}

/// `[core]`, `[remote "origin"]`, `[branch.main]`; gives the section name and what follows `]`.
fn parse_header(t: &str) -> Option<(String, String)> {
    let inner = &t[1..];
    if let Some(q) = inner.find('"') {
        let name = inner[..q].trim();
        if name.is_empty() || !valid_name(name) {
            return None;
        }
        let mut sub = String::new();
        let mut chars = inner[q + 1..].char_indices();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, e)) = chars.next() {
                        sub.push(e);
                    }
                }
                '"' => {
                    end = Some(q + 1 + i + 1);
                    break;
                }
                c => sub.push(c),
            }
        }
        let after = inner[end?..].trim_start();
        let after = after.strip_prefix(']')?;
        Some((
            format!("{}.{sub}", name.to_ascii_lowercase()),
            after.to_string(),
        ))
    } else {
        let close = inner.find(']')?;
        let name = inner[..close].trim();
        // `[branch.main]`: the deprecated dotted form; git lowercases it all.
        if name.is_empty() || !name.split('.').all(valid_name) {
            return None;
        }
        Some((name.to_ascii_lowercase(), inner[close + 1..].to_string()))
    }
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
}

/// `name = value` or a bare `name` (boolean true).
fn parse_entry(t: &str) -> Option<(String, String)> {
    let (name, value) = match t.find('=') {
        Some(eq) => (t[..eq].trim(), Some(t[eq + 1..].trim())),
        None => (t.trim(), None),
    };
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return None;
    }
    let value = match value {
        Some(v) => unquote(v),
        None => "true".to_string(),
    };
    Some((name.to_ascii_lowercase(), value))
}

/// Removes quotes, resolves escapes and drops a trailing comment.
fn unquote(v: &str) -> String {
    let mut out = String::new();
    let mut quoted = false;
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => quoted = !quoted,
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(o) => out.push(o),
                None => {}
            },
            '#' | ';' if !quoted => break,
            c => out.push(c),
        }
    }
    out.trim().to_string()
}

/// Whether a setting makes git run a program, load more config, or use other hooks: the
/// settings a planted config would use to run code when the user next runs git.
pub fn is_exec_setting(s: &Setting) -> bool {
    let key = s.key.as_str();
    if key.starts_with("(unparsed") {
        return true;
    }
    let (section, rest) = key.split_once('.').unwrap_or((key, ""));
    let name = rest.rsplit('.').next().unwrap_or(rest);
    let has_sub = rest.contains('.');
    match section {
        "core" => matches!(
            name,
            "fsmonitor"
                | "hookspath"
                | "sshcommand"
                | "editor"
                | "pager"
                | "askpass"
                | "gitproxy"
                | "alternaterefscommand"
        ),
        "include" => name == "path",
        "includeif" => name == "path",
        "alias" => s.value.trim_start().starts_with('!'),
        "filter" => matches!(name, "clean" | "smudge" | "process"),
        "diff" => (has_sub && matches!(name, "command" | "textconv")) || name == "external",
        "merge" => has_sub && name == "driver",
        "difftool" | "mergetool" => name == "cmd" || name == "path",
        "sequence" => name == "editor",
        "pager" => true,
        "gpg" => name == "program",
        "credential" => name == "helper",
        "uploadpack" => name == "packobjectshook",
        "remote" => matches!(name, "uploadpack" | "receivepack" | "proxy" | "vcs"),
        "submodule" => name == "update" && s.value.trim_start().starts_with('!'),
        // `protocol.ext.allow` turns on the `ext::` transport, which runs a command.
        "protocol" => name == "allow" && s.value != "never",
        "init" => name == "templatedir",
        "web" => name == "browser",
        "browser" | "man" => name == "cmd" || name == "path",
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(text: &str) -> Vec<String> {
        parse(text)
            .into_iter()
            .filter(is_exec_setting)
            .map(|s| format!("{}={}", s.key, s.value))
            .collect()
    }

    #[test]
    fn finds_exec_settings_in_usual_spellings() {
        let text = "[core]\n\trepositoryformatversion = 0\n\tbare = false\n\tFsMonitor = \"touch /tmp/x\" # c\n[CORE]\nhooksPath=/h\n[alias]\n\tst = status\n\tx = !sh -c y\n[filter \"lfs\"]\n\tsmudge = git-lfs smudge %f\n[includeIf \"gitdir:/a/\"]\n\tpath = /p\n[include]\npath = q\n[diff \"bin\"]\ntextconv = hexdump\n";
        assert_eq!(
            keys(text),
            [
                "core.fsmonitor=touch /tmp/x",
                "core.hookspath=/h",
                "alias.x=!sh -c y",
                "filter.lfs.smudge=git-lfs smudge %f",
                "includeif.gitdir:/a/.path=/p",
                "include.path=q",
                "diff.bin.textconv=hexdump",
            ]
        );
    }

    #[test]
    fn a_default_config_has_none() {
        let text = "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n\tlogallrefupdates = true\n[remote \"origin\"]\n\turl = /x\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n[branch \"main\"]\n\tremote = origin\n\tmerge = refs/heads/main\n[submodule \"sub\"]\n\turl = /y\n\tactive = true\n";
        assert!(keys(text).is_empty(), "{:?}", keys(text));
    }

    #[test]
    fn odd_lines_are_reported_not_skipped() {
        assert_eq!(keys("[core\nfsmonitor = x\n").len(), 2);
        assert_eq!(keys("fsmonitor = x\n"), ["(unparsed line 1)=fsmonitor = x"]);
        // A header and an entry on one line, and a continued value.
        assert_eq!(keys("[core] pager = a\\\nb\n"), ["core.pager=ab"]);
        assert_eq!(keys("[core]\nfsmonitor\n"), ["core.fsmonitor=true"]);
    }
}
