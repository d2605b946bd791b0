//! The plan as a person reads it (`scenario plan`).

use std::fmt::{self, Display, Write};

use super::{redact, Check, Level, Plan, Stop};

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
        let m = self.metric;
        let op = m.direction().op();
        write!(f, "{} {op} {}", m.label(), m.limit_text(self.limit))
    }
}

impl Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        self.write_head(&mut out)?;
        self.write_services(&mut out)?;
        self.write_setup(&mut out)?;
        writeln!(out)?;
        self.write_requests(&mut out)?;
        writeln!(out)?;
        self.write_steps(&mut out)?;
        writeln!(out)?;
        write!(out, "{}", self.capacity)?;
        writeln!(out)?;
        self.write_assertions(&mut out)?;
        f.write_str(&self.hide(&out))
    }
}

impl Plan {
    /// The title, the description, the provision and the files written first.
    fn write_head(&self, out: &mut String) -> fmt::Result {
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
        if let Some(p) = &self.provision {
            writeln!(out, "Provision (once; cached):")?;
            writeln!(out, "  {} -m venv {}", p.python.display(), p.venv.display())?;
            let mut reqs: Vec<String> = p.requirements.iter().map(|r| shell_word(r)).collect();
            for f in &p.requirements_files {
                reqs.push(format!("-r {}", shell_word(&f.display().to_string())));
            }
            writeln!(
                out,
                "  {}/bin/pip install {}",
                p.venv.display(),
                reqs.join(" ")
            )?;
            writeln!(out)?;
        }
        if !self.files.is_empty() {
            writeln!(out, "Files written first:")?;
            for f in &self.files {
                writeln!(out, "  {}", f.path.display())?;
            }
            writeln!(out)?;
        }
        Ok(())
    }

    /// The services in start order: command, environment, readiness.
    fn write_services(&self, out: &mut String) -> fmt::Result {
        if self.services.is_empty() {
            writeln!(out, "Services: none (the target is used as it is)")?;
        } else {
            writeln!(out, "Services, in start order (stopped in reverse):")?;
            for (i, s) in self.services.iter().enumerate() {
                let program = std::path::Path::new(&s.command[0])
                    .file_name()
                    .map_or(s.command[0].clone(), |n| n.to_string_lossy().into_owned());
                let args: Vec<String> = s.command[1..].iter().map(|w| shell_word(w)).collect();
                let user = s
                    .user
                    .as_ref()
                    .map(|u| format!(" as user {u}"))
                    .unwrap_or_default();
                let pinned = self
                    .cpus
                    .as_ref()
                    .map(|p| format!(", on CPUs {}", p.of(s.role())))
                    .unwrap_or_default();
                writeln!(
                    out,
                    "  {}. {} on 127.0.0.1:{} (wave {}{pinned}){user}",
                    i + 1,
                    s.name,
                    s.port,
                    s.wave
                )?;
                for argv in &s.prepare {
                    writeln!(out, "     first: {}", words(argv))?;
                }
                if !s.env_remove.is_empty() {
                    let unset: Vec<String> =
                        s.env_remove.iter().map(|k| format!("-u {k}")).collect();
                    writeln!(out, "     env {}", unset.join(" "))?;
                }
                for (k, v) in &s.env {
                    writeln!(out, "     env {k}={}", shell_word(v))?;
                }
                writeln!(out, "     $ {program} {}", args.join(" "))?;
                let ready = match &s.ready {
                    super::ReadyCheck::Http { url, headers, .. } => {
                        let headers: String = headers
                            .iter()
                            .map(|(k, v)| format!(" with {k}: {}", redact(k, v)))
                            .collect();
                        format!("GET {url}{headers} answers 2xx")
                    }
                    super::ReadyCheck::Command { argv, .. } => {
                        format!("`{}` succeeds", words(argv))
                    }
                };
                writeln!(
                    out,
                    "     ready when {ready} (within {})",
                    humantime::format_duration(s.ready.timeout())
                )?;
                for argv in &s.after {
                    writeln!(out, "     then: {}", words(argv))?;
                }
            }
        }
        Ok(())
    }

    /// The HTTP calls made once everything is ready.
    fn write_setup(&self, out: &mut String) -> fmt::Result {
        if !self.setup.is_empty() {
            writeln!(out)?;
            writeln!(out, "Setup calls, once everything is ready:")?;
            for (i, c) in self.setup.iter().enumerate() {
                writeln!(out, "  {}. {}: {} {}", i + 1, c.name, c.method, c.url)?;
                if let Some(body) = &c.preview {
                    writeln!(
                        out,
                        "     body: {}",
                        body.split_whitespace().collect::<Vec<_>>().join(" ")
                    )?;
                }
                for (name, pointer) in &c.capture {
                    writeln!(out, "     captures {name} = {pointer}")?;
                }
            }
        }
        Ok(())
    }

    /// Where the requests go and what they carry, and what else is measured.
    fn write_requests(&self, out: &mut String) -> fmt::Result {
        let t = &self.target;
        writeln!(out, "Requests: {} {}", t.method, t.url)?;
        let selection = match t.selection {
            super::Selection::RoundRobin => "round-robin".to_string(),
            super::Selection::Random => format!("random, seed {}", t.seed),
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
        if let Some(dialect) = t
            .dialect
            .filter(|d| *d != crate::dialect::Dialect::OpenaiChat)
        {
            writeln!(
                out,
                "  answers read as {dialect}; a 2xx of another shape is a `shape` error"
            )?;
        }
        if !t.overhead_headers.is_empty() {
            writeln!(
                out,
                "  records the gateway's own overhead from: {}",
                t.overhead_headers.join(", ")
            )?;
        }
        if let Some(p) = &t.pacing {
            writeln!(
                out,
                "  streams checked against the upstream's pacing (a token every {} ms): \
                 buffered when their frames come in bursts, a stall when a gap exceeds {} ms",
                p.itl_ms, p.stall_ms
            )?;
        }
        if let Some(b) = &self.baseline {
            writeln!(
                out,
                "  baseline: each step is run again straight to {}",
                b.url
            )?;
        }
        if let Some(p) = &self.cpus {
            writeln!(
                out,
                "  CPUs: {p} (the load threads and the fake upstream are the harness)"
            )?;
        }
        for m in &self.metrics {
            writeln!(
                out,
                "  scrapes {} ({}) each second for: {}",
                m.url,
                m.service,
                self.metrics_series.join(", ")
            )?;
        }
        if let Some(q) = self.quiet_period {
            writeln!(
                out,
                "  after the last step: {} quiet, then each service's recovered RSS",
                humantime::format_duration(q)
            )?;
        }
        Ok(())
    }

    /// The measured steps, one line each (with a ramp's stages and a shard's part).
    fn write_steps(&self, out: &mut String) -> fmt::Result {
        if self.steps.is_empty() && self.capacity.search.is_some() {
            writeln!(
                out,
                "Steps: one per probe of the search below, chosen as it goes"
            )?;
        } else {
            writeln!(out, "Steps ({}):", self.steps.len())?;
        }
        // As wide as the longest level's name (`ramp to c=200`), at least 11.
        let w = self
            .steps
            .iter()
            .map(|s| s.level.label().chars().count())
            .fold(11, usize::max);
        if !self.steps.is_empty() {
            writeln!(
                out,
                "  {:>4}  {:>w$}  {:>5}  {:>7}  measure",
                "#", "level", "run", "warm-up"
            )?;
        }
        for s in &self.steps {
            let pacing = s.open.map_or(String::new(), |o| {
                format!(
                    ", {:?} arrivals, max {} in flight",
                    o.arrival, o.max_in_flight
                )
            });
            writeln!(
                out,
                "  {:>4}  {:>w$}  {:>5}  {:>7}  {}{pacing}",
                s.index + 1,
                s.level.label(),
                format!("{}/{}", s.run, s.runs),
                s.warmup,
                s.stop
            )?;
            if let Some(r) = &s.ramp {
                let stages: Vec<String> = r
                    .stages
                    .iter()
                    .map(|st| {
                        format!(
                            "{} to {}",
                            humantime::format_duration(st.duration),
                            st.target
                        )
                    })
                    .collect();
                writeln!(
                    out,
                    "        ramp of {} from 0: {}",
                    r.kind.unit(),
                    stages.join(", then ")
                )?;
            }
            if let Some(shard) = s.shard {
                let part = shard.load_of(s);
                let requests = part
                    .requests
                    .map_or(String::new(), |n| format!(", {n} requests"));
                let rate = part
                    .rate
                    .map_or(String::new(), |r| format!(", {r:.2} req/s"));
                writeln!(
                    out,
                    "        shard {shard}: {} workers{requests}{rate}, warm-up {}",
                    part.workers, part.warmup
                )?;
            }
        }
        Ok(())
    }

    /// The pass/fail checks per level.
    fn write_assertions(&self, out: &mut String) -> fmt::Result {
        if let (true, Some(min)) = (self.checks.is_empty(), self.capacity.min_capacity_rps) {
            writeln!(
                out,
                "Assertions: the capacity the search finds ≥ {min} req/s"
            )?;
        } else if self.checks.is_empty() {
            writeln!(out, "Assertions: none")?;
        } else {
            writeln!(out, "Assertions (on the mean over runs of each level):")?;
            let mut levels: Vec<Level> = self.checks.iter().map(|c| c.level).collect();
            levels.dedup();
            for level in levels {
                let list: Vec<String> = self
                    .checks
                    .iter()
                    .filter(|c| c.level == level)
                    .map(ToString::to_string)
                    .collect();
                writeln!(out, "  {}: {}", level.words(), list.join(", "))?;
            }
        }
        Ok(())
    }
}

fn words(argv: &[String]) -> String {
    argv.iter()
        .map(|w| shell_word(w))
        .collect::<Vec<_>>()
        .join(" ")
}
