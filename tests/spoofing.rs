//! Sender spoofing through AUTH (issue 14, finding 3): a login binds the session to its account
//! on every port, and the `Received:` line names the account.

use std::fs;

use crate::support::{wait_for, Setup, SmtpClient, TestServer};

const PLAIN_ALICE: &str = "AGFsaWNlAGFsaWNlLXBhc3N3b3Jk"; // "\0alice\0alice-password"

fn server() -> TestServer {
    TestServer::start_with(Setup {
        args: vec![
            "--hostname".into(),
            "mx.a.test".into(),
            "--domain".into(),
            "a.test".into(),
        ],
        aliases: Some("postmaster: alice\nali: alice\nstaff: alice, bob\n".into()),
        ..Setup::default()
    })
}

#[test]
fn a_login_on_port_25_may_not_send_as_someone_else() {
    let a = server();
    for port in ["smtp", "submission"] {
        let mut c = SmtpClient::connect(a.addr(port));
        c.expect("EHLO laptop", 250);
        c.expect(&format!("AUTH PLAIN {PLAIN_ALICE}"), 235);
        for other in ["bob@a.test", "staff@a.test", "somebody@elsewhere.test", ""] {
            let reply = c.expect(&format!("MAIL FROM:<{other}>"), 553);
            assert!(
                reply
                    .text()
                    .starts_with("5.7.1 Sender address not owned by user alice"),
                "{port} {other}: {reply:?}"
            );
        }
        // Her own address, with an extension, and an alias that leads to her alone.
        for own in ["alice@a.test", "alice+x@a.test", "ali@a.test"] {
            c.expect(&format!("MAIL FROM:<{own}>"), 250);
            c.expect("RSET", 250);
        }
    }
    // Without a login, port 25 still takes any sender (mail from other domains arrives there).
    let mut c = a.connect();
    c.expect("EHLO laptop", 250);
    c.expect("MAIL FROM:<bob@a.test>", 250);
}

#[test]
fn the_received_line_names_the_authenticated_sender() {
    let a = server();
    let mut c = a.connect();
    c.expect("EHLO laptop", 250);
    c.expect(&format!("AUTH PLAIN {PLAIN_ALICE}"), 235);
    let reply = c.send_mail("alice@a.test", &["bob@a.test"], "Subject: hi\r\n\r\nhi\r\n");
    assert_eq!(reply.code, 250);
    let file = wait_for("bob's copy", || a.new_mail("bob").into_iter().next());
    let text = fs::read_to_string(file).unwrap();
    assert!(
        text.contains("Received: from laptop ([127.0.0.1])\r\n\t(Authenticated sender: alice)\r\n\tby mx.a.test (postlab) with ESMTPA id "),
        "{text}"
    );
    // No login, no such line.
    let mut c = a.connect();
    c.expect("EHLO laptop", 250);
    c.send_mail(
        "carol@elsewhere.test",
        &["bob@a.test"],
        "Subject: 2\r\n\r\nhi\r\n",
    );
    let files = wait_for("the second copy", || {
        let files = a.new_mail("bob");
        (files.len() == 2).then_some(files)
    });
    let both: String = files
        .iter()
        .map(|f| fs::read_to_string(f).unwrap())
        .collect();
    assert_eq!(both.matches("Authenticated sender").count(), 1, "{both}");
}
