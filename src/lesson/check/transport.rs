//! The checks of lessons 5–9: the lab's zone file, two servers that relay to each other, AUTH
//! on the submission port, TLS, and bounces.

use super::{item, Item, Work};

pub(super) fn items(number: usize, work: &Work) -> Option<Vec<Item>> {
    let items = match number {
        5 => dns(work),
        6 => two_servers(work),
        7 => submission(work),
        8 => tls(work),
        9 => bounces(work),
        _ => return None,
    };
    Some(items)
}

/// Lesson 5: `lab.zone` in the folder the lesson was started in, and `var`'s settings.
fn dns(work: &Work) -> Vec<Item> {
    let zone = std::fs::read_to_string(work.root.join("lab.zone")).unwrap_or_default();
    // `b  MX  10 mx.b`, with or without a TTL and class between the name and the type.
    let b_mx = zone
        .lines()
        .map(|l| {
            l.split(';')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .collect::<Vec<_>>()
        })
        .filter(|words| words.first() == Some(&"b") && words.contains(&"MX"))
        .count();
    let var = work.a();
    vec![
        item(
            "step 1: lab.zone written, with the two MX records of b (mx.b and backup.b)",
            b_mx >= 2 && crate::dns::zone::Zone::parse(&zone, "lab.zone").is_ok(),
        ),
        item(
            "step 8: var/postlab.conf asks the lab DNS (dns_server = 127.0.0.1:10053)",
            var.setting("dns_server").as_deref() == Some("127.0.0.1:10053"),
        ),
        item(
            "step 8: var/postlab.conf relays to port 20025, not to a real port 25",
            var.setting("relay_port").as_deref() == Some("20025"),
        ),
        item(
            "step 8: postlab asked the lab DNS for b.test (an MX? b.test line in a transcript)",
            var.said.all.contains("MX? b.test"),
        ),
    ]
}

/// Lesson 6: `var-a` (`mx.a.test`) relays to `var-b` (`mx.b.test`).
fn two_servers(work: &Work) -> Vec<Item> {
    let (a, b) = (work.a(), work.b());
    let bob = b.mail("bob");
    vec![
        item(
            "step 1: alice logged in on mx.a.test's submission port and sent to bob@b.test",
            a.said.smtp.contains("S: 235 2.7.0") && a.said.smtp.contains("C: RCPT TO:<bob@b.test>"),
        ),
        item(
            "step 2: it crossed: in bob's mailbox on mx.b.test, a message with a Received: line from each server",
            bob.any(|t| t.contains("by mx.a.test") && t.contains("by mx.b.test")),
        ),
        item(
            "step 3: delivered to mx.b.test by hand, as a server does (one Received: line, from mx.a.test)",
            bob.any(|t| t.contains("from mx.a.test") && !t.contains("by mx.a.test")),
        ),
        item(
            "step 3: mx.b.test refused nobody@b.test (550)",
            b.said.smtp.contains("S: 550 5.1.1 <nobody@b.test>"),
        ),
        item(
            "step 4: a message waited in mx.a.test's queue while mx.b.test was down (deferred, will retry)",
            a.said.all.contains("deferred, will retry"),
        ),
    ]
}

/// Lesson 7: AUTH and the submission port.
fn submission(work: &Work) -> Vec<Item> {
    let var = work.a();
    let smtp = &var.said.smtp;
    vec![
        item(
            "MAIL before AUTH on the submission port refused (530)",
            smtp.contains("S: 530 5.7.0 Authentication required"),
        ),
        item("a wrong password on purpose (535)", smtp.contains("S: 535 5.7.8")),
        item("logged in (235)", smtp.contains("S: 235 2.7.0")),
        item(
            "sending as bob while logged in as alice refused (553)",
            smtp.contains("S: 553 5.7.1 Sender address not owned"),
        ),
        item(
            "the message sent the way a mail program does is in bob's mailbox, received with ESMTPA",
            var.mail("bob").any(|t| t.contains("with ESMTPA")),
        ),
    ]
}

/// Lesson 8: STARTTLS, and plain text on the SMTPS port.
fn tls(work: &Work) -> Vec<Item> {
    let var = work.a();
    vec![
        item(
            "step 2: STARTTLS asked for by hand (220 Ready to start TLS)",
            var.said.smtp.contains("S: 220 2.0.0 Ready to start TLS"),
        ),
        item(
            "step 3: a message sent over TLS in bob's mailbox (Received: … with ESMTPS)",
            var.mail("bob").any(|t| t.contains("with ESMTPS")),
        ),
        item(
            "step 3: plain text on the SMTPS port, and the server said so (554)",
            var.said.smtp.contains("S: 554 5.7.0 This port speaks TLS"),
        ),
    ]
}

/// Lesson 9: a permanent failure bounces at once, a temporary one waits.
fn bounces(work: &Work) -> Vec<Item> {
    let (a, b) = (work.a(), work.b());
    let alice = a.mail("alice");
    let bounce = |status: &str| {
        alice.any(|t| {
            t.contains("Subject: Undelivered Mail Returned to Sender")
                && t.contains(&format!("Status: {status}"))
        })
    };
    vec![
        item(
            "step 1: alice sent to nobody@b.test through mx.a.test",
            a.said.smtp.contains("C: RCPT TO:<nobody@b.test>"),
        ),
        item(
            "step 1: asked mx.b.test yourself (HELO mx.a.test), and it refused nobody (550)",
            b.said.smtp.contains("C: HELO mx.a.test")
                && b.said.smtp.contains("S: 550 5.1.1 <nobody@b.test>"),
        ),
        item(
            "step 2: the bounce (Status: 5.1.1) in alice's mailbox on mx.a.test",
            bounce("5.1.1"),
        ),
        item(
            "step 3: a message waited while mx.b.test was down (deferred, will retry)",
            a.said.all.contains("deferred, will retry"),
        ),
        item(
            "step 3: a message that never got through bounced after queue_lifetime (Status: 4.4.7)",
            bounce("4.4.7"),
        ),
    ]
}
