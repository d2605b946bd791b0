//! Reading the fake upstream's own counts (`GET /stats`), so a step's error
//! counts can be checked against what the server says it served and injected.
//!
//! A blocking control call ([`crate::control::get_blocking`]): it runs on the
//! step's coordinator thread, outside any measured span, when no request is
//! in flight.

use std::net::SocketAddr;
use std::time::Duration;

use super::LoadError;
use crate::control;
use crate::report::UpstreamCounts;

const TIMEOUT: Duration = Duration::from_secs(5);

/// The upstream's counts since its last reset; with `reset`, zeroed as read.
pub fn fetch(addr: SocketAddr, reset: bool) -> Result<UpstreamCounts, LoadError> {
    let path = if reset { "/stats?reset=1" } else { "/stats" };
    let url = format!("http://{addr}{path}");
    let answer = control::get_blocking(&url, TIMEOUT)?;
    if answer.status != 200 {
        return Err(LoadError::StatsStatus {
            addr,
            path,
            status: answer.status,
        });
    }
    serde_json::from_slice(&answer.body).map_err(|source| LoadError::StatsShape {
        addr,
        path,
        source,
    })
}
