//! Memory lifecycle per service: RSS when idle (before the first request),
//! steady RSS and growth rate under load (from each step's later half), and
//! RSS recovered after a quiet period once the load stopped
//! (`topology.quiet_period`). One table every format renders.

use serde::{Deserialize, Serialize};

use super::ServiceUsage;
use super::{Report, Side};
use crate::topology::cpus::Role;

/// The run's memory lifecycle, one entry per service.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Memory {
    /// `topology.quiet_period` in seconds: how long after the last step
    /// `recovered_rss_mib` was sampled; absent when not measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_period_s: Option<f64>,
    pub services: Vec<ServiceMemory>,
}

/// One service's RSS over the run, MiB (whole process tree).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceMemory {
    pub service: String,
    #[serde(default)]
    pub role: Role,
    /// Sampled once every service was ready, before the first request.
    pub idle_rss_mib: Option<f64>,
    /// The steady RSS of the last step through the target that had one.
    pub steady_rss_mib: Option<f64>,
    /// The fastest growth of any step through the target, MiB/min
    /// (least-squares over each step's later half).
    pub rss_growth_mib_per_min: Option<f64>,
    /// Sampled after `quiet_period` with no load, at the end of the run.
    pub recovered_rss_mib: Option<f64>,
}

impl Memory {
    /// Start the lifecycle with each service's idle RSS.
    pub fn idle(services: &[(String, Role, f64)]) -> Memory {
        Memory {
            quiet_period_s: None,
            services: services
                .iter()
                .map(|(name, role, rss)| ServiceMemory {
                    service: name.clone(),
                    role: *role,
                    idle_rss_mib: Some(*rss),
                    ..ServiceMemory::default()
                })
                .collect(),
        }
    }
}

/// The services an `[assert] max_rss_growth_mib_per_min` judges: the
/// gateway's side, or every service when the fake upstream is itself the
/// system under test (a scenario without a gateway).
pub fn under_test(usage: &[ServiceUsage]) -> impl Iterator<Item = &ServiceUsage> {
    let gateway = usage.iter().any(|u| u.role == Role::Gateway);
    usage
        .iter()
        .filter(move |u| !gateway || u.role == Role::Gateway)
}

impl Report {
    /// Fill steady RSS and growth from the steps measured so far.
    pub fn summarise_memory(&mut self) {
        let Some(memory) = self.memory.as_mut() else {
            return;
        };
        for m in &mut memory.services {
            let mut steady = None;
            let mut growth: Option<f64> = None;
            for s in self.steps.iter().filter(|s| s.side == Side::Target) {
                let Some(u) = s.resources.iter().find(|u| u.service == m.service) else {
                    continue;
                };
                steady = u.steady_rss_mib.or(steady);
                if let Some(g) = u.rss_growth_mib_per_min {
                    growth = Some(growth.map_or(g, |w| w.max(g)));
                }
            }
            m.steady_rss_mib = steady;
            m.rss_growth_mib_per_min = growth;
        }
    }
}

/// The lifecycle as a table (terminal and Markdown): header and rows.
pub(crate) fn memory_table(memory: &Memory) -> (Vec<String>, Vec<Vec<String>>) {
    let mib = |v: Option<f64>| v.map_or("–".into(), |v| format!("{v:.1}"));
    let recovered = match memory.quiet_period_s {
        Some(q) => format!("recovered MiB (after {q}s quiet)"),
        None => "recovered MiB".into(),
    };
    let header = vec![
        "service".to_string(),
        "idle MiB".into(),
        "steady MiB".into(),
        "growth MiB/min".into(),
        recovered,
    ];
    let rows = memory
        .services
        .iter()
        .map(|m| {
            vec![
                m.service.clone(),
                mib(m.idle_rss_mib),
                mib(m.steady_rss_mib),
                m.rss_growth_mib_per_min
                    .map_or("–".into(), |g| format!("{g:+.1}")),
                mib(m.recovered_rss_mib),
            ]
        })
        .collect();
    (header, rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(service: &str, role: Role, growth: Option<f64>) -> ServiceUsage {
        ServiceUsage {
            service: service.into(),
            role,
            rss_growth_mib_per_min: growth,
            steady_rss_mib: growth.map(|g| 100.0 + g),
            ..ServiceUsage::default()
        }
    }

    #[test]
    fn every_text_format_shows_the_lifecycle() {
        let mut r = super::super::fixture::report();
        r.memory = Some(Memory {
            quiet_period_s: Some(3.0),
            services: vec![ServiceMemory {
                service: "gw-0".into(),
                role: Role::Gateway,
                idle_rss_mib: Some(20.25),
                steady_rss_mib: Some(41.5),
                rss_growth_mib_per_min: Some(183.2),
                recovered_rss_mib: None,
            }],
        });
        let row = "gw-0 | 20.2 | 41.5 | +183.2 | –";
        let md = super::super::exporter("md").unwrap().render(&r);
        assert!(md.contains("recovered MiB (after 3s quiet)"), "{md}");
        assert!(md.contains(row), "{md}");
        let html = super::super::exporter("html").unwrap().render(&r);
        assert!(html.contains("<td>+183.2</td>"), "{html}");
        let term = super::super::terminal::render(&r);
        assert!(term.contains("+183.2"), "{term}");
    }

    #[test]
    fn the_gateway_side_is_under_test_unless_there_is_none() {
        let both = [
            usage("upstream", Role::Harness, Some(1.0)),
            usage("gw", Role::Gateway, Some(2.0)),
        ];
        let names: Vec<&str> = under_test(&both).map(|u| u.service.as_str()).collect();
        assert_eq!(names, ["gw"]);
        let alone = [usage("upstream", Role::Harness, Some(1.0))];
        assert_eq!(under_test(&alone).count(), 1);
    }

    #[test]
    fn the_fastest_growth_and_the_last_steady_rss_are_kept() {
        let mut r = super::super::fixture::report();
        r.memory = Some(Memory::idle(&[("gw".into(), Role::Gateway, 50.0)]));
        let growths = [Some(3.0), Some(9.0), None, Some(-1.0)];
        for (s, g) in r.steps.iter_mut().zip(growths.iter().cycle()) {
            s.resources = vec![usage("gw", Role::Gateway, *g)];
        }
        r.summarise_memory();
        let m = &r.memory.as_ref().unwrap().services[0];
        let target: Vec<Option<f64>> = r
            .steps
            .iter()
            .zip(growths.iter().cycle())
            .filter(|(s, _)| s.side == Side::Target)
            .map(|(_, g)| *g)
            .collect();
        let fastest = target.iter().flatten().copied().fold(f64::MIN, f64::max);
        assert_eq!(m.rss_growth_mib_per_min, Some(fastest));
        let last = target.iter().rev().flatten().next().map(|g| 100.0 + g);
        assert_eq!(m.steady_rss_mib, last);
        assert_eq!(m.idle_rss_mib, Some(50.0));
    }
}
