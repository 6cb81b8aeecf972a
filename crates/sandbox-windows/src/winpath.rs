//! Path spelling for what the child sees. The policy's paths are canonical, which on Windows
//! means verbatim (`\\?\C:\…`, from `std::fs::canonicalize`). `CreateProcess` accepts those,
//! but cmd.exe cannot run a batch file named that way and refuses such a current directory
//! ("UNC paths are not supported", falling back to the Windows directory), and programs show
//! them in `argv[0]`. So the launcher hands the child the plain spelling where it names the
//! same file: under `MAX_PATH`, no component that Win32 path normalization would change
//! (trailing dot or space, a DOS device name such as `NUL` or `COM1`). Otherwise the verbatim
//! spelling stays.

const MAX_PATH: usize = 260;

fn is_device_name(component: &str) -> bool {
    let stem = component
        .split('.')
        .next()
        .unwrap_or("")
        .trim_end()
        .to_ascii_uppercase();
    matches!(
        stem.as_str(),
        "CON" | "PRN" | "AUX" | "NUL" | "CONIN$" | "CONOUT$"
    ) || ((stem.starts_with("COM") || stem.starts_with("LPT"))
        && stem.len() == 4
        && stem.as_bytes()[3].is_ascii_digit()
        && stem.as_bytes()[3] != b'0')
}

/// The plain spelling of a verbatim path, when it names the same file; else `path` unchanged.
pub fn plain(path: &str) -> String {
    let (plain, rest) = if let Some(rest) = path.strip_prefix(r"\\?\UNC\") {
        (format!(r"\\{rest}"), rest)
    } else if let Some(rest) = path.strip_prefix(r"\\?\") {
        let b = rest.as_bytes();
        if !(b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && b[2] == b'\\') {
            return path.to_string();
        }
        (rest.to_string(), &rest[3..])
    } else {
        return path.to_string();
    };
    // A trailing dot or space (which includes `.` and `..`) or a device name.
    let odd = rest
        .split('\\')
        .any(|c| c.ends_with(['.', ' ']) || is_device_name(c));
    if odd || plain.len() >= MAX_PATH || rest.contains('/') {
        path.to_string()
    } else {
        plain
    }
}

#[cfg(test)]
mod tests {
    use super::plain;

    #[test]
    fn verbatim_drive_and_unc_paths_lose_the_prefix() {
        assert_eq!(plain(r"\\?\C:\ws\t.cmd"), r"C:\ws\t.cmd");
        assert_eq!(plain(r"\\?\UNC\srv\share\x"), r"\\srv\share\x");
        assert_eq!(plain(r"C:\already\plain"), r"C:\already\plain");
        assert_eq!(plain(r"\\?\C:\"), r"C:\");
    }

    #[test]
    fn paths_win32_would_rewrite_stay_verbatim() {
        for p in [
            r"\\?\C:\ws\dir.\x",
            r"\\?\C:\ws\dir \x",
            r"\\?\C:\ws\nul",
            r"\\?\C:\ws\COM1.txt",
            r"\\?\C:\ws\..\x",
            r"\\?\Volume{1234}\x",
        ] {
            assert_eq!(plain(p), p);
        }
        let long = format!(r"\\?\C:\{}", "a".repeat(300));
        assert_eq!(plain(&long), long);
        assert_eq!(plain(r"\\?\C:\ws\COM0\x"), r"C:\ws\COM0\x");
        assert_eq!(plain(r"\\?\C:\ws\console\x"), r"C:\ws\console\x");
    }
}
