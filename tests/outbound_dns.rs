//! Steps 4 and 5 with real DNS: a lab DNS server (`postlab dns`) publishes MX records, and the
//! sending server finds the receiving one through them — preference order, falling back to the
//! next MX when one refuses, implicit MX, null MX, NXDOMAIN.

use std::fs;

use crate::support::{queue_id, wait_for, LabDns, Setup, SmtpClient, TestServer};

const ZONE: &str = "\
$ORIGIN test.
$TTL 30
@           SOA ns hostmaster ( 1 3600 600 86400 30 )
@           NS  ns
ns          A   127.0.0.1
b           MX  10 mx1.b
b           MX  20 mx2.b
mx1.b       A   127.0.0.3
mx2.b       A   127.0.0.2
c           A   127.0.0.2
null        MX  0 .
";

fn submit(server: &TestServer, to: &str, subject: &str) -> String {
    let mut c = SmtpClient::connect(server.addr("submission"));
    c.expect("EHLO laptop", 250);
    c.expect("AUTH PLAIN AGFsaWNlAGFsaWNlLXBhc3N3b3Jk", 235);
    let reply = c.send_mail(
        "alice@a.test",
        &[to],
        &format!("Subject: {subject}\r\n\r\nhello\r\n"),
    );
    assert_eq!(reply.code, 250, "{reply:?}");
    queue_id(&reply)
}

#[test]
fn mail_follows_the_mx_records() {
    let dns = LabDns::start(ZONE);
    // The receiving server for b.test and c.test, on its own loopback address.
    let b = TestServer::start_with(Setup {
        args: [
            "--hostname",
            "mx2.b.test",
            "--domain",
            "b.test",
            "--domain",
            "c.test",
            "--listen",
            "127.0.0.2",
        ]
        .map(String::from)
        .to_vec(),
        ..Setup::default()
    });
    // Nothing listens on 127.0.0.3 at that port: the first MX refuses the connection.
    let a = TestServer::start_with(Setup {
        args: ["--hostname", "mx.a.test", "--domain", "a.test"]
            .map(String::from)
            .to_vec(),
        config: format!(
            "dns_server = {}\nrelay_port = {}\nqueue_retry_min = 1\nqueue_retry_max = 2\n",
            dns.addr,
            b.smtp.port()
        ),
        ..Setup::default()
    });

    let id = submit(&a, "bob@b.test", "via MX");
    let file = wait_for("delivery through the second MX", || {
        b.new_mail("bob").into_iter().next()
    });
    assert!(fs::read_to_string(file)
        .unwrap()
        .contains("Subject: via MX"));
    let text = a.transcripts();
    assert!(
        text.contains(&format!("[4 DNS] {id}: MX? b.test")),
        "{text}"
    );
    let first = text
        .find(&format!("connecting to 127.0.0.3:{}", b.smtp.port()))
        .expect("tried the preferred MX first");
    let second = text
        .find(&format!("connecting to 127.0.0.2:{}", b.smtp.port()))
        .expect("then the next MX");
    assert!(first < second);

    // No MX at all: the domain's own address is the implicit MX (RFC 5321 §5.1).
    submit(&a, "bob@c.test", "implicit MX");
    wait_for("delivery to the implicit MX", || {
        b.new_mail("bob")
            .into_iter()
            .find(|p| fs::read_to_string(p).unwrap().contains("implicit MX"))
    });

    // A null MX and a name that does not exist bounce at once, without a retry.
    let null = submit(&a, "someone@null.test", "null MX");
    let missing = submit(&a, "someone@nowhere.b.test", "NXDOMAIN");
    let bounces = wait_for("two bounces for alice", || {
        let files = a.new_mail("alice");
        (files.len() == 2).then_some(files)
    });
    let texts: Vec<String> = bounces
        .iter()
        .map(|p| fs::read_to_string(p).unwrap())
        .collect();
    let bounce_for = |id: &str| {
        texts
            .iter()
            .find(|t| t.contains(id))
            .unwrap_or_else(|| panic!("no bounce for {id}: {texts:?}"))
            .clone()
    };
    assert!(
        bounce_for(&null).contains("Status: 5.1.10"),
        "{}",
        bounce_for(&null)
    );
    assert!(
        bounce_for(&missing).contains("Status: 5.1.2"),
        "{}",
        bounce_for(&missing)
    );
    assert!(
        dns.output().contains("null.test"),
        "the lab DNS server logged the question"
    );
}
