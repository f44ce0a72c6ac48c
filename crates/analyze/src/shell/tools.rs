//! Classification of developer and operations tools with subcommands: git, kubectl, helm,
//! terraform, cloud CLIs, container engines and database clients.
//!
//! Database clients hand their literal SQL to the SQL analyzer through [`Next::Sql`].

use super::verdict::{
    Arg, Fact, Next, Verdict, has_arg, has_long, has_short, operands, option_value, render,
    value_text,
};
use crate::sql::SqlDialect;

/// Classifies `name` if it is a known tool; returns whether it was one.
pub(crate) fn classify(name: &str, args: &[Arg], v: &mut Verdict) -> bool {
    match name {
        "git" => git(args, v),
        "kubectl" | "oc" => kubectl(name, args, v),
        "helm" => helm(args, v),
        "terraform" | "tofu" | "terragrunt" => terraform(name, args, v),
        "aws" => aws(args, v),
        "gcloud" | "az" | "doctl" | "heroku" | "flyctl" | "fly" | "vercel" | "gh" => {
            cloud(name, args, v)
        }
        "docker" | "podman" | "nerdctl" => docker(name, args, v),
        "docker-compose" | "podman-compose" => {
            let mut compose = vec![Arg::literal("compose")];
            compose.extend(args.iter().cloned());
            docker(name, &compose, v);
        }
        "psql" => sql_client(name, args, v, &[('c', "--command")], SqlDialect::Postgres),
        "mysql" | "mariadb" => sql_client(name, args, v, &[('e', "--execute")], SqlDialect::MySql),
        "sqlite3" | "duckdb" => sqlite(name, args, v),
        _ => return false,
    }
    true
}

/// The first operand after skipping global options that take a value.
fn subcommand<'a>(args: &'a [Arg], with_value: &[&str]) -> (Option<&'a str>, &'a [Arg]) {
    let mut index = 0;
    while let Some(arg) = args.get(index) {
        if !arg.is_option() {
            return (
                Some(arg.text.as_str()),
                args.get(index + 1..).unwrap_or_default(),
            );
        }
        index += if with_value.contains(&arg.text.as_str()) {
            2
        } else {
            1
        };
    }
    (None, &[])
}

fn git(args: &[Arg], v: &mut Verdict) {
    let (sub, rest) = subcommand(
        args,
        &[
            "-C",
            "-c",
            "--git-dir",
            "--work-tree",
            "--namespace",
            "--exec-path",
        ],
    );
    let Some(sub) = sub else { return };
    let shown = render("git", args);
    match sub {
        "push" => {
            v.raise(Fact::Network, format!("{shown}: pushes to a remote"));
            v.raise(Fact::Mutates, "git push: changes a remote repository");
            let forced = has_short(rest, 'f')
                || has_short(rest, 'd')
                || has_long(rest, "--force")
                || has_long(rest, "--force-with-lease")
                || has_long(rest, "--force-if-includes")
                || has_long(rest, "--mirror")
                || has_long(rest, "--delete")
                || has_long(rest, "--prune")
                || operands(rest)
                    .iter()
                    .any(|a| a.text.starts_with('+') || a.text.starts_with(':'));
            if forced {
                v.raise(
                    Fact::Destructive,
                    format!("{shown}: rewrites or deletes remote history"),
                );
            }
        }
        "clone" | "fetch" | "pull" | "ls-remote" | "remote" | "submodule" | "archive"
        | "request-pull" | "send-email" | "svn" | "p4" | "lfs" => {
            if sub != "remote"
                || rest
                    .iter()
                    .any(|a| matches!(a.text.as_str(), "update" | "prune" | "show"))
            {
                v.raise(Fact::Network, format!("{shown}: talks to a remote"));
            }
            if matches!(sub, "clone" | "pull" | "submodule" | "remote") {
                v.raise(
                    Fact::Mutates,
                    format!("git {sub}: changes the local repository"),
                );
            }
        }
        "reset"
            if has_long(rest, "--hard")
                || has_long(rest, "--merge")
                || has_long(rest, "--keep") =>
        {
            v.raise(
                Fact::Destructive,
                format!("{shown}: discards working-tree changes"),
            );
        }
        "clean" if has_short(rest, 'f') || has_long(rest, "--force") => {
            v.raise(
                Fact::Destructive,
                format!("{shown}: deletes untracked files"),
            );
        }
        "branch"
            if has_short(rest, 'D')
                || (has_short(rest, 'd') || has_long(rest, "--delete"))
                    && (has_short(rest, 'f') || has_long(rest, "--force")) =>
        {
            v.raise(
                Fact::Destructive,
                format!("{shown}: force-deletes a branch"),
            );
        }
        "restore"
            if has_short(rest, 'W')
                || has_long(rest, "--worktree")
                || !(has_short(rest, 'S') || has_long(rest, "--staged")) =>
        {
            v.raise(
                Fact::Destructive,
                format!("{shown}: discards working-tree changes"),
            );
        }
        "checkout" | "switch"
            if has_arg(rest, "--")
                || has_short(rest, 'f')
                || has_long(rest, "--force")
                || has_long(rest, "--discard-changes")
                || has_arg(rest, ".") =>
        {
            v.raise(
                Fact::Destructive,
                format!("{shown}: discards working-tree changes"),
            );
        }
        "stash"
            if rest
                .first()
                .is_some_and(|a| a.text == "drop" || a.text == "clear") =>
        {
            v.raise(
                Fact::Destructive,
                format!("{shown}: deletes stashed changes"),
            );
        }
        "reflog" if has_arg(rest, "expire") || has_arg(rest, "delete") => {
            v.raise(
                Fact::Destructive,
                format!("{shown}: deletes recovery history"),
            );
        }
        "filter-branch" | "filter-repo" | "update-ref" | "gc" | "prune" | "replace" => {
            v.raise(
                Fact::Destructive,
                format!("{shown}: rewrites or prunes history"),
            );
        }
        "status" | "log" | "diff" | "show" | "blame" | "grep" | "ls-files" | "ls-tree"
        | "rev-parse" | "describe" | "shortlog" | "cat-file" | "help" | "version"
        | "whatchanged" | "reflog" | "show-ref" | "for-each-ref" | "name-rev" | "cherry"
        | "count-objects" | "check-ignore" | "bisect" | "var" => {}
        "config"
            if rest
                .iter()
                .all(|a| a.text.starts_with("--get") || a.text == "--list" || a.text == "-l") => {}
        "branch" | "tag" | "stash"
            if rest.is_empty()
                || has_arg(rest, "list")
                || has_arg(rest, "show")
                || has_short(rest, 'l')
                || has_long(rest, "--list") => {}
        _ => v.raise(Fact::Mutates, format!("git {sub}: changes the repository")),
    }
}

fn kubectl(name: &str, args: &[Arg], v: &mut Verdict) {
    let (sub, rest) = subcommand(
        args,
        &[
            "-n",
            "--namespace",
            "--context",
            "--kubeconfig",
            "--cluster",
            "--user",
            "-s",
            "--server",
            "--token",
        ],
    );
    let Some(sub) = sub else { return };
    let shown = render(name, args);
    v.raise(Fact::Network, format!("{name}: talks to a cluster API"));
    match sub {
        "delete" | "drain" => v.raise(
            Fact::Destructive,
            format!("{shown}: deletes or evicts cluster resources"),
        ),
        "get" | "describe" | "logs" | "explain" | "api-resources" | "api-versions" | "version"
        | "top" | "config" | "auth" | "diff" | "events" | "cluster-info" | "wait"
        | "completion" | "port-forward" | "proxy" => {}
        "exec" | "run" | "debug" | "attach" | "cp" => {
            v.raise(
                Fact::Mutates,
                format!("{shown}: runs in or changes a cluster"),
            );
            if sub == "exec"
                && let Some(position) = rest.iter().position(|a| a.text == "--")
            {
                let command = rest.get(position + 1..).unwrap_or_default().to_vec();
                if !command.is_empty() {
                    v.then(Next::Run(command));
                }
            }
        }
        "scale" if rest.iter().any(|a| a.text == "--replicas=0") => {
            v.raise(Fact::Destructive, format!("{shown}: scales to zero"));
        }
        _ => v.raise(Fact::Mutates, format!("{shown}: changes cluster resources")),
    }
}

fn helm(args: &[Arg], v: &mut Verdict) {
    let (sub, _) = subcommand(
        args,
        &["-n", "--namespace", "--kube-context", "--kubeconfig"],
    );
    let Some(sub) = sub else { return };
    let shown = render("helm", args);
    v.raise(
        Fact::Network,
        "helm: talks to a cluster or chart repository",
    );
    match sub {
        "uninstall" | "delete" | "del" | "un" => {
            v.raise(Fact::Destructive, format!("{shown}: removes a release"))
        }
        "install" | "upgrade" | "rollback" | "repo" | "push" | "plugin" | "dependency" | "pull"
        | "registry" => {
            v.raise(
                Fact::Mutates,
                format!("{shown}: changes releases or local charts"),
            );
        }
        _ => {}
    }
}

fn terraform(name: &str, args: &[Arg], v: &mut Verdict) {
    let (sub, rest) = subcommand(args, &[]);
    let Some(sub) = sub else { return };
    let shown = render(name, args);
    match sub {
        "destroy" => v.raise(
            Fact::Destructive,
            format!("{shown}: destroys infrastructure"),
        ),
        "apply" if has_long(rest, "-destroy") || has_arg(rest, "-destroy") => {
            v.raise(
                Fact::Destructive,
                format!("{shown}: destroys infrastructure"),
            );
        }
        "apply" | "import" | "taint" | "untaint" | "refresh" | "force-unlock" => {
            let how = if has_arg(rest, "-auto-approve") || has_arg(rest, "--auto-approve") {
                " without review (-auto-approve)"
            } else {
                ""
            };
            v.raise(
                Fact::Mutates,
                format!("{shown}: changes infrastructure{how}"),
            );
        }
        "state"
            if rest.first().is_some_and(|a| {
                matches!(a.text.as_str(), "rm" | "mv" | "push" | "replace-provider")
            }) =>
        {
            v.raise(Fact::Destructive, format!("{shown}: rewrites state"));
        }
        "workspace" if has_arg(rest, "delete") => {
            v.raise(Fact::Destructive, format!("{shown}: deletes a workspace"))
        }
        "init" | "get" | "providers" => v.raise(
            Fact::Mutates,
            format!("{shown}: downloads modules and providers"),
        ),
        _ => {}
    }
    v.raise(Fact::Network, format!("{name}: talks to providers"));
}

fn aws(args: &[Arg], v: &mut Verdict) {
    let (service, rest) = subcommand(
        args,
        &[
            "--profile",
            "--region",
            "--output",
            "--endpoint-url",
            "--query",
            "--color",
            "--cli-read-timeout",
            "--cli-connect-timeout",
            "--ca-bundle",
        ],
    );
    let Some(service) = service else { return };
    let shown = render("aws", args);
    v.raise(Fact::Network, format!("aws {service}: cloud API"));
    let operation = operands(rest)
        .first()
        .map(|a| a.text.as_str())
        .unwrap_or_default();
    let recursive =
        has_long(rest, "--recursive") || has_long(rest, "--force") || has_long(rest, "--delete");
    match (service, operation) {
        ("s3", "rm" | "rb" | "sync") if recursive => {
            v.raise(Fact::Destructive, format!("{shown}: bulk delete"))
        }
        ("s3", "rm" | "rb" | "cp" | "mv" | "sync" | "mb") => {
            v.raise(Fact::Mutates, format!("{shown}: changes objects"))
        }
        ("s3", _) => {}
        (_, op)
            if [
                "delete-",
                "terminate-",
                "remove-",
                "deregister-",
                "purge-",
                "revoke-",
                "disable-",
                "cancel-",
            ]
            .iter()
            .any(|p| op.starts_with(p)) =>
        {
            v.raise(
                Fact::Destructive,
                format!("{shown}: deletes cloud resources"),
            );
        }
        (_, op)
            if [
                "describe-",
                "list-",
                "get-",
                "head-",
                "lookup-",
                "search-",
                "batch-get-",
                "scan",
                "query",
                "help",
                "wait",
            ]
            .iter()
            .any(|p| op.starts_with(p))
                || op.is_empty() => {}
        ("sts", "get-caller-identity") => {}
        _ => v.raise(Fact::Mutates, format!("{shown}: changes cloud resources")),
    }
    if service == "iam" && !operation.starts_with("get-") && !operation.starts_with("list-") {
        v.raise(
            Fact::Privileged,
            format!("{shown}: changes identity and access"),
        );
    }
}

fn cloud(name: &str, args: &[Arg], v: &mut Verdict) {
    let words: Vec<&str> = operands(args).iter().map(|a| a.text.as_str()).collect();
    let shown = render(name, args);
    v.raise(Fact::Network, format!("{name}: cloud API"));
    let has = |list: &[&str]| words.iter().any(|w| list.contains(w));
    if has(&[
        "delete",
        "destroy",
        "remove",
        "purge",
        "rm",
        "terminate",
        "wipe",
        "reset",
    ]) {
        v.raise(
            Fact::Destructive,
            format!("{shown}: deletes cloud resources"),
        );
    } else if has(&[
        "create", "update", "deploy", "set", "add", "apply", "start", "stop", "restart", "import",
        "patch", "scale", "merge", "close", "edit", "resize", "ssh", "scp", "upload", "publish",
        "release", "enable", "disable", "login",
    ]) {
        v.raise(Fact::Mutates, format!("{shown}: changes cloud resources"));
    }
    if has(&["add-iam-policy-binding", "set-iam-policy", "role", "iam"])
        && !has(&["list", "describe", "get", "show"])
    {
        v.raise(
            Fact::Privileged,
            format!("{shown}: changes identity and access"),
        );
    }
}

fn docker(name: &str, args: &[Arg], v: &mut Verdict) {
    let (sub, rest) = subcommand(
        args,
        &["-H", "--host", "--context", "--config", "-c", "--log-level"],
    );
    let Some(sub) = sub else { return };
    let shown = render(name, args);
    let action = operands(rest)
        .first()
        .map(|a| a.text.as_str())
        .unwrap_or_default();
    match sub {
        "compose" if action == "down" && (has_short(rest, 'v') || has_long(rest, "--volumes")) => {
            v.raise(Fact::Destructive, format!("{shown}: deletes volumes"));
        }
        "rm" | "rmi" if has_short(rest, 'f') || has_long(rest, "--force") => {
            v.raise(Fact::Destructive, format!("{shown}: force-removes"))
        }
        "system" | "volume" | "image" | "container" | "network" | "builder"
            if matches!(action, "prune" | "rm" | "remove") =>
        {
            v.raise(Fact::Destructive, format!("{shown}: prunes or removes"));
        }
        "ps" | "images" | "inspect" | "logs" | "version" | "info" | "top" | "stats" | "history"
        | "events" | "port" | "diff" => {}
        "pull" | "push" | "login" | "search" => {
            v.raise(Fact::Network, format!("{shown}: talks to a registry"));
            v.raise(Fact::Mutates, format!("{shown}: changes images"));
        }
        _ => v.raise(
            Fact::Mutates,
            format!("{shown}: changes containers or images"),
        ),
    }
    if matches!(sub, "run" | "create" | "exec") {
        let privileged = has_long(rest, "--privileged")
            || rest.iter().any(|a| {
                a.text.starts_with("/:/")
                    || a.text == "--pid=host"
                    || a.text == "--net=host"
                    || a.text == "--network=host"
                    || a.text.contains("docker.sock")
                    || a.text.starts_with("--cap-add")
            });
        if privileged {
            v.raise(
                Fact::Privileged,
                format!("{shown}: privileged container or host access"),
            );
        }
    }
}

fn sql_client(
    name: &str,
    args: &[Arg],
    v: &mut Verdict,
    flags: &[(char, &str)],
    dialect: SqlDialect,
) {
    if option_value(args, Some('h'), Some("--host")).is_some() {
        v.raise(
            Fact::Network,
            format!("{name}: connects to a database server"),
        );
    }
    for (short, long) in flags {
        for (index, arg) in args.iter().enumerate() {
            let is_flag = arg.text == format!("-{short}") || arg.text == *long;
            let inline = arg.text.starts_with(&format!("{long}="))
                || (arg.text.starts_with(&format!("-{short}"))
                    && !arg.text.starts_with("--")
                    && arg.text.len() > 2);
            let sql = if is_flag {
                args.get(index + 1)
            } else if inline {
                Some(arg)
            } else {
                None
            };
            if let Some(sql) = sql {
                push_sql(
                    name,
                    sql,
                    value_text(sql, Some(*short), Some(long)),
                    dialect,
                    v,
                );
            }
        }
    }
    if option_value(args, Some('f'), Some("--file")).is_some() {
        v.raise(Fact::Opaque, format!("{name} -f: runs SQL from a file"));
    }
}

fn sqlite(name: &str, args: &[Arg], v: &mut Verdict) {
    let ops = operands(args);
    if let Some(sql) = ops.get(1) {
        push_sql(name, sql, &sql.text, SqlDialect::Generic, v);
    }
}

fn push_sql(name: &str, arg: &Arg, text: &str, dialect: SqlDialect, v: &mut Verdict) {
    if arg.literal {
        v.then(Next::Sql {
            text: text.to_owned(),
            dialect,
            origin: name.to_owned(),
        });
    } else {
        v.raise(
            Fact::Opaque,
            format!("{name}: SQL is not a literal ({})", arg.text),
        );
    }
}
