//! TLS: STARTTLS on the SMTP port (RFC 3207), SMTPS (RFC 8314), the certificate made on first
//! start, and our relay client's STARTTLS, against real clients (openssl s_client, Python's
//! smtplib, curl) and small hostile peers written here.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use crate::support::{
    domain_server, queue_id, route, wait_for, Setup, SmtpClient, TestServer, DEADLINE,
};

const PLAIN_ALICE: &str = "AGFsaWNlAGFsaWNlLXBhc3N3b3Jk"; // "\0alice\0alice-password"

/// Runs a program with `input` on stdin; returns its stdout (stderr appended on failure).
fn run(program: &str, args: &[&str], input: &str) -> String {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program} is needed for this test (.ci/run installs it): {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The line of the banner that gives the certificate's fingerprint.
fn banner_fingerprint(server: &TestServer) -> String {
    server
        .banner
        .lines()
        .find_map(|l| l.trim().strip_prefix("certificate SHA-256 "))
        .unwrap_or_else(|| panic!("no fingerprint in the banner: {}", server.banner))
        .to_string()
}

/// A TLS client on an existing socket that accepts any certificate (ours is self-signed).
fn tls_client(stream: TcpStream) -> native_tls::TlsStream<TcpStream> {
    native_tls::TlsConnector::builder()
        .danger_accept_invalid_certs(true)
        .danger_accept_invalid_hostnames(true)
        .build()
        .unwrap()
        .connect("mx.test", stream)
        .expect("TLS handshake")
}

/// Reads one reply (all its lines) from a TLS stream: the code and the lines' text.
fn read_reply(reader: &mut impl BufRead) -> (u16, String) {
    let mut text = String::new();
    loop {
        let mut line = String::new();
        assert!(reader.read_line(&mut line).unwrap() > 0, "closed: {text}");
        text.push_str(&line);
        if line.as_bytes().get(3) == Some(&b' ') {
            return (line[..3].parse().unwrap(), text);
        }
    }
}

#[test]
fn openssl_starttls_shows_the_certificate_from_the_banner() {
    let server = TestServer::start();
    let fingerprint = banner_fingerprint(&server);
    // -crlf: s_client turns each typed LF into CRLF, as telnet does.
    let out = run(
        "openssl",
        &[
            "s_client",
            "-starttls",
            "smtp",
            "-crlf",
            "-ign_eof",
            "-connect",
            &server.smtp.to_string(),
        ],
        "EHLO laptop\nQUIT\n",
    );
    assert!(out.contains("221 2.0.0 Bye"), "{out}");
    let begin = out
        .find("-----BEGIN CERTIFICATE-----")
        .expect("certificate");
    let end = out
        .find("-----END CERTIFICATE-----")
        .expect("certificate end");
    let pem = format!("{}-----END CERTIFICATE-----\n", &out[begin..end]);
    let computed = run(
        "openssl",
        &["x509", "-noout", "-fingerprint", "-sha256"],
        &pem,
    );
    assert_eq!(
        computed.trim(),
        format!("sha256 Fingerprint={fingerprint}"),
        "banner: {}",
        server.banner
    );
    // Inside TLS, EHLO lists AUTH and no longer STARTTLS (RFC 3207 §4.2).
    let transcript = server.transcripts();
    let after = transcript
        .split("TLS established")
        .nth(1)
        .expect("TLS in the transcript");
    assert!(after.contains("C: EHLO laptop"), "{transcript}");
    assert!(after.contains("S: 250-AUTH PLAIN LOGIN"), "{transcript}");
    assert!(!after.contains("STARTTLS"), "{transcript}");
}

#[test]
fn smtps_port_is_tls_from_the_start_and_needs_auth() {
    let server = TestServer::start();
    let smtps = server.addr("smtps").to_string();
    let out = run(
        "openssl",
        &["s_client", "-quiet", "-crlf", "-connect", &smtps],
        &format!(
            "EHLO laptop\nMAIL FROM:<alice@localhost>\nAUTH PLAIN {PLAIN_ALICE}\n\
             MAIL FROM:<alice@localhost>\nRCPT TO:<bob@localhost>\nDATA\n\
             Subject: over SMTPS\n\nhello\n.\nQUIT\n"
        ),
    );
    assert!(out.contains("220 mx.test ESMTP"), "{out}");
    assert!(out.contains("530 5.7.0 Authentication required"), "{out}");
    assert!(out.contains("235 "), "{out}");
    assert!(!out.contains("STARTTLS"), "{out}");
    assert!(out.contains("250 2.0.0"), "{out}");
    let mail = fs::read_to_string(&server.new_mail("bob")[0]).unwrap();
    assert!(mail.contains("with ESMTPSA id "), "{mail}");
}

#[test]
fn python_smtplib_starttls_and_smtp_ssl() {
    let server = TestServer::start();
    let smtps = server.addr("smtps");
    let script = format!(
        r#"
import smtplib, ssl
ctx = ssl._create_unverified_context()
with smtplib.SMTP("{ip}", {port}) as s:
    s.ehlo("python.test")
    assert s.has_extn("starttls")
    s.starttls(context=ctx)
    s.ehlo("python.test")
    assert not s.has_extn("starttls")
    s.sendmail("alice@localhost", ["bob@localhost"], "Subject: starttls\r\n\r\nvia STARTTLS\r\n")
with smtplib.SMTP_SSL("{ip}", {sport}, context=ctx) as s:
    s.login("alice", "alice-password")
    s.sendmail("alice@localhost", ["bob@localhost"], "Subject: smtps\r\n\r\nvia SMTPS\r\n")
"#,
        ip = server.smtp.ip(),
        port = server.smtp.port(),
        sport = smtps.port()
    );
    run("python3", &["-c", &script], "");
    let mail: Vec<String> = server
        .new_mail("bob")
        .iter()
        .map(|p| fs::read_to_string(p).unwrap())
        .collect();
    assert_eq!(mail.len(), 2);
    let starttls = mail.iter().find(|m| m.contains("via STARTTLS")).unwrap();
    assert!(starttls.contains("with ESMTPS id "), "{starttls}");
    let smtps = mail.iter().find(|m| m.contains("via SMTPS")).unwrap();
    assert!(smtps.contains("with ESMTPSA id "), "{smtps}");
}

#[test]
fn curl_sends_mail_with_ssl_reqd() {
    let server = TestServer::start();
    let message = server.dir.join("message.txt");
    fs::write(
        &message,
        "Subject: from curl\r\n\r\nsent by curl over TLS\r\n",
    )
    .unwrap();
    run(
        "curl",
        &[
            "--silent",
            "--show-error",
            "--ssl-reqd",
            "-k",
            &format!("smtp://{}", server.smtp),
            "--mail-from",
            "alice@localhost",
            "--mail-rcpt",
            "bob@localhost",
            "-T",
            message.to_str().unwrap(),
        ],
        "",
    );
    let mail = fs::read_to_string(&server.new_mail("bob")[0]).unwrap();
    assert!(
        mail.contains("with ESMTPS id ") && mail.contains("sent by curl"),
        "{mail}"
    );
}

/// CVE-2011-0411: a command sent in plaintext right behind STARTTLS must not run inside TLS.
#[test]
fn commands_pipelined_after_starttls_are_discarded() {
    let server = TestServer::start();
    let mut c = server.connect();
    let ehlo = c.expect("EHLO laptop", 250);
    assert!(ehlo.lines.iter().any(|l| l == "STARTTLS"), "{ehlo:?}");
    c.send_raw(b"STARTTLS\r\nRSET\r\n");
    let ready = c.read_reply();
    assert_eq!(
        (ready.code, ready.text()),
        (220, "2.0.0 Ready to start TLS".to_string())
    );
    let mut tls = BufReader::new(tls_client(c.stream.try_clone().unwrap()));
    tls.get_mut().write_all(b"EHLO laptop\r\n").unwrap();
    // The first reply inside TLS answers our EHLO, not the injected RSET.
    let (code, text) = read_reply(&mut tls);
    assert_eq!(code, 250);
    assert!(text.starts_with("250-mx.test greets laptop\r\n"), "{text}");
    assert!(text.contains("250-AUTH PLAIN LOGIN\r\n"), "{text}");
    assert!(!text.contains("STARTTLS"), "{text}");
    tls.get_mut().write_all(b"STARTTLS\r\n").unwrap();
    let (code, text) = read_reply(&mut tls);
    assert_eq!(code, 503, "{text}");
    tls.get_mut().write_all(b"QUIT\r\n").unwrap();
    assert_eq!(read_reply(&mut tls).0, 221);
    let transcript = server.transcripts();
    assert!(
        transcript.contains("discarded 6 octets the client sent before the TLS handshake"),
        "{transcript}"
    );
    assert!(!transcript.contains("C: RSET"), "{transcript}");
}

/// RFC 3207 §4.2: after TLS the server has forgotten the EHLO; MAIL needs a new one.
#[test]
fn the_session_starts_over_after_starttls() {
    let server = TestServer::start();
    let mut c = server.connect();
    c.expect("EHLO laptop", 250);
    c.expect("STARTTLS", 220);
    let mut tls = BufReader::new(tls_client(c.stream.try_clone().unwrap()));
    tls.get_mut()
        .write_all(b"MAIL FROM:<alice@localhost>\r\n")
        .unwrap();
    let (code, text) = read_reply(&mut tls);
    assert_eq!(code, 503, "{text}");
}

#[test]
fn a_failed_handshake_closes_only_that_connection() {
    let server = TestServer::start();
    let mut c = server.connect();
    c.expect("EHLO laptop", 250);
    c.expect("STARTTLS", 220);
    c.send_raw(b"this is not a TLS ClientHello\r\n");
    // The server may answer with a TLS alert, then it closes: end of file, or a reset because
    // our garbage was left unread. A server still waiting would make this read time out.
    let mut rest = Vec::new();
    match c.reader.read_to_end(&mut rest) {
        Ok(_) => {}
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
    }
    let transcript = wait_for("the failure in the transcript", || {
        let t = server.transcripts();
        t.contains("TLS handshake failed").then_some(t)
    });
    assert!(
        transcript.contains("[2 MTA] TLS handshake failed: "),
        "{transcript}"
    );
    let mut next = server.connect();
    assert_eq!(next.greeting.code, 220);
    next.expect("EHLO again", 250);
}

#[test]
fn the_certificate_is_made_once_with_a_private_key() {
    use std::os::unix::fs::PermissionsExt;
    let server = TestServer::start();
    let key = server.dir.join("tls/key.pem");
    let mode = fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "key mode {mode:o}");
    assert!(server.banner.contains("(self-signed, made now)"));
    let names = run(
        "openssl",
        &[
            "x509",
            "-noout",
            "-ext",
            "subjectAltName",
            "-in",
            server.dir.join("tls/cert.pem").to_str().unwrap(),
        ],
        "",
    );
    assert!(
        names.contains("DNS:mx.test") && names.contains("DNS:localhost"),
        "{names}"
    );
    let fingerprint = banner_fingerprint(&server);
    let dir = server.kill();
    let again = TestServer::start_in(dir, &Setup::default());
    assert!(!again.banner.contains("made now"), "{}", again.banner);
    assert_eq!(banner_fingerprint(&again), fingerprint);
}

// ---- The relay client (step 5) ----------------------------------------------------------------

fn submit(server: &TestServer, to: &str) -> String {
    let mut c = SmtpClient::connect(server.addr("submission"));
    c.expect("EHLO laptop", 250);
    c.expect(&format!("AUTH PLAIN {PLAIN_ALICE}"), 235);
    let reply = c.send_mail("alice@a.test", &[to], "Subject: relayed\r\n\r\nhello\r\n");
    assert_eq!(reply.code, 250, "{reply:?}");
    queue_id(&reply)
}

#[test]
fn relay_with_tls_between_two_servers() {
    let a = domain_server("a.test", "relay_tls = encrypt\n");
    let b = domain_server("b.test", "");
    route(&a, "b.test", b.smtp);
    let id = submit(&a, "bob@b.test");
    let file = wait_for("the message on b.test", || {
        b.new_mail("bob").into_iter().next()
    });
    let text = fs::read_to_string(file).unwrap();
    assert!(
        text.contains("\tby mx.b.test (postlab) with ESMTPS id "),
        "{text}"
    );
    let relay = a.transcripts();
    assert!(relay.contains("[5 RELAY] C: STARTTLS"), "{relay}");
    assert!(
        relay.contains("[5 RELAY] TLS established with 127.0.0.1 (TLS 1.3, TLS_AES_256_GCM_SHA384); server certificate SHA-256 "),
        "{relay}"
    );
    assert!(relay.contains(&banner_fingerprint(&b)), "{relay}");
    assert!(relay.contains(&id));
}

/// `relay_tls = verify`: the certificate must chain to a trusted root and name the host. b's
/// self-signed certificate is trusted only once `tls_ca_file` names it.
#[test]
fn relay_tls_verify_checks_the_certificate() {
    let b = domain_server("b.test", "");
    let by_name = format!("b.test [localhost]:{}\n", b.smtp.port());

    let strict = domain_server("a.test", "relay_tls = verify\n");
    fs::write(strict.dir.join("transport"), &by_name).unwrap();
    let id = submit(&strict, "bob@b.test");
    let relay = wait_for("the handshake to fail", || {
        let t = strict.transcripts();
        t.contains("[5 RELAY] TLS handshake failed: ").then_some(t)
    });
    assert!(relay.contains("certificate verify failed"), "{relay}");
    let (_, list, _) = strict.postlab(&["queue", "list"]);
    assert!(list.contains(&id), "{list}");

    let trusting = domain_server(
        "a.test",
        &format!(
            "relay_tls = verify\ntls_ca_file = {}\n",
            b.dir.join("tls/cert.pem").display()
        ),
    );
    fs::write(trusting.dir.join("transport"), &by_name).unwrap();
    submit(&trusting, "bob@b.test");
    let file = wait_for("the message on b.test", || {
        b.new_mail("bob").into_iter().next()
    });
    assert!(fs::read_to_string(file)
        .unwrap()
        .contains("with ESMTPS id "));
    assert!(trusting
        .transcripts()
        .contains("[5 RELAY] TLS established with localhost "));
}

/// A fake receiving server: greets, answers EHLO (with or without STARTTLS) and answers
/// STARTTLS with `starttls_answer` in one write. Returns its address and every line it got.
fn fake_server(
    offer_starttls: bool,
    starttls_answer: &'static [u8],
) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = stream.set_read_timeout(Some(DEADLINE));
            let mut writer = stream.try_clone().unwrap();
            let mut reader = BufReader::new(stream);
            let _ = writer.write_all(b"220 fake.test ESMTP\r\n");
            let mut line = String::new();
            while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                let command = line.trim_end().to_ascii_uppercase();
                log.lock().unwrap().push(command.clone());
                let answer: &[u8] = if command.starts_with("EHLO") {
                    if offer_starttls {
                        b"250-fake.test\r\n250 STARTTLS\r\n"
                    } else {
                        b"250 fake.test\r\n"
                    }
                } else if command == "STARTTLS" {
                    starttls_answer
                } else if command == "QUIT" {
                    b"221 bye\r\n"
                } else {
                    b"250 ok\r\n"
                };
                if writer.write_all(answer).is_err() {
                    break;
                }
                line.clear();
            }
            // Drain what is left, so the client sees a clean close.
            let _ = reader.read_to_end(&mut Vec::new());
        }
    });
    (addr, seen)
}

/// CVE-2021-38371: a `250` that arrives with the `220` to STARTTLS must not be taken as a reply
/// inside TLS; the message stays queued.
#[test]
fn relay_client_defers_on_response_injection() {
    let (fake, seen) = fake_server(true, b"220 Ready\r\n250 fake\r\n");
    let a = domain_server("a.test", "");
    route(&a, "b.test", fake);
    let id = submit(&a, "bob@b.test");
    let relay = wait_for("the attempt to be deferred", || {
        let t = a.transcripts();
        t.contains("response injection").then_some(t)
    });
    assert!(
        relay.contains(
            "octets arrived with the 220 to STARTTLS, before TLS: response injection, deferred"
        ),
        "{relay}"
    );
    let (_, list, _) = a.postlab(&["queue", "list"]);
    assert!(list.contains(&id), "{list}");
    let seen = seen.lock().unwrap();
    assert!(!seen.iter().any(|l| l.starts_with("MAIL")), "{seen:?}");
}

#[test]
fn relay_tls_encrypt_defers_when_starttls_is_not_offered() {
    let (fake, seen) = fake_server(false, b"454 no\r\n");
    let a = domain_server("a.test", "relay_tls = encrypt\n");
    route(&a, "b.test", fake);
    let id = submit(&a, "bob@b.test");
    wait_for("the attempt to be deferred", || {
        a.transcripts()
            .contains("does not offer STARTTLS, and relay_tls requires it: deferred")
            .then_some(())
    });
    let (_, list, _) = a.postlab(&["queue", "list"]);
    assert!(list.contains(&id), "{list}");
    assert!(!seen.lock().unwrap().iter().any(|l| l.starts_with("MAIL")));
}
