//! A small blocking client for the gateway's admin API, shared by `warden approvals` and
//! `warden agents`.
//!
//! Owns the connection flags (`--url`, `--token`), the bearer header, the error body
//! (`{"error": {"code", "message"}}`) and the mapping of failures to exit codes: the API's own
//! refusals exit 1, usage and connection problems exit 2. It knows nothing about approvals or
//! agents beyond paths, and never prints the token. Also holds the few output helpers both
//! commands print with (tables, relative times).

use std::fmt;
use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Args;
use serde_json::Value;

/// How long a request may take before it counts as a connection failure.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the admin API is and who is asking.
#[derive(Debug, Args)]
pub struct Connection {
    /// The gateway's admin listener (printed by `warden serve` as `admin on http://ADDR`).
    #[arg(
        long,
        global = true,
        env = "WARDEN_ADMIN_URL",
        default_value = "http://127.0.0.1:8081"
    )]
    url: String,
    /// Operator token (`wdo_…`); prefer the environment variable, which keeps it out of `ps`.
    #[arg(
        long,
        global = true,
        env = "WARDEN_ADMIN_TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,
}

/// Why an admin API call failed.
#[derive(Debug)]
pub enum AdminError {
    /// The API answered with an error body (or a non-success status without one).
    Api {
        /// The HTTP status.
        status: u16,
        /// The machine-readable code, e.g. `wrong_group`.
        code: String,
        /// The API's message for people.
        message: String,
    },
    /// The gateway could not be reached, or its answer could not be read.
    Transport(String),
    /// The command line or the answer did not make sense.
    Usage(String),
}

impl fmt::Display for AdminError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdminError::Api {
                status,
                code,
                message,
            } => write!(f, "{message} ({status} {code})"),
            AdminError::Transport(m) | AdminError::Usage(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for AdminError {}

impl AdminError {
    /// The process exit code for this failure: 1 when the API refused, 2 otherwise.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            AdminError::Api { .. } => ExitCode::from(1),
            AdminError::Transport(_) | AdminError::Usage(_) => ExitCode::from(2),
        }
    }

    /// Prints the failure on stderr and returns its exit code.
    pub fn report(&self) -> ExitCode {
        eprintln!("error: {self}");
        self.exit_code()
    }
}

/// A connected admin client: an HTTP client, a runtime to drive it, a base URL and a token.
pub struct AdminClient {
    runtime: tokio::runtime::Runtime,
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl AdminClient {
    /// Builds a client from the connection flags.
    pub fn new(conn: &Connection) -> Result<AdminClient, AdminError> {
        let base = conn.url.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(AdminError::Usage(format!(
                "--url must start with http:// or https:// (got `{base}`)"
            )));
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| AdminError::Transport(format!("starting the async runtime: {e}")))?;
        // https needs a crypto provider; an earlier install (by the gateway crate) is fine too.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|e| AdminError::Transport(format!("building the HTTP client: {e}")))?;
        let token = conn.token.clone().filter(|t| !t.trim().is_empty());
        Ok(AdminClient {
            runtime,
            http,
            base,
            token,
        })
    }

    /// `GET path` and its JSON body.
    pub fn get(&self, path: &str) -> Result<Value, AdminError> {
        let request = self.request(reqwest::Method::GET, path);
        self.runtime
            .block_on(send(request.timeout(REQUEST_TIMEOUT)))
    }

    /// `POST path` with a JSON body, and the JSON answer.
    pub fn post(&self, path: &str, body: &Value) -> Result<Value, AdminError> {
        let request = self
            .request(reqwest::Method::POST, path)
            .json(body)
            .timeout(REQUEST_TIMEOUT);
        self.runtime.block_on(send(request))
    }

    /// `GET path` as a server-sent event stream: `on_event(event, data)` for each event, until
    /// the server ends the stream or `on_event` returns false. Comments are skipped.
    pub fn follow<F>(&self, path: &str, on_event: F) -> Result<(), AdminError>
    where
        F: FnMut(&str, &str) -> Result<bool, AdminError>,
    {
        let request = self
            .request(reqwest::Method::GET, path)
            .header(reqwest::header::ACCEPT, "text/event-stream");
        self.runtime.block_on(follow(request, on_event))
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let builder = self.http.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }
}

async fn send(request: reqwest::RequestBuilder) -> Result<Value, AdminError> {
    let response = request.send().await.map_err(transport)?;
    let status = response.status();
    let bytes = response.bytes().await.map_err(transport)?;
    if !status.is_success() {
        return Err(api_error(status.as_u16(), &bytes));
    }
    serde_json::from_slice(&bytes).map_err(|e| {
        AdminError::Transport(format!("the admin API answered with invalid JSON: {e}"))
    })
}

async fn follow<F>(request: reqwest::RequestBuilder, mut on_event: F) -> Result<(), AdminError>
where
    F: FnMut(&str, &str) -> Result<bool, AdminError>,
{
    let mut response = request.send().await.map_err(transport)?;
    let status = response.status();
    if !status.is_success() {
        let bytes = response.bytes().await.map_err(transport)?;
        return Err(api_error(status.as_u16(), &bytes));
    }
    let mut parser = EventParser::default();
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        for (event, data) in parser.feed(&chunk) {
            if !on_event(&event, &data)? {
                return Ok(());
            }
        }
    }
    Ok(())
}

fn transport(e: reqwest::Error) -> AdminError {
    let mut message = format!("cannot reach the admin API: {e}");
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    AdminError::Transport(message)
}

/// The error body's code and message, or the status alone if the body is not the API's shape.
fn api_error(status: u16, body: &[u8]) -> AdminError {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let field = |name: &str| {
        parsed
            .as_ref()
            .and_then(|v| v.get("error"))
            .and_then(|e| e.get(name))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    match (field("code"), field("message")) {
        (Some(code), Some(message)) => AdminError::Api {
            status,
            code,
            message,
        },
        _ => AdminError::Api {
            status,
            code: "http".to_owned(),
            message: format!(
                "the admin API answered {status}: {}",
                String::from_utf8_lossy(body).trim()
            ),
        },
    }
}

/// Prints one line (or block) on stdout and flushes it, so followers see it at once.
pub fn print(text: &str) -> Result<(), AdminError> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(|e| AdminError::Transport(format!("writing to stdout: {e}")))
}

/// A string field of an API object, `-` when absent.
pub fn text(v: &Value, field: &str) -> String {
    v.get(field)
        .and_then(Value::as_str)
        .unwrap_or("-")
        .to_owned()
}

/// The wall clock in Unix ms.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// `in 9m 58s` or `2m 3s ago`, relative to `now` (both Unix ms).
pub fn relative(ms: u64, now: u64) -> String {
    if ms >= now {
        format!("in {}", span((ms - now) / 1000))
    } else {
        format!("{} ago", span((now - ms) / 1000))
    }
}

fn span(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m {}s", secs / 60, secs % 60),
        _ => format!("{}h {}m", secs / 3600, (secs % 3600) / 60),
    }
}

/// Left-aligned columns two spaces apart.
pub fn table<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0usize; N];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    rows.iter()
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .zip(widths)
                .map(|(cell, w)| format!("{cell:<w$}"))
                .collect();
            cells.join("  ").trim_end().to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `value` if it can stand as one path segment or query value unchanged: letters, digits, `_`,
/// `-` and `.` (but not `.` or `..`).
pub fn check_segment<'a>(value: &'a str, what: &str) -> Result<&'a str, AdminError> {
    let fine = !value.is_empty()
        && value != "."
        && value != ".."
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if fine {
        Ok(value)
    } else {
        Err(AdminError::Usage(format!(
            "{what} `{value}` may contain only letters, digits, `_`, `-` and `.`"
        )))
    }
}

/// Splits a server-sent event stream, fed in arbitrary chunks, into `(event, data)` pairs.
#[derive(Debug, Default)]
pub struct EventParser {
    buffer: Vec<u8>,
    event: String,
    data: Vec<String>,
}

impl EventParser {
    /// Consumes `chunk` and returns every event it completes.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<(String, String)> {
        self.buffer.extend_from_slice(chunk);
        let mut out = Vec::new();
        while let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.buffer.drain(..=end).collect();
            let text = String::from_utf8_lossy(&line);
            let text = text.trim_end_matches(['\n', '\r']);
            if text.is_empty() {
                if !self.data.is_empty() || !self.event.is_empty() {
                    let event = std::mem::take(&mut self.event);
                    let data = std::mem::take(&mut self.data).join("\n");
                    out.push((
                        if event.is_empty() {
                            "message".to_owned()
                        } else {
                            event
                        },
                        data,
                    ));
                }
            } else if let Some(value) = text.strip_prefix("event:") {
                value.trim_start().clone_into(&mut self.event);
            } else if let Some(value) = text.strip_prefix("data:") {
                self.data
                    .push(value.strip_prefix(' ').unwrap_or(value).to_owned());
            }
            // Comments (`: keep-alive`) and unknown fields are skipped.
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_across_chunks_are_joined() {
        let mut p = EventParser::default();
        assert!(p.feed(b"event: requ").is_empty());
        assert!(p.feed(b"ested\ndata: {\"id\":").is_empty());
        let got = p.feed(b"\"apr_1\"}\n\n: keep-alive\n\nevent: decided\r\ndata: {}\r\n\r\n");
        assert_eq!(
            got,
            vec![
                ("requested".to_owned(), "{\"id\":\"apr_1\"}".to_owned()),
                ("decided".to_owned(), "{}".to_owned()),
            ]
        );
    }

    #[test]
    fn relative_times_read_both_ways() {
        assert_eq!(relative(61_000, 0), "in 1m 1s");
        assert_eq!(relative(0, 7_200_000), "2h 0m ago");
        assert_eq!(relative(5_000, 5_000), "in 0s");
    }

    #[test]
    fn tables_align_columns() {
        let rows = [
            ["ID".to_owned(), "X".to_owned()],
            ["apr_1".to_owned(), "y".to_owned()],
        ];
        assert_eq!(table(&rows), "ID     X\napr_1  y");
    }

    #[test]
    fn path_segments_reject_slashes_and_queries() {
        assert!(check_segment("apr_01H-x.y", "id").is_ok());
        assert!(check_segment("../agents", "id").is_err());
        assert!(check_segment("..", "id").is_err());
        assert!(check_segment("a?b", "id").is_err());
        assert!(check_segment("", "id").is_err());
    }

    #[test]
    fn error_bodies_keep_the_api_message() {
        let e = api_error(
            403,
            br#"{"error":{"code":"role","message":"needs approver"}}"#,
        );
        assert_eq!(e.to_string(), "needs approver (403 role)");
        let e = api_error(502, b"bad gateway");
        assert_eq!(
            e.to_string(),
            "the admin API answered 502: bad gateway (502 http)"
        );
    }
}
