//! Classification of remote clients whose effect depends on what they send: HTTP clients
//! (`curl`, `wget`, HTTPie), key-value and document stores (`redis-cli`, `mongo`, `mongosh`).
//!
//! Only argument vectors are inspected; nothing is sent and nothing is looked up on the host.

use super::verdict::{
    Arg, Fact, Verdict, has_long, has_short, operands, option_value, render, value_text,
};

/// Classifies `name` if it is one of these clients; returns whether it was one.
pub(crate) fn classify(name: &str, args: &[Arg], v: &mut Verdict) -> bool {
    match name {
        "curl" => curl(args, v),
        "wget" => wget(args, v),
        "http" | "https" | "xh" | "xhs" => httpie(name, args, v),
        "redis-cli" | "valkey-cli" | "keydb-cli" => redis(name, args, v),
        "mongo" | "mongosh" => mongo(name, args, v),
        _ => return false,
    }
    true
}

/// HTTP methods that change remote state.
fn is_write_method(method: &str) -> bool {
    matches!(
        method.to_ascii_uppercase().as_str(),
        "POST" | "PUT" | "PATCH" | "DELETE"
    )
}

fn curl(args: &[Arg], v: &mut Verdict) {
    let shown = render("curl", args);
    v.raise(Fact::Network, format!("{shown}: HTTP client"));
    let method = option_value(args, Some('X'), Some("--request"))
        .map(|a| value_text(a, Some('X'), Some("--request")));
    let sends_body = ["-d", "-F", "-T"].iter().any(|flag| {
        let letter = flag.chars().nth(1).unwrap_or_default();
        option_value(args, Some(letter), None).is_some()
    }) || [
        "--data",
        "--data-raw",
        "--data-binary",
        "--data-urlencode",
        "--data-ascii",
        "--json",
        "--form",
        "--form-string",
        "--upload-file",
    ]
    .iter()
    .any(|long| has_long(args, long));
    if method.is_some_and(is_write_method) || sends_body {
        v.raise(Fact::Mutates, format!("{shown}: sends a remote write"));
    }
    let output = option_value(args, Some('o'), Some("--output"))
        .map(|a| value_text(a, Some('o'), Some("--output")).to_owned());
    let writes = match output {
        Some(path) => path != "/dev/null" && path != "-",
        None => {
            has_short(args, 'O')
                || has_long(args, "--remote-name")
                || has_long(args, "--remote-name-all")
        }
    };
    if writes {
        v.raise(Fact::Mutates, "curl: saves a download to a file");
    }
}

fn wget(args: &[Arg], v: &mut Verdict) {
    let shown = render("wget", args);
    v.raise(Fact::Network, format!("{shown}: HTTP client"));
    let method =
        option_value(args, None, Some("--method")).map(|a| value_text(a, None, Some("--method")));
    let posts = ["--post-data", "--post-file", "--body-data", "--body-file"]
        .iter()
        .any(|long| has_long(args, long));
    if method.is_some_and(is_write_method) || posts {
        v.raise(Fact::Mutates, format!("{shown}: sends a remote write"));
    }
    let output = option_value(args, Some('O'), Some("--output-document"))
        .map(|a| value_text(a, Some('O'), Some("--output-document")).to_owned());
    let to_stdout = matches!(output.as_deref(), Some("-" | "/dev/null"));
    if !to_stdout && !has_long(args, "--spider") {
        v.raise(Fact::Mutates, "wget: saves a download to a file");
    }
}

/// HTTPie: `http [METHOD] URL [ITEM ...]`; request items (`name=value`, `name:=json`,
/// `field@file`) make the default method POST.
fn httpie(name: &str, args: &[Arg], v: &mut Verdict) {
    let shown = render(name, args);
    v.raise(Fact::Network, format!("{shown}: HTTP client"));
    let words = operands(args);
    let explicit = words
        .first()
        .map(|w| w.text.as_str())
        .filter(|w| w.chars().all(|c| c.is_ascii_alphabetic()) && w.len() >= 3)
        .filter(|w| w.chars().all(|c| c.is_ascii_uppercase()));
    let items = words
        .iter()
        .skip(if explicit.is_some() { 2 } else { 1 })
        .any(|w| is_body_item(&w.text));
    let writes = match explicit {
        Some(method) => is_write_method(method),
        None => items || has_long(args, "--form") || has_short(args, 'f'),
    };
    if writes {
        v.raise(Fact::Mutates, format!("{shown}: sends a remote write"));
    }
    if has_long(args, "--download") || has_short(args, 'd') {
        v.raise(
            Fact::Mutates,
            format!("{shown}: saves a download to a file"),
        );
    }
}

/// An HTTPie request item that goes into the body (`a=b`, `a:=1`, `a@file`, `a=@file`);
/// headers (`A:b`) and query parameters (`a==b`) do not.
fn is_body_item(text: &str) -> bool {
    if text.contains("==") {
        return false;
    }
    let Some(index) = text.find(['=', '@', ':']) else {
        return false;
    };
    let rest = text.get(index..).unwrap_or_default();
    rest.starts_with('=') || rest.starts_with(":=") || rest.starts_with('@')
}

/// Redis commands that drop every key of a database or the server.
const REDIS_DESTRUCTIVE: &[&str] = &["FLUSHALL", "FLUSHDB", "SHUTDOWN", "SWAPDB"];
/// Redis commands that only read.
const REDIS_READS: &[&str] = &[
    "GET",
    "MGET",
    "EXISTS",
    "KEYS",
    "SCAN",
    "TTL",
    "PTTL",
    "TYPE",
    "STRLEN",
    "HGET",
    "HGETALL",
    "HKEYS",
    "HVALS",
    "HLEN",
    "HEXISTS",
    "HMGET",
    "LRANGE",
    "LLEN",
    "LINDEX",
    "SMEMBERS",
    "SCARD",
    "SISMEMBER",
    "ZRANGE",
    "ZSCORE",
    "ZCARD",
    "ZRANK",
    "PING",
    "INFO",
    "DBSIZE",
    "MONITOR",
    "SUBSCRIBE",
    "PSUBSCRIBE",
    "ECHO",
    "TIME",
    "LASTSAVE",
    "MEMORY",
    "SLOWLOG",
    "CLIENT",
    "XRANGE",
    "XLEN",
    "XREAD",
    "DUMP",
    "OBJECT",
    "RANDOMKEY",
    "COMMAND",
    "ROLE",
];

fn redis(name: &str, args: &[Arg], v: &mut Verdict) {
    let shown = render(name, args);
    let with_value = [
        "-h",
        "-p",
        "-s",
        "-a",
        "-u",
        "-n",
        "-r",
        "-i",
        "-d",
        "--user",
        "--pass",
        "--tls-cert",
        "--cacert",
        "--key",
        "--sni",
        "--cert",
    ];
    let host = option_value(args, Some('h'), None).is_some()
        || option_value(args, Some('u'), None).is_some();
    if host {
        v.raise(Fact::Network, format!("{shown}: talks to a remote server"));
    }
    let Some(command) = super::wrappers::wrapped(args, &with_value, 0) else {
        return;
    };
    let Some(first) = command.first() else { return };
    let verb = first.text.to_ascii_uppercase();
    if !first.literal {
        v.raise(Fact::Opaque, format!("{shown}: command is not a literal"));
    } else if REDIS_DESTRUCTIVE.contains(&verb.as_str()) {
        v.raise(Fact::Destructive, format!("{shown}: drops every key"));
    } else if verb == "CONFIG" || verb == "DEBUG" || verb == "MODULE" || verb == "ACL" {
        v.raise(Fact::Privileged, format!("{shown}: server administration"));
        v.raise(Fact::Mutates, format!("{shown}: changes the server"));
    } else if !REDIS_READS.contains(&verb.as_str()) {
        v.raise(Fact::Mutates, format!("{shown}: writes keys"));
    }
}

/// Mongo shell calls that drop a database, a collection or every document.
fn is_destructive_mongo(js: &str) -> bool {
    let compact: String = js.chars().filter(|c| !c.is_whitespace()).collect();
    [
        ".dropDatabase(",
        ".drop(",
        ".dropCollection(",
        "deleteMany({})",
        "deleteMany()",
        "remove({})",
        ".dropIndexes(",
    ]
    .iter()
    .any(|call| compact.contains(call))
}

fn mongo(name: &str, args: &[Arg], v: &mut Verdict) {
    let shown = render(name, args);
    if args
        .iter()
        .any(|a| a.text.contains("mongodb://") || a.text.contains("mongodb+srv://"))
        || has_long(args, "--host")
    {
        v.raise(Fact::Network, format!("{shown}: talks to a remote server"));
    }
    let script = option_value(args, None, Some("--eval"));
    match script {
        Some(js) if js.literal && is_destructive_mongo(value_text(js, None, Some("--eval"))) => {
            v.raise(Fact::Destructive, format!("{shown}: drops data"));
        }
        Some(_) => v.raise(
            Fact::Opaque,
            format!("{shown}: JavaScript cannot be analyzed"),
        ),
        None => {
            if has_long(args, "--file") || has_short(args, 'f') {
                v.raise(Fact::Opaque, format!("{shown}: runs a script file"));
            }
        }
    }
}
