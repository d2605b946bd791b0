//! Scenario files: read, merge `extends`, apply `--set`, check everything, render bodies.
//!
//! [`load_variants`] either returns [`Scenario`]s (one per variant) known to be runnable, or
//! every problem found, each pointing at its file, line and column.

pub mod capacity;
pub mod check;
pub mod command;
pub mod de;
pub mod model;
pub mod profile;
mod renamed;
pub mod template;
pub mod tree;
pub mod variants;

use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::diag::{Diagnostics, Origin, Problem, Sources};
pub use model::ScenarioFile;
use tree::{KeyPath, Node, Seg, Value};

/// A checked scenario, ready to be turned into a plan.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The file it was read from.
    pub file: PathBuf,
    /// `scenario.name`, or the file's stem.
    pub name: String,
    /// Which variant of the file this is, when it has variants.
    pub variant: Option<String>,
    pub model: ScenarioFile,
    /// The template's name as shown in plans (a path, or `built-in:openai-chat`).
    pub template: String,
    /// One rendered body per pool entry, in pool order.
    pub bodies: Vec<Bytes>,
    /// The gateway profile named by `topology.gateway`, and where it was read.
    pub profile: Option<(profile::Profile, PathBuf)>,
    /// The profile file's text as read: errors in its templates point into it.
    pub profile_text: Option<String>,
    /// `warning: file:line:col: …` for keys read under an old name.
    pub warnings: Vec<String>,
}

impl Scenario {
    /// Levels that `[assert.concurrency.N]` names but the sweep does not
    /// measure (after `--set` or a variant): their checks are reported as
    /// not measured.
    pub fn unmeasured_levels(&self) -> Vec<u32> {
        let swept = &self.model.load.levels();
        self.model
            .assertions
            .concurrency
            .keys()
            .filter_map(|k| k.parse::<u32>().ok())
            .filter(|n| !swept.contains(n))
            .collect()
    }
}

/// Read and check the scenario at `path` with `--set` overrides applied.
/// A file with variants must be loaded with [`load_variants`].
#[cfg(test)]
pub fn load(path: &Path, sets: &[String]) -> Result<Scenario, Diagnostics> {
    let mut all = load_variants(path, sets)?;
    Ok(all.remove(0))
}

/// Read and check the scenario at `path`: one [`Scenario`] per variant
/// (`[variants.NAME]` tables, and lists in `topology.workers` or
/// `topology.instances`), or just one when it has none.
pub fn load_variants(path: &Path, sets: &[String]) -> Result<Vec<Scenario>, Diagnostics> {
    load_reading(path, sets).map(|(scenarios, _)| scenarios)
}

/// [`load_variants`], with every file it read: the scenario, its
/// `extends` bases, template, pool and profile, in the order read (what a
/// copy of the scenario on another machine needs).
pub fn load_reading(
    path: &Path,
    sets: &[String],
) -> Result<(Vec<Scenario>, Vec<PathBuf>), Diagnostics> {
    let mut sources = Sources::default();
    let mut problems = Vec::new();
    let base = match read_tree(path, &mut sources, &mut Vec::new()) {
        Ok(tree) => tree,
        Err(problem) => {
            return Err(Diagnostics {
                sources,
                problems: vec![*problem],
            })
        }
    };
    let mut overrides = Vec::new();
    for set in sets {
        match parse_set(set, &mut sources) {
            Ok(o) => overrides.push(o),
            Err(problem) => problems.push(problem),
        }
    }
    let trees = match variants::expand(base, &overrides) {
        Ok(trees) => trees,
        Err(found) => {
            problems.extend(found);
            return Err(Diagnostics { sources, problems });
        }
    };
    let mut scenarios = Vec::new();
    for (variant, mut tree) in trees {
        let (warnings, renamed) = renamed::apply(&mut tree, &sources);
        problems.extend(renamed);
        let (mut scenario, found) = finish(path, variant, &tree, &mut sources);
        if let Some(s) = scenario.as_mut() {
            s.warnings = warnings;
        }
        for p in found {
            let seen = problems.iter().any(|q: &Problem| {
                q.key == p.key && q.message == p.message && q.origin == p.origin
            });
            if !seen {
                problems.push(p);
            }
        }
        scenarios.extend(scenario);
    }
    if problems.is_empty() {
        let mut files: Vec<PathBuf> = Vec::new();
        for name in sources.names().filter(|n| *n != SET_SOURCE) {
            let file = PathBuf::from(name);
            if !files.contains(&file) {
                files.push(file);
            }
        }
        Ok((scenarios, files))
    } else {
        Err(Diagnostics { sources, problems })
    }
}

/// The source name of a `--set` argument.
const SET_SOURCE: &str = "--set";

/// Deserialize and check one variant's tree.
fn finish(
    path: &Path,
    variant: Option<String>,
    tree: &Node,
    sources: &mut Sources,
) -> (Option<Scenario>, Vec<Problem>) {
    let mut problems = Vec::new();
    let (model, found) = de::from_tree::<ScenarioFile>(tree);
    problems.extend(found);
    // Check what deserialized even when some keys were bad, so one pass
    // reports type errors and missing files together.
    let scenario = model.and_then(|model| {
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let mut checked = check::check(&model, &dir);
        let mut profile_text = None;
        let profile = match &model.topology.gateway {
            None => None,
            Some(name) => match profile::load(name, &dir, sources) {
                Ok((p, path, text)) => {
                    checked.extend(check::check_gateway(&model, &p));
                    profile_text = Some(text);
                    Some((p, path))
                }
                Err(found) => {
                    checked.extend(found);
                    None
                }
            },
        };
        checked.extend(check::check_ports(&model, profile.as_ref().map(|p| &p.0)));
        let bodies = match template::render_all(&model, &dir, sources) {
            Ok(r) => Some(r),
            Err(found) => {
                checked.extend(found);
                None
            }
        };
        for problem in checked {
            let origin = KeyPath::parse(&problem.key).and_then(|k| tree.origin_of(&k, false));
            problems.push(problem.at(origin));
        }
        let (template, bodies) = bodies?;
        let mut model = model;
        // Neither sweep given: the default concurrency sweep, written out
        // so the resolved scenario says what ran.
        // (A search picks its own levels.)
        if model.load.concurrency.is_empty()
            && model.load.rate.is_empty()
            && model.load.search.is_none()
        {
            model.load.concurrency = model::DEFAULT_CONCURRENCY.to_vec();
        }
        let name = model.scenario.name.clone().unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "scenario".into())
        });
        Some(Scenario {
            file: path.to_path_buf(),
            name,
            variant: variant.clone(),
            model,
            template,
            bodies,
            profile,
            profile_text,
            warnings: Vec::new(),
        })
    });
    (scenario, problems)
}

/// Read `path` into a tree, merging the bases named by `extends` under it.
fn read_tree(
    path: &Path,
    sources: &mut Sources,
    chain: &mut Vec<PathBuf>,
) -> Result<Node, Box<Problem>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Box::new(
            Problem::new("", format!("cannot read `{}`: {e}", path.display()))
                .note("check the path; scenario files live under scenarios/"),
        )
    })?;
    let id = sources.add(path.display().to_string(), text);
    let mut tree = tree::parse(sources, id).map_err(Box::new)?;
    if chain.is_empty() && matches!(&tree.value, Value::Table(t) if t.is_empty()) {
        return Err(empty_file(path, id));
    }
    let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    if chain.contains(&canonical) {
        return Err(Box::new(Problem::new(
            "extends",
            format!("`{}` extends itself through a cycle", path.display()),
        )));
    }
    chain.push(canonical);
    let extends_key = KeyPath(vec![Seg::Key("extends".into())]);
    let Some(extends) = tree.get(&extends_key).cloned() else {
        chain.pop();
        return Ok(tree);
    };
    tree.remove(&extends_key);
    let bases: Vec<(String, Origin)> = match &extends.value {
        Value::String(s) => vec![(s.clone(), extends.origin.clone())],
        Value::Array(items) => items
            .iter()
            .map(|n| match &n.value {
                Value::String(s) => Ok((s.clone(), n.origin.clone())),
                other => Err(bad_extends(other.type_name(), &n.origin)),
            })
            .collect::<Result<_, _>>()?,
        other => return Err(bad_extends(other.type_name(), &extends.origin)),
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut merged: Option<Node> = None;
    for (base, origin) in bases {
        let base_path = dir.join(&base);
        if !base_path.is_file() {
            return Err(Box::new(
                Problem::new("extends", format!("base file `{base}` not found"))
                    .at(Some(origin))
                    .label(format!("looked for {}", base_path.display()))
                    .note("paths in `extends` are relative to the file that names them"),
            ));
        }
        let base_tree = read_tree(&base_path, sources, chain)?;
        merged = Some(match merged {
            Some(m) => tree::merge(m, base_tree),
            None => base_tree,
        });
    }
    chain.pop();
    Ok(match merged {
        Some(base) => tree::merge(base, tree),
        None => tree,
    })
}

/// The text of the file `key` names, added to `sources` (its id returned
/// with it) so problems in it can point at their line.
fn read_source(
    key: &str,
    path: &Path,
    sources: &mut Sources,
) -> Result<(String, usize), Vec<Problem>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![Problem::new(
            key,
            format!("cannot read `{}`: {e}", path.display()),
        )]
    })?;
    let id = sources.add(path.display().to_string(), text.clone());
    Ok((text, id))
}

/// An empty (or comment-only) file is a mistake, not the default sweep:
/// a truncated or wrong file must not look like success.
fn empty_file(path: &Path, id: usize) -> Box<Problem> {
    Box::new(
        Problem::new(
            "",
            format!("`{}` is empty: there is nothing to run", path.display()),
        )
        .at(Some(Origin {
            source: id,
            span: 0..0,
        }))
        .label("no key in this file")
        .note(
            "a scenario needs at least one table; the smallest that runs the default \
             sweep on the fake upstream is `[scenario]` with `name = \"…\"` \
             (see scenarios/quickstart.toml)",
        ),
    )
}

fn bad_extends(found: &str, origin: &Origin) -> Box<Problem> {
    Box::new(
        Problem::new(
            "extends",
            format!("`extends` must be a file name, found {found}"),
        )
        .at(Some(origin.clone()))
        .label("write `extends = \"base.toml\"` or a list of such names"),
    )
}

/// One `--set key.path=value`, parsed once and applied to every variant.
pub struct Override {
    pub path: KeyPath,
    pub value: Node,
    pub key: Origin,
}

impl Override {
    pub fn apply(&self, tree: &mut Node) -> Result<(), Problem> {
        tree.set(&self.path, self.value.clone(), self.key.clone())
            .map_err(|e| Problem::new(self.path.to_string(), e).at(Some(self.key.clone())))
    }
}

fn parse_set(set: &str, sources: &mut Sources) -> Result<Override, Problem> {
    let id = sources.add(SET_SOURCE, set.to_string());
    let whole = Origin {
        source: id,
        span: 0..set.len(),
    };
    let Some(eq) = set.find('=') else {
        return Err(Problem::new("", format!("`--set {set}` has no `=`"))
            .at(Some(whole))
            .label("write --set key.path=value, e.g. --set load.requests=200"));
    };
    let key_text = set[..eq].trim();
    let Some(path) = KeyPath::parse(key_text) else {
        return Err(Problem::new("", format!("`{key_text}` is not a key path"))
            .at(Some(whole))
            .label("write dotted keys, e.g. load.requests"));
    };
    let value = tree::parse_value(sources, id, eq + 1..set.len()).map_err(|mut p| {
        p.key = path.to_string();
        p
    })?;
    Ok(Override {
        path,
        value,
        key: Origin {
            source: id,
            span: 0..eq,
        },
    })
}

/// Find a file named in a scenario: relative to the scenario's folder, then
/// to each folder above it (so `templates/…` works from `scenarios/`), then
/// among the files built into the binary ([`crate::builtin`]).
pub fn resolve_path(dir: &Path, name: &Path) -> Option<PathBuf> {
    local_path(dir, name).or_else(|| crate::builtin::path(name))
}

/// [`resolve_path`] without the built-in files.
fn local_path(dir: &Path, name: &Path) -> Option<PathBuf> {
    if name.is_absolute() {
        return name.exists().then(|| name.to_path_buf());
    }
    // `scenarios/x.toml` has the parent `scenarios`, `x.toml` an empty one:
    // walk up from the absolute folder so both reach the folders above.
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let absolute = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    absolute
        .ancestors()
        .map(|d| d.join(name))
        .find(|candidate| candidate.exists())
}

#[cfg(test)]
mod tests;
