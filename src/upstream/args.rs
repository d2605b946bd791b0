//! Flags of `scenario fake-upstream` and how they combine into an [`UpstreamConfig`]:
//! `--config-json` or `--config FILE` first, then each flag given overrides its key.

use std::path::{Path, PathBuf};

use super::config::{DelayModel, DelayPer, UpstreamConfig};

/// Why the flags of `scenario fake-upstream` describe no config: each names
/// the flag or file at fault; the fake upstream exits 2 on it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("--config-json: {0}")]
    Json(#[source] serde_json::Error),
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// `--config FILE` is not TOML, or not an `[upstream]` table.
    #[error("{}: {source}", path.display())]
    Toml {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("--fault {0}: expected KIND=SHARE with KIND one of 429, 500, 503, hang, reset, truncated, stall and SHARE in [0, 1]")]
    Fault(String),
    /// What [`UpstreamConfig::validate`] found, as `(key, problem)`: one line each.
    #[error("{}", invalid_lines(.0))]
    Invalid(Vec<(String, String)>),
}

fn invalid_lines(problems: &[(String, String)]) -> String {
    let lines: Vec<String> = problems
        .iter()
        .map(|(key, msg)| format!("upstream.{key}: {msg}"))
        .collect();
    lines.join("\n")
}

/// Flags of `scenario fake-upstream`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to bind (0 picks a free one; the `listening on` line names it).
    #[arg(long, default_value_t = 9137)]
    pub port: u16,
    /// Fixed delay before answering, in milliseconds [default: 50].
    #[arg(long, value_name = "MS")]
    pub delay_ms: Option<u64>,
    /// Delay model: MS, fixed:MS, uniform:MIN:MAX, normal:MEAN:SD or lognormal:P50:P99 (ms).
    #[arg(long, value_name = "SPEC")]
    pub delay: Option<DelayModel>,
    /// Draw the delay once per request or once per completion token.
    #[arg(long, value_name = "WHAT", value_parser = ["request", "token"])]
    pub delay_per: Option<String>,
    /// Streamed answers: time to first token, same SPEC as --delay [default: the delay].
    #[arg(long, value_name = "SPEC")]
    pub ttft: Option<DelayModel>,
    /// Streamed answers: delay between tokens, same SPEC as --delay [default: 0].
    #[arg(long, value_name = "SPEC")]
    pub itl: Option<DelayModel>,
    /// Completion tokens when a request sets no max_tokens [default: 16].
    #[arg(long, value_name = "N")]
    pub completion_tokens: Option<u32>,
    /// Seed of the delay and fault draws [default: 42].
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Worker threads [default: number of cores].
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// Model requests served at once; more wait in a queue [default: no limit].
    #[arg(long, value_name = "N")]
    pub max_concurrent: Option<u32>,
    /// Inject a fault into a share of requests, e.g. `500=0.02`; repeatable.
    /// Kinds: 429, 500, 503, hang, reset, truncated.
    #[arg(long = "fault", value_name = "KIND=SHARE")]
    pub faults: Vec<String>,
    /// Read the `[upstream]` keys from a TOML file (its `[upstream]` table if it
    /// has one, e.g. a scenario file, else the whole file).
    #[arg(long, value_name = "FILE", conflicts_with = "config_json")]
    pub config: Option<PathBuf>,
    /// The whole `[upstream]` table as JSON (what `scenario run` passes to its child).
    #[arg(long, hide = true)]
    pub config_json: Option<String>,
}

impl Args {
    /// The config these flags describe, checked; the error lists every problem.
    pub fn resolve(&self) -> Result<UpstreamConfig, ConfigError> {
        let mut config = if let Some(json) = &self.config_json {
            serde_json::from_str(json).map_err(ConfigError::Json)?
        } else if let Some(path) = &self.config {
            load_toml(path)?
        } else {
            UpstreamConfig::default()
        };
        if let Some(ms) = self.delay_ms {
            config.delay_ms = ms;
            config.delay = None;
        }
        if let Some(model) = self.delay {
            config.delay = Some(model);
        }
        if let Some(per) = &self.delay_per {
            config.delay_per = if per == "token" {
                DelayPer::Token
            } else {
                DelayPer::Request
            };
        }
        if let Some(model) = self.ttft {
            config.ttft = Some(model);
            config.ttft_ms = None;
        }
        if let Some(model) = self.itl {
            config.itl = Some(model);
            config.itl_ms = None;
        }
        if let Some(n) = self.completion_tokens {
            config.completion_tokens = n;
        }
        if let Some(seed) = self.seed {
            config.seed = seed;
        }
        if let Some(workers) = self.workers {
            config.workers = Some(workers);
        }
        if let Some(n) = self.max_concurrent {
            config.max_concurrent = Some(n);
        }
        for fault in &self.faults {
            apply_fault(&mut config, fault)?;
        }
        let problems = config.validate();
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }
}

fn load_toml(path: &Path) -> Result<UpstreamConfig, ConfigError> {
    let toml_error = |source| ConfigError::Toml {
        path: path.to_path_buf(),
        source,
    };
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let table: toml::Table = toml::from_str(&text).map_err(toml_error)?;
    let value = match table.get("upstream") {
        Some(toml::Value::Table(upstream)) => toml::Value::Table(upstream.clone()),
        _ => toml::Value::Table(table),
    };
    value.try_into().map_err(toml_error)
}

fn apply_fault(config: &mut UpstreamConfig, spec: &str) -> Result<(), ConfigError> {
    let bad = || ConfigError::Fault(spec.to_string());
    let (kind, share) = spec.split_once('=').ok_or_else(bad)?;
    let share: f64 = share.trim().parse().map_err(|_| bad())?;
    let f = &mut config.faults;
    let slot = match kind.trim() {
        "429" => &mut f.status_429,
        "500" => &mut f.status_500,
        "503" => &mut f.status_503,
        "hang" => &mut f.hang,
        "reset" => &mut f.reset,
        "truncated" => &mut f.truncated,
        "stall" => &mut f.stall,
        _ => return Err(bad()),
    };
    *slot = share;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    /// The config `argv` resolves to (every test's flags parse), or why not.
    fn resolve(argv: &[&str]) -> Result<UpstreamConfig, ConfigError> {
        let cli = Cli::try_parse_from(std::iter::once("x").chain(argv.iter().copied()))
            .expect("the flags parse");
        cli.args.resolve()
    }

    #[test]
    fn flags_override_defaults() {
        let c = resolve(&[
            "--delay",
            "lognormal:50:400",
            "--itl",
            "3",
            "--fault",
            "500=0.02",
            "--seed",
            "9",
        ])
        .unwrap();
        assert_eq!(
            c.request_delay(),
            DelayModel::Lognormal {
                p50_ms: 50,
                p99_ms: 400
            }
        );
        assert_eq!(c.itl_delay(), DelayModel::Fixed { ms: 3 });
        assert_eq!(c.faults.status_500, 0.02);
        assert_eq!(c.seed, 9);
        assert_eq!(
            resolve(&["--delay-ms", "7"]).unwrap().request_delay(),
            DelayModel::Fixed { ms: 7 }
        );
    }

    #[test]
    fn config_json_is_the_base() {
        let json = r#"{"delay_ms": 3, "faults": {"hang": 1.0}}"#;
        let c = resolve(&["--config-json", json, "--completion-tokens", "4"]).unwrap();
        assert_eq!(c.delay_ms, 3);
        assert_eq!(c.faults.hang, 1.0);
        assert_eq!(c.completion_tokens, 4);
    }

    #[test]
    fn bad_values_are_explained() {
        assert!(resolve(&["--fault", "404=0.1"])
            .unwrap_err()
            .to_string()
            .contains("KIND=SHARE"));
        let err = resolve(&[
            "--fault",
            "500=0.7",
            "--fault",
            "503=0.7",
            "--delay",
            "lognormal:50:10",
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("upstream.delay.p99_ms"), "{err}");
        assert!(err.contains("upstream.faults:"), "{err}");
        assert!(resolve(&["--config-json", "{\"nope\": 1}"])
            .unwrap_err()
            .to_string()
            .contains("nope"));
    }

    #[test]
    fn config_file_may_be_a_scenario() {
        let dir = std::env::temp_dir().join(format!("upstream-args-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let scenario = dir.join("s.toml");
        std::fs::write(&scenario, "name = \"x\"\n[upstream]\ndelay_ms = 11\n").unwrap();
        let bare = dir.join("u.toml");
        std::fs::write(&bare, "delay_ms = 12\n").unwrap();
        assert_eq!(
            resolve(&["--config", scenario.to_str().unwrap()])
                .unwrap()
                .delay_ms,
            11
        );
        assert_eq!(
            resolve(&["--config", bare.to_str().unwrap()])
                .unwrap()
                .delay_ms,
            12
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
