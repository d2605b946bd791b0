//! Records the git commit the binary was built from, for the report's
//! environment, and lists the files shipped inside the binary
//! (`templates/`, `scenarios/prompts/`; see `src/builtin.rs`).

use std::path::{Path, PathBuf};

fn main() {
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=SCENARIO_GIT_COMMIT={commit}");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs");
    builtin_files();
}

/// Writes `$OUT_DIR/builtin_files.rs`: one `(name, include_bytes!(path))`
/// per file under `templates/` (named `templates/…`) and
/// `scenarios/prompts/` (named `prompts/…`, as scenarios refer to them).
fn builtin_files() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let mut files = Vec::new();
    for (dir, prefix) in [("templates", "templates"), ("scenarios/prompts", "prompts")] {
        println!("cargo:rerun-if-changed={dir}");
        walk(&root.join(dir), prefix, &mut files);
    }
    files.sort();
    let mut out = String::from("pub const FILES: &[(&str, &[u8])] = &[\n");
    for (name, path) in &files {
        out.push_str(&format!(
            "    ({name:?}, include_bytes!({:?})),\n",
            path.display().to_string()
        ));
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("builtin_files.rs");
    std::fs::write(dest, out).unwrap();
}

fn walk(dir: &Path, prefix: &str, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name == "__pycache__" || name.ends_with(".pyc") {
            continue;
        }
        println!("cargo:rerun-if-changed={}", path.display());
        let inner = format!("{prefix}/{name}");
        if path.is_dir() {
            walk(&path, &inner, out);
        } else {
            out.push((inner, path));
        }
    }
}
