//! `warden approvals …` and `warden agents …` as processes against a real `warden serve` and
//! `warden mock-provider`: a held deploy listed, shown, watched, refused to the wrong operators,
//! approved and denied; agents listed, halted and resumed; missing, wrong-role and agent
//! credentials refused with the API's message and exit 1; usage and connection errors exit 2.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const PROVIDER_KEY: &str = "mock-provider-key";

const SCRIPT: &str = r#"
api_key: mock-provider-key
models: [gpt-4o-mini]
default: hello
replies:
  - name: deploy-v1
    when: { last_user_contains: "deploy v1" }
    tool_calls:
      - name: deploy
        arguments: { service: api, version: "1.0" }
  - name: deploy-v2
    when: { last_user_contains: "deploy v2" }
    tool_calls:
      - name: deploy
        arguments: { service: api, version: "2.0" }
  - name: hello
    text: "Hello."
"#;

const RULES: &str = r#"
rules:
  - id: llm-ok
    kinds: [llm_request]
    decision: allow
    reason: LLM requests are allowed.
  - id: deploy-needs-approval
    kinds: [tool_call]
    tools: [deploy]
    decision: require_approval
    approvers: [security-team]
    approval_ttl: 10m
    reason: Deployments need a security review.
default: deny
"#;

fn warden() -> Command {
    Command::new(env!("CARGO_BIN_EXE_warden"))
}

/// A child process killed when dropped, so a failing test leaves nothing running.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The next stdout line, or a panic naming what was awaited.
fn line(out: &mut BufReader<ChildStdout>, what: &str) -> String {
    let mut text = String::new();
    out.read_line(&mut text).unwrap();
    assert!(!text.is_empty(), "{what}: stdout ended");
    text.trim().to_owned()
}

/// A mock provider, a gateway with the approval bundle, operators and an agent key.
struct World {
    dir: tempfile::TempDir,
    agent_url: String,
    admin_url: String,
    agent_key: String,
    _mock: Running,
    _serve: Running,
}

impl World {
    fn start() -> World {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("script.yaml"), SCRIPT).unwrap();
        std::fs::create_dir(dir.path().join("bundle")).unwrap();
        std::fs::write(dir.path().join("bundle/rules.yaml"), RULES).unwrap();
        let mut mock = warden()
            .args(["mock-provider", "--listen", "127.0.0.1:0", "--script"])
            .arg(dir.path().join("script.yaml"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(mock.stdout.take().unwrap());
        let mock_url = line(&mut out, "mock address")
            .strip_prefix("listening on ")
            .unwrap()
            .to_owned();
        let mock = Running(mock);
        std::fs::write(
            dir.path().join("warden.yaml"),
            format!(
                "listen: {{ agents: \"127.0.0.1:0\", admin: \"127.0.0.1:0\" }}\n\
                 data_dir: ./data\n\
                 policy: {{ bundle: bundle }}\n\
                 providers:\n  mock: {{ kind: openai, base_url: \"{mock_url}\", api_key_env: WARDEN_TEST_PROVIDER_KEY }}\n\
                 agents:\n  bot: {{ tenant: acme, team: qa, owners: [erin] }}\n  other-bot: {{ tenant: acme, team: ops }}\n\
                 approvals: {{ wait: 20s, keepalive: 1s }}\n"
            ),
        )
        .unwrap();
        let config = dir.path().join("warden.yaml");
        let agent_key = stdout_line(
            warden()
                .args(["keys", "create", "--agent", "bot", "--config"])
                .arg(&config),
        );
        let mut serve = warden()
            .args(["serve", "--config"])
            .arg(&config)
            .env("WARDEN_TEST_PROVIDER_KEY", PROVIDER_KEY)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(serve.stdout.take().unwrap());
        let agent_url = line(&mut out, "agent address")
            .strip_prefix("listening on ")
            .unwrap()
            .to_owned();
        let admin_url = line(&mut out, "admin address")
            .strip_prefix("admin on ")
            .unwrap()
            .to_owned();
        // Keep draining stdout so the gateway never blocks on a full pipe.
        std::thread::spawn(move || for _ in out.lines() {});
        World {
            dir,
            agent_url,
            admin_url,
            agent_key,
            _mock: mock,
            _serve: Running(serve),
        }
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("warden.yaml")
    }

    /// `warden admin token create`: the new operator's token.
    fn operator(&self, name: &str, role: &str, groups: &[&str]) -> String {
        let mut cmd = warden();
        cmd.args(["admin", "token", "create", "--name", name, "--role", role]);
        for g in groups {
            cmd.args(["--group", g]);
        }
        stdout_line(cmd.arg("--config").arg(self.config()))
    }

    /// A `warden` admin CLI command pointed at this gateway with `token` in the environment.
    fn cli(&self, token: Option<&str>, args: &[&str]) -> Output {
        let mut cmd = self.cli_command(token, args);
        cmd.output().unwrap()
    }

    fn cli_command(&self, token: Option<&str>, args: &[&str]) -> Command {
        let mut cmd = warden();
        cmd.args(args)
            .env("WARDEN_ADMIN_URL", &self.admin_url)
            .env_remove("WARDEN_ADMIN_TOKEN");
        if let Some(t) = token {
            cmd.env("WARDEN_ADMIN_TOKEN", t);
        }
        cmd
    }

    /// Sends a chat completion as `bot` on another thread; the receiver gets (status, body).
    fn agent_call(&self, prompt: &str) -> mpsc::Receiver<(u16, Value)> {
        let (tx, rx) = mpsc::channel();
        let url = format!("{}/v1/chat/completions", self.agent_url);
        let key = self.agent_key.clone();
        let body = json!({
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": prompt}],
            "tools": [{"type": "function", "function": {
                "name": "deploy",
                "description": "Deploy a service.",
                "parameters": {"type": "object", "properties": {
                    "service": {"type": "string"}, "version": {"type": "string"}}}
            }}]
        });
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let got = rt.block_on(async move {
                let _ = rustls::crypto::ring::default_provider().install_default();
                let resp = reqwest::Client::new()
                    .post(url)
                    .bearer_auth(key)
                    .json(&body)
                    .timeout(Duration::from_secs(40))
                    .send()
                    .await
                    .unwrap();
                let status = resp.status().as_u16();
                (status, resp.json::<Value>().await.unwrap_or(Value::Null))
            });
            let _ = tx.send(got);
        });
        rx
    }

    /// Waits until exactly `n` approvals are pending and returns their ids.
    fn pending(&self, token: &str, n: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let out = self.cli(Some(token), &["approvals", "list", "--json"]);
            assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
            let body: Value = serde_json::from_slice(&out.stdout).unwrap();
            let ids: Vec<String> = body["approvals"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["id"].as_str().unwrap().to_owned())
                .collect();
            if ids.len() == n {
                return ids;
            }
            assert!(Instant::now() < deadline, "{n} pending never seen: {body}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn stdout_line(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{:?}: {}", cmd, stderr(&out));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts exit 1 with `needle` in stderr, and that no token leaked into the output.
fn refused(out: &Output, needle: &str) {
    assert_eq!(out.status.code(), Some(1), "{}{}", stdout(out), stderr(out));
    assert!(
        stderr(out).contains(needle),
        "{needle:?} not in {}",
        stderr(out)
    );
    assert!(!stderr(out).contains("wdo_") && !stdout(out).contains("wdo_"));
}

fn reply(rx: &mpsc::Receiver<(u16, Value)>) -> (u16, Value) {
    rx.recv_timeout(Duration::from_secs(40)).unwrap()
}

#[test]
fn a_held_deploy_is_listed_shown_watched_refused_to_the_wrong_operators_then_approved() {
    let w = World::start();
    let alice = w.operator("alice", "approver", &["security-team"]);
    let bob = w.operator("bob", "approver", &["platform"]);
    let carol = w.operator("carol", "auditor", &[]);
    let erin = w.operator("erin", "approver", &["security-team"]);

    let out = w.cli(Some(&carol), &["approvals", "list"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "no pending approval requests");

    let mut watch = w
        .cli_command(Some(&carol), &["approvals", "watch", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut watched = BufReader::new(watch.stdout.take().unwrap());
    let _watch = Running(watch);

    let call = w.agent_call("please deploy v1");
    let id = w.pending(&carol, 1).remove(0);
    assert!(id.starts_with("apr_"), "{id}");

    let table = stdout(&w.cli(Some(&carol), &["approvals", "list"]));
    let header = table.lines().next().unwrap();
    assert!(
        header.starts_with("ID") && header.contains("VOTES"),
        "{table}"
    );
    let row = table.lines().nth(1).unwrap();
    for cell in [
        id.as_str(),
        "pending",
        "bot",
        "deploy",
        "0/1",
        "Deployments need",
    ] {
        assert!(row.contains(cell), "{cell:?} not in {row:?}");
    }
    let shown = stdout(&w.cli(Some(&carol), &["approvals", "show", &id]));
    assert!(shown.contains("approvers:     security-team"), "{shown}");
    assert!(
        shown.contains("rules:         deploy-needs-approval"),
        "{shown}"
    );
    assert!(shown.contains("\"version\":\"1.0\""), "{shown}");

    // Refusals: each the API's message, exit 1, and the call still waits.
    refused(
        &w.cli(None, &["approvals", "approve", &id]),
        "send an operator token",
    );
    refused(
        &w.cli(Some(&w.agent_key), &["approvals", "approve", &id]),
        "agent keys are not accepted",
    );
    refused(
        &w.cli(Some(&carol), &["approvals", "approve", &id]),
        "has role auditor; this needs approver",
    );
    refused(
        &w.cli(Some(&bob), &["approvals", "approve", &id]),
        "is in none of the groups",
    );
    refused(
        &w.cli(Some(&erin), &["approvals", "approve", &id]),
        "may not decide its requests",
    );
    refused(
        &w.cli(Some(&alice), &["approvals", "approve", "apr_unknown"]),
        "no approval request apr_unknown",
    );
    assert!(call.try_recv().is_err(), "the call was released early");

    let out = w.cli(
        Some(&alice),
        &["approvals", "approve", &id, "--reason", "reviewed"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        format!("{id}: approved (1/1 approvals)")
    );
    let (status, body) = reply(&call);
    assert_eq!(status, 200, "{body}");
    let released = &body["choices"][0]["message"]["tool_calls"][0]["function"];
    assert_eq!(released["name"], "deploy", "{body}");
    refused(
        &w.cli(Some(&alice), &["approvals", "deny", &id]),
        "is already approved",
    );

    // The watcher saw the request, then its decision. The watch process may still have been
    // connecting when the request was made: it then lists it as already `pending` instead of
    // reporting it as `requested`.
    let requested: Value = serde_json::from_str(&line(&mut watched, "watch")).unwrap();
    assert!(
        requested["event"] == "requested" || requested["event"] == "pending",
        "{requested}"
    );
    assert_eq!(requested["approval"]["id"], id.as_str());
    assert_eq!(requested["approval"]["status"], "pending", "{requested}");
    let decided: Value = serde_json::from_str(&line(&mut watched, "watch")).unwrap();
    assert_eq!(decided["event"], "decided");
    assert_eq!(decided["approval"]["status"], "approved");
    assert_eq!(decided["approval"]["approvals"], json!(["alice"]));

    // A changed argument asks again; denied, the call is blocked naming the approval.
    let call = w.agent_call("please deploy v2");
    let second = w.pending(&carol, 1).remove(0);
    assert_ne!(second, id);
    let out = w.cli(
        Some(&alice),
        &["approvals", "deny", &second, "--reason", "no"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        format!("{second}: denied (0/1 approvals)")
    );
    let (status, body) = reply(&call);
    assert_eq!(status, 200, "{body}");
    let text = body["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_default();
    assert!(
        text.contains(&format!("Approval {second} was denied.")),
        "{body}"
    );
    assert!(
        body["choices"][0]["message"]["tool_calls"].is_null(),
        "{body}"
    );

    let all = stdout(&w.cli(Some(&carol), &["approvals", "list", "--status", "all"]));
    assert!(all.contains(&id) && all.contains(&second), "{all}");
    let denied = stdout(&w.cli(Some(&carol), &["approvals", "list", "--status", "denied"]));
    assert!(
        denied.contains(&second) && !denied.contains(&id),
        "{denied}"
    );
}

#[test]
fn agents_are_listed_halted_and_resumed_by_admins_only() {
    let w = World::start();
    let dave = w.operator("dave", "admin", &[]);
    let alice = w.operator("alice", "approver", &["security-team"]);

    let out = w.cli(Some(&alice), &["agents", "list"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let table = stdout(&out);
    assert!(table.starts_with("AGENT"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("bot") && l.ends_with("running")),
        "{table}"
    );

    refused(
        &w.cli(Some(&alice), &["agents", "halt", "bot", "--reason", "x"]),
        "this needs admin",
    );
    refused(
        &w.cli(Some(&dave), &["agents", "halt", "ghost", "--reason", "x"]),
        "no agent `ghost`",
    );
    let out = w.cli(
        Some(&dave),
        &["agents", "halt", "bot", "--reason", "runaway loop"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "agent bot halted");
    let table = stdout(&w.cli(Some(&alice), &["agents", "list"]));
    let bot = table.lines().find(|l| l.starts_with("bot ")).unwrap();
    assert!(
        bot.contains("halted by dave") && bot.ends_with("runaway loop"),
        "{table}"
    );
    let (status, body) = reply(&w.agent_call("hello"));
    assert_eq!(status, 403, "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");

    let out = w.cli(Some(&dave), &["agents", "resume", "bot"]);
    assert_eq!(stdout(&out).trim(), "agent bot resumed", "{}", stderr(&out));
    let (status, body) = reply(&w.agent_call("hello"));
    assert_eq!(status, 200, "{body}");

    let out = w.cli(
        Some(&dave),
        &["agents", "halt", "--all", "--reason", "incident"],
    );
    assert_eq!(
        stdout(&out).trim(),
        "every agent halted",
        "{}",
        stderr(&out)
    );
    let json: Value =
        serde_json::from_slice(&w.cli(Some(&dave), &["agents", "list", "--json"]).stdout).unwrap();
    assert_eq!(json["global_halt"]["by"], "dave", "{json}");
    assert!(stdout(&w.cli(Some(&dave), &["agents", "list"])).starts_with("EVERY AGENT HALTED"));
    assert_eq!(reply(&w.agent_call("hello")).0, 403);
    let out = w.cli(Some(&dave), &["agents", "resume", "--all"]);
    assert_eq!(
        stdout(&out).trim(),
        "every agent resumed",
        "{}",
        stderr(&out)
    );
    let out = w.cli(Some(&dave), &["agents", "resume", "--all"]);
    assert_eq!(
        stdout(&out).trim(),
        "every agent was not halted",
        "{}",
        stderr(&out)
    );
    assert_eq!(reply(&w.agent_call("hello")).0, 200);
}

#[test]
fn usage_and_connection_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let run = |args: &[&str]| {
        warden()
            .args(args)
            .env("WARDEN_ADMIN_TOKEN", "wdo_not_printed")
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let out = run(&["approvals", "list", "--url", &url]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cannot reach the admin API"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("wdo_not_printed"));
    let out = run(&["agents", "halt", "bot", "--url", &url]);
    assert_eq!(out.status.code(), Some(2), "--reason is required");
    let out = run(&["agents", "resume", "bot", "--all", "--url", &url]);
    assert_eq!(out.status.code(), Some(2), "a name and --all together");
    let out = run(&["approvals", "show", "../agents", "--url", &url]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("may contain only"),
        "{}",
        stderr(&out)
    );
    let out = run(&["approvals", "list", "--url", "ftp://x"]);
    assert_eq!(out.status.code(), Some(2));
    let help = run(&["approvals", "list", "--help"]);
    assert!(
        !stdout(&help).contains("wdo_not_printed"),
        "help shows the token"
    );
}
