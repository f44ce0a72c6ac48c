//! A stdio upstream: a child process Warden starts, speaking newline-delimited JSON-RPC on its
//! stdin and stdout (stderr is logged). A supervisor task owns the process: it opens the session
//! (`initialize`), routes each response to the request waiting for it, answers the server's own
//! requests with "method not found" (Warden does not relay them), and when the process exits
//! fails every request in flight with [`UpstreamError::Crashed`] and starts it again after a
//! back-off (200 ms doubling to 10 s, reset once a process has run for a minute).

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot, watch};

use super::upstream::{
    UpstreamError, cancelled_notification, clip, initialize_request, initialized_notification,
};
use crate::config::{McpServer, McpTransport};

/// First restart delay.
const BACKOFF_START: Duration = Duration::from_millis(200);
/// Longest restart delay.
const BACKOFF_MAX: Duration = Duration::from_secs(10);
/// A process that ran this long resets the back-off.
const STABLE_AFTER: Duration = Duration::from_secs(60);
/// Longest line accepted from the server.
const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;
/// How long the handshake may take.
const INIT_TIMEOUT: Duration = Duration::from_secs(30);

/// The process's state, as requests see it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Link {
    /// Starting (or restarting after `String`).
    Starting(String),
    /// Ready: the handshake is done.
    Ready,
    /// Stopped for good (shutdown).
    Stopped,
}

type Pending = Mutex<HashMap<u64, oneshot::Sender<Result<Value, UpstreamError>>>>;

/// A supervised MCP server process.
#[derive(Debug)]
pub struct StdioUpstream {
    name: String,
    link: watch::Sender<Link>,
    pending: Pending,
    writer: Mutex<Option<mpsc::Sender<Vec<u8>>>>,
    init: Mutex<Option<Value>>,
    next_id: AtomicU64,
    /// Processes started so far (1 after the first start).
    starts: AtomicU64,
    stop: watch::Sender<bool>,
}

impl StdioUpstream {
    /// Starts the supervisor (and so the process).
    pub fn start(name: &str, server: &McpServer) -> Arc<StdioUpstream> {
        let (stop, _) = watch::channel(false);
        let upstream = Arc::new(StdioUpstream {
            name: name.to_owned(),
            link: watch::channel(Link::Starting("not started yet".into())).0,
            pending: Mutex::new(HashMap::new()),
            writer: Mutex::new(None),
            init: Mutex::new(None),
            next_id: AtomicU64::new(1),
            starts: AtomicU64::new(0),
            stop,
        });
        if let McpTransport::Stdio { command, env, cwd } = &server.transport {
            let spec = Spec {
                command: command.clone(),
                env: env.clone(),
                cwd: cwd.clone(),
            };
            tokio::spawn(supervise(upstream.clone(), spec));
        }
        upstream
    }

    /// How many times the process has been started.
    pub fn starts(&self) -> u64 {
        self.starts.load(Ordering::Relaxed)
    }

    fn fail_pending(&self, error: &UpstreamError) {
        let drained: Vec<_> = match self.pending.lock() {
            Ok(mut p) => p.drain().collect(),
            Err(_) => Vec::new(),
        };
        for (_, tx) in drained {
            let _ = tx.send(Err(error.clone()));
        }
    }

    async fn ready(&self, timeout: Duration) -> Result<(), UpstreamError> {
        let mut rx = self.link.subscribe();
        let waited = tokio::time::timeout(
            timeout,
            rx.wait_for(|l| matches!(l, Link::Ready | Link::Stopped)),
        )
        .await;
        let state = self.link.borrow().clone();
        match (waited, state) {
            (_, Link::Ready) => Ok(()),
            (_, Link::Stopped) => Err(UpstreamError::Down {
                server: self.name.clone(),
                detail: "Warden is shutting down".into(),
            }),
            (_, Link::Starting(why)) => Err(UpstreamError::Down {
                server: self.name.clone(),
                detail: why,
            }),
        }
    }

    /// Writes `message` under a fresh id and waits for its response.
    pub async fn request(
        &self,
        mut message: Value,
        timeout: Duration,
    ) -> Result<Value, UpstreamError> {
        let started = Instant::now();
        self.ready(timeout).await?;
        let left = timeout.saturating_sub(started.elapsed());
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        if let Some(object) = message.as_object_mut() {
            object.insert("id".into(), Value::from(id));
        }
        let answer = self.exchange(id, &message, left).await;
        if matches!(answer, Err(UpstreamError::Timeout { .. })) {
            let note = cancelled_notification(id, "Warden's time limit for the call expired");
            self.send(&note).await;
        }
        answer
    }

    async fn exchange(
        &self,
        id: u64,
        message: &Value,
        timeout: Duration,
    ) -> Result<Value, UpstreamError> {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut p) = self.pending.lock() {
            p.insert(id, tx);
        }
        if !self.send(message).await {
            self.forget(id);
            return Err(UpstreamError::Down {
                server: self.name.clone(),
                detail: "its input is closed".into(),
            });
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Err(UpstreamError::Crashed {
                server: self.name.clone(),
                detail: "the supervisor dropped the request".into(),
            }),
            Err(_) => {
                self.forget(id);
                Err(UpstreamError::Timeout {
                    server: self.name.clone(),
                    ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
                })
            }
        }
    }

    fn forget(&self, id: u64) {
        if let Ok(mut p) = self.pending.lock() {
            p.remove(&id);
        }
    }

    /// Queues one line for the process; false when it has no input.
    async fn send(&self, message: &Value) -> bool {
        let writer = self.writer.lock().ok().and_then(|w| w.clone());
        let Some(writer) = writer else {
            return false;
        };
        let mut line = message.to_string().into_bytes();
        line.push(b'\n');
        writer.send(line).await.is_ok()
    }

    /// The server's configured name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The server's `initialize` result (waiting for the process to be ready).
    pub async fn initialize_result(&self, timeout: Duration) -> Result<Value, UpstreamError> {
        self.ready(timeout).await?;
        self.init
            .lock()
            .ok()
            .and_then(|i| i.clone())
            .ok_or_else(|| UpstreamError::Down {
                server: self.name.clone(),
                detail: "restarting".into(),
            })
    }

    /// Stops the process and the supervisor.
    pub async fn shutdown(&self) {
        let _ = self.stop.send_replace(true);
        let mut rx = self.link.subscribe();
        let _ = tokio::time::timeout(Duration::from_secs(5), rx.wait_for(|l| *l == Link::Stopped))
            .await;
    }
}

/// What to run.
struct Spec {
    command: Vec<String>,
    env: std::collections::BTreeMap<String, String>,
    cwd: std::path::PathBuf,
}

async fn supervise(up: Arc<StdioUpstream>, spec: Spec) {
    let mut stop = up.stop.subscribe();
    let mut backoff = BACKOFF_START;
    loop {
        if is_stopped(&stop) {
            break;
        }
        let began = Instant::now();
        let ended = match spawn(&spec) {
            Ok(child) => {
                up.starts.fetch_add(1, Ordering::Relaxed);
                run(&up, child, &mut stop).await
            }
            Err(e) => format!("could not start `{}`: {e}", spec.command.join(" ")),
        };
        *up.writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
        let _ = up
            .link
            .send_replace(Link::Starting(format!("restarting after: {ended}")));
        let crashed = UpstreamError::Crashed {
            server: up.name.clone(),
            detail: ended.clone(),
        };
        up.fail_pending(&crashed);
        if is_stopped(&stop) {
            break;
        }
        tracing::warn!(server = %up.name, "MCP server process ended: {ended}; restarting in {backoff:?}");
        if began.elapsed() > STABLE_AFTER {
            backoff = BACKOFF_START;
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = until_stopped(&mut stop) => break,
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
    let _ = up.link.send_replace(Link::Stopped);
    up.fail_pending(&UpstreamError::Down {
        server: up.name.clone(),
        detail: "Warden is shutting down".into(),
    });
}

/// Resolves once Warden stops the supervisor.
async fn until_stopped(stop: &mut watch::Receiver<bool>) {
    while !is_stopped(stop) {
        if stop.changed().await.is_err() {
            // The sender lives as long as the upstream; gone means stopping.
            return;
        }
    }
}

fn is_stopped(stop: &watch::Receiver<bool>) -> bool {
    *stop.borrow()
}

fn spawn(spec: &Spec) -> std::io::Result<Child> {
    let (program, args) = spec
        .command
        .split_first()
        .ok_or_else(|| std::io::Error::other("empty command"))?;
    Command::new(program)
        .args(args)
        .envs(&spec.env)
        .current_dir(&spec.cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
}

/// Runs one process until it exits (or Warden stops it); returns how it ended.
async fn run(
    up: &Arc<StdioUpstream>,
    mut child: Child,
    stop: &mut watch::Receiver<bool>,
) -> String {
    let (Some(mut stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        let _ = child.kill().await;
        return "its standard streams could not be opened".into();
    };
    let name = up.name.clone();
    tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            tracing::debug!(server = %name, "stderr: {line}");
        }
    });
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(256);
    let writer = tokio::spawn(async move {
        while let Some(line) = rx.recv().await {
            if stdin.write_all(&line).await.is_err() || stdin.flush().await.is_err() {
                break;
            }
        }
    });
    *up.writer
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(tx);
    let handshake = up.clone();
    let init = tokio::spawn(async move { handshake.handshake().await });
    let mut reader = BufReader::new(stdout);
    let mut line = Vec::new();
    let ended = loop {
        line.clear();
        let read = tokio::select! {
            read = read_line(&mut reader, &mut line) => Some(read),
            _ = until_stopped(stop) => None,
        };
        match read {
            Some(Ok(0)) => break wait_exit(&mut child).await,
            Some(Ok(_)) => up.dispatch(&line).await,
            Some(Err(e)) => {
                let _ = child.kill().await;
                break format!("its output could not be read: {e}");
            }
            None => {
                let _ = child.kill().await;
                break "stopped by Warden".into();
            }
        }
    };
    init.abort();
    writer.abort();
    ended
}

async fn read_line(
    reader: &mut BufReader<tokio::process::ChildStdout>,
    line: &mut Vec<u8>,
) -> std::io::Result<usize> {
    let n = reader.read_until(b'\n', line).await?;
    if line.len() > MAX_LINE_BYTES {
        return Err(std::io::Error::other(format!(
            "a message over {MAX_LINE_BYTES} bytes"
        )));
    }
    Ok(n)
}

async fn wait_exit(child: &mut Child) -> String {
    match tokio::time::timeout(Duration::from_secs(2), child.wait()).await {
        Ok(Ok(status)) => status.to_string(),
        Ok(Err(e)) => format!("waiting for it failed: {e}"),
        Err(_) => {
            let _ = child.kill().await;
            "it closed its output and was killed".into()
        }
    }
}

impl StdioUpstream {
    /// Opens the session on a fresh process and marks it ready.
    async fn handshake(self: Arc<Self>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        match self
            .exchange(id, &initialize_request(id), INIT_TIMEOUT)
            .await
        {
            Ok(answer) => match answer.get("result") {
                Some(result) => {
                    if let Ok(mut i) = self.init.lock() {
                        *i = Some(result.clone());
                    }
                    self.send(&initialized_notification()).await;
                    let _ = self.link.send_replace(Link::Ready);
                    tracing::info!(server = %self.name, "MCP server ready");
                }
                None => tracing::error!(
                    server = %self.name,
                    "initialize failed: {}",
                    clip(&answer.to_string(), 300)
                ),
            },
            Err(e) => tracing::error!(server = %self.name, "initialize failed: {e}"),
        }
    }

    /// Routes one line from the process.
    async fn dispatch(&self, line: &[u8]) {
        let Ok(message) = warden_mcp::Message::parse(line) else {
            if !line.iter().all(u8::is_ascii_whitespace) {
                tracing::warn!(server = %self.name, "ignoring a line that is not JSON-RPC: {}", clip(&String::from_utf8_lossy(line), 200));
            }
            return;
        };
        match message.kind() {
            warden_mcp::MessageKind::Response => {
                let Some(id) = message.id().and_then(Value::as_u64) else {
                    return;
                };
                let waiter = self.pending.lock().ok().and_then(|mut p| p.remove(&id));
                if let Some(tx) = waiter {
                    let _ = tx.send(Ok(message.into_value()));
                }
            }
            warden_mcp::MessageKind::Request => {
                let answer = if message.method() == Some("ping") {
                    warden_mcp::result_response(
                        message.id().unwrap_or(&Value::Null),
                        serde_json::json!({}),
                    )
                } else {
                    warden_mcp::error_response(
                        message.id(),
                        warden_mcp::reply::METHOD_NOT_FOUND,
                        "Warden does not relay server-to-client requests",
                    )
                };
                self.send(&answer).await;
            }
            warden_mcp::MessageKind::Notification => {}
        }
    }
}
