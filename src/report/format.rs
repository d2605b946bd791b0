//! The output formats a report is written in: the one list `[report]
//! formats`, `scenario report --format`, the plan and the writer share.

use serde::{Deserialize, Serialize};

use super::{csv, html, json, junit, markdown, Exporter};

/// One output format. The name (`json`, `csv`, `md`, `html`, `junit`) is
/// the same in the scenario file, on the command line and in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
#[value(rename_all = "lowercase")]
pub enum Format {
    /// `report.json`, always written.
    Json,
    /// `steps.csv`.
    Csv,
    /// `summary.md`.
    Md,
    /// `report.html`.
    Html,
    /// `junit.xml`.
    Junit,
}

impl Format {
    /// Every format, in the order files are written.
    pub const ALL: [Format; 5] = [
        Format::Json,
        Format::Csv,
        Format::Md,
        Format::Html,
        Format::Junit,
    ];

    /// The name in `[report] formats`, `--format` and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Md => "md",
            Format::Html => "html",
            Format::Junit => "junit",
        }
    }

    /// The format of a name, `None` for an unknown one.
    pub fn parse(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Every name, for "valid formats: …" and "did you mean".
    pub fn names() -> [&'static str; 5] {
        Format::ALL.map(Format::name)
    }

    /// How to render a report in this format.
    pub fn exporter(self) -> Box<dyn Exporter> {
        match self {
            Format::Json => Box::new(json::Json),
            Format::Csv => Box::new(csv::Csv),
            Format::Md => Box::new(markdown::Markdown),
            Format::Html => Box::new(html::Html),
            Format::Junit => Box::new(junit::Junit),
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    /// The name is one: the same in the scenario file (serde), on the
    /// command line (clap) and for the writer.
    #[test]
    fn one_name_per_format_everywhere() {
        for f in Format::ALL {
            assert_eq!(serde_json::to_value(f).unwrap(), f.name());
            assert_eq!(f.to_possible_value().unwrap().get_name(), f.name());
            assert_eq!(Format::parse(f.name()), Some(f));
        }
        assert_eq!(Format::value_variants(), Format::ALL);
        let files: std::collections::HashSet<_> =
            Format::ALL.map(|f| f.exporter().file_name()).into();
        assert_eq!(files.len(), Format::ALL.len(), "one file per format");
    }
}
