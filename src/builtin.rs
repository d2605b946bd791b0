//! Files shipped inside the binary: every template (`templates/…`: gateway
//! profiles and their files, request bodies, nginx's config, the HTML
//! report) and the prompt pools (`prompts/…`), so a scenario file works
//! from any folder. A file of the same name next to the scenario, or in a
//! folder above it, overrides the built-in one.
//!
//! Tools outside this one read some of these files by path (PromptFlow
//! loads a flow folder, a profile names `{{ profile_dir }}`), so a built-in
//! file is used from a copy of all of them, written once per build under
//! the cache folder (`builtin-HASH/`, the hash of their contents) and then
//! reused: every stage sees the same real paths.

use std::path::{Path, PathBuf};

mod files {
    include!(concat!(env!("OUT_DIR"), "/builtin_files.rs"));
}

/// The built-in files: name (`templates/nginx.conf.j2`) and content.
pub fn files() -> &'static [(&'static str, &'static [u8])] {
    files::FILES
}

/// The content of the built-in file `name`, if there is one.
pub fn get(name: &Path) -> Option<&'static [u8]> {
    let name = name.to_str()?.trim_start_matches("./");
    files().iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
}

/// Where the built-in file `name` is on disk (written there on first use),
/// or `None` when there is no such built-in file or it cannot be written.
pub fn path(name: &Path) -> Option<PathBuf> {
    get(name)?;
    let root = root()?;
    Some(root.join(name))
}

/// Names of the built-in files under `folder` (e.g. `templates/gateways`).
pub fn names_under(folder: &str) -> Vec<&'static str> {
    let prefix = format!("{}/", folder.trim_end_matches('/'));
    files()
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| n.starts_with(&prefix))
        .collect()
}

/// The folder holding a copy of every built-in file, written if missing.
fn root() -> Option<PathBuf> {
    let hash = files().iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, (n, c)| {
        n.bytes()
            .chain([0])
            .chain(c.iter().copied())
            .fold(h, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
    });
    let name = format!("builtin-{hash:016x}");
    [
        crate::plan::cache_dir(),
        std::env::temp_dir().join("scenario"),
    ]
    .into_iter()
    .find_map(|dir| materialize(&dir.join(&name)))
}

/// Write every built-in file under `root` unless a complete copy is there
/// (written to a temporary folder, then renamed, so a reader never sees
/// half a copy).
fn materialize(root: &Path) -> Option<PathBuf> {
    const DONE: &str = ".complete";
    if root.join(DONE).exists() {
        return Some(root.to_path_buf());
    }
    let parent = root.parent()?;
    std::fs::create_dir_all(parent).ok()?;
    let tmp = parent.join(format!(
        ".{}.{}",
        root.file_name()?.to_string_lossy(),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&tmp);
    for (name, content) in files() {
        let path = tmp.join(name);
        std::fs::create_dir_all(path.parent()?).ok()?;
        std::fs::write(&path, content).ok()?;
    }
    std::fs::write(tmp.join(DONE), "").ok()?;
    if std::fs::rename(&tmp, root).is_err() {
        // Another process got there first: use its copy.
        let _ = std::fs::remove_dir_all(&tmp);
    }
    root.join(DONE).exists().then(|| root.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_a_scenario_can_name_is_built_in() {
        for name in [
            "templates/nginx.conf.j2",
            "templates/report.html.j2",
            "templates/requests/openai-chat.json.j2",
            "templates/gateways/mlflow.toml",
            "templates/promptflow/sync/flow.dag.yaml",
            "prompts/chat-short.jsonl",
        ] {
            assert!(get(Path::new(name)).is_some(), "{name} is not built in");
        }
        assert!(names_under("templates/gateways").contains(&"templates/gateways/mlflow.toml"));
    }

    #[test]
    fn a_built_in_file_is_on_disk_with_its_content() {
        let file = path(Path::new("templates/nginx.conf.j2")).unwrap();
        let on_disk = std::fs::read(&file).unwrap();
        assert_eq!(on_disk, get(Path::new("templates/nginx.conf.j2")).unwrap());
        assert!(path(Path::new("templates/nope.j2")).is_none());
    }
}
