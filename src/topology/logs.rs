//! What a failure shows of a service's log: the lines that name an error
//! (errors, exceptions, tracebacks; the cause is often far above the end),
//! then the last lines, with terminal colour codes removed.

use std::path::Path;

/// Lines shown from the end of the log.
const LAST: usize = 15;
/// Error lines shown from above the last lines, at most.
const ERRORS: usize = 10;

/// The log at `path` for an error message: its error lines above the last
/// [`LAST`] lines (the first [`ERRORS`] of them), then those last lines;
/// indented, ANSI colour codes stripped.
pub fn excerpt(path: &Path) -> String {
    let raw = std::fs::read(path).unwrap_or_default();
    let text = strip_ansi(&String::from_utf8_lossy(&raw));
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return "    (the log is empty)".into();
    }
    let start = lines.len().saturating_sub(LAST);
    let mut errors: Vec<&str> = Vec::new();
    for line in lines[..start].iter().filter(|l| names_an_error(l)) {
        if !errors.contains(line) {
            errors.push(line);
        }
    }
    let indent = |ls: &[&str]| {
        ls.iter()
            .map(|l| format!("    {}", l.trim_end()))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let last = indent(&lines[start..]);
    if errors.is_empty() {
        return last;
    }
    let more = errors.len().saturating_sub(ERRORS);
    errors.truncate(ERRORS);
    let more = match more {
        0 => String::new(),
        n => format!(" ({n} more not shown)"),
    };
    format!(
        "  error lines further up{more}:\n{}\n  last lines:\n{last}",
        indent(&errors)
    )
}

/// Does the line report an error (a Python traceback's lines, an
/// `ERROR`/`Exception` line, a fatal or panic message)?
fn names_an_error(line: &str) -> bool {
    let l = line.to_ascii_lowercase();
    [
        "error",
        "exception",
        "traceback",
        "fatal",
        "panic",
        "critical",
    ]
    .iter()
    .any(|w| l.contains(w))
}

/// `text` without ANSI escape sequences (colours, cursor moves).
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        match chars.peek() {
            // CSI: ESC [ parameters… final byte in @..~
            Some('[') => {
                chars.next();
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            // OSC: ESC ] … BEL or ESC \
            Some(']') => {
                chars.next();
                while let Some(c) = chars.next() {
                    if c == '\u{7}' || (c == '\u{1b}' && chars.next_if_eq(&'\\').is_some()) {
                        break;
                    }
                }
            }
            Some(_) => {
                chars.next();
            }
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_codes_are_stripped() {
        assert_eq!(
            strip_ansi("\u{1b}[32mINFO\u{1b}[0m:     started \u{1b}]8;;x\u{7}link"),
            "INFO:     started link"
        );
    }

    /// issue 14: the real cause was far above an unrelated traceback at the end.
    #[test]
    fn error_lines_from_above_come_first_then_the_last_lines() {
        let dir = std::env::temp_dir().join(format!("scenario-logs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("x.log");
        let mut text = String::from("starting\n\u{1b}[31mERROR\u{1b}[0m: unsupported scheme\n");
        for i in 0..40 {
            text.push_str(&format!("noise {i}\n"));
        }
        text.push_str("Traceback (most recent call last):\n  File x\nKeyError: 'y'\n");
        std::fs::write(&log, text).unwrap();
        let shown = excerpt(&log);
        let cause = shown.find("ERROR: unsupported scheme").expect(&shown);
        let end = shown.find("KeyError: 'y'").expect(&shown);
        assert!(cause < end, "{shown}");
        assert!(!shown.contains('\u{1b}'), "{shown}");
        assert!(!shown.contains("noise 10"), "{shown}");
        assert_eq!(shown.matches("unsupported scheme").count(), 1, "{shown}");
        std::fs::write(&log, "").unwrap();
        assert_eq!(excerpt(&log), "    (the log is empty)");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
