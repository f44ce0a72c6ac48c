//! Moving bytes once a request is allowed and connected: a CONNECT tunnel is spliced to the
//! destination; an absolute-form request is sent in origin form over the connection, without
//! hop-by-hop headers or the agent's proxy credentials.

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{CONNECTION, HOST, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::target::Target;
use super::{EgressError, ProxyBody, RECORD_HEADER, full};

/// Headers that concern one hop only, never forwarded in either direction.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Answers `req` over `stream` (already connected to the judged address).
pub(super) async fn relay(
    mut req: Request<Incoming>,
    stream: TcpStream,
    target: &Target,
    record: String,
) -> Result<Response<ProxyBody>, EgressError> {
    let record_header = HeaderValue::from_str(&record).ok();
    if req.method() == Method::CONNECT {
        let upgrade = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            match upgrade.await {
                Ok(upgraded) => {
                    let mut client = TokioIo::new(upgraded);
                    let mut server = stream;
                    if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut server).await {
                        tracing::debug!("egress tunnel: {e}");
                    }
                }
                Err(e) => tracing::debug!("egress tunnel upgrade: {e}"),
            }
        });
        let mut response = Response::new(full(Bytes::new()));
        if let Some(value) = record_header {
            response.headers_mut().insert(RECORD_HEADER, value);
        }
        return Ok(response);
    }
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| EgressError::Unreachable(format!("{}: {e}", target.facts.host)))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("egress upstream connection: {e}");
        }
    });
    let outbound = origin_form(req, target)?;
    let response = sender
        .send_request(outbound)
        .await
        .map_err(|e| EgressError::Unreachable(format!("{}: {e}", target.facts.host)))?;
    let (mut parts, body) = response.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    if let Some(value) = record_header {
        parts.headers.insert(RECORD_HEADER, value);
    }
    Ok(Response::from_parts(parts, body.boxed()))
}

/// The request as the destination receives it: origin-form URI, same method, headers and body.
fn origin_form(req: Request<Incoming>, target: &Target) -> Result<Request<Incoming>, EgressError> {
    let (mut parts, body) = req.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    parts.uri = path
        .parse::<Uri>()
        .map_err(|e| EgressError::BadRequest(format!("`{path}`: {e}")))?;
    strip_hop_by_hop(&mut parts.headers);
    if !parts.headers.contains_key(HOST) {
        let host = match target.port {
            80 => target.facts.host.clone(),
            port if target.facts.host.contains(':') => format!("[{}]:{port}", target.facts.host),
            port => format!("{}:{port}", target.facts.host),
        };
        if let Ok(value) = HeaderValue::from_str(&host) {
            parts.headers.insert(HOST, value);
        }
    }
    Ok(Request::from_parts(parts, body))
}

/// Removes hop-by-hop headers, including those the `Connection` header names.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(*name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_and_connection_named_headers_are_removed() {
        let mut headers = HeaderMap::new();
        for (k, v) in [
            ("connection", "close, x-secret-hop"),
            ("x-secret-hop", "1"),
            ("proxy-authorization", "Basic abc"),
            ("keep-alive", "timeout=5"),
            ("accept", "*/*"),
        ] {
            headers.insert(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        strip_hop_by_hop(&mut headers);
        let left: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        assert_eq!(left, vec!["accept"]);
    }
}
