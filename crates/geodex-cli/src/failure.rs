//! Errors at the edge: one line on stderr, exit code 1 (runtime failure), 2 (bad usage or bad
//! input), 130 (interrupted by Ctrl-C) or 141 (stdout's reader went away), never a panic message
//! or a backtrace (ARCHITECTURE.md §5).

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use geodex_core::CoreError;
use geodex_io::IoError;

/// A failed command: its message and whether the caller's input was at fault.
#[derive(Debug)]
pub struct Failure {
    message: String,
    bad_input: bool,
    interrupted: bool,
}

impl Failure {
    /// Bad usage or bad input: exit code 2.
    pub fn input(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            bad_input: true,
            interrupted: false,
        }
    }

    /// A runtime failure (I/O, corrupt file): exit code 1.
    pub fn runtime(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            bad_input: false,
            interrupted: false,
        }
    }

    /// Stopped by Ctrl-C: exit code 130 (128 + SIGINT, as shells report it).
    pub fn interrupted(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            bad_input: false,
            interrupted: true,
        }
    }

    /// Whether Ctrl-C stopped the command.
    pub fn is_interrupted(&self) -> bool {
        self.interrupted
    }

    /// Prefixes the message with where it happened (a file, a flag).
    pub fn context(mut self, what: impl std::fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }

    /// Prints `error: …` on one line and returns the exit code.
    pub fn report(self) -> ExitCode {
        eprintln!("error: {}", one_line(&self.message));
        ExitCode::from(match (self.interrupted, self.bad_input) {
            (true, _) => 130,
            (false, true) => 2,
            (false, false) => 1,
        })
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl From<CoreError> for Failure {
    fn from(e: CoreError) -> Self {
        Failure {
            bad_input: e.is_bad_input(),
            interrupted: matches!(e, CoreError::Cancelled),
            message: e.to_string(),
        }
    }
}

impl From<IoError> for Failure {
    fn from(e: IoError) -> Self {
        Failure {
            bad_input: e.is_bad_input(),
            interrupted: false,
            message: e.to_string(),
        }
    }
}

impl From<geodex_embed::EmbedError> for Failure {
    fn from(e: geodex_embed::EmbedError) -> Self {
        Failure {
            bad_input: !matches!(
                e,
                geodex_embed::EmbedError::Io(_) | geodex_embed::EmbedError::Cancelled
            ),
            interrupted: matches!(e, geodex_embed::EmbedError::Cancelled),
            message: e.to_string(),
        }
    }
}

impl From<geodex_quant::QuantError> for Failure {
    fn from(e: geodex_quant::QuantError) -> Self {
        Failure::input(e.to_string())
    }
}

/// A core error about rows of a file: name the file too.
pub fn in_file(path: &std::path::Path) -> impl Fn(CoreError) -> Failure + '_ {
    move |e| {
        let named = matches!(
            e,
            CoreError::Io { .. } | CoreError::InvalidIndex { .. } | CoreError::Cancelled
        );
        let f = Failure::from(e);
        if named {
            f
        } else {
            f.context(path.display())
        }
    }
}

/// Clap's own errors: help and version go to stdout with exit 0; usage errors become one line
/// with exit code 2.
pub fn report_clap(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            ExitCode::from(
                if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                    2
                } else {
                    0
                },
            )
        }
        _ => {
            let text = e.render().to_string();
            let first = text
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("invalid arguments");
            let msg = first.trim_start_matches("error: ");
            Failure::input(format!("{msg} (see --help)")).report()
        }
    }
}

/// Set when `println!` found stdout closed by its reader (`geodex search --json | head`).
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// The exit code of a command whose stdout reader went away: 141 = 128 + SIGPIPE, the status a
/// shell reports for `cat` or `yes` in the same place, so `set -o pipefail` sees the same thing.
pub const CLOSED_STDOUT_EXIT: u8 = 141;

/// Whether a caught panic was `println!` failing on a closed pipe rather than a bug.
pub fn stdout_was_closed() -> bool {
    STDOUT_CLOSED.load(Ordering::Relaxed)
}

/// `println!` panics with std's "failed printing to stdout: <error>" when the write fails; EPIPE
/// (os error 32 on Linux and macOS) means the reader closed the pipe, which is not an error of
/// ours.
fn is_closed_stdout(panic_message: &str) -> bool {
    panic_message.starts_with("failed printing to stdout")
        && (panic_message.contains("Broken pipe") || panic_message.contains("os error 32"))
}

/// A panic is a bug; still print one line, not a backtrace. A closed stdout is not a bug and
/// prints nothing (see [`stdout_was_closed`]).
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        if is_closed_stdout(&what) {
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
            return;
        }
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("error: internal error (please report): {}{at}", one_line(&what));
    }));
}
