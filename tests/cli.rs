//! The command line: first start, `postlab user`, `postlab trace`, and the transcripts.

use std::fs;

use crate::support::{postlab_in, queue_id, temp_dir, wait_for, Setup, TestServer};

#[test]
fn first_start_writes_settings_aliases_and_demo_accounts_once() {
    let server = TestServer::start_with(Setup {
        users: None,
        ..Setup::default()
    });
    let conf = fs::read_to_string(server.dir.join("postlab.conf")).unwrap();
    assert!(conf.contains("max_message_size = 26214400"), "{conf}");
    assert!(
        conf.contains("# Seconds a client may stay silent"),
        "settings carry their explanation"
    );
    let users = fs::read_to_string(server.dir.join("users")).unwrap();
    assert!(
        users.contains("alice:{ARGON2ID}$argon2id$") && users.contains("bob:{ARGON2ID}$argon2id$"),
        "{users}"
    );
    assert!(server.banner.contains("demo accounts"), "{}", server.banner);
    assert!(
        server.banner.contains("telnet 127.0.0.1"),
        "{}",
        server.banner
    );
    // The printed password is not in the file: only its hash is.
    let alice_line = server
        .banner
        .lines()
        .find(|l| l.trim_start().starts_with("alice"))
        .unwrap();
    let password = alice_line.split_whitespace().last().unwrap();
    assert_eq!(password.len(), 12);
    assert!(!users.contains(password));
    assert!(fs::read_to_string(server.dir.join("aliases"))
        .unwrap()
        .contains("postmaster: alice"));

    // A second start on the same directory keeps everything and makes no new accounts.
    let dir = server.kill();
    let again = TestServer::start_in(
        dir,
        &Setup {
            users: None,
            ..Setup::default()
        },
    );
    assert!(!again.banner.contains("demo accounts"), "{}", again.banner);
    assert_eq!(fs::read_to_string(again.dir.join("users")).unwrap(), users);
}

#[test]
fn user_add_list_passwd_del() {
    let dir = temp_dir("users");
    let run = |args: &[&str]| postlab_in(&dir, args);
    let (code, out, _) = run(&["user", "add", "Carol", "--password", "s3cret"]);
    assert_eq!((code, out.trim()), (0, "added carol"));
    let file = fs::read_to_string(dir.join("users")).unwrap();
    assert!(file.contains("carol:{ARGON2ID}$argon2id$v=19$"), "{file}");
    assert!(!file.contains("s3cret"), "never the password itself");
    assert!(
        dir.join("mail/carol/new").is_dir()
            && dir.join("mail/carol/cur").is_dir()
            && dir.join("mail/carol/tmp").is_dir()
    );

    let (code, out, _) = run(&["user", "add", "dave"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("added dave, password: "), "{out}");

    assert_eq!(run(&["user", "add", "carol"]).0, 1, "exists already");
    let (code, _, err) = run(&["user", "add", "../evil"]);
    assert_eq!(code, 1);
    assert!(err.contains("not a valid account name"), "{err}");

    let (code, out, _) = run(&["user", "list"]);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "carol                ARGON2ID\ndave                 ARGON2ID\n"
    );

    let before = fs::read_to_string(dir.join("users")).unwrap();
    assert_eq!(run(&["user", "passwd", "carol", "--password", "n3w"]).0, 0);
    let after = fs::read_to_string(dir.join("users")).unwrap();
    assert_ne!(before, after);
    let hash = after
        .lines()
        .find(|l| l.starts_with("carol:"))
        .unwrap()
        .trim_start_matches("carol:");
    assert!(postlab::accounts::password::verify(hash, "n3w"));

    assert_eq!(run(&["user", "del", "carol"]).0, 0);
    assert_eq!(run(&["user", "del", "carol"]).0, 1);
    assert_eq!(run(&["user", "list"]).1, "dave                 ARGON2ID\n");
    assert_eq!(run(&["user", "frobnicate"]).0, 2);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_settings_stop_the_start_with_the_line_named() {
    let dir = temp_dir("badconf");
    fs::write(dir.join("postlab.conf"), "hints = yes\nmax_errors = many\n").unwrap();
    let output = std::process::Command::new(crate::support::BIN)
        .args(["serve", "--ephemeral-ports", "--data"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("line 2") && err.contains("max_errors"),
        "{err}"
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn transcripts_label_every_line_and_hide_credentials() {
    let server = TestServer::start();
    let mut c = server.connect();
    c.expect("EHLO laptop", 250); // Neither the AUTH argument nor the lines of an AUTH LOGIN exchange may be logged.
    c.expect("AUTH LOGIN", 334);
    c.expect("Ym9i", 334);
    c.expect("d3JvbmctcGFzc3dvcmQ=", 535);
    c.expect("AUTH PLAIN AGFsaWNlAGFsaWNlLXBhc3N3b3Jk", 235);
    let reply = c.send_mail(
        "alice@localhost",
        &["bob@localhost"],
        "Subject: t\r\n\r\nx\r\n",
    );
    let id = queue_id(&reply);
    c.expect("QUIT", 221);
    let text = wait_for("the session's end in the transcript", || {
        let text = server.transcripts();
        text.contains("session ends").then_some(text)
    });
    for secret in ["AGFsaWNl", "Ym9i", "d3JvbmctcGFzc3dvcmQ"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    assert!(
        text.contains("C: AUTH PLAIN <credentials hidden>"),
        "{text}"
    );
    assert!(text.contains("C: AUTH LOGIN\n"), "{text}");
    assert!(
        text.contains("login failed") && text.contains("logged in as alice"),
        "{text}"
    );
    for line in text.lines() {
        let parsed = postlab::transcript::Line::parse(line)
            .unwrap_or_else(|| panic!("unlabelled line: {line}"));
        assert!(!parsed.session.is_empty());
    }
    assert!(text.contains("[1 MUA] connect from 127.0.0.1:"));
    assert!(text.contains("[2 MTA] C: EHLO laptop"));
    assert!(
        text.contains(&format!(
            "[3 MDA] {id}: <bob@localhost> is local: account bob"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("[6 MAILBOX] {id}: delivered to bob: ")),
        "{text}"
    );
}

#[test]
fn trace_draws_the_journey_of_a_message() {
    let server = TestServer::start();
    let mut c = server.connect();
    c.expect("EHLO laptop", 250);
    let reply = c.send_mail(
        "alice@localhost",
        &["bob@localhost"],
        "Subject: trace me\r\n\r\nx\r\n",
    );
    let id = queue_id(&reply);
    let (code, out, err) = server.postlab(&["trace", &id]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with(&format!("The journey of message {id}")),
        "{out}"
    );
    for expected in [
        "│ 1 MUA     │",
        "│ 2 MTA     │",
        "│ 3 MDA     │",
        "┆ 4 DNS",
        "┆ 5 RELAY",
        "│ 6 MAILBOX │",
        "┆ 7 ACCESS",
    ] {
        assert!(out.contains(expected), "{expected} missing in\n{out}");
    }
    assert!(out.contains("<bob@localhost> is local: account bob"));

    let (code, _, err) = server.postlab(&["trace", "AAAAAAAAAAAAA"]);
    assert_eq!(code, 1);
    assert!(err.contains("no transcript"), "{err}");
    assert_eq!(server.postlab(&["trace", "../../etc/passwd"]).0, 1);
}

#[test]
fn watch_shows_new_lines_coloured_by_step() {
    use std::io::BufRead;
    let server = TestServer::start();
    let mut watch = std::process::Command::new(crate::support::BIN)
        .args(["watch", "--data"])
        .arg(&server.dir)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = watch.stdout.take().unwrap();
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    // Mail sent until watch has shown a delivery (it starts at the end of what exists).
    let delivered = wait_for("a [6 MAILBOX] line from postlab watch", || {
        let mut c = server.connect();
        c.expect("EHLO laptop", 250);
        c.send_mail(
            "alice@localhost",
            &["bob@localhost"],
            "Subject: watched\r\n\r\nx\r\n",
        );
        received
            .recv_timeout(std::time::Duration::from_millis(500))
            .ok()?;
        let mut seen = None;
        while let Ok(line) = received.recv_timeout(std::time::Duration::from_millis(500)) {
            if line.contains("[6 MAILBOX]") {
                seen = Some(line);
                break;
            }
        }
        seen
    });
    let _ = watch.kill();
    let _ = watch.wait();
    assert!(
        delivered.starts_with("\x1b[38;5;30m") && delivered.ends_with("\x1b[0m"),
        "{delivered:?}"
    );
    assert!(delivered.contains("delivered to bob"), "{delivered:?}");
}

/// `make run` starts `postlab serve` with the default, relative data directory `./var`: it must
/// be made on a fresh checkout (regression: a relative path's parent is "", which once failed).
#[test]
fn serve_works_with_the_default_relative_data_directory() {
    let cwd = temp_dir("relative");
    let mut child = std::process::Command::new(crate::support::BIN)
        .args(["serve", "--ephemeral-ports"])
        .current_dir(&cwd)
        .env_remove("POSTLAB_DATA")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let listeners = cwd.join("var/run/listeners");
    let text = wait_for("var/run/listeners", || {
        fs::read_to_string(&listeners)
            .ok()
            .filter(|t| t.ends_with('\n'))
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(text.starts_with("smtp 127.0.0.1:"), "{text}");
    assert!(cwd.join("var/users").exists() && cwd.join("var/postlab.conf").exists());
    fs::remove_dir_all(&cwd).unwrap();
}
