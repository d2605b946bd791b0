//! The plan as a person reads it (`scenario plan`).

use std::fmt::{self, Display, Write};

use super::{redact, Check, Metric, Plan, Stop};

/// Quote a word for a shell if it needs it, so a shown command can be pasted.
pub fn shell_word(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

impl Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stop::Requests(n) => write!(f, "{n} requests"),
            Stop::Duration(d) => write!(f, "{}", humantime::format_duration(*d)),
        }
    }
}

impl Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = if self.metric.is_max() { "≤" } else { "≥" };
        let (name, limit) = match self.metric {
            Metric::MinRps => ("throughput", format!("{} req/s", self.limit)),
            Metric::MaxP50Ms => ("p50", format!("{} ms", self.limit)),
            Metric::MaxP95Ms => ("p95", format!("{} ms", self.limit)),
            Metric::MaxP99Ms => ("p99", format!("{} ms", self.limit)),
            Metric::MaxErrorRate => ("error rate", format!("{}%", self.limit * 100.0)),
        };
        write!(f, "{name} {op} {limit}")
    }
}

impl Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        writeln!(
            out,
            "Plan for `{}` ({})",
            self.scenario,
            self.file.display()
        )?;
        if let Some(d) = &self.description {
            writeln!(out, "  {d}")?;
        }
        writeln!(out)?;
        if self.services.is_empty() {
            writeln!(out, "Services: none (the target is used as it is)")?;
        } else {
            writeln!(out, "Services, in start order (stopped in reverse):")?;
            for (i, s) in self.services.iter().enumerate() {
                let mut words = s.command.iter();
                let program = words.next().map(|p| {
                    std::path::Path::new(p)
                        .file_name()
                        .map_or(p.clone(), |n| n.to_string_lossy().into_owned())
                });
                let args: Vec<String> = words.map(|w| shell_word(w)).collect();
                writeln!(out, "  {}. {} on 127.0.0.1:{}", i + 1, s.name, s.port)?;
                writeln!(
                    out,
                    "     $ {} {}",
                    program.unwrap_or_default(),
                    args.join(" ")
                )?;
                writeln!(
                    out,
                    "     ready when GET {} answers 2xx (within {})",
                    s.ready.url,
                    humantime::format_duration(s.ready.timeout)
                )?;
            }
        }
        writeln!(out)?;
        let t = &self.target;
        writeln!(out, "Requests: {} {}", t.method, t.url)?;
        let selection = match t.selection {
            crate::scenario::model::Selection::RoundRobin => "round-robin".to_string(),
            crate::scenario::model::Selection::Random => format!("random, seed {}", t.seed),
        };
        writeln!(
            out,
            "  body: {} × {} pool entries ({selection})",
            t.template, t.bodies
        )?;
        for (k, v) in &t.headers {
            writeln!(out, "  header {k}: {}", redact(k, v))?;
        }
        writeln!(
            out,
            "  timeout: {} per request",
            humantime::format_duration(t.timeout)
        )?;
        writeln!(out)?;
        writeln!(out, "Steps ({}):", self.steps.len())?;
        writeln!(
            out,
            "  {:>4}  {:>11}  {:>5}  {:>7}  measure",
            "#", "concurrency", "run", "warm-up"
        )?;
        for s in &self.steps {
            writeln!(
                out,
                "  {:>4}  {:>11}  {:>5}  {:>7}  {}",
                s.index + 1,
                s.concurrency,
                format!("{}/{}", s.run, s.runs),
                s.warmup,
                s.stop
            )?;
        }
        writeln!(out)?;
        if self.checks.is_empty() {
            writeln!(out, "Assertions: none")?;
        } else {
            writeln!(out, "Assertions (on the mean over runs of each level):")?;
            let mut levels: Vec<u32> = self.checks.iter().map(|c| c.concurrency).collect();
            levels.dedup();
            for level in levels {
                let list: Vec<String> = self
                    .checks
                    .iter()
                    .filter(|c| c.concurrency == level)
                    .map(ToString::to_string)
                    .collect();
                writeln!(out, "  concurrency {level}: {}", list.join(", "))?;
            }
        }
        f.write_str(&out)
    }
}
