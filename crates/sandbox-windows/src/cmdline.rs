//! Command lines for `CreateProcess*`, which takes one string that the child splits again.
//!
//! - A program's arguments are quoted by the rules of `CommandLineToArgvW` and the Microsoft C
//!   runtime: an argument is wrapped in quotes when empty or holding whitespace or a quote;
//!   backslashes are doubled only before a quote (or the closing quote); quotes are escaped.
//! - A batch file (`.cmd`, `.bat`) runs as `cmd.exe /d /s /c ""SCRIPT" "ARG"…"`: `/d` skips the
//!   AutoRun commands, `/s` strips exactly the outer quotes. cmd.exe expands `%VAR%` (and
//!   `!VAR!` when delayed expansion is on by registry) even inside quotes, and a quote would end
//!   the quoting, so an argument holding `"`, `%`, `!`, a line break or a NUL is refused rather
//!   than passed on altered.
//!
//! Everything works on UTF-16 units so it is tested on every OS.

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum CmdlineError {
    #[error("argument {index} (`{arg}`) cannot be passed to a batch file: cmd.exe would interpret its `{ch}`")]
    BatchArg { index: usize, arg: String, ch: char },
    #[error("argument {index} holds a NUL character, which a Windows command line cannot carry")]
    Nul { index: usize },
    #[error("program path `{0}` holds a quote or NUL, which Windows file names cannot")]
    Program(String),
}

const QUOTE: u16 = b'"' as u16;
const BACKSLASH: u16 = b'\\' as u16;
const SPACE: u16 = b' ' as u16;

fn needs_quotes(arg: &[u16]) -> bool {
    arg.is_empty()
        || arg
            .iter()
            .any(|&u| matches!(u, 0x20 | 0x09 | 0x0A | 0x0B) || u == QUOTE)
}

/// Appends `arg` to `out`, quoted for `CommandLineToArgvW`.
pub fn append_arg(out: &mut Vec<u16>, arg: &[u16]) {
    if !needs_quotes(arg) {
        out.extend_from_slice(arg);
        return;
    }
    out.push(QUOTE);
    let mut backslashes = 0usize;
    for &u in arg {
        if u == BACKSLASH {
            backslashes += 1;
            continue;
        }
        if u == QUOTE {
            // 2n+1 backslashes, then the quote: n literal backslashes and a literal quote.
            out.extend(std::iter::repeat_n(BACKSLASH, backslashes * 2 + 1));
        } else {
            out.extend(std::iter::repeat_n(BACKSLASH, backslashes));
        }
        backslashes = 0;
        out.push(u);
    }
    // Before the closing quote, backslashes are doubled so it stays a quote.
    out.extend(std::iter::repeat_n(BACKSLASH, backslashes * 2));
    out.push(QUOTE);
}

fn check_program(program: &[u16]) -> Result<(), CmdlineError> {
    if program.contains(&QUOTE) || program.contains(&0) {
        return Err(CmdlineError::Program(String::from_utf16_lossy(program)));
    }
    Ok(())
}

/// `"PROGRAM" ARG…` for an executable. The program (already resolved to a full path and passed
/// as `lpApplicationName` too) is always quoted: it holds no quote, so no escaping is needed.
pub fn command_line(program: &[u16], args: &[Vec<u16>]) -> Result<Vec<u16>, CmdlineError> {
    check_program(program)?;
    let mut out = vec![QUOTE];
    out.extend_from_slice(program);
    out.push(QUOTE);
    for (i, a) in args.iter().enumerate() {
        if a.contains(&0) {
            return Err(CmdlineError::Nul { index: i + 1 });
        }
        out.push(SPACE);
        append_arg(&mut out, a);
    }
    out.push(0);
    Ok(out)
}

/// `"CMD.EXE" /d /s /c ""SCRIPT" "ARG"…"` for a batch file (NUL-terminated).
pub fn batch_command_line(
    cmd_exe: &[u16],
    script: &[u16],
    args: &[Vec<u16>],
) -> Result<Vec<u16>, CmdlineError> {
    check_program(cmd_exe)?;
    check_program(script)?;
    for ch in ['%', '!'] {
        if script.contains(&(ch as u16)) {
            return Err(CmdlineError::Program(String::from_utf16_lossy(script)));
        }
    }
    let mut out = vec![QUOTE];
    out.extend_from_slice(cmd_exe);
    out.extend("\" /d /s /c \"\"".encode_utf16());
    out.extend_from_slice(script);
    out.push(QUOTE);
    for (i, a) in args.iter().enumerate() {
        let bad = a.iter().find_map(|&u| match u {
            0 => Some('\0'),
            _ => {
                char::from_u32(u32::from(u)).filter(|c| matches!(c, '"' | '%' | '!' | '\r' | '\n'))
            }
        });
        match bad {
            Some('\0') => return Err(CmdlineError::Nul { index: i + 1 }),
            Some(ch) => {
                return Err(CmdlineError::BatchArg {
                    index: i + 1,
                    arg: String::from_utf16_lossy(a),
                    ch,
                })
            }
            None => {}
        }
        out.push(SPACE);
        out.push(QUOTE);
        out.extend_from_slice(a);
        out.push(QUOTE);
    }
    out.push(QUOTE);
    out.push(0);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<u16> {
        s.encode_utf16().collect()
    }

    fn s(v: &[u16]) -> String {
        String::from_utf16(v.strip_suffix(&[0]).unwrap_or(v)).unwrap()
    }

    fn quoted(arg: &str) -> String {
        let mut out = Vec::new();
        append_arg(&mut out, &w(arg));
        s(&out)
    }

    /// `CommandLineToArgvW`'s splitting of arguments after the program name (the MSVCRT 2008
    /// rules), to check the quoting round-trips.
    fn split(line: &str) -> Vec<String> {
        let mut args = Vec::new();
        let mut chars = line.chars().peekable();
        loop {
            while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
                chars.next();
            }
            if chars.peek().is_none() {
                return args;
            }
            let mut arg = String::new();
            let mut in_quotes = false;
            while let Some(&c) = chars.peek() {
                if !in_quotes && (c == ' ' || c == '\t') {
                    break;
                }
                chars.next();
                if c == '\\' {
                    let mut n = 1;
                    while chars.peek() == Some(&'\\') {
                        chars.next();
                        n += 1;
                    }
                    if chars.peek() == Some(&'"') {
                        arg.extend(std::iter::repeat_n('\\', n / 2));
                        if n % 2 == 1 {
                            arg.push('"');
                            chars.next();
                        }
                    } else {
                        arg.extend(std::iter::repeat_n('\\', n));
                    }
                } else if c == '"' {
                    if in_quotes && chars.peek() == Some(&'"') {
                        arg.push('"');
                        chars.next();
                    } else {
                        in_quotes = !in_quotes;
                    }
                } else {
                    arg.push(c);
                }
            }
            args.push(arg);
        }
    }

    #[test]
    fn plain_args_stay_bare_and_others_are_quoted() {
        assert_eq!(quoted("abc"), "abc");
        assert_eq!(quoted(""), "\"\"");
        assert_eq!(quoted("a b"), "\"a b\"");
        assert_eq!(quoted("a\"b"), "\"a\\\"b\"");
        assert_eq!(quoted("C:\\dir\\"), "C:\\dir\\");
        assert_eq!(quoted("C:\\my dir\\"), "\"C:\\my dir\\\\\"");
        assert_eq!(quoted("\\\\\"x"), "\"\\\\\\\\\\\"x\"");
    }

    #[test]
    fn quoting_round_trips_through_the_crt_splitter() {
        let cases = [
            "",
            " ",
            "a",
            "a b",
            "\"",
            "\\",
            "\\\"",
            "a\\\\b",
            "tab\there",
            "end\\",
            "x\\\\\"y\"",
            "new\nline",
            "ü ñ",
            "\"\"",
            "a\\ b\\",
        ];
        for case in cases {
            let line = command_line(&w("C:\\p.exe"), &[w(case), w("z")]).unwrap();
            let line = s(&line);
            let rest = line.strip_prefix("\"C:\\p.exe\"").unwrap();
            assert_eq!(
                split(rest),
                vec![case.to_string(), "z".to_string()],
                "{line}"
            );
        }
    }

    #[test]
    fn program_is_quoted_and_checked() {
        let line = command_line(&w("C:\\Program Files\\x.exe"), &[]).unwrap();
        assert_eq!(s(&line), "\"C:\\Program Files\\x.exe\"");
        assert!(command_line(&w("a\"b"), &[]).is_err());
        assert_eq!(
            command_line(&w("x"), &[w("a"), w("b\0")]).unwrap_err(),
            CmdlineError::Nul { index: 2 }
        );
    }

    #[test]
    fn batch_files_go_through_cmd_with_every_arg_quoted() {
        let line = batch_command_line(
            &w("C:\\Windows\\System32\\cmd.exe"),
            &w("C:\\tools\\npm.cmd"),
            &[w("run"), w("a&b|c>d"), w("")],
        )
        .unwrap();
        assert_eq!(
            s(&line),
            "\"C:\\Windows\\System32\\cmd.exe\" /d /s /c \"\"C:\\tools\\npm.cmd\" \"run\" \"a&b|c>d\" \"\"\""
        );
    }

    #[test]
    fn batch_args_cmd_would_rewrite_are_refused() {
        for (arg, ch) in [("%PATH%", '%'), ("a\"b", '"'), ("!x!", '!'), ("a\nb", '\n')] {
            let e = batch_command_line(&w("cmd.exe"), &w("x.bat"), &[w("ok"), w(arg)]).unwrap_err();
            assert_eq!(
                e,
                CmdlineError::BatchArg {
                    index: 2,
                    arg: arg.into(),
                    ch
                },
                "{arg}"
            );
        }
        assert!(batch_command_line(&w("cmd.exe"), &w("100%.bat"), &[]).is_err());
    }
}
