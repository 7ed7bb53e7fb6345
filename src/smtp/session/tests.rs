//! STARTTLS in the session, without sockets: what EHLO offers before and after TLS, what the
//! session forgets at the switch (RFC 3207 §4.2), and AUTH refused in the clear off loopback.

use super::*;
use crate::hints::Hints;
use crate::smtp::command;

/// A session for a client on another machine (not loopback), on a server with a certificate.
fn session_from_afar() -> Session {
    let config = Arc::new(Config {
        hostname: "mx.test".into(),
        domains: vec!["localhost".into()],
        ..Config::defaults()
    });
    let peer: SocketAddr = "192.0.2.7:40000".parse().unwrap();
    Session::new(config, Arc::new(Directory::default()), peer, Mode::Relay).with_starttls()
}

fn say(session: &mut Session, line: &str) -> Output {
    session.handle(command::parse(line.as_bytes()))
}

fn lines(output: &Output) -> String {
    output
        .replies
        .iter()
        .map(|r| r.render(Hints::Off))
        .collect()
}

#[test]
fn starttls_is_offered_and_auth_waits_for_it() {
    let mut s = session_from_afar();
    let ehlo = lines(&say(&mut s, "EHLO laptop"));
    assert!(ehlo.contains("250-STARTTLS\r\n"), "{ehlo}");
    assert!(!ehlo.contains("AUTH"), "{ehlo}");
    let auth = lines(&say(&mut s, "AUTH PLAIN AGJvYgBwdw=="));
    assert!(auth.starts_with("530 5.7.0 "), "{auth}");
}

#[test]
fn after_tls_the_session_starts_over() {
    let mut s = session_from_afar();
    say(&mut s, "EHLO laptop");
    let go = say(&mut s, "STARTTLS");
    assert_eq!(lines(&go), "220 2.0.0 Ready to start TLS\r\n");
    assert!(matches!(go.effect, Effect::StartTls));
    s.tls_started("TLS 1.3, TLS_AES_256_GCM_SHA384".into());
    assert!(s.is_tls());
    assert_eq!(s.state(), &State::Greeting);
    // The EHLO from before TLS is forgotten: MAIL needs a new one.
    assert!(lines(&say(&mut s, "MAIL FROM:<a@localhost>")).starts_with("503 "));
    let ehlo = lines(&say(&mut s, "EHLO laptop"));
    assert!(ehlo.contains("250-AUTH PLAIN LOGIN\r\n"), "{ehlo}");
    assert!(!ehlo.contains("STARTTLS"), "{ehlo}");
    assert!(lines(&say(&mut s, "STARTTLS")).starts_with("503 5.5.1 TLS already active"));
    // AUTH now goes on to check the password.
    let auth = say(&mut s, "AUTH PLAIN AGJvYgBwdw==");
    assert!(matches!(auth.effect, Effect::Authenticate(_)));
}

#[test]
fn without_a_certificate_starttls_is_neither_offered_nor_done() {
    let config = Arc::new(Config {
        hostname: "mx.test".into(),
        ..Config::defaults()
    });
    let peer: SocketAddr = "192.0.2.7:40000".parse().unwrap();
    let mut s = Session::new(config, Arc::new(Directory::default()), peer, Mode::Relay);
    assert!(!lines(&say(&mut s, "EHLO laptop")).contains("STARTTLS"));
    assert!(lines(&say(&mut s, "STARTTLS")).starts_with("454 4.7.0 "));
    assert!(lines(&say(&mut s, "STARTTLS now")).starts_with("501 "));
}
