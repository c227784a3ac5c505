//! `tessera proxy`: an outbound signing proxy for integrators. An application sends plain,
//! unsigned HTTP to it; it forwards each request to the upstream (a NetSuite account's
//! SuiteTalk host, or a Tessera server) signed with a profile's credentials — a fresh nonce and
//! timestamp each time, the path exactly as sent, a form body's parameters signed, and on
//! request a SHA-256 `oauth_body_hash` of any other body. The credentials stay in the profile:
//! the application never holds a secret.
//!
//! Bodies stream both ways, except the ones the signature covers (a form body, or any body with
//! `--body-hash`), which are read whole first, bounded. It forwards only to its upstream (no
//! absolute-form targets, no CONNECT: it is not an open proxy), listens on loopback unless told
//! otherwise (whoever reaches it acts as the token), and answers a failure of its own with a JSON
//! body naming the cause; the upstream's own answers, refusals included, pass through as they
//! are, and a refusal is explained on standard error.

use std::convert::Infallible;
use std::io::Read;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use clap::Args;
use http_body_util::BodyExt as _;
use hyper::body::{Body, Frame, Incoming};
use hyper::{Request, Response, StatusCode};
use tessera_oauth1::{BodyHashAlgorithm, RequestToSign, Signer};

use crate::profile::{self, DEFAULT_PROFILE};

#[derive(Debug, Args)]
pub struct ProxyArgs {
    /// The profile whose credentials sign the requests (`tessera login`, or `tessera profile
    /// save` for an integration's own).
    #[arg(long, env = "TESSERA_PROFILE", default_value = DEFAULT_PROFILE)]
    profile: String,
    /// Where to listen; port 0 picks a free one (printed at start).
    #[arg(long, default_value = "127.0.0.1:8089")]
    listen: SocketAddr,
    /// Where to send the signed requests: `https://ACCOUNT.suitetalk.api.netsuite.com`, or a
    /// Tessera server; a path here prefixes every request's.
    #[arg(long)]
    upstream: String,
    /// Also sign a SHA-256 `oauth_body_hash` of each body that is not a form (read whole
    /// first); the Tessera admin API asks for one.
    #[arg(long)]
    body_hash: bool,
    /// Listen on an address that is not loopback: whoever reaches the proxy acts as the
    /// profile's token.
    #[arg(long)]
    allow_remote: bool,
    /// Seconds a request to the upstream may take in all.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// The largest body read whole to be signed (a form, or any with --body-hash), in bytes.
    #[arg(long, default_value_t = 10 * 1024 * 1024)]
    max_signed_body: usize,
}

/// How long a request body may pause (or, read whole to be signed, take in all).
const BODY_WAIT: Duration = Duration::from_secs(30);

/// Headers that belong to one connection, not to the request (RFC 9110 §7.6.1), and the ones
/// the proxy makes itself.
const NOT_FORWARDED: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "proxy-authenticate",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "authorization",
    "content-length",
];

struct Proxy {
    upstream: String,
    signer: Signer,
    agent: ureq::Agent,
    body_hash: bool,
    max_signed_body: usize,
    profile: String,
}

/// The upstream base: `http(s)://host[:port][/prefix]`, nothing after the path.
fn upstream_base(text: &str) -> Result<String> {
    let url = tessera_oauth1::RequestUrl::parse(text)
        .with_context(|| format!("--upstream {text:?} is not an absolute http(s) URL"))?;
    if url.query().is_some() || text.contains('#') {
        bail!("--upstream {text:?} must not have a query or fragment");
    }
    if text
        .split("://")
        .nth(1)
        .is_some_and(|rest| rest.split('/').next().unwrap_or("").contains('@'))
    {
        bail!("--upstream {text:?} must not hold a user or password");
    }
    Ok(text.trim_end_matches('/').to_owned())
}

pub fn run(args: &ProxyArgs) -> Result<()> {
    let upstream = upstream_base(&args.upstream)?;
    if !args.listen.ip().is_loopback() && !args.allow_remote {
        bail!(
            "--listen {} is not a loopback address: whoever reaches the proxy acts as the token of \
             profile {:?}; add --allow-remote if that is what you want",
            args.listen,
            args.profile
        );
    }
    let profile = profile::load(&args.profile)?;
    let host = |url: &str| {
        url.split("://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or("")
            .to_ascii_lowercase()
    };
    if host(&profile.url) != host(&upstream) {
        eprintln!(
            "tessera proxy: warning: profile {:?} was saved for {}, and requests go to {upstream}",
            args.profile, profile.url
        );
    }
    let proxy = Arc::new(Proxy {
        upstream,
        signer: profile.signer(),
        agent: crate::api::agent("tessera-proxy", Duration::from_secs(args.timeout)),
        body_hash: args.body_hash,
        max_signed_body: args.max_signed_body,
        profile: args.profile.clone(),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the proxy's runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let bound = listener.local_addr()?;
        eprintln!(
            "tessera proxy: listening on http://{bound}, signing for {} as profile {:?} (account {})",
            proxy.upstream, proxy.profile, profile.account
        );
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let (stream, _) = match accepted {
                        Ok(pair) => pair,
                        Err(e) => {
                            eprintln!("tessera proxy: accepting a connection failed: {e}");
                            continue;
                        }
                    };
                    let proxy = proxy.clone();
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(move |req| {
                            let proxy = proxy.clone();
                            async move { Ok::<_, Infallible>(forward(&proxy, req).await) }
                        });
                        let io = hyper_util::rt::TokioIo::new(stream);
                        let _ = hyper::server::conn::http1::Builder::new()
                            .timer(hyper_util::rt::TokioTimer::new())
                            .header_read_timeout(Duration::from_secs(30))
                            .serve_connection(io, service)
                            .await;
                    });
                }
                _ = tokio::signal::ctrl_c() => {
                    eprintln!("tessera proxy: stopped");
                    return Ok(());
                }
            }
        }
    })
}

/// A response body fed by the thread that reads the upstream's answer.
pub struct Streamed(tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>);

impl Body for Streamed {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|c| c.map(Frame::data)))
    }
}

type ProxyBody = http_body_util::Either<Streamed, http_body_util::Full<Bytes>>;

/// The proxy's own answer to a request it could not forward: a status and a JSON error naming
/// the cause.
fn failure(status: StatusCode, code: &str, message: &str) -> Response<ProxyBody> {
    let body = serde_json::json!({ "error": { "code": code, "message": message } }).to_string();
    let mut response = Response::new(http_body_util::Either::Right(http_body_util::Full::new(
        Bytes::from(body),
    )));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

/// A request's body as the upstream call reads it: whole (it is signed) or streamed.
enum Outgoing {
    None,
    Whole(Vec<u8>),
    Streamed(ChannelReader),
}

/// Reads chunks that the connection's task hands over, as a blocking `Read` for ureq (on the
/// blocking thread that makes the upstream call).
struct ChannelReader {
    chunks: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.chunks.blocking_recv() {
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

fn is_form(req: &Request<Incoming>) -> bool {
    req.headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

fn has_body(req: &Request<Incoming>) -> bool {
    let length = req
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match length {
        Some(n) => n > 0,
        None => req.headers().contains_key(hyper::header::TRANSFER_ENCODING),
    }
}

/// Why a request is not one an application on this machine sends: a browser's (a web page the
/// developer visits must not act as the token: it sends `Origin` or `Sec-Fetch-Site`), one
/// addressed by a host name other than `localhost` (a DNS-rebinding page's), or a target that
/// is not a plain path under the upstream.
fn not_an_application(req: &Request<Incoming>) -> Option<(StatusCode, &'static str, String)> {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let not_none = req
        .headers()
        .get_all("sec-fetch-site")
        .iter()
        .any(|site| site.as_bytes() != b"none");
    if req.headers().contains_key("origin") || not_none {
        return Some((
            StatusCode::FORBIDDEN,
            "BROWSER_REQUEST",
            "a browser's request (it carries Origin or Sec-Fetch-Site): a web page must not act \
             as this proxy's token; send requests from your application"
                .to_owned(),
        ));
    }
    let host = header("host").unwrap_or("");
    let single = req.headers().get_all("host").iter().count() == 1;
    if !(single && is_local_host(host)) {
        return Some((
            StatusCode::FORBIDDEN,
            "UNKNOWN_HOST",
            format!(
                "Host {host:?} is not this proxy's address: address it by IP or as localhost \
                 (a page behind another name could otherwise use it)"
            ),
        ));
    }
    let method = req.method();
    if *method == hyper::Method::CONNECT || *method == hyper::Method::TRACE {
        return Some((
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_FORWARDED",
            format!("{method} is not forwarded (CONNECT tunnels, TRACE would echo the signature)"),
        ));
    }
    if !method.as_str().bytes().all(|b| b.is_ascii_uppercase()) {
        return Some((
            StatusCode::BAD_REQUEST,
            "METHOD_NOT_FORWARDED",
            format!("{method:?} is not a method this proxy signs (upper-case letters only)"),
        ));
    }
    if req.headers().contains_key(hyper::header::UPGRADE) {
        return Some((
            StatusCode::BAD_REQUEST,
            "UPGRADE_NOT_FORWARDED",
            "protocol upgrades are not forwarded".to_owned(),
        ));
    }
    let path = req.uri().path();
    let escapes = path
        .split('/')
        .any(|segment| segment == ".." || segment == ".");
    if !path.starts_with('/') || escapes {
        return Some((
            StatusCode::BAD_REQUEST,
            "NOT_A_FORWARD_PROXY",
            format!("the target {path:?} is not a plain path under the upstream"),
        ));
    }
    None
}

/// Whether a `Host` value names this machine the way an application does: an IP literal or
/// `localhost`, bracketed if IPv6, with an optional port — a name (or anything malformed) is
/// what a DNS-rebinding page would send.
fn is_local_host(host: &str) -> bool {
    let (name, port) = match host.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((v6, "")) => (v6, None),
            Some((v6, after)) => match after.strip_prefix(':') {
                Some(port) => (v6, Some(port)),
                None => return false,
            },
            None => return false,
        },
        None => match host.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (host, None),
        },
    };
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0));
    let named = if host.starts_with('[') {
        name.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        name.parse::<std::net::Ipv4Addr>().is_ok() || name.eq_ignore_ascii_case("localhost")
    };
    port_ok && named
}

/// Headers a `Connection` header names: they belong to that connection too (RFC 9110 §7.6.1).
fn connection_listed(headers: &hyper::HeaderMap) -> Vec<String> {
    headers
        .get_all(hyper::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|n| n.trim().to_ascii_lowercase())
        .filter(|n| !n.is_empty())
        .collect()
}

async fn forward(proxy: &Proxy, req: Request<Incoming>) -> Response<ProxyBody> {
    if req.method() == hyper::Method::CONNECT {
        return failure(
            StatusCode::METHOD_NOT_ALLOWED,
            "NOT_A_FORWARD_PROXY",
            "this proxy forwards to its upstream only; CONNECT is not served",
        );
    }
    if req.uri().scheme().is_some() || req.uri().authority().is_some() {
        return failure(
            StatusCode::BAD_REQUEST,
            "NOT_A_FORWARD_PROXY",
            "this proxy forwards to its upstream only: send the path (/services/rest/…), not an absolute URL",
        );
    }
    if let Some((status, code, why)) = not_an_application(&req) {
        return failure(status, code, &why);
    }
    let target = req
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let url = format!("{}{target}", proxy.upstream);
    let method = req.method().clone();
    let form = is_form(&req);
    let body_present = has_body(&req);
    let signed_body = form || (proxy.body_hash && body_present);
    let mut headers = Vec::new();
    let listed = connection_listed(req.headers());
    for (name, value) in req.headers() {
        if !NOT_FORWARDED.contains(&name.as_str()) && !listed.iter().any(|l| l == name.as_str()) {
            headers.push((name.clone(), value.clone()));
        }
    }
    let length = req.headers().get(hyper::header::CONTENT_LENGTH).cloned();
    let body = req.into_body();
    let stalled = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let outgoing = if signed_body {
        let read = http_body_util::Limited::new(body, proxy.max_signed_body).collect();
        let Ok(read) = tokio::time::timeout(BODY_WAIT, read).await else {
            return failure(
                StatusCode::REQUEST_TIMEOUT,
                "BODY_TIMEOUT",
                &format!("the request body did not arrive whole within {BODY_WAIT:?}"),
            );
        };
        match read {
            Ok(collected) => Outgoing::Whole(collected.to_bytes().to_vec()),
            Err(e) => {
                let too_large = e.is::<http_body_util::LengthLimitError>();
                return if too_large {
                    failure(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "BODY_TOO_LARGE",
                        &format!(
                            "a signed body (a form, or any with --body-hash) is read whole; this one is over {} bytes (--max-signed-body)",
                            proxy.max_signed_body
                        ),
                    )
                } else {
                    failure(
                        StatusCode::BAD_REQUEST,
                        "BODY_UNREADABLE",
                        &format!("the request body could not be read: {e}"),
                    )
                };
            }
        }
    } else if body_present {
        // Streamed: the connection's task reads it and hands it to the upstream call.
        let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(8);
        let mut body = body;
        let stall = stalled.clone();
        tokio::spawn(async move {
            loop {
                // A client that stops sending its body must not hold the upstream call open.
                let Ok(frame) = tokio::time::timeout(BODY_WAIT, body.frame()).await else {
                    stall.store(true, std::sync::atomic::Ordering::Relaxed);
                    let _ = tx
                        .send(Err(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            "the client stopped sending its body",
                        )))
                        .await;
                    break;
                };
                let Some(frame) = frame else {
                    break;
                };
                let chunk = match frame {
                    Ok(frame) => match frame.into_data() {
                        Ok(data) => Ok(data),
                        Err(_) => continue,
                    },
                    Err(e) => Err(std::io::Error::other(e)),
                };
                let failed = chunk.is_err();
                if tx.send(chunk).await.is_err() || failed {
                    break;
                }
            }
        });
        Outgoing::Streamed(ChannelReader {
            chunks: rx,
            current: Bytes::new(),
        })
    } else {
        Outgoing::None
    };
    let whole = match &outgoing {
        Outgoing::Whole(bytes) => Some(bytes.as_slice()),
        _ => None,
    };
    let signed = proxy.signer.sign(&RequestToSign {
        method: method.as_str(),
        url: &url,
        form_body: if form { whole } else { None },
        body_hash: match whole {
            Some(bytes) if !form && !bytes.is_empty() => Some((BodyHashAlgorithm::Sha256, bytes)),
            _ => None,
        },
        ..RequestToSign::default()
    });
    let authorization = match signed {
        Ok(signed) => signed.authorization,
        Err(e) => {
            return failure(
                StatusCode::BAD_REQUEST,
                "CANNOT_SIGN",
                &format!("the request cannot be signed for {url}: {e}"),
            );
        }
    };
    let mut builder = ureq::http::Request::builder()
        .method(method.as_str())
        .uri(url.as_str())
        .header("Authorization", authorization);
    for (name, value) in &headers {
        builder = builder.header(name.as_str(), value.as_bytes());
    }
    if let (Outgoing::Streamed(_), Some(length)) = (&outgoing, &length) {
        builder = builder.header("Content-Length", length.as_bytes());
    }
    let agent = proxy.agent.clone();
    let (head_tx, head_rx) = tokio::sync::oneshot::channel();
    let (chunk_tx, chunk_rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(8);
    let called = url.clone();
    let profile = proxy.profile.clone();
    tokio::task::spawn_blocking(move || {
        let sent = match outgoing {
            Outgoing::None => builder.body(()).map(|r| agent.run(r)),
            Outgoing::Whole(bytes) => builder.body(bytes).map(|r| agent.run(r)),
            Outgoing::Streamed(reader) => builder
                .body(ureq::SendBody::from_owned_reader(reader))
                .map(|r| agent.run(r)),
        };
        let response = match sent {
            Ok(Ok(response)) => response,
            Ok(Err(e)) => {
                let _ = head_tx.send(Err(format!("the upstream {called} did not answer: {e}")));
                return;
            }
            Err(e) => {
                let _ = head_tx.send(Err(format!(
                    "the request for {called} cannot be built: {e}"
                )));
                return;
            }
        };
        let (parts, body) = response.into_parts();
        if parts.status == ureq::http::StatusCode::UNAUTHORIZED
            || parts.status == ureq::http::StatusCode::FORBIDDEN
        {
            // The path only: a query may hold what a log must not.
            let path = called.split('?').next().unwrap_or_default();
            eprintln!(
                "tessera proxy: the upstream refused {path} ({}): the secrets of profile \
                 {profile:?} may be wrong, its token revoked, inactive or expired, its address not \
                 allowed, or the upstream not the host of the token's account; the reason is in \
                 its login audit trail",
                parts.status
            );
        }
        if head_tx.send(Ok(parts)).is_err() {
            return;
        }
        let mut reader = body.into_reader();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if chunk_tx
                        .blocking_send(Ok(Bytes::copy_from_slice(&buf[..n])))
                        .is_err()
                    {
                        break;
                    }
                }
                Err(e) => {
                    let _ = chunk_tx.blocking_send(Err(e));
                    break;
                }
            }
        }
    });
    let parts = match head_rx.await {
        Ok(Ok(parts)) => parts,
        Ok(Err(_)) if stalled.load(std::sync::atomic::Ordering::Relaxed) => {
            return failure(
                StatusCode::REQUEST_TIMEOUT,
                "BODY_TIMEOUT",
                &format!("the request body stopped arriving for {BODY_WAIT:?}"),
            );
        }
        Ok(Err(why)) if why.contains("Broken pipe") || why.contains("reset") => {
            return failure(
                StatusCode::BAD_GATEWAY,
                "UPSTREAM_CLOSED",
                &format!(
                    "{why} — the upstream closed the connection while the body was sent; it may \
                     refuse bodies this large (send a Content-Length to get its own answer)"
                ),
            );
        }
        Ok(Err(why)) => return failure(StatusCode::BAD_GATEWAY, "UPSTREAM_UNREACHABLE", &why),
        Err(_) => {
            return failure(
                StatusCode::BAD_GATEWAY,
                "UPSTREAM_UNREACHABLE",
                "the upstream call ended without an answer",
            );
        }
    };
    let mut response = Response::new(http_body_util::Either::Left(Streamed(chunk_rx)));
    *response.status_mut() =
        StatusCode::from_u16(parts.status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let listed: Vec<String> = parts
        .headers
        .get_all("connection")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|n| n.trim().to_ascii_lowercase())
        .collect();
    for (name, value) in &parts.headers {
        // ureq has taken the upstream's framing off: the length, if any, still holds.
        if (NOT_FORWARDED.contains(&name.as_str()) && name != "content-length")
            || listed.iter().any(|l| l == name.as_str())
        {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            hyper::header::HeaderName::from_bytes(name.as_str().as_bytes()),
            hyper::header::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ip_literals_and_localhost_are_this_machine() {
        for ok in [
            "127.0.0.1:8089",
            "localhost",
            "LOCALHOST:1",
            "[::1]:8089",
            "[::1]",
            "10.0.0.5",
        ] {
            assert!(is_local_host(ok), "{ok}");
        }
        for bad in [
            "attacker.example",
            "localhost.",
            "localhost:abc",
            "localhost:",
            "127.0.0.1:99999",
            "[localhost]",
            "[::1]evil",
            "[::1].",
            "::1",
            "",
        ] {
            assert!(!is_local_host(bad), "{bad}");
        }
    }

    #[test]
    fn the_upstream_is_a_base_url_only() {
        assert_eq!(
            upstream_base("https://1234567.suitetalk.api.netsuite.com/").unwrap(),
            "https://1234567.suitetalk.api.netsuite.com"
        );
        assert_eq!(
            upstream_base("http://127.0.0.1:8080/prefix").unwrap(),
            "http://127.0.0.1:8080/prefix"
        );
        for bad in [
            "1234567.suitetalk.api.netsuite.com",
            "ftp://x/",
            "https://x/?a=1",
            "https://user:pw@x/",
        ] {
            assert!(upstream_base(bad).is_err(), "{bad}");
        }
    }
}
