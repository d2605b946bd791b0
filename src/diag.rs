//! Diagnostics for bad input: every problem names the file, line, column, key and the fix.
//!
//! Problems are collected, never thrown one at a time, so a user sees all of
//! them at once; [`Diagnostics::render`] draws them with a caret under the
//! offending text (via `codespan-reporting`).

use std::fmt;
use std::ops::Range;

use codespan_reporting::diagnostic::{Diagnostic, Label};
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term::{self, termcolor::Buffer, Chars, Config};

/// Where a value came from: a source (a file, or a `--set` argument) and a byte range in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub source: usize,
    pub span: Range<usize>,
}

/// The texts that problems point into: scenario files and `--set` arguments.
#[derive(Default)]
pub struct Sources {
    files: SimpleFiles<String, String>,
    count: usize,
}

impl Sources {
    /// Keep `text` under `name` and return its id for [`Origin::source`].
    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> usize {
        self.count += 1;
        self.files.add(name.into(), text.into())
    }

    /// Every source's name, in the order added.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        (0..self.count).map(|id| self.name(id))
    }

    pub fn name(&self, id: usize) -> &str {
        self.files.get(id).map(|f| f.name().as_str()).unwrap_or("?")
    }

    pub fn text(&self, id: usize) -> &str {
        self.files
            .get(id)
            .map(|f| f.source().as_str())
            .unwrap_or("")
    }

    /// `file:line:column` of an origin, 1-based.
    pub fn locate(&self, origin: &Origin) -> String {
        let text = self.text(origin.source);
        let at = origin.span.start.min(text.len());
        let before = &text[..at];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        format!("{}:{line}:{column}", self.name(origin.source))
    }
}

/// One problem with the input.
#[derive(Debug, Clone)]
pub struct Problem {
    /// The key path, e.g. `load.concurrency[1]`; empty for the whole file.
    pub key: String,
    pub message: String,
    /// Text under the caret: usually what would be valid.
    pub label: Option<String>,
    /// Further lines: valid values, how to fix.
    pub notes: Vec<String>,
    pub origin: Option<Origin>,
}

impl Problem {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
            label: None,
            notes: Vec::new(),
            origin: None,
        }
    }

    pub fn at(mut self, origin: Option<Origin>) -> Self {
        if self.origin.is_none() {
            self.origin = origin;
        }
        self
    }

    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }
}

/// Every problem found in one scenario, with the sources they point into.
pub struct Diagnostics {
    pub sources: Sources,
    pub problems: Vec<Problem>,
}

impl Diagnostics {
    /// Draw every problem; `color` adds ANSI colours.
    pub fn render(&self, color: bool) -> String {
        let mut buffer = if color {
            Buffer::ansi()
        } else {
            Buffer::no_color()
        };
        let config = Config {
            chars: Chars::ascii(),
            ..Config::default()
        };
        for problem in &self.problems {
            let mut diagnostic = Diagnostic::error().with_message(&problem.message);
            if !problem.key.is_empty() {
                diagnostic = diagnostic.with_code(&problem.key);
            }
            if let Some(origin) = &problem.origin {
                let mut label = Label::primary(origin.source, origin.span.clone());
                if let Some(text) = &problem.label {
                    label = label.with_message(text);
                }
                diagnostic = diagnostic.with_labels(vec![label]);
            } else if let Some(text) = &problem.label {
                diagnostic = diagnostic.with_notes(vec![text.clone()]);
            }
            diagnostic = diagnostic.with_notes(problem.notes.clone());
            // Rendering into memory cannot fail but for a bad span; fall back to plain text.
            if term::emit(&mut buffer, &config, &self.sources.files, &diagnostic).is_err() {
                let place = problem
                    .origin
                    .as_ref()
                    .map(|o| self.sources.locate(o))
                    .unwrap_or_default();
                let line = format!("error[{}]: {} {place}\n", problem.key, problem.message);
                let _ = std::io::Write::write_all(&mut buffer, line.as_bytes());
            }
        }
        String::from_utf8_lossy(buffer.as_slice()).into_owned()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(false))
    }
}

impl fmt::Debug for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(false))
    }
}

impl std::error::Error for Diagnostics {}

/// The closest of `candidates` to `word`, if close enough to be a likely typo.
pub fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(word, c), *c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let keys = ["concurrency", "requests", "duration", "warmup"];
        assert_eq!(did_you_mean("concurency", &keys), Some("concurrency"));
        assert_eq!(did_you_mean("request", &keys), Some("requests"));
        assert_eq!(did_you_mean("zzz", &keys), None);
    }

    #[test]
    fn locates_line_and_column() {
        let mut sources = Sources::default();
        let id = sources.add("a.toml", "[load]\nrequests = \"x\"\n");
        let origin = Origin {
            source: id,
            span: 18..21,
        };
        assert_eq!(sources.locate(&origin), "a.toml:2:12");
    }
}
