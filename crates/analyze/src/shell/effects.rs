//! Classification of file-system, system-administration, network and interpreter commands.
//!
//! Only argument vectors are inspected; nothing is executed or looked up on the host.

use super::verdict::{
    Arg, Fact, Verdict, has_arg, has_long, has_short, is_system_path, operands, option_value,
    render,
};

/// Classifies a plain (non-wrapper, non-tool) command.
pub(crate) fn classify(name: &str, args: &[Arg], v: &mut Verdict) {
    match name {
        "rm" => rm(args, v),
        "rmdir" | "unlink" => v.raise(Fact::Mutates, format!("{name}: deletes")),
        "dd" => dd(args, v),
        "shred" | "wipefs" | "blkdiscard" | "fdisk" | "sfdisk" | "sgdisk" | "cfdisk" | "parted"
        | "mkswap" | "mke2fs" | "zpool" | "lvremove" | "vgremove" | "pvremove" => {
            v.raise(
                Fact::Destructive,
                format!("{name}: overwrites or repartitions storage"),
            );
        }
        _ if name.starts_with("mkfs") => {
            v.raise(Fact::Destructive, format!("{name}: formats a file system"))
        }
        "truncate" => v.raise(
            Fact::Destructive,
            format!("{}: truncates files", render(name, args)),
        ),
        "chmod" | "chown" | "chgrp" | "chattr" | "setfacl" => permissions(name, args, v),
        "mv" => mv(args, v),
        "cp" if operands(args)
            .first()
            .is_some_and(|src| matches!(src.text.as_str(), "/dev/null" | "/dev/zero")) =>
        {
            v.raise(
                Fact::Destructive,
                format!("{}: overwrites files with nothing", render(name, args)),
            );
        }
        "cp" | "touch" | "mkdir" | "ln" | "install" | "patch" | "rename" | "mkfifo" | "mknod"
        | "split" | "unzip" | "gunzip" | "gzip" | "bzip2" | "xz" | "zstd" | "7z" | "ar"
        | "cpio" | "dos2unix" | "git-lfs" | "make" | "cmake" | "ninja" | "ldconfig" => {
            v.raise(Fact::Mutates, format!("{name}: writes files"));
        }
        "tee" => tee(args, v),
        "sed" | "perl" if has_short(args, 'i') || has_long(args, "--in-place") => {
            v.raise(Fact::Mutates, format!("{name} -i: edits files in place"));
        }
        "tar" => tar(args, v),
        "kill" | "pkill" | "killall" | "renice" => {
            v.raise(Fact::Mutates, format!("{name}: signals processes"))
        }
        "systemctl" | "service" | "launchctl" => service(name, args, v),
        "reboot" | "shutdown" | "halt" | "poweroff" | "init" | "telinit" | "kexec" => {
            v.raise(Fact::Destructive, format!("{name}: stops the host"));
            v.raise(Fact::Privileged, format!("{name}: host power control"));
        }
        "nc" | "ncat" | "netcat" | "socat" => netcat(name, args, v),
        "scp" | "sftp" | "rsync" => copy_remote(name, args, v),
        "telnet" | "ftp" | "tftp" | "lftp" | "ping" | "ping6" | "dig" | "nslookup" | "host"
        | "nmap" | "whois" | "traceroute" | "tracepath" | "mtr" | "aria2c" | "mosh"
        | "ldapsearch" | "smbclient" | "wscat" | "grpcurl" | "websocat" | "s3cmd" | "rclone"
        | "gsutil" => {
            v.raise(Fact::Network, format!("{name}: network client"));
        }
        "openssl" if has_arg(args, "s_client") => {
            v.raise(Fact::Network, "openssl s_client: network client")
        }
        "mount" | "umount" | "insmod" | "rmmod" | "modprobe" | "setcap" | "iptables"
        | "ip6tables" | "nft" | "ufw" | "firewall-cmd" | "capsh" | "setenforce" | "swapon"
        | "swapoff" | "losetup" | "cryptsetup" | "dmsetup" | "visudo" | "sysctl" | "auditctl" => {
            privileged_admin(name, args, v);
        }
        "useradd" | "userdel" | "usermod" | "adduser" | "deluser" | "groupadd" | "groupdel"
        | "passwd" | "chpasswd" | "chsh" | "gpasswd" => {
            v.raise(Fact::Privileged, format!("{name}: manages accounts"));
            v.raise(Fact::Mutates, format!("{name}: changes accounts"));
        }
        "ip" => ip(args, v),
        "awk" | "gawk" | "mawk" | "nawk" => awk(name, args, v),
        _ if super::wrappers::is_code_interpreter(name) => interpreter(name, args, v),
        _ => package_manager(name, args, v),
    }
}

fn rm(args: &[Arg], v: &mut Verdict) {
    let recursive = has_short(args, 'r') || has_short(args, 'R') || has_long(args, "--recursive");
    let force = has_short(args, 'f') || has_long(args, "--force");
    let shown = render("rm", args);
    v.raise(Fact::Mutates, format!("{shown}: deletes files"));
    let targets = operands(args);
    if recursive {
        let how = if force {
            "recursive forced delete"
        } else {
            "recursive delete"
        };
        v.raise(Fact::Destructive, format!("{shown}: {how}"));
    } else if let Some(t) = targets.iter().find(|t| is_system_path(&t.text)) {
        v.raise(
            Fact::Destructive,
            format!("{shown}: deletes system or home path {}", t.text),
        );
    } else if targets
        .iter()
        .any(|t| t.text == super::wrappers::STDIN_ARGUMENTS && !t.literal)
    {
        v.raise(
            Fact::Destructive,
            format!("{shown}: deletes a list read from stdin (xargs)"),
        );
    } else if force
        && targets
            .iter()
            .any(|t| t.glob || !t.literal || t.text.ends_with('/'))
    {
        v.raise(
            Fact::Destructive,
            format!("{shown}: forced delete of a glob, directory or dynamic list"),
        );
    }
    if has_long(args, "--no-preserve-root") {
        v.raise(Fact::Destructive, format!("{shown}: --no-preserve-root"));
    }
}

fn dd(args: &[Arg], v: &mut Verdict) {
    for arg in args {
        if let Some(target) = arg.text.strip_prefix("of=")
            && target != "/dev/null"
        {
            v.raise(Fact::Destructive, format!("dd of={target}: raw overwrite"));
        }
    }
}

fn permissions(name: &str, args: &[Arg], v: &mut Verdict) {
    let shown = render(name, args);
    v.raise(
        Fact::Mutates,
        format!("{shown}: changes permissions or ownership"),
    );
    let recursive = has_short(args, 'R') || has_long(args, "--recursive");
    let targets = operands(args);
    let paths = targets.get(1..).unwrap_or_default();
    if let Some(system) = paths.iter().find(|t| is_system_path(&t.text))
        && (recursive || system.text.trim_end_matches('/').is_empty())
    {
        v.raise(
            Fact::Destructive,
            format!(
                "{shown}: changes {} on system path {}",
                if recursive {
                    "recursively"
                } else {
                    "permissions"
                },
                system.text
            ),
        );
    }
    if name != "chmod"
        && !recursive
        && let Some(system) = paths.iter().find(|t| is_system_path(&t.text))
    {
        v.raise(
            Fact::Privileged,
            format!("{shown}: changes ownership of system path {}", system.text),
        );
    }
    if name == "chmod"
        && let Some(mode) = targets.first()
    {
        if is_no_access_mode(&mode.text)
            && let Some(system) = paths.iter().find(|t| is_system_path(&t.text))
        {
            v.raise(
                Fact::Destructive,
                format!("{shown}: removes all access to system path {}", system.text),
            );
        }
        if is_setuid_mode(&mode.text) {
            v.raise(Fact::Privileged, format!("{shown}: sets setuid/setgid"));
        }
        if mode.text == "777" && paths.iter().any(|t| is_system_path(&t.text)) {
            v.raise(
                Fact::Destructive,
                format!("{shown}: world-writable system path"),
            );
        }
    }
}

/// A mode that leaves nobody any access (`000`, `0`, `a-rwx`, `a=`, `ugo=`).
fn is_no_access_mode(mode: &str) -> bool {
    if !mode.is_empty() && mode.chars().all(|c| c == '0') {
        return true;
    }
    matches!(mode, "a-rwx" | "ugo-rwx" | "a=" | "ugo=" | "=" | "-rwx")
}

fn is_setuid_mode(mode: &str) -> bool {
    if mode.chars().all(|c| c.is_ascii_digit()) {
        return mode.len() == 4 && matches!(mode.chars().next(), Some('2' | '4' | '6' | '7'));
    }
    mode.split(',').any(|clause| {
        clause.contains('+') && clause.contains('s') || clause.contains('=') && clause.contains('s')
    })
}

fn mv(args: &[Arg], v: &mut Verdict) {
    let shown = render("mv", args);
    v.raise(Fact::Mutates, format!("{shown}: moves files"));
    let targets = operands(args);
    if let Some(last) = targets.last()
        && last.text == "/dev/null"
    {
        v.raise(Fact::Destructive, format!("{shown}: moves into /dev/null"));
    }
    if let Some(system) = targets.iter().find(|t| is_system_path(&t.text)) {
        v.raise(
            Fact::Destructive,
            format!("{shown}: moves system path {}", system.text),
        );
    }
}

fn tee(args: &[Arg], v: &mut Verdict) {
    for target in operands(args) {
        if target.text.starts_with("/dev/sd")
            || target.text.starts_with("/dev/nvme")
            || target.text.starts_with("/dev/disk")
        {
            v.raise(
                Fact::Destructive,
                format!("tee {}: writes a block device", target.text),
            );
        } else if !matches!(
            target.text.as_str(),
            "/dev/null" | "/dev/stdout" | "/dev/stderr"
        ) {
            v.raise(Fact::Mutates, format!("tee {}: writes a file", target.text));
        }
    }
}

fn tar(args: &[Arg], v: &mut Verdict) {
    let first = args
        .first()
        .map(|a| a.text.trim_start_matches('-'))
        .unwrap_or_default();
    let mode_letters = if args.first().is_some_and(|a| !a.text.starts_with("--")) {
        first
    } else {
        ""
    };
    let writes = ['x', 'c', 'r', 'u', 'A']
        .iter()
        .any(|c| mode_letters.contains(*c) || has_short(args, *c))
        || ["--extract", "--create", "--append", "--update", "--get"]
            .iter()
            .any(|l| has_long(args, l));
    if writes {
        v.raise(
            Fact::Mutates,
            format!(
                "{}: writes an archive or extracts files",
                render("tar", args)
            ),
        );
    }
}

fn service(name: &str, args: &[Arg], v: &mut Verdict) {
    let read_only = [
        "status",
        "show",
        "list-units",
        "list-unit-files",
        "is-active",
        "is-enabled",
        "cat",
        "list",
    ];
    if operands(args)
        .first()
        .is_some_and(|a| read_only.contains(&a.text.as_str()))
    {
        return;
    }
    v.raise(
        Fact::Mutates,
        format!("{}: changes services", render(name, args)),
    );
    v.raise(Fact::Privileged, format!("{name}: service control"));
}

fn netcat(name: &str, args: &[Arg], v: &mut Verdict) {
    v.raise(Fact::Network, format!("{name}: raw network connection"));
    let exec = has_short(args, 'e')
        || has_short(args, 'c')
        || has_long(args, "--exec")
        || has_long(args, "--sh-exec")
        || args
            .iter()
            .any(|a| a.text.starts_with("EXEC:") || a.text.starts_with("SYSTEM:"));
    if exec {
        v.raise(
            Fact::Privileged,
            format!("{}: exposes a shell over the network", render(name, args)),
        );
        v.raise(Fact::Opaque, format!("{name}: remote shell"));
    }
}

fn copy_remote(name: &str, args: &[Arg], v: &mut Verdict) {
    let remote = name != "rsync" || args.iter().any(|a| is_remote_spec(&a.text));
    if remote {
        v.raise(
            Fact::Network,
            format!("{}: remote copy", render(name, args)),
        );
    }
    v.raise(Fact::Mutates, format!("{name}: copies files"));
    if name == "rsync"
        && args
            .iter()
            .any(|a| a.text.starts_with("--delete") || a.text == "--remove-source-files")
    {
        v.raise(
            Fact::Destructive,
            format!("{}: deletes files at the destination", render(name, args)),
        );
    }
}

/// `host:path`, `user@host:path` or `rsync://...`.
fn is_remote_spec(text: &str) -> bool {
    if text.starts_with("rsync://") {
        return true;
    }
    match text.split_once(':') {
        Some((host, _)) => !host.is_empty() && !host.contains('/') && !text.starts_with('-'),
        None => false,
    }
}

fn privileged_admin(name: &str, args: &[Arg], v: &mut Verdict) {
    if name == "sysctl" && !(has_short(args, 'w') || args.iter().any(|a| a.text.contains('='))) {
        return;
    }
    let read_only = matches!(name, "iptables" | "ip6tables" | "nft" | "ufw")
        && (has_short(args, 'L')
            || has_short(args, 'S')
            || has_arg(args, "list")
            || has_arg(args, "status"));
    if name == "mount" && operands(args).is_empty() || read_only {
        return;
    }
    v.raise(
        Fact::Privileged,
        format!("{}: system administration", render(name, args)),
    );
    v.raise(Fact::Mutates, format!("{name}: changes system state"));
}

fn ip(args: &[Arg], v: &mut Verdict) {
    let changes = args.iter().any(|a| {
        matches!(
            a.text.as_str(),
            "add" | "del" | "delete" | "set" | "flush" | "change" | "replace"
        )
    });
    if changes {
        v.raise(
            Fact::Privileged,
            format!("{}: changes network configuration", render("ip", args)),
        );
        v.raise(Fact::Mutates, "ip: changes network configuration");
    }
}

fn awk(name: &str, args: &[Arg], v: &mut Verdict) {
    let program = operands(args)
        .into_iter()
        .find(|a| !a.text.contains('='))
        .map(|a| a.text.as_str())
        .unwrap_or_default();
    if program.contains("system(")
        || program.contains("| getline")
        || program.contains("|getline")
        || program.contains("|&")
    {
        v.raise(Fact::Opaque, format!("{name}: program runs shell commands"));
    }
    if program.contains("> \"") || program.contains(">\"") || program.contains(">> \"") {
        v.raise(Fact::Mutates, format!("{name}: program writes files"));
    }
    if has_short(args, 'i') {
        v.raise(Fact::Mutates, format!("{name} -i: edits files in place"));
    }
}

fn interpreter(name: &str, args: &[Arg], v: &mut Verdict) {
    let inline = args.iter().any(|a| {
        matches!(
            a.text.as_str(),
            "-c" | "-e"
                | "-E"
                | "-r"
                | "--eval"
                | "-p"
                | "--print"
                | "-Command"
                | "-EncodedCommand"
        ) || (a.text.starts_with('-')
            && !a.text.starts_with("--")
            && a.text.len() <= 4
            && (a.text.contains('c') || a.text.contains('e')))
    });
    if inline {
        v.raise(
            Fact::Opaque,
            format!("{}: inline interpreter code", render(name, args)),
        );
    } else if option_value(args, Some('m'), None).is_none()
        && let Some(script) = operands(args).first()
        && super::wrappers::is_dynamic_script(script)
    {
        v.raise(
            Fact::Opaque,
            format!("{name} runs a dynamic script: {}", script.text),
        );
    }
    if let Some(module) = option_value(args, Some('m'), None)
        && matches!(module.text.as_str(), "pip" | "http.server" | "ensurepip")
    {
        package_manager(&module.text, args.get(2..).unwrap_or_default(), v);
    }
}

/// Package managers and language toolchains that download and install.
fn package_manager(name: &str, args: &[Arg], v: &mut Verdict) {
    let sub = operands(args)
        .first()
        .map(|a| a.text.as_str())
        .unwrap_or_default();
    let installs = match name {
        "apt" | "apt-get" | "aptitude" | "yum" | "dnf" | "zypper" | "apk" | "snap" | "flatpak"
        | "port" => {
            matches!(
                sub,
                "install"
                    | "remove"
                    | "purge"
                    | "upgrade"
                    | "dist-upgrade"
                    | "update"
                    | "add"
                    | "del"
                    | "autoremove"
                    | "reinstall"
                    | "refresh"
            )
        }
        "pacman" => has_short(args, 'S') || has_short(args, 'R') || has_short(args, 'U'),
        "brew" => matches!(
            sub,
            "install" | "uninstall" | "upgrade" | "reinstall" | "update" | "tap" | "remove"
        ),
        "pip" | "pip3" | "pipx" | "uv" | "poetry" | "conda" | "mamba" => {
            matches!(
                sub,
                "install"
                    | "uninstall"
                    | "add"
                    | "remove"
                    | "sync"
                    | "update"
                    | "upgrade"
                    | "download"
                    | "publish"
                    | "create"
            ) || (sub == "pip" && args.iter().any(|a| a.text == "install"))
        }
        "npm" | "pnpm" | "yarn" | "bun" => {
            matches!(
                sub,
                "install"
                    | "i"
                    | "ci"
                    | "add"
                    | "remove"
                    | "uninstall"
                    | "update"
                    | "upgrade"
                    | "publish"
                    | "link"
                    | "dlx"
                    | "exec"
            ) || (name == "yarn" && sub.is_empty())
        }
        "npx" | "pnpx" | "bunx" | "uvx" => true,
        "cargo" => matches!(
            sub,
            "install" | "publish" | "add" | "update" | "fetch" | "uninstall" | "yank" | "login"
        ),
        "gem" | "bundle" | "bundler" => matches!(sub, "install" | "update" | "uninstall" | "push"),
        "go" => {
            matches!(sub, "get" | "install")
                || (sub == "mod"
                    && args
                        .iter()
                        .any(|a| a.text == "download" || a.text == "tidy"))
        }
        "composer" => matches!(sub, "install" | "require" | "update" | "remove"),
        "dotnet" | "nuget" => matches!(sub, "add" | "restore" | "install" | "push"),
        _ => false,
    };
    if installs {
        v.raise(
            Fact::Network,
            format!("{}: downloads packages", render(name, args)),
        );
        v.raise(
            Fact::Mutates,
            format!("{name} {sub}: changes installed packages"),
        );
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn setuid_modes() {
        for mode in ["u+s", "g+s", "+s", "4755", "2755", "u=rwxs"] {
            assert!(is_setuid_mode(mode), "{mode}");
        }
        for mode in ["755", "0755", "u+x", "go-w", "a+r"] {
            assert!(!is_setuid_mode(mode), "{mode}");
        }
    }

    #[test]
    fn remote_specs() {
        assert!(is_remote_spec("host:/srv"));
        assert!(is_remote_spec("user@host:"));
        assert!(is_remote_spec("rsync://mirror/x"));
        assert!(!is_remote_spec("./local/dir"));
        assert!(!is_remote_spec("/abs/path"));
    }
}
