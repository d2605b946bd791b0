//! `report.json`: the whole report model, the source every other format can be rebuilt from.

use super::{Exporter, Report};

pub struct Json;

impl Exporter for Json {
    fn file_name(&self) -> &'static str {
        "report.json"
    }

    fn render(&self, report: &Report) -> String {
        let mut text = serde_json::to_string_pretty(report).expect("the report model serializes");
        text.push('\n');
        text
    }
}
