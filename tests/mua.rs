//! `postlab send` and `postlab fetch`: our own mail client against a running server.

use std::fs;
use std::process::Command;

use crate::support::{postlab, temp_dir, Setup, TestServer};

#[test]
fn send_composes_mime_with_utf8_and_an_attachment() {
    let server = TestServer::start_with(Setup {
        args: vec![
            "--hostname".into(),
            "mx.test".into(),
            "--domain".into(),
            "localhost".into(),
        ],
        ..Setup::default()
    });
    let dir = temp_dir("attach");
    let attachment: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    fs::write(dir.join("data.bin"), &attachment).unwrap();
    let submission = server.addr("submission").to_string();
    let (code, out, err) = postlab(
        &[
            "send",
            "--server",
            &submission,
            "--auth",
            "alice:alice-password",
            "--from",
            "alice@localhost",
            "--to",
            "bob@localhost",
            "--subject",
            "Selamat pagi, Bob ☀",
            "--attach",
            dir.join("data.bin").to_str().unwrap(),
            "--verbose",
        ],
        "Halo Bob,\napa kabar? Ini surat dengan lampiran.\n.a line with a dot\n",
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("sent: 250 2.0.0 Ok: queued as "), "{out}");
    assert!(
        err.contains("[1 MUA] C: AUTH PLAIN <credentials hidden>"),
        "{err}"
    );
    assert!(
        !err.contains("alice-password") && !err.contains("AGFsaWNl"),
        "{err}"
    );
    // STARTTLS is used because the server offers it, before the password goes out.
    let tls_at = err
        .find("[1 MUA] C: STARTTLS")
        .expect("STARTTLS in the dialogue");
    assert!(tls_at < err.find("C: AUTH PLAIN").unwrap(), "{err}");

    // Python's email package, a real MIME parser, reads back what arrived.
    let file = server
        .new_mail("bob")
        .into_iter()
        .next()
        .expect("delivered");
    let script = r#"
import sys, email, email.policy
msg = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=email.policy.default)
assert msg['Subject'] == 'Selamat pagi, Bob ☀', msg['Subject']
assert msg.get_content_type() == 'multipart/mixed'
parts = list(msg.iter_parts())
assert 'apa kabar?' in parts[0].get_content(), parts[0].get_content()
assert '\n.a line with a dot' in parts[0].get_content()
data = parts[1].get_content()
assert parts[1].get_filename() == 'data.bin'
sys.stdout.buffer.write(data)
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        out.stdout, attachment,
        "the attachment survived base64 both ways"
    );
}

#[test]
fn fetch_lists_reads_and_deletes_over_pop3() {
    let server = TestServer::start();
    let mut c = server.connect();
    c.expect("EHLO laptop", 250);
    c.send_mail("alice@localhost", &["bob@localhost"], "From: Alice <alice@localhost>\r\nSubject: first\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\n\r\none\r\n");
    c.send_mail(
        "alice@localhost",
        &["bob@localhost"],
        "From: Alice <alice@localhost>\r\nSubject: second\r\n\r\n..two\r\n",
    );
    let pop3 = server.addr("pop3").to_string();
    let fetch = |args: &[&str]| {
        postlab(
            &[
                &[
                    "fetch",
                    "--server",
                    &pop3,
                    "--user",
                    "bob",
                    "--password",
                    "bob-password",
                ],
                args,
            ]
            .concat(),
            "",
        )
    };
    let (code, out, err) = fetch(&["list"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("first") && out.contains("second") && out.contains("Alice <alice@localhost>"),
        "{out}"
    );
    assert!(out.ends_with("2 message(s)\n"), "{out}");
    let (code, out, _) = fetch(&["read", "2"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("Subject: second") && out.contains("\r\n.two\r\n"),
        "{out:?}"
    );
    let (code, out, err) = fetch(&["delete", "1", "--verbose"]);
    assert_eq!((code, out.trim()), (0, "message 1 deleted"), "{err}");
    assert!(
        err.contains("[7 ACCESS] C: PASS <credentials hidden>") && !err.contains("bob-password"),
        "{err}"
    );
    let (_, out, _) = fetch(&["list"]);
    assert!(
        out.ends_with("1 message(s)\n") && !out.contains("first"),
        "{out}"
    );
    assert_eq!(fetch(&["read", "9"]).0, 1);
    assert_eq!(
        postlab(
            &[
                "fetch",
                "--server",
                &pop3,
                "--user",
                "bob",
                "--password",
                "wrong",
                "list"
            ],
            ""
        )
        .0,
        1
    );
}

#[test]
fn send_refuses_arguments_that_would_forge_headers() {
    for args in [
        [
            "--from",
            "alice@localhost",
            "--to",
            "bob@localhost",
            "--subject",
            "hi\r\nBcc: everyone@example.org",
        ],
        [
            "--from",
            "alice@localhost\r\nRCPT TO:<x@y>",
            "--to",
            "bob@localhost",
            "--subject",
            "x",
        ],
        [
            "--from",
            "alice@localhost",
            "--to",
            "not an address",
            "--subject",
            "x",
        ],
    ] {
        let (code, _, err) = postlab(
            &[
                &["send", "--server", "127.0.0.1:9", "--body", "x"],
                &args[..],
            ]
            .concat(),
            "",
        );
        assert_eq!(code, 1, "{args:?}: {err}");
        assert!(err.contains("--"), "{err}");
    }
}

#[test]
fn fetch_over_imap_with_tls_keeps_mail_on_the_server_until_deleted() {
    let server = TestServer::start();
    let mut c = server.connect();
    c.expect("EHLO laptop", 250);
    c.send_mail(
        "alice@localhost",
        &["bob@localhost"],
        "From: Alice <alice@localhost>\r\nSubject: stays here\r\n\r\nhello IMAP\r\n",
    );
    c.send_mail(
        "alice@localhost",
        &["bob@localhost"],
        "From: Alice <alice@localhost>\r\nSubject: goes away\r\n\r\nbye\r\n",
    );
    let imap = server.addr("imap").to_string();
    let fetch = |args: &[&str]| {
        postlab(
            &[
                &[
                    "fetch",
                    "--imap",
                    "--server",
                    &imap,
                    "--user",
                    "bob",
                    "--password",
                    "bob-password",
                ],
                args,
            ]
            .concat(),
            "",
        )
    };
    let (code, out, err) = fetch(&["list", "--verbose"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("stays here") && out.contains("goes away") && out.ends_with("2 message(s)\n"),
        "{out}"
    );
    assert!(
        err.contains("[7 ACCESS] C: a1 STARTTLS")
            && err.contains("LOGIN bob <credentials hidden>")
            && !err.contains("bob-password"),
        "{err}"
    );
    let (code, out, _) = fetch(&["read", "1"]);
    assert_eq!(code, 0);
    assert!(out.contains("hello IMAP"), "{out}");
    // Reading over IMAP leaves the message on the server, marked seen (S in its file name).
    let seen = fs::read_dir(server.dir.join("mail/bob/cur"))
        .unwrap()
        .filter_map(|e| e.ok())
        .any(|e| e.file_name().to_string_lossy().ends_with(":2,S"));
    assert!(seen, "the message is still there, flagged \\Seen");
    assert_eq!(fetch(&["delete", "2"]).0, 0);
    let (_, out, _) = fetch(&["list"]);
    assert!(
        out.ends_with("1 message(s)\n") && out.contains("stays here") && !out.contains("goes away"),
        "{out}"
    );
}
