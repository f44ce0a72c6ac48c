//! `warden policy …`: lint, test, explain and eval over a bundle directory.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use warden_policy::{Action, Bundle, BundleError, fixtures};

use warden_gateway::policy_source as bundle_dir;

/// Arguments of `warden policy`.
#[derive(Debug, clap::Args)]
pub struct PolicyArgs {
    #[command(subcommand)]
    command: PolicyCommand,
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Load and validate a bundle; exit 1 with every located error.
    Lint {
        /// The bundle directory.
        dir: PathBuf,
    },
    /// Run the fixture files in DIR/tests/ and report `N passed, M failed`.
    Test {
        /// The bundle directory.
        dir: PathBuf,
        /// Print every case, not only failures.
        #[arg(short, long)]
        verbose: bool,
    },
    /// Decide one action and trace every rule.
    Explain {
        /// The bundle directory.
        dir: PathBuf,
        /// A JSON file holding one action (`-` for stdin).
        #[arg(long)]
        input: PathBuf,
        /// Print the explanation as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Decide a stream of actions (JSON Lines) and print one JSON decision per line.
    Eval {
        /// The bundle directory.
        dir: PathBuf,
        /// A JSON Lines file of actions (`-` for stdin).
        #[arg(long)]
        input: PathBuf,
    },
}

/// Runs `warden policy`.
pub fn run(args: PolicyArgs) -> Result<ExitCode> {
    match args.command {
        PolicyCommand::Lint { dir } => lint(&dir),
        PolicyCommand::Test { dir, verbose } => test(&dir, verbose),
        PolicyCommand::Explain { dir, input, json } => explain(&dir, &input, json),
        PolicyCommand::Eval { dir, input } => eval(&dir, &input),
    }
}

/// Loads the bundle, printing located errors; `None` when it does not load.
fn load(dir: &Path) -> Result<Option<Bundle>> {
    let files = bundle_dir::policy_files(dir)?;
    match Bundle::load(&files) {
        Ok(bundle) => Ok(Some(bundle)),
        Err(BundleError::Empty) => {
            eprintln!(
                "{}: the bundle has no policy files (*.yaml or *.yml)",
                dir.display()
            );
            Ok(None)
        }
        Err(err) => {
            for d in err.diagnostics() {
                eprintln!("{}/{d}", dir.display());
            }
            eprintln!(
                "{} problem(s); the bundle was not loaded",
                err.diagnostics().len()
            );
            Ok(None)
        }
    }
}

fn lint(dir: &Path) -> Result<ExitCode> {
    let Some(bundle) = load(dir)? else {
        return Ok(ExitCode::from(1));
    };
    println!(
        "ok: {} rule(s) in {} file(s), default {}, version {}",
        bundle.rules().len(),
        bundle.files().len(),
        bundle.default_outcome(),
        bundle.digest()
    );
    Ok(ExitCode::SUCCESS)
}

fn test(dir: &Path, verbose: bool) -> Result<ExitCode> {
    let Some(bundle) = load(dir)? else {
        return Ok(ExitCode::from(1));
    };
    let files = bundle_dir::fixture_files(dir)?;
    let mut cases = Vec::new();
    let mut broken = 0usize;
    for file in &files {
        match fixtures::parse(file) {
            Ok(mut c) => cases.append(&mut c),
            Err(e) => {
                eprintln!("{}/tests/…: {e}", dir.display());
                broken += 1;
            }
        }
    }
    let results = fixtures::run(&bundle, cases);
    let mut out = std::io::stdout().lock();
    let (mut passed, mut failed) = (0usize, broken);
    for r in &results {
        if r.passed {
            passed += 1;
            if verbose {
                writeln!(
                    out,
                    "ok   {}:{} {} → {}",
                    r.case.file, r.case.line, r.case.name, r.outcome
                )?;
            }
            continue;
        }
        failed += 1;
        let want_rules = r
            .case
            .rules
            .as_ref()
            .map(|w| format!(" by [{}]", w.join(", ")))
            .unwrap_or_default();
        writeln!(
            out,
            "FAIL {}:{} {}: expected {}{want_rules}, got {} by [{}]",
            r.case.file,
            r.case.line,
            r.case.name,
            r.case.expect,
            r.outcome,
            r.rules.join(", ")
        )?;
        if let Some(text) = &r.explanation {
            for line in text.lines() {
                writeln!(out, "     {line}")?;
            }
        }
    }
    if files.is_empty() {
        writeln!(out, "no fixture files in {}/tests", dir.display())?;
    }
    writeln!(out, "{passed} passed, {failed} failed")?;
    Ok(if failed == 0 && !results.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn read_input(path: &Path) -> Result<String> {
    let mut text = String::new();
    if path == Path::new("-") {
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading stdin")?;
    } else {
        text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    }
    Ok(text)
}

fn explain(dir: &Path, input: &Path, json: bool) -> Result<ExitCode> {
    let Some(bundle) = load(dir)? else {
        return Ok(ExitCode::from(1));
    };
    let text = read_input(input)?;
    let action = Action::from_json(&text)
        .with_context(|| format!("{}: not a valid action", input.display()))?;
    let explanation = bundle.explain(&action);
    let text = if json {
        serde_json::to_string_pretty(&explanation)? + "\n"
    } else {
        explanation.render_text()
    };
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// Longest input line accepted by `eval`.
const MAX_LINE_BYTES: usize = 4 * 1024 * 1024;

fn eval(dir: &Path, input: &Path) -> Result<ExitCode> {
    let Some(bundle) = load(dir)? else {
        return Ok(ExitCode::from(1));
    };
    let reader: Box<dyn Read> = if input == Path::new("-") {
        Box::new(std::io::stdin())
    } else {
        Box::new(
            std::fs::File::open(input).with_context(|| format!("opening {}", input.display()))?,
        )
    };
    let mut reader = BufReader::new(reader);
    let mut out = std::io::stdout().lock();
    let mut buf = Vec::new();
    let mut line_no = 0u64;
    loop {
        buf.clear();
        let n = (&mut reader)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut buf)
            .context("reading input")?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let result = if buf.len() > MAX_LINE_BYTES && !buf.ends_with(b"\n") {
            skip_rest_of_line(&mut reader)?;
            Err(format!("line is longer than {MAX_LINE_BYTES} bytes"))
        } else {
            match std::str::from_utf8(&buf) {
                Err(e) => Err(format!("invalid UTF-8 at byte {}", e.valid_up_to())),
                Ok(text) if text.trim().is_empty() => continue,
                Ok(text) => {
                    Action::from_json(text.trim()).map_err(|e| format!("invalid action: {e}"))
                }
            }
        };
        let value = match result {
            Ok(action) => serde_json::to_value(bundle.evaluate(&action))?,
            Err(error) => serde_json::json!({ "line": line_no, "error": error }),
        };
        serde_json::to_writer(&mut out, &value)?;
        out.write_all(b"\n")?;
        out.flush()?;
    }
    Ok(ExitCode::SUCCESS)
}

fn skip_rest_of_line(reader: &mut impl BufRead) -> Result<()> {
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            return Ok(());
        }
        if let Some(i) = chunk.iter().position(|&b| b == b'\n') {
            reader.consume(i + 1);
            return Ok(());
        }
        let len = chunk.len();
        reader.consume(len);
    }
}
