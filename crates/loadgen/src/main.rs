//! `warden-loadgen`: the load generator behind `bench/llm-gateway`, `bench/mcp-gateway` and
//! `bench/authzen`.
//!
//! Each mode prints one JSON report on stdout:
//! - `rate`: complete requests at a fixed open-loop rate; latency percentiles and throughput.
//! - `ttft`: streamed requests at a fixed rate; time to first token.
//! - `streams`: N streams at once; the server's resident memory before, during and after.
//! - `closed`: N keep-alive connections in closed loops; answers and decisions per second and
//!   latency (the AuthZEN benchmark, `bench/authzen`).
//! - `mcp`: MCP `tools/call` requests at a fixed rate (and `mcp-server`, the upstream they go to).
//!
//! It speaks only the OpenAI Chat Completions wire format (and MCP's JSON-RPC) over plain HTTP
//! and knows nothing of Warden's crates: the same requests go to the upstream and to the gateway.

mod closed_loop;
mod mcp;
mod open_loop;
mod rate;
mod rss;
mod schedule;
mod sse;
mod stats;
mod streams;
mod target;
mod ttft;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use schedule::Schedule;
use serde::Serialize;
use std::time::Duration;
use target::Target;

/// Load generator for the LLM gateway benchmark.
#[derive(Parser)]
#[command(name = "warden-loadgen", version)]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// Complete requests at a fixed open-loop rate: latency and throughput.
    Rate {
        #[command(flatten)]
        endpoint: Endpoint,
        #[command(flatten)]
        pacing: Pacing,
        /// Text every answer must contain to count as a success.
        #[arg(long, default_value = "\"tool_calls\"")]
        expect: String,
    },
    /// Streamed requests at a fixed open-loop rate: time to first token.
    Ttft {
        #[command(flatten)]
        endpoint: Endpoint,
        #[command(flatten)]
        pacing: Pacing,
    },
    /// N keep-alive connections in closed loops (AuthZEN decisions, or a trivial endpoint as the
    /// baseline): answers and decisions per second, and latency.
    Closed(ClosedArgs),
    /// N streams opened at once: the server's resident memory while they are open.
    Streams {
        #[command(flatten)]
        endpoint: Endpoint,
        /// Streams opened at once.
        #[arg(long, default_value_t = 1000)]
        streams: usize,
        /// Rounds of N streams, one after the other.
        #[arg(long, default_value_t = 2)]
        rounds: usize,
        /// The server process whose memory is sampled.
        #[arg(long)]
        pid: u32,
    },
    /// MCP `tools/call` (the `echo` tool) at a fixed open-loop rate: latency and throughput.
    Mcp {
        /// The MCP endpoint (a server's, or Warden's `/mcp/{server}`).
        #[arg(long)]
        url: String,
        /// Bearer key, when the endpoint needs one (Warden).
        #[arg(long)]
        key: Option<String>,
        /// Time limit for one call, in seconds.
        #[arg(long, default_value_t = 60.0)]
        timeout: f64,
        #[command(flatten)]
        pacing: Pacing,
    },
    /// A minimal MCP server (one `echo` tool) that answers at once: the benchmark's upstream.
    McpServer {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: std::net::SocketAddr,
    },
}

/// The closed-loop run.
#[derive(Args)]
struct ClosedArgs {
    /// `host:port` of the server.
    #[arg(long)]
    addr: String,
    /// Request path.
    #[arg(long, default_value = "/access/v1/evaluation")]
    path: String,
    /// `GET` or `POST`.
    #[arg(long, default_value = "POST")]
    method: String,
    /// Bearer key, if the endpoint needs one.
    #[arg(long)]
    key: Option<String>,
    /// JSON body of every request (POST).
    #[arg(long)]
    body: Option<String>,
    /// Text every answer must contain to count as a success.
    #[arg(long, default_value = "")]
    expect: String,
    /// Decisions each answer carries.
    #[arg(long, default_value_t = 1)]
    decisions: u64,
    /// Keep-alive connections, each a closed loop.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Warm-up seconds, sent but not recorded.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
}

/// Where to send requests, and which reply to ask for.
#[derive(Args)]
struct Endpoint {
    /// Base URL of the OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    url: String,
    /// Bearer key the endpoint expects.
    #[arg(long)]
    key: String,
    /// Model id in the request.
    #[arg(long, default_value = "gpt-4o-mini")]
    model: String,
    /// The user message; the bench's mock script picks its reply from it.
    #[arg(long)]
    prompt: String,
    /// Time limit for one whole request, in seconds.
    #[arg(long, default_value_t = 60.0)]
    timeout: f64,
}

/// The open-loop arrival schedule.
#[derive(Args)]
struct Pacing {
    /// Arrivals per second.
    #[arg(long, default_value_t = 500.0)]
    rate: f64,
    /// Measured seconds (after the warm-up).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Warm-up seconds, sent but not recorded.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
}

impl Endpoint {
    fn target(&self) -> anyhow::Result<Target> {
        let timeout = seconds(self.timeout, "--timeout")?;
        Target::new(&self.url, &self.key, &self.model, &self.prompt, timeout)
            .context("building the HTTP client")
    }
}

impl Pacing {
    fn schedule(&self) -> anyhow::Result<Schedule> {
        if !(self.rate.is_finite() && self.rate > 0.0) {
            anyhow::bail!("--rate must be a positive number, not {}", self.rate);
        }
        Ok(Schedule {
            rate: self.rate,
            warmup: seconds(self.warmup, "--warmup")?,
            duration: seconds(self.duration, "--duration")?,
        })
    }
}

fn seconds(value: f64, flag: &str) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(value)
        .with_context(|| format!("{flag} must be a non-negative number of seconds, not {value}"))
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // When built together with the gateway, reqwest expects a process-wide TLS provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    match cli.mode {
        Mode::Rate {
            endpoint,
            pacing,
            expect,
        } => {
            let report = rate::run(&runtime, endpoint.target()?, pacing.schedule()?, expect);
            print(&report)
        }
        Mode::Ttft { endpoint, pacing } => {
            let report = ttft::run(&runtime, endpoint.target()?, pacing.schedule()?);
            print(&report)
        }
        Mode::Closed(args) => {
            let exchange = closed_loop::Exchange {
                addr: args.addr,
                method: args.method,
                path: args.path,
                key: args.key,
                body: args.body.map(bytes::Bytes::from),
                expect: args.expect,
                decisions: args.decisions,
            };
            let report = closed_loop::run(
                &runtime,
                exchange,
                args.connections.max(1),
                seconds(args.warmup, "--warmup")?,
                seconds(args.duration, "--duration")?,
            )?;
            print(&report)
        }
        Mode::Streams {
            endpoint,
            streams,
            rounds,
            pid,
        } => {
            let report = streams::run(&runtime, endpoint.target()?, streams, rounds, pid)?;
            print(&report)
        }
        Mode::Mcp {
            url,
            key,
            timeout,
            pacing,
        } => {
            let timeout = seconds(timeout, "--timeout")?;
            let target = runtime
                .block_on(mcp::McpTarget::connect(&url, key, timeout))
                .with_context(|| format!("opening an MCP session at {url}"))?;
            print(&mcp::run(&runtime, target, pacing.schedule()?))
        }
        Mode::McpServer { listen } => runtime.block_on(mcp::serve(listen)),
    }
}

fn print(report: &impl Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string(report)?);
    Ok(())
}
