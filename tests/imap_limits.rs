//! IMAP limits and secrets that need a connection of their own: a LITERAL+ too large ends
//! the session, a password sent as a literal stays out of the transcript, and failed logins
//! are slowed down by the shared throttle.

use std::time::{Duration, Instant};

use crate::imap::Imap;
use crate::support::TestServer;

#[test]
fn a_non_synchronizing_literal_over_the_limit_closes_the_connection() {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), "bob");
    // RFC 7888 §4: its octets would follow at once and be read as commands.
    c.send(b"x APPEND INBOX {4294967295+}\r\nA001 DELETE Sent\r\n");
    assert_eq!(c.line(), "* BYE Literal too large; closing");
    assert!(c.is_closed());
    assert!(server.dir.join("mail/bob/.Sent").is_dir());
}

#[test]
fn passwords_in_literals_are_not_logged() {
    let server = TestServer::start();
    let mut c = Imap::connect(server.addr("imap"));
    c.send(b"a LOGIN {3}\r\n");
    assert_eq!(c.line(), "+ Ready for 3 octets");
    c.send(b"bob {12}\r\n");
    assert_eq!(c.line(), "+ Ready for 12 octets");
    let r = {
        c.send(b"bob-password\r\n");
        c.until("a")
    };
    assert!(r[0].starts_with("a OK [CAPABILITY"), "{r:?}");
    let log = server.transcripts();
    assert!(!log.contains("bob-password"), "{log}");
    assert!(log.contains("<literal: 12 octets>"), "{log}");
}

#[test]
fn failed_logins_slow_down() {
    let server = TestServer::start();
    let mut c = Imap::connect(server.addr("imap"));
    for n in 0..3 {
        let r = c.cmd(&format!("f{n} LOGIN bob wrong"));
        assert!(r[0].contains("NO [AUTHENTICATIONFAILED]"), "{r:?}");
    }
    // Two failures are free; after the third the next answer waits (login::Throttle).
    let start = Instant::now();
    let r = c.cmd("f3 LOGIN bob bob-password");
    assert!(r[0].starts_with("f3 OK"), "{r:?}");
    assert!(
        start.elapsed() >= Duration::from_millis(900),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn done_typed_slowly_still_ends_idle() {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), "bob");
    c.cmd("s SELECT INBOX");
    c.send(b"i IDLE\r\n");
    assert_eq!(c.line(), "+ idling");
    // A person typing: "DO", a pause longer than IDLE's polling, then the rest.
    c.send(b"DO");
    std::thread::sleep(Duration::from_millis(1200));
    c.send(b"NE\r\n");
    assert_eq!(c.until("i"), ["i OK IDLE terminated"]);
    assert!(c.cmd("n NOOP")[0].starts_with("n OK"));
}

#[test]
fn a_client_over_max_connections_gets_an_imap_bye() {
    let server = TestServer::start_with(crate::support::Setup {
        config: "max_connections = 1\n".into(),
        ..crate::support::Setup::default()
    });
    let _first = Imap::connect(server.addr("imap"));
    let second = Imap::connect(server.addr("imap"));
    assert_eq!(
        second.greeting,
        "* BYE [UNAVAILABLE] Too many connections, try again later"
    );
}
