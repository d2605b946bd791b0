//! Variants: one scenario file, several configurations compared side by side.
//!
//! `[variants.NAME]` tables are partial scenarios merged over the rest of the
//! file (tables key by key, like `extends`); a list in `topology.workers` or
//! `topology.instances` makes one variant per value (a vertical-scaling sweep
//! over worker counts, as the Llama Stack benchmark runs, in one file).
//! `--set` overrides apply to every variant, last.

use super::tree::{merge, KeyPath, Node, Seg, Value};
use super::Override;
use crate::diag::Problem;

/// Keys whose list value means "one variant per element".
const SWEPT: &[&str] = &["topology.workers", "topology.instances"];

/// The trees to load: `(variant name, tree)`; a single `(None, tree)` when
/// the file has no variants.
pub fn expand(
    mut base: Node,
    overrides: &[Override],
) -> Result<Vec<(Option<String>, Node)>, Vec<Problem>> {
    let mut problems = Vec::new();
    let key = KeyPath(vec![Seg::Key("variants".into())]);
    let named: Vec<(Option<String>, Node)> = match base.get(&key).cloned() {
        None => vec![(None, base)],
        Some(variants) => {
            base.remove(&key);
            match &variants.value {
                Value::Table(entries) if !entries.is_empty() => entries
                    .iter()
                    .filter_map(|(name, entry)| match &entry.node.value {
                        Value::Table(_) => {
                            Some((Some(name.clone()), merge(base.clone(), entry.node.clone())))
                        }
                        other => {
                            problems.push(
                                Problem::new(
                                    format!("variants.{name}"),
                                    format!(
                                        "variant `{name}` must be a table, found {}",
                                        other.type_name()
                                    ),
                                )
                                .at(Some(entry.node.origin.clone()))
                                .label("write [variants.NAME] and the keys it changes below it"),
                            );
                            None
                        }
                    })
                    .collect(),
                _ => {
                    problems.push(
                        Problem::new("variants", "`variants` must hold one table per variant")
                            .at(Some(variants.origin.clone()))
                            .label("e.g. [variants.tracking-on] with topology.options.usage_tracking = true"),
                    );
                    Vec::new()
                }
            }
        }
    };
    let mut out = Vec::new();
    for (name, mut tree) in named {
        for o in overrides {
            if let Err(p) = o.apply(&mut tree) {
                if !problems.iter().any(|q| q.message == p.message) {
                    problems.push(p);
                }
            }
        }
        let mut expanded = vec![(name, tree)];
        for key in SWEPT {
            let path = KeyPath::parse(key).expect("static key path");
            expanded = expanded
                .into_iter()
                .flat_map(|(name, tree)| sweep(name, tree, &path, &mut problems))
                .collect();
        }
        out.extend(expanded);
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// One tree per element when `path` holds a list; the tree unchanged otherwise.
fn sweep(
    name: Option<String>,
    tree: Node,
    path: &KeyPath,
    problems: &mut Vec<Problem>,
) -> Vec<(Option<String>, Node)> {
    let Some(Node {
        value: Value::Array(items),
        origin,
    }) = tree.get(path).cloned()
    else {
        return vec![(name, tree)];
    };
    if items.is_empty() {
        problems.push(
            Problem::new(path.to_string(), format!("`{path}` lists no values"))
                .at(Some(origin))
                .label("give one number, or a list such as [1, 2, 4]"),
        );
        return Vec::new();
    }
    let Some(Seg::Key(last)) = path.0.last() else {
        return vec![(name, tree)];
    };
    items
        .into_iter()
        .map(|item| {
            let label = match &item.value {
                Value::Integer(n) => format!("{last}-{n}"),
                other => format!("{last}-{}", other.type_name()),
            };
            let mut t = tree.clone();
            // The path exists (we just read it), so setting it cannot fail.
            let _ = t.set(path, item.clone(), item.origin.clone());
            let full = match &name {
                Some(n) => format!("{n}-{label}"),
                None => label,
            };
            (Some(full), t)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Sources;
    use crate::scenario::tree;

    fn names(text: &str) -> Vec<Option<String>> {
        let mut sources = Sources::default();
        let id = sources.add("t.toml", text);
        let node = tree::parse(&sources, id).unwrap();
        expand(node, &[])
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect()
    }

    #[test]
    fn no_variants_is_one_unnamed_tree() {
        assert_eq!(names("[load]\nruns = 1\n"), vec![None]);
    }

    #[test]
    fn named_variants_and_swept_lists_multiply() {
        let found = names(
            "[topology]\nworkers = [1, 2]\n[variants.sync]\ntopology.gateway = \"a\"\n[variants.async]\ntopology.gateway = \"b\"\n",
        );
        let found: Vec<String> = found.into_iter().map(Option::unwrap).collect();
        assert_eq!(
            found,
            [
                "sync-workers-1",
                "sync-workers-2",
                "async-workers-1",
                "async-workers-2"
            ]
        );
    }

    #[test]
    fn a_variant_overrides_only_its_keys() {
        let mut sources = Sources::default();
        let id = sources.add(
            "t.toml",
            "[topology.options]\na = 1\nb = 2\n[variants.x]\ntopology.options.b = 3\n",
        );
        let node = tree::parse(&sources, id).unwrap();
        let (_, t) = expand(node, &[]).unwrap().remove(0);
        let get = |k: &str| match &t.get(&KeyPath::parse(k).unwrap()).unwrap().value {
            Value::Integer(n) => *n,
            _ => panic!(),
        };
        assert_eq!(
            (get("topology.options.a"), get("topology.options.b")),
            (1, 3)
        );
        assert!(t.get(&KeyPath::parse("variants").unwrap()).is_none());
    }
}
