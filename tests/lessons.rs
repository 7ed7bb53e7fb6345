//! Every transcript in `lessons/` is replayed against a real server, so no lesson can drift
//! from what the code does.
//!
//! A transcript is a fenced block whose info string is `transcript` (SMTP) or
//! `transcript SERVICE` (`transcript pop3`, `transcript imap`: the name of a listener in
//! `DIR/run/listeners`). Each block runs on a fresh connection:
//!
//! - `C: text` is sent, with CRLF;
//! - `S: text` must be the next line the server sends, exactly, except that `…` stands for any
//!   text (a queue id, a date, a size).
//!
//! Each lesson file gets its own server, started as `postlab serve --hostname
//! mail.school.test`, with the accounts `alice` (password `alice-password`) and `bob`
//! (password `bob-password`); the blocks of one file run in order against it, so an earlier
//! SMTP block can deliver the mail a later POP3 block reads. Lessons tell students to set
//! those passwords with `postlab user passwd` so their screens match.
//!
//! A lesson about several servers says so in a comment, `<!-- servers: a.test b.test -->`:
//! then one server per domain is started (`--hostname mx.DOMAIN --domain DOMAIN`, the same
//! accounts), each with a transport map that routes the other domains to their servers, and a
//! block names its server: `transcript submission@a.test`.
//!
//! A lesson about faults on purpose sets them the same way, one comment per rule:
//! `<!-- fault@b.test: rcpt *@b.test 451 4.7.1 greylisted -->` goes into that server's
//! `DIR/faults` before the first block runs.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use crate::support::{Setup, SmtpClient, TestServer};

/// Every lesson file, English and translations.
fn lesson_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("lessons");
    let mut files = Vec::new();
    let mut dirs = vec![root];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}
/// A transcript block: the service it talks to, on which server (domain), and its lines.
struct Block {
    service: String,
    domain: Option<String>,
    lines: Vec<String>,
}
/// The transcript blocks of a Markdown file.
fn transcripts(text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut current: Option<Block> = None;
    for line in text.lines() {
        let line = line.trim_end();
        match &mut current {
            None => {
                if let Some(info) = line.strip_prefix("```transcript") {
                    let info = info.trim();
                    let (service, domain) = match info.split_once('@') {
                        Some((service, domain)) => (service, Some(domain.to_string())),
                        None => (info, None),
                    };
                    let service = if service.is_empty() { "smtp" } else { service };
                    current = Some(Block {
                        service: service.to_string(),
                        domain,
                        lines: Vec::new(),
                    });
                }
            }
            Some(_) if line == "```" => blocks.extend(current.take()),
            Some(block) => block.lines.push(line.to_string()),
        }
    }
    blocks
}

/// Does `actual` match `pattern`, where `…` in the pattern matches any text?
fn matches(pattern: &str, actual: &str) -> bool {
    let mut parts = pattern.split('…');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = actual.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    for (i, part) in parts.iter().enumerate() {
        if i + 1 == parts.len() {
            return rest.ends_with(part);
        }
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}

fn replay(server: &TestServer, block: &Block, origin: &str) {
    let stream = std::net::TcpStream::connect(server.addr(&block.service)).unwrap();
    stream
        .set_read_timeout(Some(crate::support::DEADLINE))
        .unwrap();
    let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    for line in &block.lines {
        if let Some(sent) = line.strip_prefix("C:") {
            let sent = sent.strip_prefix(' ').unwrap_or(sent);
            std::io::Write::write_all(&mut writer, format!("{sent}\r\n").as_bytes()).unwrap();
        } else if let Some(expected) = line
            .strip_prefix("S: ")
            .or_else(|| (line == "S:").then_some(""))
        {
            let mut actual = String::new();
            reader
                .read_line(&mut actual)
                .unwrap_or_else(|e| panic!("{origin}: no reply for S: {expected} ({e})"));
            assert!(
                actual.ends_with("\r\n"),
                "{origin}: server line without CRLF: {actual:?}"
            );
            let actual = actual.trim_end_matches("\r\n");
            assert!(
                matches(expected, actual),
                "{origin}: expected\n  S: {expected}\nbut the server said\n  S: {actual}"
            );
        } else if !line.trim().is_empty() {
            panic!("{origin}: a transcript line must start with C: or S: — {line:?}");
        }
    }
}
/// The domains named in `<!-- servers: a.test b.test -->`, if the lesson has that line.
fn server_domains(text: &str) -> Vec<String> {
    text.lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("<!-- servers:")
                .and_then(|rest| rest.strip_suffix("-->"))
        })
        .map(|list| list.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

/// One server per domain, each routing the others' domains to them.
fn start_servers(domains: &[String]) -> Vec<(String, TestServer)> {
    let servers: Vec<(String, TestServer)> = domains
        .iter()
        .map(|domain| {
            let setup = Setup {
                args: vec![
                    "--hostname".into(),
                    format!("mx.{domain}"),
                    "--domain".into(),
                    domain.clone(),
                ],
                ..Setup::default()
            };
            (domain.clone(), TestServer::start_with(setup))
        })
        .collect();
    for (domain, server) in &servers {
        let routes: String = servers
            .iter()
            .filter(|(d, _)| d != domain)
            .map(|(d, s)| format!("{d} [{}]:{}\n", s.smtp.ip(), s.smtp.port()))
            .collect();
        std::fs::write(server.dir.join("transport"), routes).unwrap();
    }
    servers
}

#[test]
fn every_lesson_transcript_replays() {
    let mut count = 0;
    for file in lesson_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        let blocks = transcripts(&text);
        if blocks.is_empty() {
            continue;
        }
        let domains = server_domains(&text);
        let servers = if domains.is_empty() {
            let setup = Setup {
                args: vec!["--hostname".into(), "mail.school.test".into()],
                ..Setup::default()
            };
            vec![(String::new(), TestServer::start_with(setup))]
        } else {
            start_servers(&domains)
        };
        for (domain, server) in &servers {
            let rules: String = text
                .lines()
                .filter_map(|l| {
                    l.trim()
                        .strip_prefix("<!-- fault@")
                        .and_then(|rest| rest.strip_suffix("-->"))
                })
                .filter_map(|rest| rest.split_once(':'))
                .filter(|(d, _)| d.trim() == domain)
                .map(|(_, rule)| format!("{}\n", rule.trim()))
                .collect();
            if !rules.is_empty() {
                std::fs::write(server.dir.join("faults"), rules).unwrap();
            }
        }
        for (i, block) in blocks.iter().enumerate() {
            let origin = format!("{} block {}", file.display(), i + 1);
            let wanted = block.domain.clone().unwrap_or_default();
            let server = &servers
                .iter()
                .find(|(d, _)| *d == wanted)
                .unwrap_or_else(|| panic!("{origin}: no server for '{wanted}'"))
                .1;
            replay(server, block, &origin);
            count += 1;
        }
    }
    assert!(
        count >= 2,
        "the lessons hold at least the two SMTP transcripts of lesson 1"
    );
}

#[test]
fn the_wildcard_matches_as_documented() {
    assert!(matches(
        "250 2.0.0 Ok: queued as …",
        "250 2.0.0 Ok: queued as 19A3C4F2B8D10"
    ));
    assert!(matches("a … b … c", "a x b y c"));
    assert!(!matches("250 Ok", "250 Ok!"));
    assert!(!matches("a … b", "a x c"));
}

#[test]
fn a_lesson_that_drifts_is_caught() {
    let server = TestServer::start();
    let block = Block {
        service: "smtp".into(),
        domain: None,
        lines: vec!["S: 220 something else".into()],
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        replay(&server, &block, "drift")
    }));
    assert!(result.is_err());
    // The helper client still works against the same server.
    let _: SmtpClient = server.connect();
}
