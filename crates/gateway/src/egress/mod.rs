//! The egress proxy: agents' outbound HTTP, on its own listener (`egress.listen`), as an HTTP
//! forward proxy for `HTTP_PROXY` / `HTTPS_PROXY`.
//!
//! `CONNECT host:port` opens a tunnel (TLS stays end to end); an absolute-form request
//! (`GET http://host/path`) is forwarded. The agent is identified by the Warden key in
//! `Proxy-Authorization` (407 without a live one). Each request is an `egress` action: the host
//! is resolved first, then every address is judged before it is connected to (the policy sees it
//! as `egress.address`) and the connection goes to exactly that address, so a name cannot
//! resolve to something else between the check and the connection. Internal destinations are
//! refused unless a rule names the address ([`guard`]). Refusals are 403 with the reason; every
//! decision is recorded in the ledger before the request goes out.

pub mod auth;
mod forward;
pub mod guard;
pub mod target;

use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue, PROXY_AUTHENTICATE, PROXY_AUTHORIZATION};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use warden_ledger::{self as ledger, RecordDraft};
use warden_policy::{Bundle, Decision};

use crate::identity::{AuthError, Identity, identify_key};
use crate::llm::judge;
use crate::state::Gateway;
use target::{Host, Target};

/// The body of every proxy response: forwarded bytes or Warden's own JSON.
pub type ProxyBody = BoxBody<Bytes, hyper::Error>;

/// Response header naming the ledger record of the decision.
pub const RECORD_HEADER: &str = "warden-record";
/// Most resolved addresses tried for one request (each is judged and recorded).
const MAX_ADDRESSES: usize = 4;

/// Why a proxied request does not go out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EgressError {
    /// No live Warden key in `Proxy-Authorization` (407).
    #[error("{0}")]
    Unauthenticated(String),
    /// The policy or the internal-address guard refused it, or the agent is halted (403).
    #[error("{reason}")]
    Refused {
        /// Why, with the deciding rules.
        reason: String,
        /// The decision's ledger record, when one was written.
        record: Option<String>,
    },
    /// The request is not something a forward proxy can send (400).
    #[error("{0}")]
    BadRequest(String),
    /// The destination could not be resolved or reached (502).
    #[error("{0}")]
    Unreachable(String),
    /// No policy is loaded, the key store failed, or a decision could not be recorded (503).
    #[error("{0}")]
    Unavailable(String),
}

impl EgressError {
    fn status(&self) -> StatusCode {
        match self {
            EgressError::Unauthenticated(_) => StatusCode::PROXY_AUTHENTICATION_REQUIRED,
            EgressError::Refused { .. } => StatusCode::FORBIDDEN,
            EgressError::BadRequest(_) => StatusCode::BAD_REQUEST,
            EgressError::Unreachable(_) => StatusCode::BAD_GATEWAY,
            EgressError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn into_response(self) -> Response<ProxyBody> {
        let status = self.status();
        let mut error = json!({ "status": status.as_u16(), "message": self.to_string() });
        let record = match &self {
            EgressError::Refused {
                record: Some(id), ..
            } => Some(id.clone()),
            _ => None,
        };
        if let (Some(id), Value::Object(map)) = (&record, &mut error) {
            map.insert("record".into(), Value::String(id.clone()));
        }
        let mut response = json_response(status, &json!({ "error": error }));
        if status == StatusCode::PROXY_AUTHENTICATION_REQUIRED {
            let headers = response.headers_mut();
            headers.append(
                PROXY_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"warden\""),
            );
            headers.append(
                PROXY_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"warden\""),
            );
        }
        if let Some(value) = record.and_then(|id| HeaderValue::from_str(&id).ok()) {
            response.headers_mut().insert(RECORD_HEADER, value);
        }
        response
    }
}

/// Serves the proxy on `listener` until `shutdown` resolves. Tunnels already open keep running
/// until the process ends.
pub async fn serve(
    gw: Arc<Gateway>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => return Ok(()),
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of descriptors and the like: wait instead of spinning.
                tracing::warn!("egress listener: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!("TCP_NODELAY: {e}");
        }
        let gw = gw.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let gw = gw.clone();
                async move { Ok::<_, Infallible>(handle(gw, req).await) }
            });
            let served = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
            if let Err(e) = served {
                tracing::debug!("egress connection: {e}");
            }
        });
    }
}

async fn handle(gw: Arc<Gateway>, req: Request<Incoming>) -> Response<ProxyBody> {
    let method = req.method().clone();
    let uri = req.uri().clone();
    match proxy(&gw, req).await {
        Ok(response) => response,
        Err(error) => {
            tracing::info!(%method, %uri, status = error.status().as_u16(), "egress refused: {error}");
            error.into_response()
        }
    }
}

async fn proxy(gw: &Gateway, req: Request<Incoming>) -> Result<Response<ProxyBody>, EgressError> {
    let identity = authenticate(gw, &req)?;
    if let Some(halt) = gw.halts.check(&identity.agent.id) {
        return Err(EgressError::Refused {
            reason: format!(
                "agent `{}` is halted by {}: {}",
                identity.agent.id, halt.by, halt.reason
            ),
            record: None,
        });
    }
    let target = if req.method() == Method::CONNECT {
        let authority = req
            .uri()
            .authority()
            .map(|a| a.as_str())
            .unwrap_or_default();
        target::connect(authority)
    } else {
        target::absolute(&req.uri().to_string())
    }
    .map_err(|e| EgressError::BadRequest(e.to_string()))?;
    let bundle = gw.policy.current().ok_or_else(|| {
        EgressError::Unavailable("no policy bundle is loaded; nothing goes out".into())
    })?;
    let timeout = Duration::from_millis(
        gw.config
            .egress
            .map_or(10_000, |settings| settings.connect_timeout_ms),
    );
    let method = req.method().as_str().to_owned();
    let judge = Judge {
        gw,
        bundle: &bundle,
        identity: &identity,
        target: &target,
        method: &method,
    };
    let addresses = match &target.host {
        Host::Ip(ip) => vec![*ip],
        Host::Name(name) => resolve(name, target.port, timeout).await,
    };
    if addresses.is_empty() {
        // Judged anyway: a refusal (an internal name) is a decision and is recorded as one.
        judge.decide(None).await?;
        return Err(EgressError::Unreachable(format!(
            "`{}` could not be resolved",
            target.facts.host
        )));
    }
    let mut failures = Vec::new();
    for ip in addresses.into_iter().take(MAX_ADDRESSES) {
        let record = judge.decide(Some(ip)).await?;
        let addr = SocketAddr::new(ip, target.port);
        match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                if let Err(e) = stream.set_nodelay(true) {
                    tracing::debug!("TCP_NODELAY: {e}");
                }
                return forward::relay(req, stream, &target, record).await;
            }
            Ok(Err(e)) => failures.push(format!("{addr}: {e}")),
            Err(_) => failures.push(format!("{addr}: no connection within {timeout:?}")),
        }
    }
    Err(EgressError::Unreachable(format!(
        "`{}` could not be reached ({})",
        target.facts.host,
        failures.join("; ")
    )))
}

/// The agent whose key is in `Proxy-Authorization`.
fn authenticate(gw: &Gateway, req: &Request<Incoming>) -> Result<Identity, EgressError> {
    let key = req
        .headers()
        .get(PROXY_AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(auth::proxy_key)
        .ok_or_else(|| {
            EgressError::Unauthenticated(
                "no Warden key: send it in Proxy-Authorization (HTTPS_PROXY=http://KEY@HOST:PORT, or Basic with the key as password, or Bearer)".into(),
            )
        })?;
    identify_key(&key, None, gw.credentials.as_ref(), &gw.config).map_err(|e| match e {
        AuthError::Store(_) => EgressError::Unavailable(e.to_string()),
        AuthError::Missing
        | AuthError::Invalid
        | AuthError::UnknownAgent(_)
        | AuthError::OperatorToken => EgressError::Unauthenticated(e.to_string()),
    })
}

/// Every address `name` resolves to (none when it does not resolve in time).
async fn resolve(name: &str, port: u16, timeout: Duration) -> Vec<IpAddr> {
    match tokio::time::timeout(timeout, tokio::net::lookup_host((name, port))).await {
        Ok(Ok(addrs)) => {
            let mut ips: Vec<IpAddr> = Vec::new();
            for addr in addrs {
                if !ips.contains(&addr.ip()) {
                    ips.push(addr.ip());
                }
            }
            ips
        }
        Ok(Err(e)) => {
            tracing::debug!("resolving {name}: {e}");
            Vec::new()
        }
        Err(_) => Vec::new(),
    }
}

/// Decides and records one request to one address.
struct Judge<'a> {
    gw: &'a Gateway,
    bundle: &'a Bundle,
    identity: &'a Identity,
    target: &'a Target,
    method: &'a str,
}

impl Judge<'_> {
    /// The decision on connecting to `address` (`None`: the host did not resolve), recorded
    /// before it is acted on; the record id when it permits, the refusal otherwise.
    async fn decide(&self, address: Option<IpAddr>) -> Result<String, EgressError> {
        let shown = address.map_or_else(|| self.target.facts.host.clone(), |ip| ip.to_string());
        let action = warden_policy::Action {
            kind: warden_policy::ActionKind::Egress,
            agent: self.identity.agent.clone(),
            tool: None,
            request: None,
            egress: Some(warden_policy::Egress {
                url: self.target.url.clone(),
                method: self.method.to_owned(),
                address: address.map(|ip| ip.to_string()).unwrap_or_default(),
            }),
            authzen: None,
            history: Vec::new(),
            context: Default::default(),
        };
        let internal = guard::internal(&self.target.facts, address);
        let decision = guard::apply(self.bundle, self.bundle.evaluate(&action), internal, &shown);
        let permitted = guard::permits(decision.outcome);
        let draft = record(self.identity, &action, &decision, self.target);
        // The proxy hands out no receipts, so none is signed.
        let committed = self
            .gw
            .ledger
            .append(draft)
            .committed()
            .await
            .map_err(|e| {
                EgressError::Unavailable(format!(
                    "the decision could not be recorded in the ledger ({e}); nothing goes out"
                ))
            })?;
        let record_id = committed.claims.rid;
        if permitted {
            return Ok(record_id);
        }
        let rules = if decision.rules.is_empty() {
            "bundle default".to_owned()
        } else {
            decision.rules.join(", ")
        };
        Err(EgressError::Refused {
            reason: format!(
                "Warden refused {} {} (to {shown}; outcome: {}; rule: {rules}): {}. Ledger record: {}.",
                self.method,
                self.target.url,
                decision.outcome.as_str(),
                decision.reason.trim().trim_end_matches('.'),
                record_id
            ),
            record: Some(record_id),
        })
    }
}

/// The ledger record of an egress decision (secrets in the URL redacted).
fn record(
    identity: &Identity,
    action: &warden_policy::Action,
    decision: &Decision,
    target: &Target,
) -> RecordDraft {
    let args = serde_json::to_value(&action.egress).unwrap_or(Value::Null);
    RecordDraft {
        actor: ledger::Actor {
            agent_id: Some(identity.agent.id.clone()),
            tenant: Some(identity.agent.tenant.clone()).filter(|t| !t.is_empty()),
            key_id: Some(identity.key_id.clone()),
            ..ledger::Actor::default()
        },
        bundle_digest: Some(decision.bundle.clone()),
        event: ledger::Event::Decision(Box::new(ledger::Decision {
            outcome: match decision.outcome {
                warden_policy::Outcome::Allow => ledger::Outcome::Allow,
                warden_policy::Outcome::AllowWithConstraints => {
                    ledger::Outcome::AllowWithConstraints
                }
                warden_policy::Outcome::Remediate => ledger::Outcome::Remediate,
                warden_policy::Outcome::RequireApproval => ledger::Outcome::RequireApproval,
                warden_policy::Outcome::Deny => ledger::Outcome::Deny,
            },
            rule_ids: decision.rules.clone(),
            reasons: vec![decision.reason.clone()],
            action: ledger::Action {
                kind: ledger::ActionKind::Egress,
                tool: None,
                args_digest: judge::digest(&args),
                args_redacted: Some(judge::redact(args)),
                upstream: Some(format!("{}:{}", target.facts.host, target.port)),
                model: None,
            },
            constraints: Default::default(),
            rewrite: None,
            approval: None,
            cost: None,
        })),
    }
}

/// Warden's own JSON answer.
fn json_response(status: StatusCode, body: &Value) -> Response<ProxyBody> {
    let mut response = Response::new(full(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// A body of known bytes.
fn full(bytes: Bytes) -> ProxyBody {
    Full::new(bytes).map_err(|never| match never {}).boxed()
}
