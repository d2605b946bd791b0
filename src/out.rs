//! Writing a command's output to stdout, and its messages to stderr,
//! without panicking when either is gone (`scenario plan | head`, or the
//! terminal that started a run closed), shared by every command.

/// `print!` that never panics: when stdout is gone, the rest of the output
/// is dropped quietly and the command carries on.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// `println!` that never panics; see [`out!`].
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// `eprint!` that never panics: with stderr gone (a closed pipe) the
/// message is lost, not the run (a panic there once lost a Ctrl-C, and
/// the report with it).
macro_rules! err {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), $($arg)*);
    }};
}

/// `eprintln!` that never panics; see [`err!`].
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

use std::path::Path;

use crate::report::outcome::Reported;

/// Write `text` to `out`, or print it when there is none; `Err` after
/// printing why not.
pub fn emit(text: &str, out: Option<&Path>) -> Result<(), Reported> {
    match out {
        Some(path) => std::fs::write(path, text).map_err(|e| {
            errln!("error: cannot write {}: {e}", path.display());
            Reported
        }),
        None => {
            out!("{text}");
            Ok(())
        }
    }
}

/// Pretty JSON with a final newline.
pub fn pretty_json(v: &impl serde::Serialize) -> String {
    let mut j = serde_json::to_string_pretty(v).unwrap_or_default();
    j.push('\n');
    j
}
