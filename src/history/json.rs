//! `scenario history --format json`: the runs as recorded, oldest first.

use super::View;

pub fn render(v: &View) -> String {
    let runs: Vec<serde_json::Value> = v
        .runs
        .iter()
        .map(|r| {
            let mut value = serde_json::to_value(r).unwrap_or_default();
            if let (Some(c), Some(levels)) = (v.level, value.get_mut("levels")) {
                if let Some(list) = levels.as_array_mut() {
                    list.retain(|l| l["concurrency"] == c);
                }
            }
            value
        })
        .collect();
    let doc = serde_json::json!({ "database": v.db, "runs": runs });
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
}
