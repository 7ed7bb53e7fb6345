//! The checks of lessons 10–15: attacks refused, faults on purpose, the administrator's
//! commands, the webmail, a cut network, and SPF/DKIM/DMARC.

use super::{item, Item, Work};
use crate::accounts::{aliases::Aliases, extra, users::Users};
use crate::mailbox::quota;

pub(super) fn items(number: usize, work: &Work) -> Option<Vec<Item>> {
    let items = match number {
        10 => security(work),
        11 => faults(work),
        12 => administration(work),
        13 => web(work),
        14 => network(work),
        15 => mail_auth(work),
        _ => return None,
    };
    Some(items)
}

/// Lesson 10: relaying, spoofing, smuggling, STARTTLS injection, secrets, guessing.
fn security(work: &Work) -> Vec<Item> {
    let var = work.a();
    let (smtp, pop3) = (&var.said.smtp, &var.said.pop3);
    vec![
        item(
            "part 1: as a stranger (relay_networks empty), mail for another domain refused (Relay access denied)",
            smtp.contains("Relay access denied"),
        ),
        item(
            "part 1: on the submission port, MAIL before AUTH refused (530)",
            smtp.contains("S: 530 5.7.0 Authentication required"),
        ),
        item(
            "part 2: a message \"from the principal\" in bob's mailbox (From: principal@school.test)",
            var.mail("bob").any(|t| t.contains("<principal@school.test>")),
        ),
        item(
            "part 2: sending as bob while logged in as alice refused (553)",
            smtp.contains("S: 553 5.7.1 Sender address not owned"),
        ),
        item(
            "part 3: a smuggled message refused as a whole (550 5.6.0)",
            smtp.contains("S: 550 5.6.0 Message refused: bare CR or LF"),
        ),
        item(
            "part 4: octets behind STARTTLS discarded (discarded … before the TLS handshake)",
            smtp.contains("before the TLS handshake (never run)"),
        ),
        item(
            "part 5: a wrong POP3 password, then the right one, and no password in the transcript",
            pop3.contains("S: -ERR [AUTH]")
                && pop3.contains("PASS <password hidden>")
                && pop3.contains("S: +OK maildrop locked and ready")
                && !pop3.contains("bob-password"),
        ),
        item(
            "part 6: POP3 guessing slowed down by the login throttle (failed logins … waiting)",
            pop3.contains("failed logins from") && pop3.contains("before answering"),
        ),
    ]
}

/// Lesson 11: faults on `mx.b.test`, and what `mx.a.test`'s queue makes of them.
fn faults(work: &Work) -> Vec<Item> {
    let (a, b) = (work.a(), work.b());
    let bounce = |status: &str| {
        a.mail("alice").any(|t| {
            t.contains("Subject: Undelivered Mail Returned to Sender")
                && t.contains(&format!("Status: {status}"))
        })
    };
    vec![
        item(
            "step 1: the faults fired on mx.b.test (INJECTED FAULT in its transcript)",
            b.said.all.contains("INJECTED FAULT"),
        ),
        item(
            "step 2: alice sent one message to carol@slow.b.test and nobody@b.test",
            a.said.smtp.contains("C: RCPT TO:<carol@slow.b.test>")
                && a.said.smtp.contains("C: RCPT TO:<nobody@b.test>"),
        ),
        item(
            "step 3: nobody bounced at once (Status: 5.1.1 in alice's mailbox)",
            bounce("5.1.1"),
        ),
        item(
            "step 3: carol's copy kept in the queue (deferred, will retry)",
            a.said
                .all
                .contains("<carol@slow.b.test> deferred, will retry"),
        ),
        item(
            "step 3: after fault clear, carol's copy delivered (in carol's mailbox on mx.b.test)",
            b.mail("carol").any(|t| t.contains("by mx.a.test")),
        ),
        item(
            "step 4: a message that never got through bounced (Status: 4.4.7)",
            bounce("4.4.7"),
        ),
    ]
}

/// Lesson 12: backup and restore, SIGHUP, quotas, disabled accounts and aliases.
fn administration(work: &Work) -> Vec<Item> {
    let var = work.a();
    let users = Users::load(&var.path.join("users")).unwrap_or_default();
    let aliases = Aliases::parse(&var.file("aliases")).ok();
    let team = aliases
        .as_ref()
        .and_then(|a| a.get("team"))
        .unwrap_or_default();
    let smtp = &var.said.smtp;
    vec![
        item(
            "set up: messages delivered to bob",
            var.said.all.contains("delivered to bob"),
        ),
        item(
            "steps 1–2: a backup restored into var-restored",
            work.root.join("var-restored/users").exists(),
        ),
        item(
            "step 5: after SIGHUP with max_recipients = 1, a second RCPT got 452 4.5.3",
            smtp.contains("S: 452 4.5.3"),
        ),
        item(
            "step 6: bob has a quota (postlab user quota)",
            users.get("bob").and_then(quota::limit).is_some(),
        ),
        item(
            "step 6: alice is disabled (postlab user disable)",
            users.get("alice").is_some_and(extra::is_disabled),
        ),
        item(
            "step 6: the alias team leads to alice and bob",
            ["alice", "bob"].iter().all(|name| {
                team.iter()
                    .any(|t| t == name || t.starts_with(&format!("{name}@")))
            }),
        ),
        item(
            "step 6: bob's mailbox full (552 5.2.2 or 452 4.2.2)",
            smtp.contains("S: 552 5.2.2") || smtp.contains("S: 452 4.2.2"),
        ),
    ]
}

/// Lesson 13: the webmail.
fn web(work: &Work) -> Vec<Item> {
    let var = work.a();
    let bob = var.mail("bob");
    vec![
        item(
            "step 2: a message with an attachment in bob's mailbox",
            bob.any(|t| t.contains("Content-Disposition: attachment")),
        ),
        item(
            "step 3: bob read a message in the webmail",
            var.said.all.contains("read by bob in the webmail"),
        ),
        item(
            "step 5: a recipient refused (550 for nobody@localhost)",
            var.said.smtp.contains("S: 550 5.1.1 <nobody@localhost>"),
        ),
        item(
            "step 6: the hostile HTML message delivered to bob",
            bob.any(|t| t.contains("document.title=\"pwned\"")),
        ),
    ]
}

/// Lesson 14: lab1 and lab2 (`lab/lab1`, `lab/lab2` of `lab up --netns`).
fn network(work: &Work) -> Vec<Item> {
    let (one, two) = (work.a(), work.b());
    let bob = two.mail("bob");
    let deferred = one
        .said
        .all
        .contains("<bob@lab2.test> deferred, will retry");
    // Relayed by lab1's queue: a Received: line of lab1 below lab2's.
    let relayed = bob.count_of(|t| t.contains("by mx.lab1.test"));
    vec![
        item(
            "step 1: typed from inside lab1: in bob's mailbox on lab2, a message from mx.lab1.test by hand",
            bob.any(|t| t.contains("from mx.lab1.test") && !t.contains("by mx.lab1.test")),
        ),
        item(
            "step 2: during the cut, lab1's queue kept lab2's copy (deferred, will retry)",
            deferred,
        ),
        item(
            "step 4: after the heal, it reached bob on lab2, and no message twice (one copy per Message-ID)",
            deferred && relayed > 0 && !bob.has_duplicates(),
        ),
    ]
}

/// Lesson 15: what `mx.lab2.test` found out about its senders.
fn mail_auth(work: &Work) -> Vec<Item> {
    let two = work.b();
    let bob = two.mail("bob");
    let said = &two.said.all;
    // Typed at lab2's port 25 by someone who is not lab1: From: alice, and no signature.
    let spoofed = |t: &str| t.contains("<alice@lab1.test>") && !t.contains("DKIM-Signature:");
    vec![
        item(
            "step 1: a message claiming to be from alice@lab1.test, unsigned, reached bob on lab2",
            bob.any(spoofed),
        ),
        item(
            "step 1: lab2 saw through it (dmarc=fail in bob's copy)",
            bob.any(|t| spoofed(t) && t.contains("dmarc=fail")),
        ),
        item(
            "step 2: with dmarc_policy = enforce, the spoof refused (550 5.7.1 Rejected by DMARC)",
            said.contains("S: 550 5.7.1 Rejected by DMARC"),
        ),
        item(
            "step 3: a signed message from alice in bob's mailbox (dkim=pass)",
            bob.any(|t| t.contains("DKIM-Signature:") && t.contains("dkim=pass")),
        ),
        item(
            "step 4: a body changed on the way broke the signature (body hash does not match)",
            said.contains("Calculated body hash does not match"),
        ),
    ]
}
