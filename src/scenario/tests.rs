//! Loading scenario files: includes, variants, overrides, diagnostics.

use super::*;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("scenario-test-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_old_name_of_topology_direct_is_read_with_a_warning() {
    let dir = temp_dir("renamed");
    let old = "[topology]\ngateway = \"mlflow\"\nbaseline = true\nbaseline_path = \"/mock\"\n";
    let file = write(&dir, "old.toml", old);
    let s = load(&file, &[]).unwrap();
    assert!(s.model.topology.direct);
    assert_eq!(s.model.topology.direct_path.as_deref(), Some("/mock"));
    assert_eq!(s.warnings.len(), 2, "{:?}", s.warnings);
    assert!(
        s.warnings[0].contains("old.toml:3:1")
            && s.warnings[0].contains("`topology.baseline` is now `topology.direct`"),
        "{:?}",
        s.warnings
    );
    // The new name: no warning.
    let new = write(
        &dir,
        "new.toml",
        "[topology]\ngateway = \"mlflow\"\ndirect = true\n",
    );
    let s = load(&new, &[]).unwrap();
    assert!(s.model.topology.direct && s.warnings.is_empty());
    // Both names: an error at the old one.
    let both = write(
        &dir,
        "both.toml",
        "[topology]\ngateway = \"mlflow\"\ndirect = true\nbaseline = false\n",
    );
    let d = load(&both, &[]).unwrap_err();
    let text = d.render(false);
    assert!(
        text.contains("`topology.baseline` and `topology.direct` are the same key")
            && text.contains("both.toml:4:1"),
        "{text}"
    );
}

#[test]
fn extends_merges_tables_and_set_overrides_win() {
    let dir = temp_dir("extends");
    write(
        &dir,
        "base.toml",
        "[load]\nconcurrency = [1, 2]\nrequests = 10\n[request.pool]\nprompts = [\"hi\"]\n",
    );
    let file = write(
        &dir,
        "child.toml",
        "extends = \"base.toml\"\n[scenario]\nname = \"child\"\n[load]\nconcurrency = [4]\n",
    );
    let s = load(&file, &["load.runs=3".into()]).unwrap();
    assert_eq!(s.name, "child");
    assert_eq!(s.model.load.concurrency, vec![4]);
    assert_eq!(s.model.load.requests, Some(10));
    assert_eq!(s.model.load.runs, 3);
    assert_eq!(s.bodies.len(), 1);
}

#[test]
fn a_bad_set_points_at_the_argument() {
    let dir = temp_dir("set");
    let file = write(&dir, "s.toml", "[load]\nrequests = 10\n");
    let err = load(&file, &["load.requests=lots".into()]).unwrap_err();
    assert_eq!(err.problems.len(), 1, "{err}");
    let origin = err.problems[0].origin.as_ref().unwrap();
    assert_eq!(err.sources.name(origin.source), "--set");
}

/// issue 13: a stall factor of 1 or less would call every gap a stall.
#[test]
fn stall_factor_must_be_above_one() {
    let dir = temp_dir("stall");
    let file = write(
        &dir,
        "s.toml",
        "[load]\nrequests = 10\n[report]\nstall_factor = 0.5\n",
    );
    let err = load(&file, &[]).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("report.stall_factor") || text.contains("stall_factor = 0.5"),
        "{text}"
    );
    assert!(
        text.contains("must be a number above 1") && text.contains("default is 10"),
        "{text}"
    );
    let s = load(&file, &["report.stall_factor=4".into()]).unwrap();
    assert_eq!(s.model.report.stall_factor, 4.0);
}

/// issue 18: errors speak the user's words, never serde's or Rust's.
#[test]
fn wrong_types_are_explained_without_rust_type_names() {
    let dir = temp_dir("words");
    let file = write(&dir, "s.toml", "[load]\nrequests = 10\n");
    for set in [
        "upstream.delay=40",
        "upstream.faults=1",
        "topology.auth=\"x\"",
        "request.pool=3",
        "load.concurrency=5",
        "upstream.delay_per=3",
        "upstream.ttft=\"slow\"",
    ] {
        let err = load(&file, &[set.into()]).unwrap_err();
        let text = err.to_string();
        for rust in ["struct ", "enum ", "sequence", "DelayModel", "Option<"] {
            assert!(!text.contains(rust), "--set {set}: `{rust}` in:\n{text}");
        }
    }
    let err = load(&file, &["upstream.delay=40".into()]).unwrap_err();
    assert!(err.to_string().contains("lognormal"), "{err}");
}

/// issue 18: `key = value` with spaces and inline tables, as TOML is written.
#[test]
fn set_takes_toml_as_people_write_it() {
    let dir = temp_dir("set-spaces");
    let file = write(&dir, "s.toml", "[load]\nrequests = 10\n");
    let s = load(
        &file,
        &[
            "upstream.delay = { kind = \"fixed\", ms = 40 }".into(),
            "load.concurrency = [1, 2]".into(),
            "scenario.name=fast".into(),
        ],
    )
    .unwrap();
    assert_eq!(
        s.model.upstream.delay,
        Some(crate::upstream::config::DelayModel::Fixed { ms: 40 })
    );
    assert_eq!(s.model.load.concurrency, vec![1, 2]);
    assert_eq!(s.name, "fast");
    let err = load(&file, &["load.concurrency=[1, 2".into()]).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("is not a TOML value"), "{text}");
}

/// issue 12: `rate` sweeps arrival rates; with `concurrency` too it is
/// a located error; `arrival` takes a name or a gamma table.
#[test]
fn rate_sweeps_arrivals_and_excludes_concurrency_issue_12() {
    use model::Arrival;
    let dir = temp_dir("rate");
    let file = write(
        &dir,
        "s.toml",
        "[load]\nrate = [100, 500]\narrival = { kind = \"gamma\", cv = 2.0 }\nduration = \"5s\"\n",
    );
    let s = load(&file, &[]).unwrap();
    assert_eq!(s.model.load.levels(), vec![100, 500]);
    assert_eq!(s.model.load.arrival, Arrival::Gamma { cv: 2.0 });
    assert!(s.model.load.open());
    let s = load(&file, &["load.arrival=\"constant\"".into()]).unwrap();
    assert_eq!(s.model.load.arrival, Arrival::Constant);

    let both = load(&file, &["load.concurrency=[1]".into()])
        .unwrap_err()
        .to_string();
    assert!(
        both.contains("set either `concurrency` (closed loop) or `rate` (open loop), not both"),
        "{both}"
    );
    let bad = load(&file, &["load.arrival=\"bursty\"".into()])
        .unwrap_err()
        .to_string();
    assert!(bad.contains("unknown arrival `bursty`"), "{bad}");
    let no_cv = load(&file, &["load.arrival={ kind = \"gamma\" }".into()])
        .unwrap_err()
        .to_string();
    assert!(no_cv.contains("needs a positive `cv`"), "{no_cv}");
    let closed = write(&dir, "c.toml", "[load]\nmax_in_flight = 10\n");
    let err = load(&closed, &[]).unwrap_err().to_string();
    assert!(err.contains("max_in_flight caps an open-loop"), "{err}");
    // Neither key: the default concurrency sweep.
    let none = write(&dir, "n.toml", "[load]\nrequests = 10\n");
    assert_eq!(
        load(&none, &[]).unwrap().model.load.levels(),
        vec![1, 10, 50, 100]
    );
}

#[test]
fn an_empty_or_comment_only_file_is_an_error_naming_it() {
    let dir = temp_dir("empty");
    for (name, text) in [
        ("empty.toml", ""),
        ("comments.toml", "# nothing\n\n# here\n"),
    ] {
        let file = write(&dir, name, text);
        let err = load(&file, &[]).unwrap_err();
        assert!(err.to_string().contains("is empty"), "{err}");
        assert!(err.to_string().contains(name), "{err}");
    }
    let file = write(&dir, "minimal.toml", "[scenario]\nname = \"m\"\n");
    assert!(load(&file, &[]).is_ok());
}

#[test]
fn extends_cycle_is_reported() {
    let dir = temp_dir("cycle");
    write(&dir, "a.toml", "extends = \"b.toml\"\n");
    let file = write(&dir, "b.toml", "extends = \"a.toml\"\n");
    let err = load(&file, &[]).unwrap_err();
    assert!(err.to_string().contains("cycle"), "{err}");
}
