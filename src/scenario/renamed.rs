//! Keys that were renamed: still read under their old name, with a warning
//! that says the new one.

use super::tree::{KeyPath, Node};
use crate::diag::{Problem, Sources};

/// Old key path -> new key path.
const RENAMED: &[(&str, &str)] = &[
    ("topology.baseline", "topology.direct"),
    ("topology.baseline_path", "topology.direct_path"),
];

/// Move every renamed key of `tree` to its new name. Returns a warning per
/// old name found (`file:line:col: …`), or a problem when a file gives both
/// names.
pub fn apply(tree: &mut Node, sources: &Sources) -> (Vec<String>, Vec<Problem>) {
    let mut warnings = Vec::new();
    let mut problems = Vec::new();
    for (old, new) in RENAMED {
        let (Some(old_path), Some(new_path)) = (KeyPath::parse(old), KeyPath::parse(new)) else {
            continue;
        };
        let Some(node) = tree.get(&old_path).cloned() else {
            continue;
        };
        let key_origin = tree
            .origin_of(&old_path, true)
            .unwrap_or_else(|| node.origin.clone());
        let at = sources.locate(&key_origin);
        if tree.get(&new_path).is_some() {
            problems.push(
                Problem::new(*old, format!("`{old}` and `{new}` are the same key"))
                    .at(Some(key_origin))
                    .label(format!("remove this line; `{new}` is its new name")),
            );
            continue;
        }
        tree.remove(&old_path);
        if tree.set(&new_path, node, key_origin).is_ok() {
            warnings.push(format!(
                "warning: {at}: `{old}` is now `{new}` (the direct path to the fake \
                 upstream); the old name is still read"
            ));
        }
    }
    (warnings, problems)
}
