//! The history database: SQLite (bundled), versioned and migrated, safe for
//! runs writing at once (WAL journal, a busy timeout, writes in immediate
//! transactions).
//!
//! Schema 1:
//!
//! ```sql
//! meta(key TEXT PRIMARY KEY, value TEXT)           -- schema_version
//! runs(id INTEGER PRIMARY KEY, run_dir TEXT UNIQUE, scenario, variant,
//!      scenario_hash, git_commit, git_branch, tool_version, cpu, cores,
//!      started_at, recorded_at)
//! levels(run_id REFERENCES runs, concurrency, rps, p50_ms, p95_ms, p99_ms,
//!        error_rate, ttft_p50_ms, ttft_p99_ms, itl_p50_ms, itl_p99_ms,
//!        overhead_p50_ms, PRIMARY KEY (run_id, concurrency))
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::{Figure, LevelRecord, Machine, RunRecord};

/// The schema this tool writes; older databases are migrated on open.
pub const SCHEMA_VERSION: i64 = 1;

/// `MIGRATIONS[i]` takes a database from schema `i` to `i + 1`.
const MIGRATIONS: &[&str] = &["
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    run_dir TEXT NOT NULL UNIQUE,
    scenario TEXT NOT NULL,
    variant TEXT,
    scenario_hash TEXT NOT NULL,
    git_commit TEXT,
    git_branch TEXT,
    tool_version TEXT NOT NULL,
    cpu TEXT NOT NULL,
    cores INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    recorded_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
CREATE INDEX runs_comparable ON runs (scenario_hash, cpu, cores, started_at);
CREATE INDEX runs_by_scenario ON runs (scenario, started_at);
CREATE TABLE levels (
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    concurrency INTEGER NOT NULL,
    rps REAL, p50_ms REAL, p95_ms REAL, p99_ms REAL, error_rate REAL,
    ttft_p50_ms REAL, ttft_p99_ms REAL, itl_p50_ms REAL, itl_p99_ms REAL,
    overhead_p50_ms REAL,
    PRIMARY KEY (run_id, concurrency)
);
"];

/// How long a writer waits for another one before giving up.
const BUSY: Duration = Duration::from_secs(30);

/// What went wrong with the database, naming the file and what to do.
#[derive(Debug)]
pub enum StoreError {
    /// SQLite failed (a corrupt or unwritable file, a lock held too long).
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    /// The folder for a new database cannot be made.
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Written by a newer tool.
    Newer { path: PathBuf, found: i64 },
    /// Reading a database that does not exist.
    Missing { path: PathBuf },
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            StoreError::Sqlite { path, source } => write!(
                f,
                "history database {}: {source} (check the file is writable and not on a network \
                 file system; --history PATH picks another)",
                path.display()
            ),
            StoreError::Io { path, source } => write!(
                f,
                "cannot create the history database {}: {source} (--history PATH picks another \
                 place, --no-history records nothing)",
                path.display()
            ),
            StoreError::Newer { path, found } => write!(
                f,
                "history database {} has schema {found}, newer than this tool's {SCHEMA_VERSION}: \
                 use a newer `scenario`, or --history PATH for another database",
                path.display()
            ),
            StoreError::Missing { path } => write!(
                f,
                "no history database at {}: runs record there when run with `--out {}`, and \
                 `scenario history import {}` backfills it from existing reports (or pass \
                 --history PATH)",
                path.display(),
                path.parent()
                    .map_or(".".into(), |p| p.display().to_string()),
                path.parent()
                    .map_or(".".into(), |p| p.display().to_string()),
            ),
        }
    }
}

impl std::error::Error for StoreError {}

/// Which runs to read.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// `[scenario] name`, or `name · variant` for one variant.
    pub scenario: Option<String>,
    /// Runs started at or after this RFC 3339 UTC time.
    pub since: Option<String>,
}

/// An open history database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Open (creating it and its folder if need be) and migrate.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        }
        let mut store = Store::connect(path)?;
        store.migrate()?;
        Ok(store)
    }

    /// Open a database that must exist already ([`StoreError::Missing`]
    /// otherwise), migrating it.
    pub fn open_existing(path: &Path) -> Result<Store, StoreError> {
        if !path.is_file() {
            return Err(StoreError::Missing {
                path: path.to_path_buf(),
            });
        }
        Store::open(path)
    }

    fn connect(path: &Path) -> Result<Store, StoreError> {
        let conn = Connection::open(path).map_err(|source| StoreError::Sqlite {
            path: path.to_path_buf(),
            source,
        })?;
        let store = Store {
            conn,
            path: path.to_path_buf(),
        };
        // The busy timeout first: switching to WAL itself takes a lock.
        store.conn.busy_timeout(BUSY).map_err(|e| store.err(e))?;
        let _mode: String = store
            .conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(|e| store.err(e))?;
        store
            .conn
            .execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")
            .map_err(|e| store.err(e))?;
        Ok(store)
    }

    fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// The schema version stored in `meta` (0 for a new file).
    #[cfg(test)]
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        read_version(&self.conn).map_err(|e| self.err(e))
    }

    /// Bring the schema up to [`SCHEMA_VERSION`], one step per migration, in
    /// one immediate transaction (two processes opening a new file at once
    /// take turns; the second finds it migrated).
    fn migrate(&mut self) -> Result<(), StoreError> {
        let err = sqlite_error(self.path.clone());
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&err)?;
        let found = read_version(&tx).map_err(&err)?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::Newer {
                path: self.path.clone(),
                found,
            });
        }
        for (from, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            tx.execute_batch(sql).map_err(&err)?;
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![(from as i64 + 1).to_string()],
            )
            .map_err(&err)?;
        }
        tx.commit().map_err(&err)
    }

    /// Record a run: `Ok(false)` when its folder is recorded already.
    pub fn record(&mut self, r: &RunRecord) -> Result<bool, StoreError> {
        let err = sqlite_error(self.path.clone());
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&err)?;
        let added = tx
            .execute(
                "INSERT OR IGNORE INTO runs (run_dir, scenario, variant, scenario_hash,
                   git_commit, git_branch, tool_version, cpu, cores, started_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    r.run_dir.to_string_lossy(),
                    r.scenario,
                    r.variant,
                    r.scenario_hash,
                    r.git_commit,
                    r.git_branch,
                    r.tool_version,
                    r.machine.cpu,
                    r.machine.cores,
                    r.started_at,
                ],
            )
            .map_err(&err)?;
        if added == 0 {
            return Ok(false);
        }
        let id = tx.last_insert_rowid();
        let columns: Vec<&str> = Figure::ALL.iter().map(|f| f.column()).collect();
        let marks: Vec<String> = (0..columns.len()).map(|i| format!("?{}", i + 3)).collect();
        let sql = format!(
            "INSERT INTO levels (run_id, concurrency, {}) VALUES (?1, ?2, {})",
            columns.join(", "),
            marks.join(", ")
        );
        {
            let mut insert = tx.prepare(&sql).map_err(&err)?;
            for l in &r.levels {
                let mut values: Vec<&dyn rusqlite::ToSql> = vec![&id, &l.concurrency];
                values.extend(l.figures.iter().map(|v| v as &dyn rusqlite::ToSql));
                insert.execute(values.as_slice()).map_err(&err)?;
            }
        }
        tx.commit().map_err(&err)?;
        Ok(true)
    }

    /// The runs `q` selects, oldest first.
    pub fn runs(&self, q: &Query) -> Result<Vec<RunRecord>, StoreError> {
        self.select(
            "WHERE (?1 IS NULL OR scenario = ?1 OR scenario || ' · ' || variant = ?1)
               AND (?2 IS NULL OR started_at >= ?2)
             ORDER BY started_at, id",
            &[&q.scenario, &q.since],
        )
    }

    /// The latest `limit` runs comparable with a run of `hash` on `machine`
    /// (same scenario hash, same machine), oldest first, without the run in
    /// `exclude` (the current one).
    pub fn comparable(
        &self,
        hash: &str,
        machine: &Machine,
        exclude: &Path,
        limit: usize,
    ) -> Result<Vec<RunRecord>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut runs = self.select(
            "WHERE scenario_hash = ?1 AND cpu = ?2 AND cores = ?3 AND run_dir <> ?4
             ORDER BY started_at DESC, id DESC LIMIT ?5",
            &[
                &hash,
                &machine.cpu,
                &machine.cores,
                &exclude.to_string_lossy(),
                &limit,
            ],
        )?;
        runs.reverse();
        Ok(runs)
    }

    fn select(
        &self,
        filter: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<RunRecord>, StoreError> {
        let sql = format!(
            "SELECT id, run_dir, scenario, variant, scenario_hash, git_commit, git_branch,
                    tool_version, cpu, cores, started_at FROM runs {filter}"
        );
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        let mut runs: Vec<RunRecord> = stmt
            .query_map(args, |row| {
                Ok(RunRecord {
                    id: row.get(0)?,
                    run_dir: PathBuf::from(row.get::<_, String>(1)?),
                    scenario: row.get(2)?,
                    variant: row.get(3)?,
                    scenario_hash: row.get(4)?,
                    git_commit: row.get(5)?,
                    git_branch: row.get(6)?,
                    tool_version: row.get(7)?,
                    machine: Machine {
                        cpu: row.get(8)?,
                        cores: row.get(9)?,
                    },
                    started_at: row.get(10)?,
                    levels: Vec::new(),
                })
            })
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e))?;
        let columns: Vec<&str> = Figure::ALL.iter().map(|f| f.column()).collect();
        let sql = format!(
            "SELECT concurrency, {} FROM levels WHERE run_id = ?1 ORDER BY rowid",
            columns.join(", ")
        );
        let mut levels = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        for run in &mut runs {
            run.levels = levels
                .query_map([run.id], |row| {
                    let mut figures = [None; Figure::ALL.len()];
                    for (i, slot) in figures.iter_mut().enumerate() {
                        *slot = row.get(i + 1)?;
                    }
                    Ok(LevelRecord {
                        concurrency: row.get(0)?,
                        figures,
                    })
                })
                .and_then(|rows| rows.collect())
                .map_err(|e| self.err(e))?;
        }
        Ok(runs)
    }

    #[cfg(test)]
    /// `PRAGMA integrity_check`: `"ok"` for a sound file.
    pub fn integrity_check(&self) -> Result<String, StoreError> {
        self.conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .map_err(|e| self.err(e))
    }
}

fn read_version(conn: &Connection) -> rusqlite::Result<i64> {
    let has_meta: Option<i64> = conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if has_meta.is_none() {
        return Ok(0);
    }
    let v: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    Ok(v.and_then(|v| v.parse().ok()).unwrap_or(0))
}

/// What `scenario history import` did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Imported {
    pub added: usize,
    /// Recorded already (the import is idempotent by run folder).
    pub known: usize,
    /// Runs that did not complete.
    pub incomplete: usize,
    /// `report.json`s that could not be read, with why.
    pub unreadable: Vec<String>,
}

/// Record every completed run under `dir` (each `report.json` found, at any
/// depth), oldest first.
pub fn import(store: &mut Store, dir: &Path) -> Result<Imported, StoreError> {
    let mut found = Vec::new();
    walk(dir, &mut found);
    let mut reports = Vec::new();
    let mut done = Imported::default();
    for file in found {
        match crate::report::Report::load(&file) {
            Ok((report, _)) => reports.push((report, file)),
            Err(e) => done.unreadable.push(e.to_string()),
        }
    }
    reports.sort_by(|a, b| a.0.started_at.cmp(&b.0.started_at));
    for (report, file) in reports {
        let run_dir = file.parent().unwrap_or(Path::new("."));
        match RunRecord::of(&report, run_dir) {
            None => done.incomplete += 1,
            Some(r) => {
                if store.record(&r)? {
                    done.added += 1;
                } else {
                    done.known += 1;
                }
            }
        }
    }
    Ok(done)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    // Symbolic links are not followed: a link cycle cannot loop the walk.
    let mut entries: Vec<(PathBuf, bool)> = entries
        .flatten()
        .map(|e| (e.path(), e.file_type().is_ok_and(|t| t.is_dir())))
        .collect();
    entries.sort();
    for (path, is_dir) in entries {
        if is_dir {
            walk(&path, out);
        } else if path.file_name().is_some_and(|n| n == "report.json") {
            out.push(path);
        }
    }
}

/// Turns a SQLite error into a [`StoreError`] naming the database file.
fn sqlite_error(path: PathBuf) -> impl Fn(rusqlite::Error) -> StoreError {
    move |source| StoreError::Sqlite {
        path: path.clone(),
        source,
    }
}
