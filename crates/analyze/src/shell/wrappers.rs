//! Commands that run other commands: privilege wrappers, environment and scheduling wrappers,
//! `xargs`, `find -exec`, shell interpreters with `-c`, `eval`, `source`, remote shells.
//!
//! Each classifier strips the wrapper's own options and hands the wrapped argument vector (or
//! literal script) back to the walker, so `sudo env X=1 nice rm -rf /` is seen as `rm -rf /`.

use super::verdict::{Arg, Fact, Next, Verdict, has_short, operands, render};

/// Shells whose `-c` argument is shell source.
pub(crate) const SHELLS: &[&str] = &[
    "sh", "bash", "zsh", "dash", "ksh", "ash", "mksh", "yash", "busybox",
];

/// Stands for the arguments `xargs` reads from standard input.
pub(crate) const STDIN_ARGUMENTS: &str = "{stdin}";

/// Classifies `name` if it is a wrapper; returns whether it was one.
pub(crate) fn classify(name: &str, args: &[Arg], v: &mut Verdict) -> bool {
    match name {
        "sudo" => privileged(
            v,
            name,
            args,
            &[
                "-u",
                "-g",
                "-C",
                "-D",
                "-h",
                "-p",
                "-r",
                "-t",
                "-T",
                "-U",
                "--user",
                "--group",
                "--chdir",
                "--host",
                "--prompt",
                "--role",
                "--type",
                "--close-from",
                "--command-timeout",
                "--other-user",
            ],
        ),
        "doas" => privileged(v, name, args, &["-u", "-C"]),
        "pkexec" => privileged(v, name, args, &["--user"]),
        "runuser" | "su" => su(v, name, args),
        "chroot" => {
            v.raise(
                Fact::Privileged,
                format!("{name}: changes the root directory"),
            );
            run_after(v, args, &["--userspec", "--groups"], 1);
        }
        "nsenter" => {
            v.raise(
                Fact::Privileged,
                format!("{name}: enters or creates namespaces"),
            );
            run_after(
                v,
                args,
                &[
                    "-t", "--target", "-S", "--setuid", "-G", "--setgid", "-w", "--wd", "-r",
                    "--root",
                ],
                0,
            );
        }
        "unshare" => {
            v.raise(
                Fact::Privileged,
                format!("{name}: enters or creates namespaces"),
            );
            run_after(
                v,
                args,
                &[
                    "-S",
                    "--setuid",
                    "-G",
                    "--setgid",
                    "-R",
                    "--root",
                    "-w",
                    "--wd",
                    "--map-user",
                    "--map-group",
                    "--setgroups",
                    "--propagation",
                ],
                0,
            );
        }
        "sg" => sg(v, args),
        "firejail" | "setsid" => run_after(v, args, &[], 0),
        "proot" => run_after(v, args, &["-r", "-b", "-m", "-w", "-q", "-k"], 0),
        "parallel" => parallel(v, args),
        "script" => {
            if let Some(command) = super::verdict::option_value(args, Some('c'), Some("--command"))
            {
                let text = super::verdict::value_text(command, Some('c'), Some("--command"));
                let command = Arg {
                    text: text.to_owned(),
                    ..command.clone()
                };
                split_string(v, Some(&command), "script -c");
            }
        }
        "env" => env(v, args),
        "nice" => run_after(v, args, &["-n", "--adjustment"], 0),
        "nohup" | "builtin" | "unbuffer" | "exec" | "time" | "caffeinate" | "catchsegv" => {
            run_after(v, args, &["-a", "-o", "-f"], 0)
        }
        "command" => {
            if !(has_short(args, 'v') || has_short(args, 'V')) {
                run_after(v, args, &[], 0);
            }
        }
        "timeout" => run_after(v, args, &["-s", "--signal", "-k", "--kill-after"], 1),
        "stdbuf" => run_after(
            v,
            args,
            &["-i", "-o", "-e", "--input", "--output", "--error"],
            0,
        ),
        "ionice" => run_after(
            v,
            args,
            &["-c", "-n", "-p", "-P", "-u", "--class", "--classdata"],
            0,
        ),
        "chrt" => run_after(v, args, &["-p"], 1),
        "taskset" => run_after(v, args, &[], 1),
        "flock" => flock(v, args),
        "strace" | "ltrace" => run_after(v, args, &["-o", "-p", "-e", "-s", "-u", "-E"], 0),
        "watch" => watch(v, args),
        "xargs" => xargs(v, args),
        "find" => find(v, args),
        "eval" => eval(v, args),
        "source" | "." => source(v, name, args),
        "ssh" => ssh(v, args),
        "alias" => alias(v, args),
        "trap" => trap(v, args),
        _ if SHELLS.contains(&name) => shell(v, name, args),
        _ => return false,
    }
    true
}

/// Hands `argv[skip_operands..]` (after options) to the walker as the wrapped command.
fn run_after(v: &mut Verdict, args: &[Arg], with_value: &[&str], skip_operands: usize) {
    if let Some(inner) = wrapped(args, with_value, skip_operands) {
        v.then(Next::Run(inner));
    }
}

/// Skips leading options (and the values of `with_value` options), `--`, then `skip_operands`
/// operands; returns the rest as the wrapped command.
pub(crate) fn wrapped(args: &[Arg], with_value: &[&str], skip_operands: usize) -> Option<Vec<Arg>> {
    let mut index = 0;
    while let Some(arg) = args.get(index) {
        if arg.text == "--" {
            index += 1;
            break;
        }
        if !arg.is_option() {
            break;
        }
        let takes_value = with_value.contains(&arg.text.as_str());
        index += if takes_value { 2 } else { 1 };
    }
    let rest = args.get(index + skip_operands..)?;
    (!rest.is_empty()).then(|| rest.to_vec())
}

fn privileged(v: &mut Verdict, name: &str, args: &[Arg], with_value: &[&str]) {
    v.raise(
        Fact::Privileged,
        format!("{name}: runs with elevated privileges"),
    );
    let Some(inner) = wrapped(args, with_value, 0) else {
        if has_short(args, 'i') || has_short(args, 's') {
            v.raise(Fact::Opaque, format!("{name}: interactive root shell"));
        }
        return;
    };
    let start = inner
        .iter()
        .position(|a| !is_assignment(&a.text))
        .unwrap_or(inner.len());
    if let Some(rest) = inner.get(start..).filter(|r| !r.is_empty()) {
        v.then(Next::Run(rest.to_vec()));
    }
}

fn su(v: &mut Verdict, name: &str, args: &[Arg]) {
    v.raise(Fact::Privileged, format!("{name}: switches user"));
    let command = super::verdict::option_value(args, Some('c'), Some("--command"));
    match command {
        Some(arg) if arg.literal => {
            let text = super::verdict::value_text(arg, Some('c'), Some("--command"));
            v.then(Next::Script {
                text: text.to_owned(),
                origin: format!("{name} -c"),
            });
        }
        Some(_) => v.raise(
            Fact::Opaque,
            format!("{name} -c with a non-literal command"),
        ),
        None if name == "runuser" => run_after(v, args, &["-u", "--user", "-g", "--group"], 0),
        None => {}
    }
}

/// `sg GROUP -c COMMAND` or `sg GROUP COMMAND`: runs shell source with another group.
fn sg(v: &mut Verdict, args: &[Arg]) {
    v.raise(Fact::Privileged, "sg: switches group");
    if let Some(command) = super::verdict::option_value(args, Some('c'), None) {
        split_string(v, Some(command), "sg -c");
    } else if let Some(command) = operands(args).get(1) {
        split_string(v, Some(command), "sg");
    }
}

/// `parallel [OPTIONS] COMMAND ::: ARGS`: the command words form shell source run per input.
fn parallel(v: &mut Verdict, args: &[Arg]) {
    let with_value = [
        "-j",
        "-S",
        "-P",
        "-n",
        "-N",
        "-L",
        "-a",
        "-d",
        "-I",
        "--jobs",
        "--sshlogin",
        "--arg-file",
        "--delimiter",
        "--joblog",
        "--results",
        "--timeout",
        "--retries",
    ];
    let Some(inner) = wrapped(args, &with_value, 0) else {
        return;
    };
    let end = inner
        .iter()
        .position(|a| a.text.starts_with(":::"))
        .unwrap_or(inner.len());
    let command = inner.get(..end).unwrap_or_default();
    if !command.is_empty() {
        join_as_script(v, command, "parallel");
    }
}

fn env(v: &mut Verdict, args: &[Arg]) {
    let mut index = 0;
    while let Some(arg) = args.get(index) {
        let text = arg.text.as_str();
        if text == "-S" || text == "--split-string" {
            split_string(v, args.get(index + 1), "env -S");
            return;
        }
        if let Some(rest) = text
            .strip_prefix("--split-string=")
            .or_else(|| text.strip_prefix("-S").filter(|r| !r.is_empty()))
        {
            split_string(
                v,
                Some(&Arg {
                    text: rest.to_owned(),
                    ..arg.clone()
                }),
                "env -S",
            );
            return;
        }
        if text == "--" {
            index += 1;
            break;
        }
        if matches!(text, "-u" | "--unset" | "-C" | "--chdir" | "-P") {
            index += 2;
        } else if arg.is_option() || is_assignment(text) {
            index += 1;
        } else {
            break;
        }
    }
    let rest: Vec<Arg> = args
        .get(index..)
        .unwrap_or_default()
        .iter()
        .skip_while(|a| is_assignment(&a.text))
        .cloned()
        .collect();
    if !rest.is_empty() {
        v.then(Next::Run(rest));
    }
}

fn split_string(v: &mut Verdict, arg: Option<&Arg>, origin: &str) {
    match arg {
        Some(arg) if arg.literal => v.then(Next::Script {
            text: arg.text.clone(),
            origin: origin.to_owned(),
        }),
        Some(_) => v.raise(Fact::Opaque, format!("{origin} with a non-literal string")),
        None => {}
    }
}

fn flock(v: &mut Verdict, args: &[Arg]) {
    if let Some(command) = super::verdict::option_value(args, Some('c'), Some("--command")) {
        split_string(v, Some(command), "flock -c");
        return;
    }
    run_after(
        v,
        args,
        &["-w", "--timeout", "-E", "--conflict-exit-code"],
        1,
    );
}

fn watch(v: &mut Verdict, args: &[Arg]) {
    let Some(inner) = wrapped(args, &["-n", "--interval", "-d", "-q"], 0) else {
        return;
    };
    join_as_script(v, &inner, "watch");
}

/// Joins literal words into a script (as `eval`, `watch`, `ssh` do); non-literal is opaque.
fn join_as_script(v: &mut Verdict, words: &[Arg], origin: &str) {
    if words.iter().all(|a| a.literal || a.glob) {
        let text = words
            .iter()
            .map(|a| a.text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        v.then(Next::Script {
            text,
            origin: origin.to_owned(),
        });
    } else {
        v.raise(
            Fact::Opaque,
            format!("{origin} of non-literal text: {}", render(origin, words)),
        );
    }
}

fn xargs(v: &mut Verdict, args: &[Arg]) {
    let with_value = [
        "-I",
        "-L",
        "-n",
        "-P",
        "-s",
        "-d",
        "-E",
        "-a",
        "--arg-file",
        "--delimiter",
        "--max-args",
        "--max-procs",
        "--max-lines",
        "--replace",
        "--eof",
        "--max-chars",
    ];
    let mut inner = wrapped(args, &with_value, 0).unwrap_or_else(|| vec![Arg::literal("echo")]);
    // The arguments xargs appends come from stdin: unknown at analysis time.
    inner.push(Arg {
        text: STDIN_ARGUMENTS.to_owned(),
        literal: false,
        glob: false,
    });
    v.then(Next::Run(inner));
}

fn find(v: &mut Verdict, args: &[Arg]) {
    let mut iter = args.iter().enumerate();
    while let Some((index, arg)) = iter.next() {
        match arg.text.as_str() {
            "-delete" => {
                v.raise(
                    Fact::Destructive,
                    format!("find -delete: bulk delete ({})", render("find", args)),
                );
            }
            "-exec" | "-execdir" | "-ok" | "-okdir" => {
                let rest = args.get(index + 1..).unwrap_or_default();
                let end = rest
                    .iter()
                    .position(|a| a.text == ";" || a.text == "+")
                    .unwrap_or(rest.len());
                let command: Vec<Arg> = rest
                    .get(..end)
                    .unwrap_or_default()
                    .iter()
                    .map(placeholder)
                    .collect();
                if !command.is_empty() {
                    v.then(Next::Run(command));
                }
                for _ in 0..end {
                    iter.next();
                }
            }
            "-fprint" | "-fprint0" | "-fprintf" | "-fls" => {
                v.raise(Fact::Mutates, format!("find {}: writes a file", arg.text));
            }
            _ => {}
        }
    }
}

/// `{}` in `find -exec` is a found path: unknown at analysis time.
fn placeholder(arg: &Arg) -> Arg {
    if arg.text.contains("{}") {
        Arg {
            text: arg.text.clone(),
            literal: false,
            glob: true,
        }
    } else {
        arg.clone()
    }
}

fn eval(v: &mut Verdict, args: &[Arg]) {
    if !args.is_empty() {
        join_as_script(v, args, "eval");
    }
}

/// A script operand whose content is not known before it runs: an expansion, a process
/// substitution, a device or `/proc` file, or a URL.
pub(crate) fn is_dynamic_script(file: &Arg) -> bool {
    !file.literal
        || file.text.starts_with("/dev/")
        || file.text.starts_with("/proc/")
        || file.text.contains("://")
}

fn source(v: &mut Verdict, name: &str, args: &[Arg]) {
    let Some(file) = args.first() else { return };
    if is_dynamic_script(file) {
        v.raise(
            Fact::Opaque,
            format!("{name} of a dynamic file: {}", file.text),
        );
    }
}

/// An alias body runs whenever the alias is used: analyze it as if it ran.
fn alias(v: &mut Verdict, args: &[Arg]) {
    for arg in args {
        if let Some((_, body)) = arg.text.split_once('=') {
            let definition = Arg {
                text: body.to_owned(),
                ..arg.clone()
            };
            split_string(v, Some(&definition), "alias");
        }
    }
}

/// A trap handler runs on a signal or exit: analyze it as if it ran.
fn trap(v: &mut Verdict, args: &[Arg]) {
    let handler = args.iter().find(|a| !a.is_option());
    match handler {
        Some(h) if h.text == "-" || h.text.is_empty() => {}
        Some(h) => split_string(v, Some(h), "trap handler"),
        None => {}
    }
}

fn ssh(v: &mut Verdict, args: &[Arg]) {
    v.raise(Fact::Network, "ssh: remote shell");
    let with_value = [
        "-b", "-c", "-D", "-E", "-e", "-F", "-I", "-i", "-J", "-L", "-l", "-m", "-O", "-o", "-p",
        "-Q", "-R", "-S", "-W", "-w", "-B",
    ];
    // The first operand is the destination; anything after it is the remote command.
    if let Some(remote) = wrapped(args, &with_value, 1) {
        join_as_script(v, &remote, "ssh remote command");
    }
}

fn shell(v: &mut Verdict, name: &str, args: &[Arg]) {
    let args = if name == "busybox" {
        match args.split_first() {
            Some((applet, rest)) if SHELLS.contains(&applet.text.as_str()) => rest,
            Some((applet, rest)) => {
                let mut inner = vec![applet.clone()];
                inner.extend(rest.iter().cloned());
                v.then(Next::Run(inner));
                return;
            }
            None => return,
        }
    } else {
        args
    };
    let command_flag = args
        .iter()
        .position(|a| a.text.starts_with('-') && !a.text.starts_with("--") && a.text.contains('c'));
    let Some(flag) = command_flag else {
        if let Some(script) = operands(args).first()
            && is_dynamic_script(script)
        {
            v.raise(
                Fact::Opaque,
                format!("{name} runs a dynamic script: {}", script.text),
            );
        }
        return;
    };
    match args.get(flag + 1) {
        Some(script) if script.literal => v.then(Next::Script {
            text: script.text.clone(),
            origin: format!("{name} -c"),
        }),
        Some(script) => v.raise(
            Fact::Opaque,
            format!("{name} -c of non-literal input: {}", script.text),
        ),
        None => {}
    }
}

/// A `NAME=value` word.
pub(crate) fn is_assignment(text: &str) -> bool {
    match text.split_once('=') {
        Some((name, _)) => {
            !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit())
        }
        None => false,
    }
}

/// Whether `name` with `args` reads its script from standard input (`sh`, `bash -s`, `python -`).
pub(crate) fn reads_script_from_stdin(name: &str, args: &[Arg]) -> bool {
    let interpreter = SHELLS.contains(&name) || is_code_interpreter(name);
    if !interpreter {
        return false;
    }
    let has_inline = args.iter().any(|a| {
        a.text.starts_with('-')
            && !a.text.starts_with("--")
            && (a.text.contains('c') || a.text.contains('e'))
    });
    let script_operand = operands(args).into_iter().any(|a| a.text != "-");
    !has_inline && (!script_operand || has_short(args, 's'))
}

/// Interpreters of languages the analyzer cannot see into.
pub(crate) fn is_code_interpreter(name: &str) -> bool {
    let base = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    matches!(
        base,
        "python"
            | "perl"
            | "ruby"
            | "node"
            | "nodejs"
            | "php"
            | "lua"
            | "Rscript"
            | "deno"
            | "bun"
            | "tclsh"
            | "osascript"
            | "pwsh"
            | "powershell"
    )
}
