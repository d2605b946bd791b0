//! A minimal HTTP client for readiness probes, stats and setup calls: one
//! request over a fresh connection.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// GET `url`, returning the status code, within `timeout`.
pub async fn http_get(url: &str, timeout: Duration) -> Result<u16, String> {
    http_call("GET", url, &[], Bytes::new(), timeout)
        .await
        .map(|(status, _)| status)
}

/// Make one request and return the status and body, within `timeout`.
pub async fn http_call(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Bytes,
    timeout: Duration,
) -> Result<(u16, Bytes), String> {
    tokio::time::timeout(timeout, call(method, url, headers, body))
        .await
        .map_err(|_| format!("{method} {url}: no answer within {timeout:?}"))?
}

async fn call(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Bytes,
) -> Result<(u16, Bytes), String> {
    let fail = |e: &dyn std::fmt::Display| format!("{method} {url}: {e}");
    let uri: Uri = url.parse().map_err(|e| fail(&e))?;
    let host = uri.host().ok_or_else(|| fail(&"no host"))?;
    let port = uri.port_u16().unwrap_or(80);
    // An IPv6 literal is `[::1]` in the URL and the Host header, `::1` to connect.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let stream = TcpStream::connect((bare, port))
        .await
        .map_err(|e| fail(&e))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| fail(&e))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut req = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).map_err(|e| fail(&e))?)
        .uri(path)
        .header(hyper::header::HOST, format!("{host}:{port}"));
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let req = req.body(Full::new(body)).map_err(|e| fail(&e))?;
    let resp = sender.send_request(req).await.map_err(|e| fail(&e))?;
    let status = resp.status().as_u16();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| fail(&e))?
        .to_bytes();
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// issue 11: `[::1]` is a host in a URL, `::1` an address to connect to.
    #[tokio::test]
    async fn an_ipv6_literal_host_is_probed() {
        let listener = tokio::net::TcpListener::bind("[::1]:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let n = s.read(&mut buf).await.unwrap();
            let head = String::from_utf8_lossy(&buf[..n]).to_string();
            assert!(head.contains(&format!("host: [::1]:{port}")), "{head}");
            s.write_all(b"HTTP/1.1 204 No Content\r\n\r\n")
                .await
                .unwrap();
        });
        let url = format!("http://[::1]:{port}/health");
        assert_eq!(http_get(&url, Duration::from_secs(5)).await, Ok(204));
    }
}
