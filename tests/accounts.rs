//! Accounts and the administrator's commands against hostile use (issue 14): the login
//! throttle, `user del` / `user add` and the old mail, arguments written into files and
//! headers (`user`, `alias`, `deliver`), and alias expansion.

use std::fs;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::imap::Imap;
use crate::support::{
    domain_server, postlab_in, route, temp_dir, wait_for, Setup, SmtpClient, TestServer, BIN,
};

const PLAIN_ALICE: &str = "AGFsaWNlAGFsaWNlLXBhc3N3b3Jk"; // "\0alice\0alice-password"
const PLAIN_BOB_WRONG: &str = "AGJvYgB3cm9uZw=="; // "\0bob\0wrong"

/// Finding 4: a correct login as yourself used to clear the address's whole failure count, so
/// alternating "guess bob's password" with "log in as alice" never slowed down.
#[test]
fn logging_in_as_yourself_does_not_reset_the_guesses_at_another_account() {
    let server = TestServer::start();
    let mut guesser = SmtpClient::connect(server.addr("submission"));
    guesser.expect("EHLO laptop", 250);
    for _ in 0..3 {
        guesser.expect(&format!("AUTH PLAIN {PLAIN_BOB_WRONG}"), 535);
        let mut own = SmtpClient::connect(server.addr("submission"));
        own.expect("EHLO laptop", 250);
        own.expect(&format!("AUTH PLAIN {PLAIN_ALICE}"), 235);
    }
    let started = Instant::now();
    guesser.expect(&format!("AUTH PLAIN {PLAIN_BOB_WRONG}"), 535);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "the fourth guess at bob waited only {:?}",
        started.elapsed()
    );
    // The count is bob's, in every protocol: IMAP makes the next guess at bob wait too.
    let mut imap = Imap::connect(server.addr("imap"));
    let started = Instant::now();
    let r = imap.cmd("a LOGIN bob wrong");
    assert!(r[0].contains("NO [AUTHENTICATIONFAILED]"), "{r:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
}

/// Finding 12: `user del bob` then `user add bob` gave the new bob the old bob's mail.
#[test]
fn a_new_account_never_inherits_an_old_accounts_mail() {
    let dir = temp_dir("del-add");
    let run = |args: &[&str]| postlab_in(&dir, args);
    let old_mail = |name: &str| dir.join("mail").join(name).join("new/1.old");
    let deleted = || -> Vec<String> {
        fs::read_dir(dir.join("mail/.deleted"))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    };

    // Default: the Maildir moves to mail/.deleted/NAME-DATE, and the output says where.
    assert_eq!(run(&["user", "add", "bob", "--password", "x"]).0, 0);
    fs::write(old_mail("bob"), "Subject: the old bob's secret\r\n\r\n").unwrap();
    let (code, out, err) = run(&["user", "del", "bob"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("its mail is moved to") && out.contains("mail/.deleted/bob-"),
        "{out}"
    );
    assert!(!dir.join("mail/bob").exists());
    assert_eq!(deleted().len(), 1);
    assert!(deleted()[0].starts_with("bob-"), "{:?}", deleted());
    let (code, _, _) = run(&["user", "add", "bob", "--password", "y"]);
    assert_eq!(code, 0);
    assert!(!old_mail("bob").exists(), "the new bob starts empty");

    // --keep-mail leaves it; a later `user add` moves it aside and says so.
    fs::write(old_mail("bob"), "Subject: second\r\n\r\n").unwrap();
    let (code, out, _) = run(&["user", "del", "bob", "--keep-mail"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("the mail stays in") && out.contains("--keep-mail"),
        "{out}"
    );
    assert!(old_mail("bob").exists());
    let (code, out, _) = run(&["user", "add", "bob", "--password", "z"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("an earlier bob's mail was in") && out.contains("moved to"),
        "{out}"
    );
    assert!(!old_mail("bob").exists());
    assert_eq!(deleted().len(), 2);

    // --purge deletes it.
    fs::write(old_mail("bob"), "Subject: third\r\n\r\n").unwrap();
    let (code, out, _) = run(&["user", "del", "bob", "--purge"]);
    assert_eq!(code, 0);
    assert!(out.contains("its mail is deleted"), "{out}");
    assert!(!dir.join("mail/bob").exists());
    assert_eq!(deleted().len(), 2);
    assert_eq!(run(&["user", "del", "x", "--purge", "--keep-mail"]).0, 2);
    fs::remove_dir_all(&dir).unwrap();
}

/// Finding 13: arguments that are written into DIR/aliases must not add lines or break it.
#[test]
fn alias_arguments_cannot_add_lines_or_break_the_file() {
    let dir = temp_dir("alias-args");
    let run = |args: &[&str]| postlab_in(&dir, args);
    assert_eq!(run(&["user", "add", "bob", "--password", "x"]).0, 0);
    assert_eq!(run(&["alias", "add", "staff", "bob"]).0, 0);
    let before = fs::read_to_string(dir.join("aliases")).unwrap();
    for args in [
        &["alias", "add", "staff", "bob\nbob: evil@attacker.test"][..],
        &["alias", "add", "st\taff", "bob"],
        &["alias", "add", "staff\nbob", "evil@attacker.test"],
        &["alias", "add", "#staff", "bob"],
        &[
            "alias",
            "add",
            "staff",
            "evil@attacker.test\r\nbob: x@y.test",
        ],
        &["alias", "add", "staff", "\"a,b\"@attacker.test"],
    ] {
        let (code, _, err) = run(args);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert!(err.contains("cannot be"), "{args:?}: {err}");
    }
    assert_eq!(fs::read_to_string(dir.join("aliases")).unwrap(), before);
    let (code, out, _) = run(&["alias", "list"]);
    assert_eq!(code, 0);
    assert!(out.contains("staff: bob") && !out.contains("evil"), "{out}");
    // Account names are checked the same way.
    let (code, _, err) = run(&["user", "add", "eve\nmallory", "--password", "x"]);
    assert_eq!(code, 1, "{err}");
    fs::remove_dir_all(&dir).unwrap();
}

/// Finding 13: `postlab deliver` wrote SENDER / RECIPIENT / --from into header fields as given.
#[test]
fn deliver_refuses_line_breaks_in_the_sender_and_recipient() {
    let server = TestServer::start();
    let deliver = |args: &[&str], env: &[(&str, &str)]| {
        let mut child = Command::new(BIN)
            .args(args)
            .arg("--data")
            .arg(&server.dir)
            .env_remove("SENDER")
            .env_remove("RECIPIENT")
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let _ = child
            .stdin
            .take()
            .unwrap()
            .write_all(b"Subject: x\n\nbody\n");
        let out = child.wait_with_output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)]);
    let cases: [Case; 3] = [
        (
            &["deliver", "--user", "bob"],
            &[("SENDER", "a@b.test\nBcc: evil@attacker.test")],
        ),
        (
            &["deliver", "--user", "bob"],
            &[("RECIPIENT", "bob@mx.test\r\nX-Injected: yes")],
        ),
        (
            &[
                "deliver",
                "--user",
                "bob",
                "--from",
                "a@b.test\r\nX-Injected: yes",
            ],
            &[],
        ),
    ];
    for (args, env) in cases {
        let (code, err) = deliver(args, env);
        assert_eq!(code, 64, "{args:?} {env:?}: {err}");
        assert!(err.contains("is not an address"), "{err}");
    }
    assert!(server.new_mail("bob").is_empty());
    // Good values still work, and the null sender of a bounce too.
    let (code, err) = deliver(
        &["deliver", "--user", "bob"],
        &[("SENDER", ""), ("RECIPIENT", "bob@mx.test")],
    );
    assert_eq!(code, 0, "{err}");
    let text = fs::read_to_string(&server.new_mail("bob")[0]).unwrap();
    assert!(
        text.starts_with("Return-Path: <>\r\nDelivered-To: bob@mx.test\r\n"),
        "{text}"
    );
}

/// Finding 14: each alias is expanded once per recipient (nine lists, each naming the next ten
/// times, took 10^9 steps), and the size of an expansion is capped.
#[test]
fn alias_expansion_is_memoised_and_capped() {
    let mut aliases = String::new();
    for level in 0..9 {
        let next = format!("l{}", level + 1);
        aliases.push_str(&format!("l{level}: {}\n", [next.as_str(); 10].join(", ")));
    }
    aliases.push_str("l9: bob\n");
    let wide: Vec<String> = (0..1001).map(|i| format!("u{i}@far.test")).collect();
    aliases.push_str(&format!("wide: {}\n", wide.join(", ")));
    aliases.push_str(&format!("fits: {}\n", wide[..1000].join(", ")));
    let deep: Vec<String> = (0..120).map(|i| format!("d{i}: d{}\n", i + 1)).collect();
    aliases.push_str(&deep.concat());
    aliases.push_str("d120: bob\n");
    let server = TestServer::start_with(Setup {
        aliases: Some(aliases),
        ..Setup::default()
    });
    let mut c = server.connect();
    c.expect("EHLO laptop", 250);
    c.expect("MAIL FROM:<alice@mx.test>", 250);
    // The reply comes (within the client's read deadline): on e074123 this took hours.
    c.expect("RCPT TO:<l0@mx.test>", 250);
    let reply = c.expect("RCPT TO:<wide@mx.test>", 550);
    assert!(
        reply
            .text()
            .starts_with("5.3.5 <wide@mx.test>: the aliases expand to more than 1000 recipients"),
        "{reply:?}"
    );
    c.expect("RCPT TO:<fits@mx.test>", 250);
    let reply = c.expect("RCPT TO:<d0@mx.test>", 550);
    assert!(reply.text().starts_with("5.4.6"), "{reply:?}");
    c.expect("RCPT TO:<d30@mx.test>", 250);
}

/// An alias that forwards to another domain used to answer 451 every time.
#[test]
fn an_alias_to_another_domain_forwards_through_the_queue() {
    let a = domain_server("a.test", "relay_networks =\n");
    fs::write(
        a.dir.join("aliases"),
        "postmaster: alice\nfwd: alice, bob@b.test\n",
    )
    .unwrap();
    let b = domain_server("b.test", "");
    route(&a, "b.test", b.smtp);
    // A stranger (no login, not trusted) may write to fwd@a.test: the administrator chose the
    // forward, so it is not relaying for the client.
    let mut c = a.connect();
    c.expect("EHLO stranger", 250);
    let reply = c.send_mail(
        "carol@c.test",
        &["fwd@a.test"],
        "Subject: forwarded\r\n\r\nhello\r\n",
    );
    assert_eq!(reply.code, 250, "{reply:?}");
    let copy = wait_for("bob's forwarded copy on b.test", || {
        b.new_mail("bob").into_iter().next()
    });
    let text = fs::read_to_string(copy).unwrap();
    assert!(
        text.starts_with("Return-Path: <carol@c.test>\r\n"),
        "{text}"
    );
    assert!(text.contains("Subject: forwarded"), "{text}");
    assert_eq!(a.new_mail("alice").len(), 1, "alice's local copy");
    // A stranger still may not relay directly.
    let mut c = a.connect();
    c.expect("EHLO stranger", 250);
    c.expect("MAIL FROM:<carol@c.test>", 250);
    c.expect("RCPT TO:<bob@b.test>", 554);
}
