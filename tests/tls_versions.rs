//! TLS as real clients judge it: TLS 1.3 offered and preferred on every TLS port and after
//! STARTTLS/STLS, TLS 1.2 still accepted; a certificate that names the address the banner
//! gives; the public key pin of the banner; the version and cipher in the transcript and the
//! `Received:` header; and a plain-text client on an implicit-TLS port told where to go.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

use crate::support::{wait_for, TestServer, DEADLINE};

/// `openssl s_client` with `args`, standard input closed: what it printed (both streams).
fn s_client(args: &[&str]) -> String {
    let output = Command::new("openssl")
        .arg("s_client")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("openssl is needed (tests/deps.sh installs it)");
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn tls_1_3_is_preferred_and_tls_1_2_still_accepted_on_every_port() {
    let server = TestServer::start();
    let cases: [(&str, &[&str]); 6] = [
        ("smtps", &[]),
        ("pop3s", &[]),
        ("imaps", &[]),
        ("smtp", &["-starttls", "smtp"]),
        ("pop3", &["-starttls", "pop3"]),
        ("imap", &["-starttls", "imap"]),
    ];
    for (service, starttls) in cases {
        let addr = server.addr(service).to_string();
        // No version asked for: the client offers both, the server must choose 1.3.
        let mut args = vec!["-connect", &addr];
        args.extend_from_slice(starttls);
        let text = s_client(&args);
        assert!(
            text.contains("New, TLSv1.3, Cipher is TLS_"),
            "{service}: {text}"
        );
        let mut args = vec!["-tls1_2", "-connect", &addr];
        args.extend_from_slice(starttls);
        let text = s_client(&args);
        assert!(
            text.contains("New, TLSv1.2, Cipher is "),
            "{service}: {text}"
        );
    }
}

#[test]
fn python_with_tls_1_3_only_verifies_the_certificate_for_127_0_0_1_and_localhost() {
    let server = TestServer::start();
    let cert = server.dir.join("tls").join("cert.pem");
    let smtps = server.addr("smtps");
    let imaps = server.addr("imaps");
    // A client as careful as a real one: trusts only our cert.pem, checks the host name
    // (RFC 6125), and refuses anything older than TLS 1.3.
    let script = format!(
        r#"
import imaplib, smtplib, ssl
ctx = ssl.create_default_context(cafile={cert:?})
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
for host in ("127.0.0.1", "localhost"):
    s = smtplib.SMTP_SSL(host, {smtps_port}, context=ctx, timeout=20)
    print("smtps", host, s.sock.version(), s.ehlo()[0])
    s.quit()
    i = imaplib.IMAP4_SSL(host, {imaps_port}, ssl_context=ctx, timeout=20)
    print("imaps", host, i.sock.version(), i.login("bob", "bob-password")[0])
    i.logout()
"#,
        cert = cert.display().to_string(),
        smtps_port = smtps.port(),
        imaps_port = imaps.port(),
    );
    let output = Command::new("python3")
        .args(["-c", &script])
        .output()
        .expect("python3");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for line in [
        "smtps 127.0.0.1 TLSv1.3 250",
        "imaps 127.0.0.1 TLSv1.3 OK",
        "smtps localhost TLSv1.3 250",
        "imaps localhost TLSv1.3 OK",
    ] {
        assert!(stdout.contains(line), "{line} in {stdout}");
    }
}

#[test]
fn the_transcript_and_received_header_name_the_version_and_cipher() {
    let server = TestServer::start();
    let script = format!(
        r#"
import smtplib, ssl
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP("127.0.0.1", {port}, timeout=20)
s.starttls(context=ctx)
s.sendmail("alice@localhost", ["bob@localhost"], "Subject: sealed\r\n\r\nhi\r\n")
s.quit()
"#,
        port = server.smtp.port()
    );
    let status = Command::new("python3")
        .args(["-c", &script])
        .status()
        .unwrap();
    assert!(status.success());
    let mail = wait_for("bob's message", || server.new_mail("bob").pop());
    let text = std::fs::read_to_string(mail).unwrap();
    assert!(
        text.contains("\r\n\t(using TLS 1.3, TLS_AES_"),
        "Received: names TLS 1.3 and its cipher: {text}"
    );
    assert!(
        server
            .transcripts()
            .contains("[2 MTA] TLS established (TLS 1.3, TLS_AES_"),
        "{}",
        server.transcripts()
    );
}

#[test]
fn the_banner_pins_the_public_key_as_curl_takes_it() {
    let server = TestServer::start();
    let pin = server
        .banner
        .lines()
        .find_map(|l| l.trim().strip_prefix("public key  "))
        .unwrap_or_else(|| panic!("no public key pin in the banner: {}", server.banner))
        .to_string();
    assert!(pin.starts_with("sha256//"), "{pin}");
    let imaps = server.addr("imaps");
    let url = format!("imaps://127.0.0.1:{}/", imaps.port());
    let curl = |pin: &str| {
        Command::new("curl")
            .args([
                "-s",
                "-k",
                "--pinnedpubkey",
                pin,
                "--user",
                "bob:bob-password",
            ])
            .arg(&url)
            .output()
            .expect("curl")
    };
    let good = curl(&pin);
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    assert!(String::from_utf8_lossy(&good.stdout).contains("INBOX"));
    // A different key is refused (curl's exit 90: SSL public key does not match).
    let bad = curl("sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    assert_eq!(bad.status.code(), Some(90));
}

/// What a plain-text client hears on a TLS port: one line, then the connection closes.
fn plain_text_answer(server: &TestServer, service: &str, say: Option<&str>) -> String {
    let mut stream = TcpStream::connect(server.addr(service)).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    if let Some(say) = say {
        stream.write_all(say.as_bytes()).unwrap();
    }
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let mut rest = String::new();
    assert_eq!(
        reader.read_line(&mut rest).unwrap(),
        0,
        "closed after the hint"
    );
    line
}

#[test]
fn plain_text_on_an_implicit_tls_port_is_told_where_to_go() {
    let server = TestServer::start();
    let submission = server.addr("submission").port();
    let smtp = server.addr("smtp").port();
    let line = plain_text_answer(&server, "smtps", Some("EHLO laptop\r\n"));
    assert_eq!(
        line,
        format!("554 5.7.0 This port speaks TLS from the first octet (SMTPS); for plain text and STARTTLS use port {submission} (submission) or {smtp} (hint: nc and telnet speak plain text; openssl s_client -connect HOST:PORT speaks TLS)\r\n")
    );
    let pop3 = server.addr("pop3").port();
    let line = plain_text_answer(&server, "pop3s", Some("USER bob\r\n"));
    assert_eq!(line, format!("-ERR This port speaks TLS from the first octet (POP3S); for plain text and STLS use port {pop3} (hint: nc and telnet speak plain text; openssl s_client -connect HOST:PORT speaks TLS)\r\n"));
    let imap = server.addr("imap").port();
    let line = plain_text_answer(&server, "imaps", Some("a LOGIN bob x\r\n"));
    assert_eq!(line, format!("* BYE This port speaks TLS from the first octet (IMAPS); for plain text and STARTTLS use port {imap} (hint: nc and telnet speak plain text; openssl s_client -connect HOST:PORT speaks TLS)\r\n"));
    // A client that waits for a greeting (msmtp with STARTTLS set, against 465) hears the same,
    // a few seconds later instead of at the end of the 30-second handshake deadline.
    let line = plain_text_answer(&server, "smtps", None);
    assert!(line.starts_with("554 5.7.0 This port speaks TLS"), "{line}");
    let transcripts = server.transcripts();
    assert!(
        transcripts.contains("the client spoke plain text on a TLS port: told it so, closing"),
        "{transcripts}"
    );
    assert!(transcripts.contains("the client said nothing for 3 s on a TLS port"));
}

#[test]
fn an_old_self_signed_certificate_without_127_0_0_1_is_made_again() {
    let server = TestServer::start();
    let dir = server.kill();
    // What an earlier postlab made: our organisation, but only DNS names.
    let tls = dir.join("tls");
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args([
            "-nodes",
            "-days",
            "30",
            "-subj",
            "/CN=mx.test/O=postlab (self-signed)",
        ])
        .args(["-addext", "subjectAltName=DNS:mx.test,DNS:localhost"])
        .arg("-keyout")
        .arg(tls.join("key.pem"))
        .arg("-out")
        .arg(tls.join("cert.pem"))
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let server = TestServer::start_in(dir, &crate::support::Setup::default());
    assert!(
        server
            .banner
            .contains("(self-signed, made again: the old one did not name 127.0.0.1)"),
        "{}",
        server.banner
    );
    let text = s_client(&["-connect", &server.addr("smtps").to_string(), "-showcerts"]);
    assert!(text.contains("New, TLSv1.3"), "{text}");
    let sans = Command::new("openssl")
        .args(["x509", "-noout", "-ext", "subjectAltName", "-in"])
        .arg(server.dir.join("tls").join("cert.pem"))
        .output()
        .unwrap();
    let sans = String::from_utf8_lossy(&sans.stdout);
    assert!(sans.contains("IP Address:127.0.0.1"), "{sans}");
}
