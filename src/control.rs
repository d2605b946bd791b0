//! The one HTTP client for control calls: readiness checks, a profile's
//! setup calls, the fake upstream's `/stats` and metrics scrapes. Each call
//! is one request over a fresh connection, bounded in time, and its error
//! names the method, the URL and what failed. Nothing here is measured: the
//! load's own requests go through `load::conn`, built for that.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// A control call's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: Bytes,
}

impl Answer {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// A control call that got no answer: which call, and what failed.
#[derive(Debug)]
pub struct Error {
    pub method: String,
    pub url: String,
    pub failure: Failure,
}

/// What kept a control call from an answer.
#[derive(Debug)]
pub enum Failure {
    /// The URL does not parse, or names no host.
    BadUrl(String),
    /// The method is not an HTTP method.
    BadMethod,
    /// A header or the request could not be built.
    BadRequest(String),
    /// No connection to the host.
    Connect(std::io::Error),
    /// The connection broke, or the answer was not HTTP/1.1.
    Http(hyper::Error),
    /// No complete answer within the call's timeout.
    Timeout(Duration),
    /// A blocking call could not start its own runtime.
    Runtime(std::io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.method, self.url, self.failure)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::BadUrl(why) => write!(f, "not a URL to call: {why}"),
            Failure::BadMethod => write!(f, "not an HTTP method"),
            Failure::BadRequest(why) => write!(f, "cannot build the request: {why}"),
            Failure::Connect(e) => write!(f, "cannot connect: {e}"),
            Failure::Http(e) => write!(f, "{e}"),
            Failure::Timeout(t) => write!(f, "no answer within {t:?}"),
            Failure::Runtime(e) => write!(f, "cannot start a runtime for the call: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.failure {
            Failure::Connect(e) | Failure::Runtime(e) => Some(e),
            Failure::Http(e) => Some(e),
            _ => None,
        }
    }
}

/// `GET url` without headers, within `timeout`.
pub async fn get(url: &str, timeout: Duration) -> Result<Answer, Error> {
    call("GET", url, &[], Bytes::new(), timeout).await
}

/// Make one request and read its whole answer, within `timeout`.
pub async fn call(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Bytes,
    timeout: Duration,
) -> Result<Answer, Error> {
    let fail = |failure| Error {
        method: method.to_owned(),
        url: url.to_owned(),
        failure,
    };
    tokio::time::timeout(timeout, exchange(method, url, headers, body))
        .await
        .map_err(|_| fail(Failure::Timeout(timeout)))?
        .map_err(fail)
}

/// [`get`] from a thread outside any async runtime (the load's coordinator
/// between its phases), on a runtime of its own.
pub fn get_blocking(url: &str, timeout: Duration) -> Result<Answer, Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error {
            method: "GET".to_owned(),
            url: url.to_owned(),
            failure: Failure::Runtime(e),
        })?;
    runtime.block_on(get(url, timeout))
}

async fn exchange(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Bytes,
) -> Result<Answer, Failure> {
    let uri: Uri = url.parse().map_err(|e| Failure::BadUrl(format!("{e}")))?;
    let host = uri
        .host()
        .ok_or_else(|| Failure::BadUrl("no host".into()))?;
    let port = uri.port_u16().unwrap_or(80);
    let method = Method::from_bytes(method.as_bytes()).map_err(|_| Failure::BadMethod)?;
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, format!("{host}:{port}"));
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let req = req
        .body(Full::new(body))
        .map_err(|e| Failure::BadRequest(e.to_string()))?;
    // An IPv6 literal is `[::1]` in the URL and the Host header, `::1` to connect.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let stream = TcpStream::connect((bare, port))
        .await
        .map_err(Failure::Connect)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(Failure::Http)?;
    // The connection is driven beside the request and dropped with it.
    let answer = async {
        let resp = sender.send_request(req).await?;
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await?.to_bytes();
        Ok(Answer { status, body })
    };
    tokio::pin!(answer);
    tokio::select! {
        a = &mut answer => a.map_err(Failure::Http),
        // The connection ends once the answer is read or the server left;
        // the answer's own result says which.
        _ = conn => answer.await.map_err(Failure::Http),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Accepts one connection on `listener`, hands back the request head, and
    /// answers `answer`.
    async fn answer_once(listener: tokio::net::TcpListener, answer: &'static [u8]) -> String {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 1024];
        let n = s.read(&mut buf).await.unwrap();
        s.write_all(answer).await.unwrap();
        String::from_utf8_lossy(&buf[..n]).to_string()
    }

    /// issue 11: `[::1]` is a host in a URL, `::1` an address to connect to.
    #[tokio::test]
    async fn an_ipv6_literal_host_is_called() {
        let listener = tokio::net::TcpListener::bind("[::1]:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(answer_once(listener, b"HTTP/1.1 204 No Content\r\n\r\n"));
        let url = format!("http://[::1]:{port}/health");
        let answer = get(&url, Duration::from_secs(5)).await.unwrap();
        assert_eq!(answer.status, 204);
        let head = server.await.unwrap();
        assert!(head.contains(&format!("host: [::1]:{port}")), "{head}");
    }

    #[tokio::test]
    async fn a_call_sends_method_headers_and_body_and_reads_the_answer() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(answer_once(
            listener,
            b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok",
        ));
        let url = format!("http://127.0.0.1:{port}/api/x?y=1");
        let headers = [("x-key".to_owned(), "v".to_owned())];
        let answer = call("POST", &url, &headers, "{}".into(), Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!((answer.status, &answer.body[..]), (201, &b"ok"[..]));
        assert!(answer.is_success());
        let head = server.await.unwrap();
        assert!(head.starts_with("POST /api/x?y=1 HTTP/1.1\r\n"), "{head}");
        assert!(head.contains("x-key: v"), "{head}");
        assert!(head.ends_with("\r\n\r\n{}"), "{head}");
    }

    #[tokio::test]
    async fn errors_name_the_call_and_what_failed() {
        // A port nothing listens on: bound, then released.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}/health");
        let e = get(&url, Duration::from_secs(5)).await.unwrap_err();
        assert!(matches!(e.failure, Failure::Connect(_)), "{e:?}");
        let text = e.to_string();
        assert!(
            text.starts_with(&format!("GET {url}: cannot connect: ")),
            "{text}"
        );

        let e = get("no host here", Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(matches!(e.failure, Failure::BadUrl(_)), "{e:?}");

        // A server that accepts and never answers.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/stats", silent.local_addr().unwrap());
        let e = get(&url, Duration::from_millis(200)).await.unwrap_err();
        assert_eq!(e.to_string(), format!("GET {url}: no answer within 200ms"));
    }

    #[test]
    fn a_blocking_call_runs_outside_any_runtime() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            use std::io::{Read, Write};
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).unwrap();
            s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\n{\"a\"")
                .unwrap();
        });
        let url = format!("http://127.0.0.1:{port}/stats");
        let answer = get_blocking(&url, Duration::from_secs(5)).unwrap();
        assert_eq!(&answer.body[..], b"{\"a\"");
        server.join().unwrap();
    }
}
