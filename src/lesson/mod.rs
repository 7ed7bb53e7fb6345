//! `postlab lesson`: puts data folders in the state a lesson page starts from, so every
//! screen in the room matches the page (issue 16), and takes them away again.
//!
//! A lesson's starting state is fixed here, next to the pages it serves: which folders
//! (`var`, or `var-a` and `var-b` for the lessons about two servers, as the page's
//! `<!-- servers: … -->` comment says), the server's name and domains, the accounts with the
//! passwords the pages print, the routes between servers, and settings a page needs. Every
//! folder made here holds a marker file, [`MARKER`]; `lesson start` and `lesson reset` only
//! ever remove a folder that has one, so a folder with real mail in it is never touched.
//!
//! The pages themselves are built into the program ([`PAGES`]), so `lesson list` and
//! `lesson start` can quote them, and the tests read the same text.

pub mod check;

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::accounts::{password, users::User, Users};
use crate::config;
use crate::datadir::DataDir;

/// The file that says "`postlab lesson start` made this folder; it may be removed".
pub const MARKER: &str = ".postlab-lesson";

/// Every lesson page (English), by number: file name and text.
pub const PAGES: &[(&str, &str)] = &[
    (
        "01-first-smtp-conversation.md",
        include_str!("../../lessons/01-first-smtp-conversation.md"),
    ),
    (
        "02-where-mail-lives.md",
        include_str!("../../lessons/02-where-mail-lives.md"),
    ),
    ("03-pop3.md", include_str!("../../lessons/03-pop3.md")),
    ("04-imap.md", include_str!("../../lessons/04-imap.md")),
    ("05-dns-mx.md", include_str!("../../lessons/05-dns-mx.md")),
    (
        "06-two-servers.md",
        include_str!("../../lessons/06-two-servers.md"),
    ),
    (
        "07-auth-and-submission.md",
        include_str!("../../lessons/07-auth-and-submission.md"),
    ),
    ("08-tls.md", include_str!("../../lessons/08-tls.md")),
    ("09-bounces.md", include_str!("../../lessons/09-bounces.md")),
    (
        "10-security.md",
        include_str!("../../lessons/10-security.md"),
    ),
    (
        "11-when-things-go-wrong.md",
        include_str!("../../lessons/11-when-things-go-wrong.md"),
    ),
    (
        "12-administration.md",
        include_str!("../../lessons/12-administration.md"),
    ),
    ("13-web.md", include_str!("../../lessons/13-web.md")),
    (
        "14-network-faults.md",
        include_str!("../../lessons/14-network-faults.md"),
    ),
    (
        "15-who-sent-this.md",
        include_str!("../../lessons/15-who-sent-this.md"),
    ),
];

/// Every folder name a lesson may make, for `lesson reset`.
pub const FOLDERS: &[&str] = &["var", "var-a", "var-b"];

/// The accounts every lesson has, with the passwords the pages print.
const ACCOUNTS: &[(&str, &str)] = &[("alice", "alice-password"), ("bob", "bob-password")];

/// One server of a lesson: its folder and what goes into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub folder: &'static str,
    pub hostname: String,
    /// Empty: the defaults (localhost and the hostname).
    pub domains: Vec<String>,
    pub port_offset: u16,
    pub accounts: Vec<(&'static str, &'static str)>,
    /// Extra `key = value` lines for postlab.conf.
    pub settings: Vec<(&'static str, &'static str)>,
    /// Routes of its own in DIR/transport, besides those to the other servers: (domain, port).
    pub routes: Vec<(&'static str, u16)>,
}

impl Server {
    /// The line that starts this server.
    pub fn serve_line(&self) -> String {
        format!("./postlab serve --data {}", self.folder)
    }
}

/// The number of a lesson page, if there is one.
pub fn page(number: usize) -> Option<(&'static str, &'static str)> {
    number.checked_sub(1).and_then(|i| PAGES.get(i)).copied()
}

/// The title of a page: its first heading, without "Lesson N: ".
pub fn title(text: &str) -> &str {
    let heading = text.lines().next().unwrap_or("").trim_start_matches("# ");
    heading.split_once(": ").map_or(heading, |(_, t)| t)
}

/// The domains of `<!-- servers: a.test b.test -->`, empty for a one-server lesson.
pub fn server_domains(text: &str) -> Vec<String> {
    text.lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("<!-- servers:")
                .and_then(|rest| rest.strip_suffix("-->"))
        })
        .map(|list| list.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

/// The servers lesson `number` starts with.
pub fn servers(number: usize) -> Vec<Server> {
    let text = page(number).map_or("", |(_, t)| t);
    let domains = server_domains(text);
    let accounts = ACCOUNTS.to_vec();
    if domains.is_empty() {
        return vec![Server {
            folder: "var",
            hostname: "mail.school.test".into(),
            domains: Vec::new(),
            port_offset: 10000,
            accounts,
            settings: Vec::new(),
            // Lessons 1 and 2 send to another domain to watch the queue: b.test goes to the
            // port where lesson 6's second server will listen, so for now the message waits
            // (connection refused: try again later) instead of bouncing at once as mail for
            // a real domain such as example.com (a null MX, RFC 7505) would.
            routes: if matches!(number, 1 | 2) {
                vec![("b.test", 20025)]
            } else {
                Vec::new()
            },
        }];
    }
    // The page's `<!-- servers: … -->` names the two domains (a.test and b.test, or the lab's).
    let first = domains.first().map_or("a.test", String::as_str);
    let second = domains.get(1).map_or("b.test", String::as_str);
    let mut a = Server {
        folder: "var-a",
        hostname: format!("mx.{first}"),
        domains: vec![first.to_string()],
        port_offset: 10000,
        accounts: accounts.clone(),
        settings: Vec::new(),
        routes: Vec::new(),
    };
    let mut b = Server {
        folder: "var-b",
        hostname: format!("mx.{second}"),
        domains: vec![second.to_string()],
        port_offset: 20000,
        accounts,
        settings: Vec::new(),
        routes: Vec::new(),
    };
    if number == 11 {
        // Lesson 11 greylists carol@slow.b.test: mx.b.test must own that domain and carol,
        // and mx.a.test must retry within seconds, not minutes.
        b.domains.push("slow.b.test".into());
        b.accounts.push(("carol", "carol-password"));
        a.settings.push(("queue_retry_min", "10"));
        a.settings.push(("queue_retry_max", "60"));
    }
    vec![a, b]
}

/// The transport map of `server`: every other server's domains, to its SMTP port.
pub fn transport(server: &Server, all: &[Server]) -> String {
    let mut text =
        String::from("# written by ./postlab lesson start: domain, then where its mail goes\n");
    for (domain, port) in &server.routes {
        let _ = writeln!(text, "{domain} [127.0.0.1]:{port}");
    }
    for other in all.iter().filter(|o| o.folder != server.folder) {
        for domain in &other.domains {
            let _ = writeln!(text, "{domain} [127.0.0.1]:{}", other.port_offset + 25);
        }
    }
    text
}

/// Is a server running on this folder? (Its pid file names a live process.)
pub fn running(folder: &Path) -> Option<u32> {
    let data = DataDir::new(folder);
    let pid: u32 = fs::read_to_string(data.pid_file())
        .ok()?
        .trim()
        .parse()
        .ok()?;
    crate::lab::alive(pid).then_some(pid)
}

/// Removes `folder` if `lesson start` made it. `Ok(false)`: there was nothing to remove.
pub fn remove(folder: &Path) -> Result<bool, String> {
    if !folder.exists() {
        return Ok(false);
    }
    if !folder.join(MARKER).exists() {
        return Err(format!(
            "{} was not made by `postlab lesson start` (no {MARKER} in it): left alone; \
             move it aside yourself if you want a fresh one",
            folder.display()
        ));
    }
    if let Some(pid) = running(folder) {
        return Err(format!(
            "a server (pid {pid}) is running on {}: stop it first (Ctrl-C in its terminal)",
            folder.display()
        ));
    }
    fs::remove_dir_all(folder).map_err(|e| format!("cannot remove {}: {e}", folder.display()))?;
    Ok(true)
}

/// Makes the folders of lesson `number` under `root`; returns what it did, line by line.
pub fn start(root: &Path, number: usize) -> Result<Vec<String>, String> {
    if page(number).is_none() {
        return Err(format!(
            "there is no lesson {number}: lessons are 1 to {}",
            PAGES.len()
        ));
    }
    let all = servers(number);
    // Check every folder first, so a refusal leaves nothing half made.
    for server in &all {
        let folder = root.join(server.folder);
        if folder.exists() && !folder.join(MARKER).exists() {
            return Err(format!(
                "{} exists and was not made by `postlab lesson start`: move it aside \
                 (mv {0} {0}.old) or use --dir, then try again",
                folder.display()
            ));
        }
        if let Some(pid) = running(&folder) {
            return Err(format!(
                "a server (pid {pid}) is running on {}: stop it first (Ctrl-C in its terminal)",
                folder.display()
            ));
        }
    }
    let mut said = Vec::new();
    for server in &all {
        let folder = root.join(server.folder);
        if remove(&folder)? {
            said.push(format!("removed the old {}", folder.display()));
        }
        make(&folder, number, server, &all).map_err(|e| format!("{}: {e}", folder.display()))?;
        let accounts: Vec<String> = server
            .accounts
            .iter()
            .map(|(name, pw)| format!("{name} (password {pw})"))
            .collect();
        let domains = if server.domains.is_empty() {
            "localhost".to_string()
        } else {
            server.domains.join(", ")
        };
        said.push(format!(
            "made {}: {} for {domains}, ports +{}, accounts {}, no mail",
            folder.display(),
            server.hostname,
            server.port_offset,
            accounts.join(", ")
        ));
        if all.len() > 1 || !server.routes.is_empty() {
            said.push(format!(
                "  {}/transport: {}",
                folder.display(),
                transport(server, &all)
                    .lines()
                    .skip(1)
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
        }
        for (key, value) in &server.settings {
            said.push(format!(
                "  {}/postlab.conf: {key} = {value}",
                folder.display()
            ));
        }
    }
    Ok(said)
}

/// Writes one server's folder: marker, settings, accounts, transport, then what `serve` makes.
fn make(folder: &Path, number: usize, server: &Server, all: &[Server]) -> io::Result<()> {
    fs::create_dir_all(folder)?;
    fs::write(
        folder.join(MARKER),
        format!(
            "made by `postlab lesson start {number}`; `postlab lesson reset` removes this folder\n"
        ),
    )?;
    let mut conf = config::default_file_text();
    let _ = writeln!(
        conf,
        "\n# Set by `postlab lesson start {number}`, so the screens match the page."
    );
    let _ = writeln!(conf, "hostname = {}", server.hostname);
    if !server.domains.is_empty() {
        let _ = writeln!(conf, "domains = {}", server.domains.join(", "));
    }
    let _ = writeln!(conf, "port_offset = {}", server.port_offset);
    for (key, value) in &server.settings {
        let _ = writeln!(conf, "{key} = {value}");
    }
    fs::write(folder.join("postlab.conf"), conf)?;
    let mut users = Users::default();
    for (name, secret) in &server.accounts {
        users.insert(User {
            name: name.to_string(),
            password: password::hash(secret).map_err(io::Error::other)?,
            extra: String::new(),
        });
    }
    users.save(&DataDir::new(folder).users())?;
    for (name, _) in &server.accounts {
        crate::mailbox::Maildir::create(&folder.join("mail").join(name))?;
    }
    if all.len() > 1 || !server.routes.is_empty() {
        fs::write(folder.join("transport"), transport(server, all))?;
    }
    DataDir::new(folder).init()?;
    Ok(())
}

/// The first step of a page: its first `## ` heading after "What you will learn" and
/// "Before you start" (`Step 1`, or `Set up`), and the paragraph under it.
pub fn first_step(text: &str) -> String {
    let mut lines = text.lines().skip_while(|l| {
        !l.starts_with("## ")
            || l.starts_with("## What you will learn")
            || l.starts_with("## Before you start")
    });
    let mut out = String::new();
    if let Some(heading) = lines.next() {
        let _ = writeln!(out, "{}", heading.trim_start_matches("## "));
        for line in lines.skip_while(|l| l.trim().is_empty()) {
            if line.trim().is_empty() || line.starts_with('#') || line.starts_with("```") {
                break;
            }
            let _ = writeln!(out, "  {line}");
        }
    }
    out
}

/// The folders under `root` that `lesson start` made.
pub fn made_folders(root: &Path) -> Vec<PathBuf> {
    FOLDERS
        .iter()
        .map(|f| root.join(f))
        .filter(|f| f.join(MARKER).exists())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_has_a_title_and_a_first_step() {
        for n in 1..=PAGES.len() {
            let (file, text) = page(n).unwrap();
            assert!(file.starts_with(&format!("{n:02}-")), "{file}");
            assert!(!title(text).is_empty(), "{file}");
            let step = first_step(text);
            assert!(!step.starts_with("What you will learn"), "{file}: {step}");
            assert!(
                step.lines().count() >= 2,
                "{file}: heading and paragraph: {step}"
            );
        }
        assert!(page(0).is_none() && page(PAGES.len() + 1).is_none());
    }

    #[test]
    fn the_two_server_lessons_route_to_each_other() {
        for n in [6, 9, 11] {
            let all = servers(n);
            assert_eq!(all.len(), 2, "lesson {n}");
            assert!(transport(&all[0], &all).contains("\nb.test [127.0.0.1]:20025\n"));
            assert!(transport(&all[1], &all).contains("\na.test [127.0.0.1]:10025\n"));
        }
        let eleven = servers(11);
        assert!(transport(&eleven[0], &eleven).contains("slow.b.test [127.0.0.1]:20025"));
        assert!(eleven[1].accounts.contains(&("carol", "carol-password")));
        assert_eq!(servers(3)[0].folder, "var");
    }
}
