//! `scenario history --format html`: one self-contained page (inline CSS, no
//! script, nothing fetched) with a trend chart per figure and level, drawn
//! with the report's SVG helpers. Every point links to its run's report.html.

use std::fmt::Write;

use super::{commit_of, Figure, RunRecord, View};
use crate::report::svg::{self, esc, level_color, Axis, LineChart, Series};

const STYLE: &str = "
  body { margin: 0; background: #f7f8fa; color: #1f2933;
    font: 15px/1.55 system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif; }
  main { max-width: 1000px; margin: 0 auto; padding: 32px 24px 64px; }
  h1 { font-size: 26px; margin: 0 0 6px; }
  h2 { font-size: 18px; margin: 0 0 4px; }
  p.lead, p.explain { color: #616e7c; margin: 0 0 12px; }
  section { background: #fff; border: 1px solid #e4e7eb; border-radius: 10px;
    padding: 18px 20px; margin-bottom: 18px; }
  svg.chart { display: block; width: 100%; height: auto; }
  svg text { font-size: 12px; }
  svg a circle:hover { stroke-width: 4; }
";

/// The element id of a figure's chart at level `c`: `chart-p95_ms-c1`.
pub fn chart_id(f: Figure, c: u32) -> String {
    format!("chart-{}-c{c}", f.column())
}

/// Runs (with their 1-based position) grouped by identity, in order of
/// first appearance.
type Groups<'a> = Vec<(String, Vec<(usize, &'a RunRecord)>)>;

/// One series per identity (scenario, variant, hash, machine): only like
/// is drawn as one line.
fn groups<'a>(v: &View<'a>) -> Groups<'a> {
    let mut groups: Groups = Vec::new();
    for (i, r) in v.runs.iter().enumerate() {
        let key = format!(
            "{} · {}",
            r.name(),
            &r.scenario_hash[..r.scenario_hash.len().min(8)]
        );
        let key = if v.runs.iter().any(|o| o.machine != r.machine) {
            format!("{key} · {} ×{}", r.machine.cpu, r.machine.cores)
        } else {
            key
        };
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, runs)) => runs.push((i + 1, r)),
            None => groups.push((key, vec![(i + 1, r)])),
        }
    }
    groups
}

/// Figure `f` at level `c`: a line per group that has it, each point with
/// its run's tip and a link to its report.
fn series(groups: &Groups<'_>, f: Figure, c: u32) -> Vec<Series> {
    groups
        .iter()
        .enumerate()
        .map(|(gi, (name, runs))| {
            let points: Vec<(usize, &RunRecord, f64)> = runs
                .iter()
                .filter_map(|&(x, r)| Some((x, r, r.level(c)?.get(f)?)))
                .collect();
            let mut s = Series::new(
                name,
                &level_color(gi, groups.len()),
                points.iter().map(|&(x, _, y)| (x as f64, y)).collect(),
            );
            s.tips = points
                .iter()
                .map(|(_, r, y)| {
                    format!(
                        "{} · {} · commit {}: {}",
                        r.name(),
                        r.started_at,
                        commit_of(r),
                        f.show(*y)
                    )
                })
                .collect();
            s.links = points
                .iter()
                .map(|(_, r, _)| r.run_dir.join("report.html").display().to_string())
                .collect();
            s
        })
        .filter(|s| !s.points.is_empty())
        .collect()
}

pub fn render(v: &View) -> String {
    let mut levels: Vec<u32> = v.rows().map(|(_, l)| l.concurrency).collect();
    levels.sort_unstable();
    levels.dedup();
    let groups = groups(v);
    let mut body = String::new();
    for &f in &v.figures {
        for &c in &levels {
            let series = series(&groups, f, c);
            if series.is_empty() {
                continue;
            }
            let mut x = Axis::linear("run (oldest → newest)");
            x.include = None;
            let chart = LineChart {
                id: chart_id(f, c),
                width: svg::WIDTH,
                title: format!("{} at concurrency {c}, run by run", f.label()),
                height: 300.0,
                x,
                y: Axis::linear(f.label()),
                series,
                markers: Vec::new(),
            };
            let _ = writeln!(
                body,
                "<section><h2>{} · concurrency {c}</h2><p class=\"explain\">One point per run; \
                 hover for its start and commit, click for its report.</p>{}</section>",
                esc(f.label()),
                chart.render()
            );
        }
    }
    if body.is_empty() {
        body.push_str("<section><p class=\"explain\">No run recorded yet.</p></section>\n");
    }
    let title = match v.runs.first() {
        Some(r) if v.runs.iter().all(|o| o.scenario == r.scenario) => {
            format!("{} · run history", r.scenario)
        }
        _ => "run history".to_string(),
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"scenario\">\n<title>{t}</title>\n<style>{STYLE}</style>\n\
         </head>\n<body>\n<main>\n<h1>{t}</h1>\n<p class=\"lead\">{n} runs from <code>{db}</code>, \
         oldest first.</p>\n{body}</main>\n</body>\n</html>\n",
        t = esc(&title),
        n = v.runs.len(),
        db = esc(&v.db.display().to_string()),
    )
}
