//! `postlab lesson` (issue 16) and the commands the pages tell students to type.
//!
//! The pages are walked as a student walks them: every line of a shell block that calls the
//! program must call it the one way the course uses (`./postlab`), name a subcommand (and an
//! action, such as `user passwd`) that exists, and only flags that subcommand's `--help` lists.
//! `lesson start` must make the state a page starts from, never touch a folder it did not
//! make, and `lesson check` must see a student's work.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{postlab, temp_dir, Setup, SmtpClient, TestServer, BIN};

/// The subcommands of `postlab` (a second word that is one of these makes a line a command).
const SUBCOMMANDS: &[&str] = &[
    "serve", "user", "alias", "deliver", "backup", "restore", "check", "status", "trace", "queue",
    "dns", "send", "fetch", "fault", "watch", "lab", "lesson", "dkim",
];

/// The pages students and teachers follow: every lesson, both languages. (The README also
/// documents an installed `postlab`, on the PATH, so only its `./postlab` lines are walked.)
fn pages() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in [root.join("lessons"), root.join("lessons/id")] {
        let mut found: Vec<PathBuf> = fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "md"))
            .collect();
        found.sort();
        files.extend(found);
    }
    files
}

/// The lines of the shell blocks of a page (not transcripts, zone files or program output
/// that does not start with the program's name), without a `$ ` prompt: (line number, text).
fn shell_lines(text: &str) -> Vec<(usize, String)> {
    let mut lines = Vec::new();
    let mut inside: Option<String> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        match &inside {
            None => {
                if let Some(info) = trimmed.strip_prefix("```") {
                    inside = Some(info.trim().to_string());
                }
            }
            Some(_) if trimmed == "```" => inside = None,
            Some(info) if !info.starts_with("transcript") => {
                let command = trimmed.strip_prefix("$ ").unwrap_or(trimmed);
                lines.push((i + 1, command.to_string()));
            }
            Some(_) => {}
        }
    }
    lines
}

/// `postlab WORDS… --help`: (exit code, what it printed).
fn help(words: &[&str]) -> (i32, String) {
    let out = Command::new(BIN)
        .args(words)
        .arg("--help")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// Finds what is wrong with one command line of a page, if anything. Each command of a
/// pipeline or a list (`echo … | ./postlab deliver bob`, `a && b`, `a; b`, a continuation
/// line that starts with `|`) is checked on its own, with a leading `sudo` left out.
fn problems_of(line: &str, helps: &mut HashMap<Vec<String>, (i32, String)>) -> Vec<String> {
    let segments: Vec<&str> = line
        .split(['|', ';', '&'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    segments
        .iter()
        .flat_map(|s| problems_of_one(s.strip_prefix("sudo ").unwrap_or(s), helps))
        .collect()
}

/// What is wrong with one simple command (no pipe or list).
fn problems_of_one(line: &str, helps: &mut HashMap<Vec<String>, (i32, String)>) -> Vec<String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let Some((&program, rest)) = words.split_first() else {
        return Vec::new();
    };
    let is_sub = |w: Option<&&str>| w.is_some_and(|w| SUBCOMMANDS.contains(w));
    if program != "./postlab" {
        // `postlab queue list`, `target/debug/postlab …`: another way in, or not on the PATH.
        if (program == "postlab" || program.ends_with("target/debug/postlab"))
            && is_sub(rest.first())
        {
            return vec![format!("calls the program as `{program}`, not `./postlab`")];
        }
        return Vec::new();
    }
    let Some(&sub) = rest.first() else {
        return vec!["`./postlab` without a subcommand".into()];
    };
    if !SUBCOMMANDS.contains(&sub) {
        return vec![format!("no subcommand `{sub}`")];
    }
    // An action (`user passwd`, `lab up`) is a lower-case word right after the subcommand.
    let action = rest
        .get(1)
        .filter(|w| w.chars().all(|c| c.is_ascii_lowercase()) && !w.is_empty());
    let mut key = vec![sub.to_string()];
    key.extend(action.map(|a| a.to_string()));
    let (code, text) = helps
        .entry(key.clone())
        .or_insert_with(|| help(&key.iter().map(String::as_str).collect::<Vec<_>>()))
        .clone();
    let mut problems = Vec::new();
    if code != 0 {
        problems.push(format!("`postlab {} --help` exits {code}", key.join(" ")));
    }
    if let Some(action) = action {
        if !text.contains(action) {
            problems.push(format!("`{sub} {action}`: no such action in its --help"));
        }
    }
    for word in rest {
        let word = word.trim_matches(|c| c == '\'' || c == '"');
        if let Some(flag) = word.strip_prefix("--") {
            let flag = flag.split('=').next().unwrap_or(flag);
            if !text.contains(&format!("--{flag}")) {
                problems.push(format!("`{sub}` has no flag --{flag}"));
            }
        }
    }
    problems
}

/// Issue 16: "command not found" for `postlab …`, `postlab user passwd alice` that is not what
/// the page meant, a flag that does not exist: every command line of every page is checked.
#[test]
fn every_command_in_the_pages_exists_as_written() {
    let mut helps = HashMap::new();
    let mut problems = Vec::new();
    let mut commands = 0;
    let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    for page in pages().into_iter().chain([readme.clone()]) {
        let text = fs::read_to_string(&page).unwrap();
        for (number, line) in shell_lines(&text) {
            if page == readme && !line.starts_with("./postlab ") {
                continue;
            }
            if line.starts_with("./postlab ") {
                commands += 1;
            }
            for problem in problems_of(&line, &mut helps) {
                problems.push(format!(
                    "{}:{number}: {line}\n    {problem}",
                    page.display()
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "pages name what does not exist:\n{}",
        problems.join("\n")
    );
    assert!(
        commands >= 40,
        "only {commands} command lines found: is the walk broken?"
    );
}

#[test]
fn the_walk_catches_what_does_not_exist() {
    let mut helps = HashMap::new();
    assert!(problems_of(
        "./postlab user passwd bob --password x --data var",
        &mut helps
    )
    .is_empty());
    assert!(!problems_of("postlab queue list", &mut helps).is_empty());
    assert!(!problems_of("target/debug/postlab trace ID", &mut helps).is_empty());
    assert!(!problems_of("./postlab user passwd bob --pasword x", &mut helps).is_empty());
    assert!(!problems_of("./postlab user rename bob", &mut helps).is_empty());
    assert!(!problems_of("./postlab mailq", &mut helps).is_empty());
    // Inside a pipeline, a list, a continuation line or after sudo (lesson 13 once piped into
    // a bare `postlab deliver`).
    assert!(!problems_of("echo hi | postlab deliver bob", &mut helps).is_empty());
    assert!(!problems_of("| postlab deliver bob", &mut helps).is_empty());
    assert!(!problems_of("./postlab lab down && ./postlab mailq", &mut helps).is_empty());
    assert!(!problems_of("sudo ./postlab lab upp 3", &mut helps).is_empty());
    assert!(problems_of(
        "echo hi | ./postlab deliver --user bob --data var",
        &mut helps
    )
    .is_empty());
    // Program output that starts with the name is not a command.
    assert!(problems_of("postlab is running, pid 4242", &mut helps).is_empty());
}

#[test]
fn the_wrapper_builds_and_runs_the_program() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("postlab");
    let text = fs::read_to_string(&script).unwrap();
    assert!(text.contains("cargo build --quiet"), "{text}");
    assert!(
        text.contains("exec \"$here/target/debug/postlab\" \"$@\""),
        "{text}"
    );
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&fs::metadata(&script).unwrap().permissions());
    assert!(mode & 0o111 != 0, "./postlab must be executable");
}

fn lesson(root: &Path, args: &[&str]) -> (i32, String, String) {
    let mut all: Vec<&str> = vec!["lesson"];
    all.extend(args);
    all.extend(["--dir", root.to_str().unwrap()]);
    postlab(&all, "")
}

#[test]
fn lesson_start_leaves_alone_a_folder_it_did_not_make() {
    let root = temp_dir("lesson-foreign");
    fs::create_dir_all(root.join("var/mail/bob/new")).unwrap();
    fs::write(root.join("var/mail/bob/new/precious"), "real mail").unwrap();
    let (code, _, err) = lesson(&root, &["start", "1"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("was not made by `postlab lesson start`"),
        "{err}"
    );
    let (code, out, _) = lesson(&root, &["reset"]);
    assert_eq!(code, 0);
    assert!(out.contains("left") && out.contains("alone"), "{out}");
    assert!(root.join("var/mail/bob/new/precious").exists());
    fs::remove_dir_all(&root).unwrap();
}

/// Issue 16: after lesson 1 Bob had two messages, and lesson 3 showed `3 messages`.
#[test]
fn lesson_start_gives_a_fresh_folder_each_time_and_reset_removes_it() {
    let root = temp_dir("lesson-fresh");
    let (code, out, err) = lesson(&root, &["start", "1"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("./postlab serve --data var"), "{out}");
    assert!(out.contains("Step 1"), "the page's first step: {out}");
    fs::write(root.join("var/mail/bob/new/1.lesson-one"), "from lesson 1").unwrap();
    let (code, out, err) = lesson(&root, &["start", "3"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("alice (password alice-password)"), "{out}");
    assert!(
        !root.join("var/mail/bob/new/1.lesson-one").exists(),
        "lesson 1's mail is gone"
    );
    let users = fs::read_to_string(root.join("var/users")).unwrap();
    assert!(
        users.contains("alice:{ARGON2ID}") && users.contains("bob:{ARGON2ID}"),
        "{users}"
    );
    let conf = fs::read_to_string(root.join("var/postlab.conf")).unwrap();
    assert!(conf.contains("\nhostname = mail.school.test\n"), "{conf}");

    // Lesson 11: carol and slow.b.test exist and are routed before the page needs them.
    let (code, _, err) = lesson(&root, &["start", "11"]);
    assert_eq!(code, 0, "{err}");
    let users = fs::read_to_string(root.join("var-b/users")).unwrap();
    assert!(users.contains("carol:"), "{users}");
    let routes = fs::read_to_string(root.join("var-a/transport")).unwrap();
    assert!(routes.contains("slow.b.test [127.0.0.1]:20025"), "{routes}");
    let conf = fs::read_to_string(root.join("var-b/postlab.conf")).unwrap();
    assert!(conf.contains("domains = b.test, slow.b.test"), "{conf}");
    let conf = fs::read_to_string(root.join("var-a/postlab.conf")).unwrap();
    assert!(conf.contains("queue_retry_min = 10"), "{conf}");

    let (code, out, _) = lesson(&root, &["reset"]);
    assert_eq!(code, 0, "{out}");
    for folder in ["var", "var-a", "var-b"] {
        assert!(!root.join(folder).exists(), "{folder} removed: {out}");
    }
    fs::remove_dir_all(&root).unwrap();
}

#[test]
fn lesson_reset_refuses_while_a_server_runs_on_the_folder() {
    let root = temp_dir("lesson-running");
    assert_eq!(lesson(&root, &["start", "2"]).0, 0);
    let server = TestServer::start_in(
        root.join("var"),
        &Setup {
            args: Vec::new(),
            ..Setup::default()
        },
    );
    let (code, _, err) = lesson(&root, &["reset"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("stop it first"), "{err}");
    assert!(root.join("var").exists());
    drop(server);
    let _ = fs::remove_dir_all(&root);
}

/// What a teacher grades: lesson 1's tasks, before and after a student did them.
#[test]
fn lesson_check_sees_what_the_student_did() {
    let root = temp_dir("lesson-check");
    assert_eq!(lesson(&root, &["start", "1"]).0, 0);
    let (code, out, _) = lesson(&root, &["check", "1"]);
    assert_eq!(code, 0);
    assert!(out.contains("0 of 3 tasks done"), "{out}");
    let server = TestServer::start_in(
        root.join("var"),
        &Setup {
            args: Vec::new(),
            ..Setup::default()
        },
    );
    let mut smtp = SmtpClient::connect(server.smtp);
    smtp.expect("EHLO laptop", 250);
    smtp.expect("MAIL FROM:<alice@localhost>", 250);
    smtp.expect("RCPT TO:<bob@localhost>", 250);
    smtp.expect("RCPT TO:<nobody@localhost>", 550);
    smtp.expect("DATA", 354);
    smtp.expect("Subject: my first message\r\n\r\nHello Bob\r\n.", 250);
    let (_, out, _) = lesson(&root, &["check", "1"]);
    assert!(
        out.contains("yes  step 3: a message with Subject: my first message"),
        "{out}"
    );
    assert!(out.contains("yes  step 2: a recipient refused"), "{out}");
    assert!(out.contains("no   mistakes on purpose"), "{out}");
    let mut smtp = SmtpClient::connect(server.smtp);
    smtp.expect("MAIL FROM:<alice@localhost>", 503);
    smtp.expect("HELO laptop", 250);
    smtp.expect("MAIL FROM: alice@localhost", 501);
    let (_, out, _) = lesson(&root, &["check", "1", "--json"]);
    assert!(out.starts_with("{\"lesson\":1,"), "{out}");
    assert!(out.contains("\"done\":3,\"of\":3"), "{out}");
    // Every lesson has checks; one whose folders were never made has nothing to check.
    let (code, out, _) = lesson(&root, &["check", "7"]);
    assert_eq!(code, 0);
    assert!(out.contains("lesson 7: 0 of 5 tasks done"), "{out}");
    let (code, _, err) = lesson(&root, &["check", "9"]);
    assert_eq!(code, 1);
    assert!(err.contains("no data folder"), "{err}");
    drop(server);
    let _ = fs::remove_dir_all(&root);
}

/// The lessons with no transcript blocks are graded from what their commands leave on disk:
/// lesson 5's zone file and settings, lesson 12's restored copy, quota, disabled account and
/// alias, each done as the page says.
#[test]
fn lesson_check_grades_the_work_of_commands_and_files() {
    let root = temp_dir("lesson-check-files");
    assert_eq!(lesson(&root, &["start", "5"]).0, 0);
    let (_, out, _) = lesson(&root, &["check", "5"]);
    assert!(out.contains("lesson 5: 0 of 4 tasks done"), "{out}");
    // Step 1: the page's zone, saved as lab.zone; step 8: the two lines in var/postlab.conf.
    let page = postlab::lesson::page(5).unwrap().1;
    let zone = page
        .split("```zone\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .unwrap();
    fs::write(root.join("lab.zone"), zone).unwrap();
    let conf = root.join("var/postlab.conf");
    let mut text = fs::read_to_string(&conf).unwrap();
    text.push_str("dns_server = 127.0.0.1:10053\nrelay_port = 20025\n");
    fs::write(&conf, text).unwrap();
    let (_, out, _) = lesson(&root, &["check", "5"]);
    assert!(out.contains("lesson 5: 3 of 4 tasks done"), "{out}");
    assert!(out.contains("yes  step 1: lab.zone written"), "{out}");

    assert_eq!(lesson(&root, &["start", "12"]).0, 0);
    let (_, out, _) = lesson(&root, &["check", "12"]);
    assert!(out.contains("lesson 12: 0 of 7 tasks done"), "{out}");
    let var = root.join("var");
    let var = var.to_str().unwrap();
    let archive = root.join("mail-backup.tgz");
    let archive = archive.to_str().unwrap();
    let restored = root.join("var-restored");
    for args in [
        vec!["backup", archive, "--data", var],
        vec!["restore", archive, "--data", restored.to_str().unwrap()],
        vec!["user", "quota", "bob", "2K", "--data", var],
        vec!["user", "disable", "alice", "--data", var],
        vec!["alias", "add", "team", "alice", "bob", "--data", var],
    ] {
        let (code, out, err) = postlab(&args, "");
        assert_eq!(code, 0, "postlab {args:?}: {out}{err}");
    }
    let (_, out, _) = lesson(&root, &["check", "12", "--json"]);
    assert!(out.contains("\"done\":4,\"of\":7"), "{out}");
    let _ = fs::remove_dir_all(&root);
}

/// Lesson 10's parts that its transcript blocks cannot show, done over a real socket as the
/// page says: the stranger's relay refused (relay_networks emptied, server restarted), and a
/// smuggled message with bare LFs refused as a whole.
#[test]
fn lesson_check_sees_the_attacks_of_lesson_10() {
    let root = temp_dir("lesson-check-10");
    assert_eq!(lesson(&root, &["start", "10"]).0, 0);
    let conf = root.join("var/postlab.conf");
    let mut text = fs::read_to_string(&conf).unwrap();
    text.push_str("relay_networks =\n");
    fs::write(&conf, text).unwrap();
    let server = TestServer::start_in(root.join("var"), &Setup::default());
    let mut smtp = SmtpClient::connect(server.smtp);
    smtp.expect("HELO laptop", 250);
    smtp.expect("MAIL FROM:<alice@localhost>", 250);
    smtp.expect("RCPT TO:<someone@example.com>", 554);
    smtp.expect("RSET", 250);
    smtp.expect("MAIL FROM:<alice@localhost>", 250);
    smtp.expect("RCPT TO:<bob@localhost>", 250);
    smtp.expect("DATA", 354);
    smtp.send_raw(b"Subject: sneaky\n\nline one\n.\nMAIL FROM:<x@y>\r\n.\r\n");
    assert_eq!(smtp.read_reply().code, 550);
    let (_, out, _) = lesson(&root, &["check", "10"]);
    assert!(out.contains("lesson 10: 2 of 8 tasks done"), "{out}");
    assert!(out.contains("yes  part 1: as a stranger"), "{out}");
    assert!(out.contains("yes  part 3: a smuggled message"), "{out}");
    drop(server);
    let _ = fs::remove_dir_all(&root);
}
