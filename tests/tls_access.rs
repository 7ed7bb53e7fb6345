//! TLS for reading mail (step 7): POP3 STLS (RFC 2595), IMAP STARTTLS (RFC 3501 §6.2.1), and the
//! implicit-TLS ports POP3S and IMAPS (RFC 8314), with real clients and the injection attack.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Command;

use crate::support::{TestServer, DEADLINE};

fn tls_client(stream: TcpStream) -> native_tls::TlsStream<TcpStream> {
    native_tls::TlsConnector::builder()
        .danger_accept_invalid_certs(true)
        .danger_accept_invalid_hostnames(true)
        .build()
        .unwrap()
        .connect("mx.test", stream)
        .expect("TLS handshake")
}

fn line(reader: &mut impl BufRead) -> String {
    let mut line = String::new();
    assert!(
        reader.read_line(&mut line).unwrap() > 0,
        "the server closed the connection"
    );
    line
}

fn plain(server: &TestServer, service: &str) -> (BufReader<TcpStream>, TcpStream) {
    let stream = TcpStream::connect(server.addr(service)).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    (BufReader::new(stream.try_clone().unwrap()), stream)
}

fn deliver_to_bob(server: &TestServer) {
    let mut c = server.connect();
    c.expect("EHLO laptop", 250);
    assert_eq!(
        c.send_mail(
            "alice@localhost",
            &["bob@localhost"],
            "Subject: over TLS\r\n\r\nsecret words\r\n"
        )
        .code,
        250
    );
}

#[test]
fn pop3_stls_discards_injected_commands_and_then_logs_in() {
    let server = TestServer::start();
    deliver_to_bob(&server);
    let (mut reader, mut stream) = plain(&server, "pop3");
    assert!(line(&mut reader).starts_with("+OK"));
    stream.write_all(b"CAPA\r\n").unwrap();
    let mut capa = Vec::new();
    loop {
        let l = line(&mut reader);
        if l == ".\r\n" {
            break;
        }
        capa.push(l.trim_end().to_string());
    }
    assert!(capa.contains(&"STLS".to_string()), "{capa:?}");
    // An attacker appends a command after STLS, in plaintext: it must never run inside TLS.
    stream.write_all(b"STLS\r\nUSER mallory\r\n").unwrap();
    assert_eq!(line(&mut reader), "+OK Begin TLS negotiation\r\n");
    let mut tls = BufReader::new(tls_client(stream));
    tls.get_mut().write_all(b"PASS bob-password\r\n").unwrap();
    let answer = line(&mut tls);
    assert!(
        answer.starts_with("-ERR send USER first"),
        "the injected USER ran: {answer}"
    );
    tls.get_mut().write_all(b"CAPA\r\n").unwrap();
    let mut capa = String::new();
    loop {
        let l = line(&mut tls);
        if l == ".\r\n" {
            break;
        }
        capa.push_str(&l);
    }
    assert!(!capa.contains("STLS") && capa.contains("USER"), "{capa}");
    tls.get_mut()
        .write_all(b"USER bob\r\nPASS bob-password\r\nSTAT\r\nQUIT\r\n")
        .unwrap();
    assert!(line(&mut tls).starts_with("+OK"));
    assert!(line(&mut tls).starts_with("+OK"));
    let stat = line(&mut tls);
    assert!(stat.starts_with("+OK 1 "), "{stat}");
    let transcript = server.transcripts();
    assert!(
        transcript.contains("discarded 14 octets the client sent before the TLS handshake"),
        "{transcript}"
    );
    assert!(!transcript.contains("USER mallory"), "{transcript}");
}

#[test]
fn imap_starttls_discards_injected_commands() {
    let server = TestServer::start();
    let (mut reader, mut stream) = plain(&server, "imap");
    let greeting = line(&mut reader);
    assert!(greeting.contains("STARTTLS"), "{greeting}");
    stream
        .write_all(b"a STARTTLS\r\nb LOGIN bob bob-password\r\n")
        .unwrap();
    assert_eq!(line(&mut reader), "a OK Begin TLS negotiation now\r\n");
    let mut tls = BufReader::new(tls_client(stream));
    tls.get_mut().write_all(b"c CAPABILITY\r\n").unwrap();
    let first = line(&mut tls);
    assert!(
        first.starts_with("* CAPABILITY ") && !first.contains("STARTTLS"),
        "the injected LOGIN ran: {first}"
    );
    assert!(line(&mut tls).starts_with("c OK"));
    tls.get_mut()
        .write_all(b"d LOGIN bob bob-password\r\n")
        .unwrap();
    assert!(line(&mut tls).starts_with("d OK"));
    tls.get_mut().write_all(b"e STARTTLS\r\n").unwrap();
    assert!(
        line(&mut tls).starts_with("e BAD"),
        "STARTTLS is for the not-authenticated state"
    );
    let transcript = server.transcripts();
    assert!(
        transcript.contains("discarded 26 octets the client sent before the TLS handshake"),
        "{transcript}"
    );
}

#[test]
fn python_clients_over_stls_starttls_pop3s_and_imaps() {
    let server = TestServer::start();
    deliver_to_bob(&server);
    let (pop3, pop3s, imap, imaps) = (
        server.addr("pop3"),
        server.addr("pop3s"),
        server.addr("imap"),
        server.addr("imaps"),
    );
    let script = format!(
        r#"
import ssl, poplib, imaplib
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
p = poplib.POP3("{h}", {p3})
p.stls(context=ctx)
p.user("bob"); p.pass_("bob-password")
assert p.stat()[0] == 1
p.quit()
p = poplib.POP3_SSL("{h}", {p3s}, context=ctx)
p.user("bob"); p.pass_("bob-password")
assert b"secret words" in b"\n".join(p.retr(1)[1])
p.quit()
m = imaplib.IMAP4("{h}", {i})
m.starttls(ssl_context=ctx)
m.login("bob", "bob-password")
typ, data = m.select("INBOX")
assert typ == "OK" and data[0] == b"1", data
m.logout()
m = imaplib.IMAP4_SSL("{h}", {is_}, ssl_context=ctx)
m.login("bob", "bob-password")
typ, data = m.select("INBOX")
typ, data = m.fetch("1", "(BODY.PEEK[TEXT])")
assert b"secret words" in data[0][1], data
m.logout()
"#,
        h = pop3.ip(),
        p3 = pop3.port(),
        p3s = pop3s.port(),
        i = imap.port(),
        is_ = imaps.port()
    );
    let out = Command::new("python3")
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let transcript = server.transcripts();
    assert!(
        transcript.contains("to pop3s ") && transcript.contains("to imaps "),
        "{transcript}"
    );
}

#[test]
fn openssl_and_curl_over_pop3_and_imap() {
    let server = TestServer::start();
    deliver_to_bob(&server);
    let pop3 = server.addr("pop3").to_string();
    let out = Command::new("openssl")
        .args([
            "s_client",
            "-starttls",
            "pop3",
            "-crlf",
            "-quiet",
            "-connect",
            &pop3,
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(b"USER bob\nPASS bob-password\nSTAT\nQUIT\n")?;
            child.wait_with_output()
        })
        .expect("openssl is needed (.ci/run installs it)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("+OK 1 "),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    for (scheme, service) in [("pop3s", "pop3s"), ("imaps", "imaps")] {
        let addr = server.addr(service);
        let url = match scheme {
            "pop3s" => format!("pop3s://{}:{}/1", addr.ip(), addr.port()),
            _ => format!("imaps://{}:{}/INBOX;UID=1", addr.ip(), addr.port()),
        };
        let out = Command::new("curl")
            .args(["-sS", "-k", "--user", "bob:bob-password", &url])
            .output()
            .expect("curl");
        let body = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && body.contains("secret words"),
            "{scheme}: {body}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let imap = server.addr("imap");
    let out = Command::new("curl")
        .args([
            "-sS",
            "-k",
            "--ssl-reqd",
            "--user",
            "bob:bob-password",
            &format!("imap://{}:{}/INBOX;UID=1", imap.ip(), imap.port()),
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("secret words"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn implicit_tls_ports_wait_for_the_handshake_before_saying_anything() {
    let server = TestServer::start();
    for service in ["pop3s", "imaps"] {
        let mut stream = TcpStream::connect(server.addr(service)).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(1)))
            .unwrap();
        // A TLS client speaks first (its ClientHello); the server gives it time to. Only a
        // client silent for longer is taken for a plain-text one and told where to go
        // (tests/tls_versions.rs).
        let mut byte = [0u8; 1];
        let got = stream.read(&mut byte);
        assert!(
            got.as_ref().is_err_and(|e| matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            )),
            "{service} spoke before the client had time to start TLS: {got:?}"
        );
    }
}
