//! Accounts and the administrator's commands against hostile use (issue 14): the login
//! throttle, `user del` / `user add` and the old mail, arguments written into files and
//! headers (`user`, `alias`, `deliver`), and alias expansion.

use std::time::{Duration, Instant};

use crate::imap::Imap;
use crate::support::{SmtpClient, TestServer};

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
