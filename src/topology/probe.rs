//! A minimal HTTP GET for readiness probes and stats, over a fresh connection.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// GET `url`, returning the status code, within `timeout`.
pub async fn http_get(url: &str, timeout: Duration) -> Result<u16, String> {
    http_get_body(url, timeout).await.map(|(status, _)| status)
}

/// GET `url`, returning the status code and body, within `timeout`.
pub async fn http_get_body(url: &str, timeout: Duration) -> Result<(u16, Bytes), String> {
    tokio::time::timeout(timeout, fetch(url))
        .await
        .map_err(|_| format!("GET {url}: no answer within {timeout:?}"))?
}

async fn fetch(url: &str) -> Result<(u16, Bytes), String> {
    let uri: Uri = url.parse().map_err(|e| format!("bad URL {url}: {e}"))?;
    let host = uri.host().ok_or_else(|| format!("no host in {url}"))?;
    let port = uri.port_u16().unwrap_or(80);
    let stream = TcpStream::connect((host, port))
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let req = Request::get(path)
        .header(hyper::header::HOST, format!("{host}:{port}"))
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    let status = resp.status().as_u16();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?
        .to_bytes();
    Ok((status, body))
}
