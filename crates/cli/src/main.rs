//! `sandbox`: run a command under the operating system's own sandbox.
//!
//! This crate only parses arguments and maps results to messages and exit codes; the policy
//! logic lives in `sandbox-core` and the backends in `sandbox-linux`, `-macos`, `-windows`.

mod args;
mod cli_form;
mod connect;
mod doctor;
#[cfg(target_os = "linux")]
mod egress;
mod exit;
mod explain;
#[cfg(target_os = "linux")]
mod git_check;
mod linux;
mod macos;
mod windows;

use args::{Backend, Format, PolicyArgs};
use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "sandbox",
    version,
    about = "Run a command under the OS kernel's sandbox (Landlock/seccomp/bubblewrap, Seatbelt, AppContainer)"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

/// The command to run, after `--`.
#[derive(clap::Args, Debug)]
pub struct CommandArgs {
    /// The command and its arguments.
    ///
    /// A word starting with `-` before the command is an option of `sandbox` (an unknown one
    /// is a usage error, exit 125), never the command: put the command after `--`.
    #[arg(trailing_var_arg = true, required = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

#[derive(clap::Args, Debug)]
pub struct LinuxArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Which Linux mechanism enforces the policy.
    #[arg(long, value_enum, default_value_t = Backend::Auto)]
    pub backend: Backend,
    /// Explain the backend choice on stderr.
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// Network proxy mode: write each refused request to FILE as a JSON line.
    #[arg(long = "denials-json", value_name = "FILE")]
    pub denials_json: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub cmd: CommandArgs,
}

#[derive(clap::Args, Debug)]
pub struct MacosArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Collect sandbox violations (via `log stream`) and print them after the command exits.
    #[arg(long)]
    pub log_denials: bool,
    /// Network proxy mode: write each refused request to FILE as a JSON line.
    #[arg(long = "denials-json", value_name = "FILE")]
    pub denials_json: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub cmd: CommandArgs,
}

#[derive(clap::Args, Debug)]
pub struct WindowsArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[command(flatten)]
    pub cmd: CommandArgs,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProfileOs {
    Linux,
    Macos,
    Windows,
}

#[derive(clap::Args, Debug)]
pub struct ProfileArgs {
    /// The OS to build the profile for (any OS can be printed on any host).
    #[arg(value_enum)]
    pub os: ProfileOs,
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Linux only: which backend's plan to print.
    #[arg(long, value_enum, default_value_t = Backend::Auto)]
    pub backend: Backend,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// macOS only: check the profile against the policy oracle on generated paths.
    #[arg(long)]
    pub verify: bool,
}

#[derive(clap::Args, Debug)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// The operation to ask about.
    #[arg(long, value_enum, default_value_t = explain::OpArg::Read)]
    pub op: explain::OpArg,
    /// Print a JSON array instead of one line per path.
    #[arg(long)]
    pub json: bool,
    /// Paths to decide (relative paths are taken from the policy's working directory).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<std::path::PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct DoctorArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Exit 1 unless this capability key is true (repeatable), e.g. `filesystem.write_restrict`.
    #[arg(long = "require", value_name = "CAPABILITY")]
    pub require: Vec<String>,
}

#[derive(Subcommand, Debug)]
pub enum DebugCmd {
    /// Same as `sandbox linux`.
    Landlock(LinuxArgs),
    /// Same as `sandbox macos`.
    Seatbelt(MacosArgs),
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run a command under the Linux sandbox (bubblewrap or Landlock, plus seccomp).
    #[command(visible_alias = "landlock")]
    Linux(LinuxArgs),
    /// Run a command under macOS Seatbelt (`/usr/bin/sandbox-exec`).
    #[command(visible_alias = "seatbelt")]
    Macos(MacosArgs),
    /// Run a command under the Windows sandbox.
    Windows(WindowsArgs),
    /// Run a command under this OS's native sandbox.
    Run(LinuxArgs),
    /// Print the profile a backend would enforce, without running anything.
    Profile(ProfileArgs),
    /// Say whether the policy allows an operation on each path, and which rule decided.
    Explain(ExplainArgs),
    /// Report what this host can enforce.
    Doctor(DoctorArgs),
    /// Inside a sandbox in proxy mode: relay stdin/stdout to HOST:PORT through the egress
    /// proxy (an ssh ProxyCommand: `ssh -o ProxyCommand='sandbox connect %h %p'`).
    Connect(connect::ConnectArgs),
    /// Legacy spellings (`debug landlock`, `debug seatbelt`).
    #[command(subcommand)]
    Debug(DebugCmd),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse_from(cli_form::normalize(std::env::args_os())) {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if let Some(code) = cli_form::unknown_option(&e) {
                return code;
            }
            let code = match e.kind() {
                ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => 0,
                _ => exit::SETUP_FAILED,
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match cli.cmd {
        Cmd::Linux(a) | Cmd::Debug(DebugCmd::Landlock(a)) => linux::run(a),
        Cmd::Macos(a) | Cmd::Debug(DebugCmd::Seatbelt(a)) => macos::run(a),
        Cmd::Windows(a) => windows::run(a),
        Cmd::Run(a) => run_native(a),
        Cmd::Profile(a) => match a.os {
            ProfileOs::Linux => linux::profile(a),
            ProfileOs::Macos => macos::profile(a),
            ProfileOs::Windows => windows::profile(a),
        },
        Cmd::Explain(a) => explain::run(a),
        Cmd::Doctor(a) => doctor::run(a),
        Cmd::Connect(a) => connect::run(a),
    }
}

/// `sandbox run`: the backend of the OS this binary was built for.
fn run_native(a: LinuxArgs) -> ExitCode {
    if cfg!(target_os = "macos") {
        macos::run(MacosArgs {
            policy: a.policy,
            log_denials: false,
            denials_json: a.denials_json,
            cmd: a.cmd,
        })
    } else if cfg!(windows) {
        windows::run(WindowsArgs {
            policy: a.policy,
            cmd: a.cmd,
        })
    } else {
        linux::run(a)
    }
}
