//! Closed-loop mode (`warden-loadgen closed`): N keep-alive HTTP/1.1 connections, each sending
//! the same request again as soon as the previous answer has fully arrived. Measures the
//! server's capacity: answers and decisions per second, and latency from send to last byte.
//!
//! The client is a bare hyper connection per worker (no pool, no retries), so the load
//! generator's own cost per request stays small next to the server's.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::net::TcpStream;
use tokio::runtime::Runtime;

use crate::stats::{Samples, Summary};

/// One request, repeated.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// `host:port` to connect to.
    pub addr: String,
    /// `GET` or `POST`.
    pub method: String,
    /// The path (`/access/v1/evaluation`).
    pub path: String,
    /// `Authorization: Bearer` value, if any.
    pub key: Option<String>,
    /// The JSON body (POST).
    pub body: Option<Bytes>,
    /// Text every answer must contain to count.
    pub expect: String,
    /// Decisions each answer carries (1 for a single evaluation, N for a batch of N).
    pub decisions: u64,
}

/// The outcome of a closed-loop run, over its measured period.
#[derive(Debug, Serialize)]
pub struct ClosedReport {
    /// Always `closed`.
    pub mode: &'static str,
    /// The path requested.
    pub path: String,
    /// Keep-alive connections.
    pub connections: usize,
    /// Measured seconds.
    pub duration_s: f64,
    /// Expected answers in the measured period.
    pub ok: u64,
    /// Failures by kind.
    pub errors: BTreeMap<String, u64>,
    /// Expected answers per second.
    pub requests_per_s: f64,
    /// Decisions per second (answers × decisions per answer).
    pub decisions_per_s: f64,
    /// Latency of the expected answers, send to last byte.
    pub latency: Option<Summary>,
}

/// What one connection measured.
#[derive(Default)]
struct Tally {
    samples: Samples,
    ok: u64,
    errors: BTreeMap<String, u64>,
}

/// Runs `connections` closed loops for `warmup + duration`; only the measured period counts.
pub fn run(
    runtime: &Runtime,
    exchange: Exchange,
    connections: usize,
    warmup: Duration,
    duration: Duration,
) -> anyhow::Result<ClosedReport> {
    let decisions = exchange.decisions;
    let path = exchange.path.clone();
    let tallies = runtime.block_on(async move {
        let start = Instant::now();
        let measure_from = start + warmup;
        let until = measure_from + duration;
        let mut workers = Vec::with_capacity(connections);
        for _ in 0..connections {
            let exchange = exchange.clone();
            workers.push(tokio::spawn(async move {
                worker(exchange, measure_from, until).await
            }));
        }
        let mut tallies = Vec::with_capacity(connections);
        for w in workers {
            tallies.push(w.await.context("a connection's task failed")??);
        }
        Ok::<_, anyhow::Error>(tallies)
    })?;
    let mut all = Samples::default();
    let mut ok = 0;
    let mut errors = BTreeMap::new();
    for tally in tallies {
        all.extend(&tally.samples);
        ok += tally.ok;
        for (kind, n) in tally.errors {
            *errors.entry(kind).or_insert(0) += n;
        }
    }
    let seconds = duration.as_secs_f64();
    let requests_per_s = if seconds > 0.0 {
        ok as f64 / seconds
    } else {
        0.0
    };
    Ok(ClosedReport {
        mode: "closed",
        path,
        connections,
        duration_s: seconds,
        ok,
        errors,
        requests_per_s: requests_per_s.round(),
        decisions_per_s: (requests_per_s * decisions as f64).round(),
        latency: all.summary(),
    })
}

async fn worker(
    exchange: Exchange,
    measure_from: Instant,
    until: Instant,
) -> anyhow::Result<Tally> {
    let stream = TcpStream::connect(&exchange.addr)
        .await
        .with_context(|| format!("connecting to {}", exchange.addr))?;
    stream.set_nodelay(true)?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .context("HTTP handshake")?;
    tokio::spawn(connection);
    let mut tally = Tally::default();
    let body = exchange.body.clone().unwrap_or_default();
    loop {
        let sent = Instant::now();
        if sent >= until {
            return Ok(tally);
        }
        let mut request = Request::builder()
            .method(exchange.method.as_str())
            .uri(exchange.path.as_str())
            .header("host", exchange.addr.as_str());
        if let Some(key) = &exchange.key {
            request = request.header("authorization", format!("Bearer {key}"));
        }
        if exchange.body.is_some() {
            request = request.header("content-type", "application/json");
        }
        let request = request.body(Full::new(body.clone()))?;
        let outcome = match sender.send_request(request).await {
            Ok(response) => {
                let status = response.status();
                match response.into_body().collect().await {
                    Ok(_) if !status.is_success() => Err(format!("status {status}")),
                    Ok(bytes) => {
                        let bytes = bytes.to_bytes();
                        if contains(&bytes, exchange.expect.as_bytes()) {
                            Ok(())
                        } else {
                            Err("unexpected answer".to_owned())
                        }
                    }
                    Err(e) => Err(format!("body: {e}")),
                }
            }
            Err(e) => {
                // The connection is unusable: record and stop this worker.
                *tally.errors.entry(format!("send: {e}")).or_insert(0) += 1;
                return Ok(tally);
            }
        };
        if sent < measure_from {
            continue;
        }
        match outcome {
            Ok(()) => {
                tally.ok += 1;
                tally.samples.push(sent.elapsed());
            }
            Err(kind) => *tally.errors.entry(kind).or_insert(0) += 1,
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}
