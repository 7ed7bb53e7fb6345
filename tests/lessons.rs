//! Every transcript in `lessons/` is replayed against a real server, so no lesson can drift
//! from what the code does.
//!
//! A transcript is a fenced block whose info string is `transcript` (SMTP) or
//! `transcript SERVICE` (`transcript pop3`, `transcript imap`: the name of a listener in
//! `DIR/run/listeners`). Each block runs on a fresh connection:
//!
//! - `C: text` is sent, with CRLF;
//! - `S: text` must be the next line the server sends, exactly, except that `…` stands for any
//!   text (a queue id, a date, a size);
//! - `⟨name⟩` in an `S:` line stands for a number the student notes down (a UIDVALIDITY, a
//!   MODSEQ), and in a later `C:` line of the same page for that number, typed back: the page
//!   says so in its text. (Before a `⟨name⟩` an `S:` line is matched exactly, without `…`.)
//!
//! Each lesson runs on the folders `postlab lesson start N` makes, exactly as a student's do:
//! `var` for most lessons, with the accounts `alice` (password `alice-password`) and `bob`
//! (password `bob-password`) and the name `mail.school.test`; the blocks of one file run in
//! order against its server, so an earlier SMTP block can deliver the mail a later POP3 block
//! reads. Every lesson is replayed twice: from a fresh `lesson start`, and after all the
//! lessons before it were done in order in the same folder, as a class does them (issue 16:
//! lesson 1's mail must not show up in lesson 3).
//!
//! A lesson about several servers says so in a comment, `<!-- servers: a.test b.test -->`:
//! `lesson start` then makes `var-a` (`mx.a.test`) and `var-b` (`mx.b.test`), each with a
//! transport map that routes the other's domains to it (here rewritten to the ephemeral ports
//! the test servers got), and a block names its server: `transcript submission@a.test`.
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

/// Matches `pattern` with its `⟨name⟩` numbers noted in `noted` (see the module comment).
fn matches_noting(
    pattern: &str,
    actual: &str,
    noted: &mut std::collections::HashMap<String, String>,
) -> bool {
    let (mut pattern, mut rest) = (pattern, actual);
    while let Some(at) = pattern.find('⟨') {
        let Some(close) = pattern[at..].find('⟩').map(|c| at + c) else {
            return false;
        };
        let Some(after) = rest.strip_prefix(&pattern[..at]) else {
            return false;
        };
        let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
        if digits.is_empty() {
            return false;
        }
        let name = &pattern[at + '⟨'.len_utf8()..close];
        rest = &after[digits.len()..];
        noted.insert(name.to_string(), digits);
        pattern = &pattern[close + '⟩'.len_utf8()..];
    }
    matches(pattern, rest)
}

/// A `C:` line with the numbers noted before typed in for their `⟨name⟩`.
fn typed(line: &str, noted: &std::collections::HashMap<String, String>, origin: &str) -> String {
    let mut out = line.to_string();
    while let Some(at) = out.find('⟨') {
        let close = out[at..].find('⟩').map(|c| at + c).unwrap_or(out.len());
        let name = &out[at + '⟨'.len_utf8()..close];
        let value = noted
            .get(name)
            .unwrap_or_else(|| panic!("{origin}: ⟨{name}⟩ typed before the server said it"));
        out = format!("{}{value}{}", &out[..at], &out[close + '⟩'.len_utf8()..]);
    }
    out
}

fn replay(
    server: &TestServer,
    block: &Block,
    origin: &str,
    noted: &mut std::collections::HashMap<String, String>,
) {
    let stream = std::net::TcpStream::connect(server.addr(&block.service)).unwrap();
    stream
        .set_read_timeout(Some(crate::support::DEADLINE))
        .unwrap();
    let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    for line in &block.lines {
        if let Some(sent) = line.strip_prefix("C:") {
            let sent = typed(sent.strip_prefix(' ').unwrap_or(sent), noted, origin);
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
                matches_noting(expected, actual, noted),
                "{origin}: expected\n  S: {expected}\nbut the server said\n  S: {actual}"
            );
        } else if !line.trim().is_empty() {
            panic!("{origin}: a transcript line must start with C: or S: — {line:?}");
        }
    }
}
/// The lesson number of a page (`03-pop3.md` → 3), `None` for the README.
fn lesson_number(file: &Path) -> Option<usize> {
    let name = file.file_name()?.to_str()?;
    name.get(..2)?.parse().ok()
}

/// Runs `postlab lesson start N --dir ROOT`, as a student does before a lesson.
fn lesson_start(root: &Path, number: usize) {
    let out = std::process::Command::new(crate::support::BIN)
        .args(["lesson", "start", &number.to_string(), "--dir"])
        .arg(root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "postlab lesson start {number}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Starts the servers of lesson `number` on the folders `lesson start` made under `root`
/// (with ephemeral ports: their transport maps are rewritten to the ports they got), and sets
/// the faults of the page's `<!-- fault@… -->` comments. Keyed by domain ("" for one server).
fn start_lesson_servers(root: &Path, number: usize, text: &str) -> Vec<(String, TestServer)> {
    let plan = postlab::lesson::servers(number);
    let many = plan.len() > 1;
    let servers: Vec<(String, TestServer)> = plan
        .iter()
        .map(|s| {
            let setup = Setup {
                args: Vec::new(),
                ..Setup::default()
            };
            let key = if many {
                s.domains[0].to_string()
            } else {
                String::new()
            };
            (key, TestServer::start_in(root.join(s.folder), &setup))
        })
        .collect();
    if many {
        for (server, (_, running)) in plan.iter().zip(&servers) {
            let routes: String = plan
                .iter()
                .zip(&servers)
                .filter(|(other, _)| other.folder != server.folder)
                .flat_map(|(other, (_, s))| {
                    other
                        .domains
                        .iter()
                        .map(|d| format!("{d} [{}]:{}\n", s.smtp.ip(), s.smtp.port()))
                })
                .collect();
            std::fs::write(running.dir.join("transport"), routes).unwrap();
        }
    }
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
    servers
}

/// Has every message in the queues under `root` been tried at least once? (Its envelope file
/// says `attempts: 0` until then; a delivered or bounced message leaves the queue.)
fn queues_settled(root: &Path) -> bool {
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "env")
                && path.components().any(|c| c.as_os_str() == "queue")
                && std::fs::read_to_string(&path).is_ok_and(|t| t.contains("\nattempts: 0\n"))
            {
                return false;
            }
        }
    }
    true
}

/// For each lesson: how many of `lesson check`'s tasks its transcript blocks do, and why the
/// others cannot be done by a replay (they happen outside the blocks, as the page says).
const GRADED: &[(usize, usize, &str)] = &[
    (1, 3, ""),
    (
        2,
        2,
        "step 5 sends to another domain by hand, outside the blocks",
    ),
    (3, 3, ""),
    (
        4,
        3,
        "step 5's IDLE runs in a third terminal while a message is sent",
    ),
    (
        5,
        0,
        "no transcripts: lab.zone, `postlab dns`, dig and the settings are typed by hand",
    ),
    (
        6,
        4,
        "step 4 stops mx.b.test so a message waits in the queue",
    ),
    (7, 5, ""),
    (
        8,
        2,
        "step 3's message over TLS needs openssl s_client's handshake",
    ),
    (9, 3, "step 3 stops mx.b.test and waits out queue_lifetime"),
    (
        10,
        4,
        "part 1's stranger needs relay_networks emptied and a restart; parts 3 and 4 need bare \
         LFs and a TLS handshake, which blocks cannot send; part 6 needs failed logins in a row",
    ),
    (
        11,
        4,
        "step 3's fault clear and step 4's queue_lifetime happen outside the blocks",
    ),
    (
        12,
        0,
        "no transcripts: backup, restore, SIGHUP, quotas and aliases are commands",
    ),
    (13, 0, "no transcripts: the webmail is used in a browser"),
    (
        14,
        1,
        "steps 2 and 4 cut and heal links between network namespaces (root)",
    ),
    (
        15,
        1,
        "the checks of steps 1 to 4 need the lab DNS of `lab up`, which the replay has not",
    ),
];

/// `lesson start N` in `root`, the lesson's servers, every transcript block of the page in
/// order; the servers are stopped after, their folders kept. Returns the blocks replayed.
fn run_lesson(root: &Path, file: &Path) -> usize {
    let text = std::fs::read_to_string(file).unwrap();
    let Some(number) = lesson_number(file) else {
        return 0;
    };
    assert!(
        postlab::lesson::page(number).is_some(),
        "{}: add the page to postlab::lesson::PAGES (src/lesson/mod.rs) and say there what \
         state it starts from, so `postlab lesson start {number}` can make it",
        file.display()
    );
    lesson_start(root, number);
    let blocks = transcripts(&text);
    if blocks.is_empty() {
        return 0;
    }
    let servers = start_lesson_servers(root, number, &text);
    let mut noted = std::collections::HashMap::new();
    for (i, block) in blocks.iter().enumerate() {
        let origin = format!("{} block {}", file.display(), i + 1);
        let wanted = block.domain.clone().unwrap_or_default();
        let server = &servers
            .iter()
            .find(|(d, _)| *d == wanted)
            .unwrap_or_else(|| panic!("{origin}: no server for '{wanted}'"))
            .1;
        replay(server, block, &origin, &mut noted);
    }
    // What the page's own transcripts do is what `lesson check` grades: a student who typed
    // them has exactly those tasks done ([`GRADED`]). The queue relays and bounces on its own
    // time, so the check waits until every queued message was tried once; then the count must
    // be exact.
    let (_, done, _) = GRADED
        .iter()
        .find(|(n, _, _)| *n == number)
        .unwrap_or_else(|| panic!("lesson {number}: say in GRADED what its replay does"));
    let what = format!(
        "{}: lesson check to count {done} tasks done",
        file.display()
    );
    let checked = crate::support::wait_for(&what, || {
        let out = std::process::Command::new(crate::support::BIN)
            .args(["lesson", "check", &number.to_string(), "--json", "--dir"])
            .arg(root)
            .output()
            .unwrap();
        let json = String::from_utf8_lossy(&out.stdout).into_owned();
        let have: usize = json
            .split_once("\"done\":")
            .and_then(|(_, rest)| rest.split(',').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        (have >= *done && queues_settled(root)).then_some(json)
    });
    assert!(
        checked.contains(&format!("\"done\":{done},")),
        "{}: lesson check after the page's transcripts: {checked}",
        file.display()
    );
    for (_, server) in servers {
        server.kill();
    }
    blocks.len()
}

/// The lesson pages of one language, in lesson order.
fn pages_of(language: &str) -> Vec<PathBuf> {
    lesson_files()
        .into_iter()
        .filter(|f| {
            let parent = f
                .parent()
                .and_then(|p| p.file_name())
                .and_then(|n| n.to_str());
            match language {
                "en" => parent == Some("lessons"),
                other => parent == Some(other),
            }
        })
        .filter(|f| lesson_number(f).is_some())
        .collect()
}

#[test]
fn every_lesson_replays_from_a_fresh_lesson_start() {
    let mut count = 0;
    for file in lesson_files() {
        let root = crate::support::temp_dir("lesson-fresh");
        count += run_lesson(&root, &file);
        let _ = std::fs::remove_dir_all(&root);
    }
    assert!(
        count >= 2,
        "the lessons hold at least the two SMTP transcripts of lesson 1"
    );
}

/// Issue 16: a class does the lessons in order in one folder. Lesson 1 leaves mail for Bob;
/// `lesson start 3` must still give lesson 3 the mailbox its page starts from (`1 messages`,
/// the dot-stuffed line as `RETR 1`), and lesson 4 its `3 EXISTS`.
#[test]
fn the_lessons_replay_in_order_in_one_folder() {
    for language in ["en", "id"] {
        let root = crate::support::temp_dir(&format!("lesson-order-{language}"));
        let pages = pages_of(language);
        assert_eq!(
            pages.len(),
            postlab::lesson::PAGES.len(),
            "{language}: every lesson has a page"
        );
        let count: usize = pages.iter().map(|file| run_lesson(&root, file)).sum();
        assert!(
            count >= 12,
            "{language}: {count} transcript blocks replayed"
        );
        let _ = std::fs::remove_dir_all(&root);
    }
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
    let mut noted = std::collections::HashMap::new();
    assert!(matches_noting(
        "* OK [UIDVALIDITY ⟨v⟩] UIDs …",
        "* OK [UIDVALIDITY 1795012345] UIDs valid",
        &mut noted
    ));
    assert!(!matches_noting("* OK [X ⟨w⟩]", "* OK [X abc]", &mut noted));
    assert_eq!(
        typed("a SELECT (⟨v⟩)", &noted, "test"),
        "a SELECT (1795012345)"
    );
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
        replay(&server, &block, "drift", &mut Default::default())
    }));
    assert!(result.is_err());
    // The helper client still works against the same server.
    let _: SmtpClient = server.connect();
}
