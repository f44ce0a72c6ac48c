//! The upstream side: which provider serves a request, and forwarding it with the provider's
//! key. Provider keys are read from the environment once at start and only ever put on upstream
//! requests; they are never logged, recorded or returned.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use bytes::Bytes;
use warden_llm::Api;

use crate::config::{Config, Provider, ProviderKind};

/// One configured provider, ready to forward to.
#[derive(Clone)]
pub struct Route {
    /// The provider's name in the configuration.
    pub name: String,
    /// Its settings.
    pub provider: Provider,
    key: Option<String>,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Route")
            .field("name", &self.name)
            .field("base_url", &self.provider.base_url)
            .field("key", &self.key.as_ref().map(|_| "[set]"))
            .finish()
    }
}

/// Why an upstream call failed before a response arrived.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The provider's key variable is not set in Warden's environment.
    #[error(
        "provider `{provider}` has no API key: set the environment variable {env} where Warden runs"
    )]
    NoKey {
        /// The provider.
        provider: String,
        /// The variable it names.
        env: String,
    },
    /// No response headers within the upstream time limit.
    #[error("provider `{0}` did not answer in time")]
    Timeout(String),
    /// Connection refused, reset, TLS failure, ….
    #[error("provider `{provider}` is unreachable: {reason}")]
    Unreachable {
        /// The provider.
        provider: String,
        /// What failed (never includes the key).
        reason: String,
    },
}

/// The HTTP client and the providers.
#[derive(Debug, Clone)]
pub struct Upstreams {
    client: reqwest::Client,
    routes: Vec<Route>,
    /// Time limit for response headers, and for each gap between body chunks.
    pub timeout: Duration,
}

/// Request headers never forwarded: the agent's credentials, hop-by-hop headers, and those the
/// client sets itself.
const DROPPED: &[&str] = &[
    "authorization",
    "x-api-key",
    "host",
    "content-length",
    "connection",
    "keep-alive",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "accept-encoding",
    "cookie",
    "warden-run-id",
];

impl Upstreams {
    /// Builds the client and reads each provider's key with `env`.
    pub fn new(
        config: &Config,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Upstreams, reqwest::Error> {
        // Exactly one rustls crypto provider is compiled in (ring); make it the process default.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(1024)
            .tcp_nodelay(true)
            .build()?;
        let routes = config
            .providers
            .iter()
            .map(|(name, provider)| Route {
                name: name.clone(),
                provider: provider.clone(),
                key: env(&provider.api_key_env).filter(|k| !k.is_empty()),
            })
            .collect();
        Ok(Upstreams {
            client,
            routes,
            timeout: Duration::from_millis(config.limits.upstream_timeout_ms),
        })
    }

    /// The HTTP client (for webhooks and other outbound calls of the gateway's own).
    pub fn client(&self) -> reqwest::Client {
        self.client.clone()
    }

    /// Providers whose key is missing, as `(provider, env var)`.
    pub fn missing_keys(&self) -> Vec<(&str, &str)> {
        self.routes
            .iter()
            .filter(|r| r.key.is_none())
            .map(|r| (r.name.as_str(), r.provider.api_key_env.as_str()))
            .collect()
    }

    /// Every provider of the API family `api` belongs to.
    pub fn routes_for(&self, api: Api) -> impl Iterator<Item = &Route> {
        let kind = kind_of(api);
        self.routes.iter().filter(move |r| r.provider.kind == kind)
    }

    /// The provider serving `model` on `api`: the first whose `models` patterns match, else one
    /// that takes every model.
    pub fn route(&self, api: Api, model: &str) -> Option<&Route> {
        self.routes_for(api)
            .find(|r| {
                r.provider
                    .models
                    .iter()
                    .any(|p| warden_policy::glob_match(p, model))
            })
            .or_else(|| self.routes_for(api).find(|r| r.provider.models.is_empty()))
    }

    /// Sends `body` to `path` of `route` with the agent's forwardable headers and the
    /// provider's key; resolves when response headers arrive.
    pub async fn send(
        &self,
        route: &Route,
        method: reqwest::Method,
        path: &str,
        headers: &HeaderMap,
        body: Option<Bytes>,
    ) -> Result<reqwest::Response, UpstreamError> {
        let key = route.key.as_deref().ok_or_else(|| UpstreamError::NoKey {
            provider: route.name.clone(),
            env: route.provider.api_key_env.clone(),
        })?;
        let url = format!("{}{}", route.provider.base_url, path);
        let mut forwarded = reqwest::header::HeaderMap::new();
        for (name, value) in headers {
            if !DROPPED.contains(&name.as_str()) {
                forwarded.append(name.clone(), value.clone());
            }
        }
        let auth = match route.provider.kind {
            ProviderKind::Openai => (
                HeaderName::from_static("authorization"),
                HeaderValue::from_str(&format!("Bearer {key}")),
            ),
            ProviderKind::Anthropic => (
                HeaderName::from_static("x-api-key"),
                HeaderValue::from_str(key),
            ),
        };
        let (name, value) = (
            auth.0,
            auth.1.map_err(|_| UpstreamError::Unreachable {
                provider: route.name.clone(),
                reason: format!(
                    "the key in {} is not a valid header value",
                    route.provider.api_key_env
                ),
            })?,
        );
        let mut value = value;
        value.set_sensitive(true);
        forwarded.insert(name, value);
        if route.provider.kind == ProviderKind::Anthropic
            && !forwarded.contains_key("anthropic-version")
        {
            forwarded.insert("anthropic-version", HeaderValue::from_static("2023-06-01"));
        }
        let mut request = self.client.request(method, url).headers(forwarded);
        if let Some(body) = body {
            request = request.body(body);
        }
        match tokio::time::timeout(self.timeout, request.send()).await {
            Err(_elapsed) => Err(UpstreamError::Timeout(route.name.clone())),
            Ok(Err(e)) => Err(UpstreamError::Unreachable {
                provider: route.name.clone(),
                reason: describe(&e),
            }),
            Ok(Ok(response)) => Ok(response),
        }
    }
}

/// The provider kind that serves `api`.
pub fn kind_of(api: Api) -> ProviderKind {
    match api {
        Api::OpenAiChat | Api::OpenAiResponses => ProviderKind::Openai,
        Api::Anthropic => ProviderKind::Anthropic,
    }
}

/// A reqwest error in words, with its causes.
pub fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
