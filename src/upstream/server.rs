//! The HTTP server of the fake upstream (stub: filled by the fake-upstream work).

use super::UpstreamConfig;
use tokio_util::sync::CancellationToken;

/// Serve `config` on `listener` until `shutdown` fires.
pub async fn serve(
    _config: UpstreamConfig,
    _listener: tokio::net::TcpListener,
    _shutdown: CancellationToken,
) -> std::io::Result<()> {
    unimplemented!("fake upstream")
}
