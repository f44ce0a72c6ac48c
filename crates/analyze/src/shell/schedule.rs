//! Job schedulers that run their input later as shell source: `at`, `batch` and `crontab`.
//!
//! Classifies the scheduling command itself and turns a literal crontab into the shell commands
//! its entries run, so the walker can judge them like any other script.

use super::verdict::{Arg, Fact, Verdict, has_short, operands, render};
use super::walk::Invocation;

/// Classifies `name` if it is a scheduler; returns whether it was one.
pub(crate) fn classify(name: &str, args: &[Arg], v: &mut Verdict) -> bool {
    match name {
        "at" | "batch" => at(name, args, v),
        "crontab" => crontab(args, v),
        _ => return false,
    }
    true
}

fn at(name: &str, args: &[Arg], v: &mut Verdict) {
    let shown = render(name, args);
    if lists_or_removes(args) {
        return;
    }
    v.raise(Fact::Mutates, format!("{shown}: schedules a job"));
    if let Some(file) = super::verdict::option_value(args, Some('f'), None) {
        v.raise(
            Fact::Opaque,
            format!("{shown}: runs the script in {}", file.text),
        );
    }
}

/// `at -l`, `at -r`, `at -d`, `at -c` only inspect or remove queued jobs.
fn lists_or_removes(args: &[Arg]) -> bool {
    ['l', 'r', 'd', 'c'].iter().any(|&c| has_short(args, c))
}

fn crontab(args: &[Arg], v: &mut Verdict) {
    if has_short(args, 'r') {
        v.raise(Fact::Destructive, "crontab -r: removes every cron job");
        return;
    }
    if has_short(args, 'l') {
        return;
    }
    v.raise(Fact::Mutates, "crontab: installs cron jobs");
    if let Some(file) = operands(args).into_iter().find(|a| a.text != "-") {
        v.raise(
            Fact::Opaque,
            format!("crontab: installs the jobs in {}", file.text),
        );
    }
}

/// Whether the scheduler reads the job it installs from standard input.
pub(crate) fn reads_jobs_from_stdin(invocation: &Invocation) -> bool {
    let args = &invocation.args;
    match invocation.name.as_str() {
        "at" | "batch" => {
            !lists_or_removes(args) && super::verdict::option_value(args, Some('f'), None).is_none()
        }
        "crontab" => {
            !has_short(args, 'l')
                && !has_short(args, 'r')
                && !has_short(args, 'e')
                && operands(args).iter().all(|a| a.text == "-")
        }
        _ => false,
    }
}

/// The shell source a job read from stdin runs: `at` jobs are shell source already; crontab
/// lines lose their five schedule fields (or `@reboot`-style keyword), comments and settings.
pub(crate) fn job_script(scheduler: &str, text: &str) -> String {
    if scheduler != "crontab" {
        return text.to_owned();
    }
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter(|line| {
            !super::wrappers::is_assignment(line.split_whitespace().next().unwrap_or(""))
        })
        .map(|line| {
            let fields = if line.starts_with('@') { 1 } else { 5 };
            skip_fields(line, fields)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `line` without its first `count` whitespace-separated fields.
fn skip_fields(line: &str, count: usize) -> &str {
    let mut rest = line;
    for _ in 0..count {
        rest = rest.trim_start();
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        rest = rest.get(end..).unwrap_or_default();
    }
    rest.trim_start()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::job_script;

    #[test]
    fn crontab_lines_become_their_commands() {
        let table =
            "# nightly\nMAILTO=ops\n0 3 * * * /usr/bin/backup --all\n@reboot rm -rf /tmp/x\n";
        assert_eq!(
            job_script("crontab", table),
            "/usr/bin/backup --all\nrm -rf /tmp/x"
        );
        assert_eq!(job_script("at", "rm -rf /"), "rm -rf /");
    }
}
