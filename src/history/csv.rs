//! `scenario history --format csv`: one row per run and level.

use super::{Figure, View};

fn field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Every figure has a column (empty when not measured), whatever `--metric`
/// says: a CSV is for further processing.
pub fn render(v: &View) -> String {
    let mut header = vec![
        "started_at",
        "scenario",
        "variant",
        "scenario_hash",
        "git_commit",
        "git_branch",
        "tool_version",
        "cpu",
        "cores",
        "concurrency",
    ];
    header.extend(Figure::ALL.iter().map(|f| f.column()));
    header.push("run_dir");
    let mut out = header.join(",");
    out.push('\n');
    for (r, l) in v.rows() {
        let mut row: Vec<String> = vec![
            field(&r.started_at),
            field(&r.scenario),
            field(r.variant.as_deref().unwrap_or("")),
            field(&r.scenario_hash),
            field(r.git_commit.as_deref().unwrap_or("")),
            field(r.git_branch.as_deref().unwrap_or("")),
            field(&r.tool_version),
            field(&r.machine.cpu),
            r.machine.cores.to_string(),
            l.concurrency.to_string(),
        ];
        row.extend(
            Figure::ALL
                .iter()
                .map(|f| l.get(*f).map_or_else(String::new, |x| x.to_string())),
        );
        row.push(field(&r.run_dir.display().to_string()));
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}
