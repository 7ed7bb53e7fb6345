//! Every transcript in `lessons/` is replayed against a real server, so no lesson can drift
//! from what the code does.
//!
//! A transcript is a fenced block with the info string `transcript`. `C:` lines are sent (with
//! CRLF), `S:` lines must come back exactly, except that `…` stands for any text (a queue id,
//! a date). Each block runs on a fresh connection to a server started as
//! `postlab serve --hostname mail.school.test` with the accounts alice and bob.

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

/// The `transcript` blocks of a Markdown file.
fn transcripts(text: &str) -> Vec<Vec<String>> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for line in text.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```transcript") => current = Some(Vec::new()),
            (Some(_), "```") => blocks.extend(current.take()),
            (Some(block), line) => block.push(line.to_string()),
            (None, _) => {}
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

fn replay(server: &TestServer, block: &[String], origin: &str) {
    let mut client = SmtpClient::connect(server.smtp);
    // The greeting was read by connect(); give it back as the first server line.
    let mut received: Vec<String> = client
        .greeting
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            render(
                client.greeting.code,
                l,
                i + 1 == client.greeting.lines.len(),
            )
        })
        .collect();
    for line in block {
        if let Some(sent) = line.strip_prefix("C:") {
            client.send_raw(format!("{}\r\n", sent.strip_prefix(' ').unwrap_or(sent)).as_bytes());
        } else if let Some(expected) = line.strip_prefix("S: ") {
            if received.is_empty() {
                let reply = client.read_reply();
                received = reply
                    .lines
                    .iter()
                    .enumerate()
                    .map(|(i, l)| render(reply.code, l, i + 1 == reply.lines.len()))
                    .collect();
            }
            let actual = received.remove(0);
            assert!(
                matches(expected, &actual),
                "{origin}: expected\n  S: {expected}\nbut the server said\n  S: {actual}"
            );
        } else if !line.trim().is_empty() {
            panic!("{origin}: a transcript line must start with C: or S: — {line:?}");
        }
    }
    assert!(
        received.is_empty(),
        "{origin}: the server said more than the lesson shows: {received:?}"
    );
}

fn render(code: u16, text: &str, last: bool) -> String {
    format!("{code}{}{text}", if last { ' ' } else { '-' })
}

#[test]
fn every_lesson_transcript_replays() {
    let server = TestServer::start_with(Setup {
        args: vec!["--hostname".into(), "mail.school.test".into()],
        ..Setup::default()
    });
    let mut count = 0;
    for file in lesson_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        for (i, block) in transcripts(&text).iter().enumerate() {
            replay(
                &server,
                block,
                &format!("{} block {}", file.display(), i + 1),
            );
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
