//! `postlab check`: find what is wrong in a data directory before the server (or a student)
//! trips over it, the way `postfix check` does.
//!
//! Each problem is printed with where it is and what to do about it:
//!
//! ```text
//! error: postlab.conf line 12: unknown setting 'max_recipient'
//!        fix: see the list of settings at the top of the file, or remove the line
//! warning: 3 entries under var can be read by other users of this machine, e.g. var/users (mode 644)
//!        fix: postlab check --fix (files 600, folders 700)
//! ```
//!
//! Errors stop mail from working as meant (a setting the server refuses, an alias loop, no
//! postmaster, which RFC 5321 §4.5.1 requires, a queue file set aside as corrupt); warnings
//! are risks (a world-readable users file). The exit code is 1 when there is any error, so a
//! script or a systemd `ExecStartPre=postlab check` can refuse to start on a broken directory.
//! An empty directory (as the Debian package makes it) is not broken: `serve` sets it up.
//!
//! Permissions: everything under the data directory is the server's alone (DESIGN.md: files
//! 0600, folders 0700). A file or folder that grants anything to group or others is reported;
//! `--fix` takes those bits away (and only those: it never widens a mode or follows a symlink).

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::accounts::{aliases::Aliases, Users};
use crate::config::{self, Config};
use crate::datadir::DataDir;
use crate::mta::transport::Transport;

/// The findings, in the order they were found.
#[derive(Default)]
struct Report {
    lines: Vec<String>,
    errors: usize,
    warnings: usize,
}

impl Report {
    fn error(&mut self, what: impl std::fmt::Display, fix: impl std::fmt::Display) {
        self.errors += 1;
        self.lines.push(format!("error: {what}\n       fix: {fix}"));
    }
    fn warning(&mut self, what: impl std::fmt::Display, fix: impl std::fmt::Display) {
        self.warnings += 1;
        self.lines
            .push(format!("warning: {what}\n       fix: {fix}"));
    }
}

/// `postlab check [--fix] [--data DIR]`
pub fn main(args: &[String]) -> i32 {
    let mut opts = super::options();
    opts.optflag(
        "",
        "fix",
        "take group and other permissions away from everything under DIR",
    );
    let brief = "usage: postlab check [--fix] [--data DIR]\n\n\
                 Check the settings, users, aliases, transport map, certificates, permissions\n\
                 and Maildirs in DIR. Exit code 1 if anything is an error.\n\
                 --fix makes every file 600 and every folder 700 first.";
    let m = match super::parse(&opts, args, brief, 2) {
        Ok(m) => m,
        Err(code) => return code,
    };
    if !m.free.is_empty() {
        eprint!("{}", opts.usage(brief));
        return 2;
    }
    let data = DataDir::from_option(m.opt_str("data"));
    if !data.root().is_dir() {
        return super::fail(format!(
            "no data directory {} (postlab serve --data DIR makes one)",
            data.root().display()
        ));
    }
    // An empty directory, as the Debian package makes it, is not broken: the first `postlab
    // serve` writes the settings, the demo accounts and the postmaster alias. (The systemd unit
    // runs `check` before every start, the first included.)
    let fresh = std::fs::read_dir(data.root()).is_ok_and(|mut entries| entries.next().is_none());
    if fresh {
        println!(
            "{}: not set up yet; the first `postlab serve --data {}` sets it up",
            data.root().display(),
            data.root().display()
        );
        return 0;
    }
    if m.opt_present("fix") {
        match fix_permissions(data.root()) {
            Ok(0) => {}
            Ok(n) => println!("fixed: {n} file(s) and folder(s) are now for postlab's user alone"),
            Err(e) => return super::fail(format!("--fix: {e}")),
        }
    }
    let report = check(&data);
    for line in &report.lines {
        println!("{line}");
    }
    println!(
        "{}: {} error(s), {} warning(s)",
        data.root().display(),
        report.errors,
        report.warnings
    );
    if report.errors > 0 {
        1
    } else {
        0
    }
}

fn check(data: &DataDir) -> Report {
    let mut report = Report::default();
    let config = settings(&data.config(), &mut report);
    configured_files(&config, &mut report);
    let users = users(data, &mut report);
    aliases(data, &users, &mut report);
    if let Err(e) = Transport::load(&data.root().join("transport")) {
        report.error(e, "each line is `domain  [host]:port`; see lessons/06");
    }
    certificates(&data.root().join("tls"), &mut report);
    maildirs(data, &users, &mut report);
    corrupt_queue_files(data, &mut report);
    permissions(data.root(), &mut report);
    report
}

/// Messages the queue set aside because their envelope could not be read (`mta/queue.rs`):
/// each is mail someone was promised, waiting for a person.
fn corrupt_queue_files(data: &DataDir, report: &mut Report) {
    let dir = data.root().join("queue");
    if !dir.join("corrupt").is_dir() {
        return;
    }
    let found = crate::mta::queue::Queue::open(&dir).and_then(|queue| queue.corrupt());
    match found {
        Ok(found) => {
            for (id, why) in found {
                report.error(
                    format!("queue/corrupt/{id}.env: message {id} cannot be delivered: {why}"),
                    format!("repair the line by hand and move {id}.env and {id}.msg back to queue/active/, or `postlab queue delete {id}`"),
                );
            }
        }
        Err(e) => report.error(
            format!("cannot read {}: {e}", dir.join("corrupt").display()),
            "check its owner and mode",
        ),
    }
}

/// Every file and folder under `root` (root included) whose mode grants group or others
/// anything, with its mode. Symlinks are not followed: their own mode means nothing.
fn too_open(root: &Path) -> std::io::Result<Vec<(PathBuf, u32)>> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(path) = pending.pop() {
        let meta = std::fs::symlink_metadata(&path)?;
        if meta.file_type().is_symlink() {
            continue;
        }
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            found.push((path.clone(), mode));
        }
        if meta.is_dir() {
            for item in std::fs::read_dir(&path)? {
                pending.push(item?.path());
            }
        }
    }
    found.sort();
    Ok(found)
}

/// DESIGN.md: everything under DIR is 0600 / 0700, since it holds other people's mail.
fn permissions(root: &Path, report: &mut Report) {
    let found = match too_open(root) {
        Ok(found) => found,
        Err(e) => {
            report.error(
                format!("cannot read all of {}: {e}", root.display()),
                "run postlab check as the user the server runs as",
            );
            return;
        }
    };
    if found.is_empty() {
        return;
    }
    let examples: Vec<String> = found
        .iter()
        .take(3)
        .map(|(path, mode)| format!("{} (mode {:o})", path.display(), mode & 0o777))
        .collect();
    report.warning(
        format!(
            "{} entries under {} can be read by other users of this machine, e.g. {}",
            found.len(),
            root.display(),
            examples.join(", ")
        ),
        "postlab check --fix (files 600, folders 700)",
    );
}

/// `--fix`: removes the group and other bits (and set-id bits) from every entry [`too_open`]
/// finds. Returns how many it changed.
fn fix_permissions(root: &Path) -> std::io::Result<usize> {
    let found = too_open(root)?;
    for (path, mode) in &found {
        let mode = mode & 0o700;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    Ok(found.len())
}

/// Every line of postlab.conf, not just the first bad one. Gives the settings as far as they
/// could be read.
fn settings(path: &Path, report: &mut Report) -> Config {
    let mut config = Config::defaults();
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            report.warning(
                "no postlab.conf: the defaults apply",
                "`postlab serve` writes one with every setting explained",
            );
            return config;
        }
        Err(e) => {
            report.error(
                format!("cannot read {}: {e}", path.display()),
                "check its owner and mode",
            );
            return config;
        }
    };
    let lines = match config::parse_lines(&text) {
        Ok(lines) => lines,
        Err(e) => {
            report.error(format!("postlab.conf {e}"), "write it as `key = value`");
            return config;
        }
    };
    for (line, key, value) in lines {
        if let Err(message) = config.set(&key, &value) {
            let fix = if config::SETTINGS.iter().any(|s| s.key == key) {
                "give a value of the kind the comment above the setting describes"
            } else {
                "check the spelling against the settings in the default postlab.conf, or remove the line"
            };
            report.error(format!("postlab.conf line {line}: {message}"), fix);
        }
    }
    config
}

/// The certificate, key and CA files postlab.conf names must exist and be readable.
fn configured_files(config: &Config, report: &mut Report) {
    let files = [
        ("tls_cert", &config.tls_cert),
        ("tls_key", &config.tls_key),
        ("tls_ca_file", &config.tls_ca_file),
    ];
    for (key, path) in files {
        if let Some(path) = path {
            if let Err(e) = std::fs::read(path) {
                report.error(
                    format!("{key} = {}: cannot read it: {e}", path.display()),
                    "give the right path, or make the file readable by the user postlab runs as",
                );
            }
        }
    }
    if config.tls_cert.is_some() != config.tls_key.is_some() {
        report.error(
            "tls_cert and tls_key: only one of them is set",
            "set both (the certificate and its key), or neither for the self-signed pair in DIR/tls/",
        );
    }
}

fn users(data: &DataDir, report: &mut Report) -> Users {
    let path = data.users();
    let users = match Users::load(&path) {
        Ok(users) => users,
        Err(e) => {
            report.error(
                e,
                "each line is `name:{SCHEME}hash`; `postlab user passwd NAME` rewrites one",
            );
            return Users::default();
        }
    };
    if users.is_empty() {
        report.warning(
            "no accounts: no mail can be delivered here",
            "postlab user add NAME",
        );
    }
    users
}

/// Aliases must lead to an account or an address, never round in a circle, and postmaster must
/// be among them (or be an account).
fn aliases(data: &DataDir, users: &Users, report: &mut Report) {
    let aliases = match Aliases::load(&data.aliases()) {
        Ok(aliases) => aliases,
        Err(e) => {
            report.error(e, "each line is `alias: target, target`");
            return;
        }
    };
    if aliases.get("postmaster").is_none() && !users.contains("postmaster") {
        report.error(
            "no postmaster: RFC 5321 section 4.5.1 requires every mail server to accept mail for it",
            "postlab alias add postmaster YOUR-ACCOUNT",
        );
    }
    for (name, _) in aliases.iter() {
        let mut path = vec![name.clone()];
        if let Err(problem) = follow(name, &aliases, users, &mut path) {
            report.error(
                format!("alias {name}: {problem}"),
                format!("postlab alias add {name} ACCOUNT (or del {name})"),
            );
        }
    }
}

/// Follows an alias down to accounts and addresses; `path` holds the aliases on the way.
fn follow(
    name: &str,
    aliases: &Aliases,
    users: &Users,
    path: &mut Vec<String>,
) -> Result<(), String> {
    let targets = aliases.get(name).unwrap_or_default().to_vec();
    for target in targets {
        let local = target.to_ascii_lowercase();
        if local.contains('@') || users.contains(&local) {
            continue;
        }
        if path.contains(&local) {
            path.push(local);
            return Err(format!("loops: {}", path.join(" -> ")));
        }
        if aliases.get(&local).is_none() {
            return Err(format!(
                "target {target} is neither an account, an alias nor an address"
            ));
        }
        path.push(local.clone());
        follow(&local, aliases, users, path)?;
        path.pop();
    }
    Ok(())
}

fn certificates(dir: &Path, report: &mut Report) {
    let Ok(listing) = std::fs::read_dir(dir) else {
        return;
    };
    for item in listing.flatten() {
        let path = item.path();
        if path.is_file() {
            if let Err(e) = std::fs::read(&path) {
                report.error(
                    format!("cannot read {}: {e}", path.display()),
                    "the server runs as its own user: give it read access (chmod 600, chown)",
                );
            }
        }
    }
}

fn maildirs(data: &DataDir, users: &Users, report: &mut Report) {
    for user in users.iter() {
        let root = crate::mda::maildir_path(&data.mail(), &user.name);
        if !root.exists() {
            continue; // Made at the first delivery.
        }
        let missing: BTreeSet<&str> = ["tmp", "new", "cur"]
            .into_iter()
            .filter(|sub| !root.join(sub).is_dir())
            .collect();
        if !missing.is_empty() {
            let list: Vec<&str> = missing.into_iter().collect();
            report.error(
                format!("Maildir of {} has no {}", user.name, list.join(", ")),
                format!(
                    "mkdir {}",
                    list.iter()
                        .map(|s| root.join(s).display().to_string())
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
            );
        }
    }
}
