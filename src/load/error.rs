//! Why the load could not be sent: a target that cannot be addressed, an
//! open-files limit too low for the plan's workers, or a fake upstream whose
//! counts cannot be read. Each error names the value at fault and the fix.

use std::net::SocketAddr;

use super::limits::MARGIN;

/// A failure of the load stage (before or beside the measured requests).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The target URL does not parse.
    #[error("bad target URL `{url}`: {source}")]
    BadUrl {
        url: String,
        source: hyper::http::uri::InvalidUri,
    },
    /// The load speaks plain HTTP/1.1 only.
    #[error("target URL `{url}` must start with http://")]
    NotHttp { url: String },
    #[error("target URL `{url}` has no host")]
    NoHost { url: String },
    #[error("cannot resolve `{host}`: {source}")]
    Resolve {
        host: String,
        source: std::io::Error,
    },
    #[error("`{host}` resolves to no address")]
    NoAddress { host: String },
    #[error("method `{0}` is not a valid HTTP method")]
    BadMethod(String),
    /// The URL's path holds a space or a line break.
    #[error("bad path in `{url}`")]
    BadPath { url: String },
    #[error("header `{0}` is not a valid header")]
    BadHeader(String),
    /// `concurrency` workers (one connection each) and [`MARGIN`] do not
    /// fit in the soft open-files limit.
    #[error(
        "concurrency {concurrency} needs {need} open files (one connection per worker \
         and {MARGIN} for the runtime, logs and services), but this process may open only \
         {soft} (`ulimit -n`): run `ulimit -n {need}` in the shell before the command (above \
         the hard limit, `ulimit -Hn`, that needs root){lower}",
        need = u64::from(*.concurrency) + MARGIN,
        lower = lower_to(*.soft)
    )]
    OpenFiles { concurrency: u32, soft: u64 },
    /// `GET /stats` of the fake upstream got no answer.
    #[error(transparent)]
    StatsCall(#[from] crate::control::Error),
    #[error("GET http://{addr}{path}: answered {status}")]
    StatsStatus {
        addr: SocketAddr,
        path: &'static str,
        status: u16,
    },
    #[error("GET http://{addr}{path}: not the fake upstream's stats: {source}")]
    StatsShape {
        addr: SocketAddr,
        path: &'static str,
        source: serde_json::Error,
    },
}

/// The second way out of [`LoadError::OpenFiles`], when lowering the
/// concurrency can help at all.
fn lower_to(soft: u64) -> String {
    if soft > MARGIN {
        format!(
            ", or lower `load.concurrency` (an open loop's `load.max_in_flight`) to at most {}",
            soft - MARGIN
        )
    } else {
        String::new()
    }
}
