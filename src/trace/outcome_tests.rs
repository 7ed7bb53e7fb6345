//! Table tests for `outcome.rs`: real transcript lines (copied from two servers run by hand —
//! a local delivery, a bounce, greylisting with 14 deferred attempts, a relay across two
//! servers), written to files as the server writes them, read back with `journey_across`.

use std::path::PathBuf;

use super::*;
use crate::ids::QueueId;
use crate::trace::journey_across;

const LOCAL: &str = "\
2026-12-07 13:46:16.480 s6620b7328d27d [1 MUA] connect from 127.0.0.1:50000 to smtp 127.0.0.1:41291
2026-12-07 13:46:16.480 s6620b7328d27d [2 MTA] S: 220 mx.a.test ESMTP postlab ready (type HELP for the commands)
2026-12-07 13:46:16.486 s6620b7328d27d [2 MTA] 6620B7328E4A1: new message from <alice@a.test>, client 127.0.0.1
2026-12-07 13:46:16.486 s6620b7328d27d [2 MTA] S: 250 2.1.0 Sender ok, queue id 6620B7328E4A1
2026-12-07 13:46:16.489 s6620b7328d27d [3 MDA] 6620B7328E4A1: <bob@a.test> is local: account bob
2026-12-07 13:46:16.492 s6620b7328d27d [2 MTA] 6620B7328E4A1: content received: 28 octets in 3 lines
2026-12-07 13:46:16.538 s6620b7328d27d [6 MAILBOX] 6620B7328E4A1: delivered to bob: var-a/mail/bob/new/1796651176.M519419P27978Q0.mx.a.test,S=200
2026-12-07 13:46:16.538 s6620b7328d27d [2 MTA] S: 250 2.0.0 Ok: queued as 6620B7328E4A1
";

/// Lesson 01's mistake on purpose: a second RCPT for a user who does not exist.
const REFUSED_RCPT: &str = "\
2026-12-07 13:46:16.490 s6620b7328d27d [3 MDA] 6620B7328E4A1: <nobody@a.test> refused: no such account or alias
";

const READ: &str = "\
2026-12-07 13:50:00.100 s6620b7328f000 [7 ACCESS] 6620B7328E4A1: retrieved by bob over POP3
";

const REFUSED_DATA: &str = "\
2026-12-07 13:46:16.486 s6620b7328d27d [2 MTA] 6620B7328E4A1: new message from <alice@a.test>, client 127.0.0.1
2026-12-07 13:46:16.489 s6620b7328d27d [3 MDA] 6620B7328E4A1: <bob@a.test> is local: account bob
2026-12-07 13:46:16.490 s6620b7328d27d [2 MTA] 6620B7328E4A1: message refused: a line over 1000 octets
";

/// The submission of a message to two remote recipients, on mx.a.test.
const QUEUED: &str = "\
2026-12-07 13:48:43.838 s6620b7bf14abf [2 MTA] 6620B7BF14FF2: new message from <alice@a.test>, client 127.0.0.1
2026-12-07 13:48:43.838 s6620b7bf14abf [3 MDA] 6620B7BF14FF2: <carol@slow.b.test> is remote: for the outbound queue
2026-12-07 13:48:43.838 s6620b7bf14abf [3 MDA] 6620B7BF14FF2: <nobody@b.test> is remote: for the outbound queue
2026-12-07 13:48:43.853 s6620b7bf14abf [3 MDA] 6620B7BF14FF2: <carol@slow.b.test> queued for delivery to another server
2026-12-07 13:48:43.853 s6620b7bf14abf [3 MDA] 6620B7BF14FF2: <nobody@b.test> queued for delivery to another server
";

/// The first attempt: nobody bounces, carol is greylisted. The last lines used to make step 5
/// green ("done") or red ("bounce … sent").
const FIRST_ATTEMPT: &str = "\
2026-12-07 13:48:43.860 s6620b7bf20000 [5 RELAY] 6620B7BF14FF2: delivery attempt 1 for 2 recipient(s)
2026-12-07 13:48:43.860 s6620b7bf20000 [4 DNS] 6620B7BF14FF2: b.test: the transport map says 127.0.0.1:43397 (no DNS lookup)
2026-12-07 13:48:43.861 s6620b7bf20000 [5 RELAY] connecting to 127.0.0.1:43397
2026-12-07 13:48:43.862 s6620b7bf20000 [5 RELAY] S: 220 mx.b.test ESMTP postlab ready (type HELP for the commands)
2026-12-07 13:48:43.870 s6620b7bf20000 [5 RELAY] 6620B7BF14FF2: <nobody@b.test> failed (5.1.1): 127.0.0.1:43397 said 550 5.1.1 <nobody@b.test>: no such user here
2026-12-07 13:48:43.871 s6620b7bf20000 [4 DNS] 6620B7BF14FF2: slow.b.test: the transport map says 127.0.0.1:43397 (no DNS lookup)
2026-12-07 13:48:43.880 s6620b7bf20000 [5 RELAY] 6620B7BF14FF2: <carol@slow.b.test> deferred, will retry: 127.0.0.1:43397 said 451 4.7.1 greylisted, try again later (hint: this failure was injected on purpose; `postlab fault list` shows the rules)
2026-12-07 13:48:43.890 s6620b7bf20000 [5 RELAY] 6620B7BF14FF2: bounce 6620B7BF30000 sent to <alice@a.test>
2026-12-07 13:48:43.891 s6620b7bf20000 [5 RELAY] 6620B7BF14FF2: next attempt in 1 s
";

const LAST_ATTEMPT: &str = "\
2026-12-07 13:48:57.261 s6620b7cbe2331 [5 RELAY] 6620B7BF14FF2: delivery attempt 15 for 1 recipient(s)
2026-12-07 13:48:57.262 s6620b7cbe2331 [4 DNS] 6620B7BF14FF2: slow.b.test: the transport map says 127.0.0.1:43397 (no DNS lookup)
2026-12-07 13:48:57.262 s6620b7cbe2331 [5 RELAY] connecting to 127.0.0.1:43397
2026-12-07 13:48:57.263 s6620b7cbe2331 [5 RELAY] S: 220 mx.b.test ESMTP postlab ready (type HELP for the commands)
2026-12-07 13:48:57.285 s6620b7cbe2331 [5 RELAY] 6620B7BF14FF2: <carol@slow.b.test> delivered: 127.0.0.1:43397 said 250 2.0.0 Ok: queued as 6620B7CBE5110
2026-12-07 13:48:57.301 s6620b7cbe2331 [5 RELAY] 6620B7BF14FF2: done: removed from the queue
";

const LIFETIME: &str = "\
2026-12-07 13:58:43.860 s6620b7bf40000 [5 RELAY] 6620B7BF14FF2: delivery attempt 9 for 1 recipient(s)
2026-12-07 13:58:43.880 s6620b7bf40000 [5 RELAY] 6620B7BF14FF2: <carol@slow.b.test> deferred, will retry: 127.0.0.1:43397 said 451 4.7.1 greylisted, try again later
2026-12-07 13:58:43.881 s6620b7bf40000 [5 RELAY] 6620B7BF14FF2: queue lifetime over: the pending recipients bounce
";

/// mx.b.test's side of the last attempt.
const RECEIVED: &str = "\
2026-12-07 13:48:57.262 s6620b7cbe2592 [1 MUA] connect from 127.0.0.1:58208 to smtp 127.0.0.1:43397
2026-12-07 13:48:57.262 s6620b7cbe2592 [2 MTA] S: 220 mx.b.test ESMTP postlab ready (type HELP for the commands)
2026-12-07 13:48:57.273 s6620b7cbe2592 [2 MTA] 6620B7CBE5110: new message from <alice@a.test>, client 127.0.0.1
2026-12-07 13:48:57.273 s6620b7cbe2592 [3 MDA] 6620B7CBE5110: <carol@slow.b.test> is local: account carol
2026-12-07 13:48:57.285 s6620b7cbe2592 [6 MAILBOX] 6620B7CBE5110: delivered to carol: var-b/mail/carol/new/1796651337.M273880P27447Q1.mx.b.test,S=377
";

/// Writes each (file name, text) into a fresh `transcripts/DAY/` and returns the folder.
fn server(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let root = std::env::temp_dir().join(format!(
        "postlab-outcome-{}-{name}-{}",
        std::process::id(),
        QueueId::new()
    ));
    let day = root.join("2026-12-07");
    std::fs::create_dir_all(&day).unwrap();
    for (file, text) in files {
        std::fs::write(day.join(file), text).unwrap();
    }
    root
}

fn run(id: &str, servers: &[(&str, PathBuf)]) -> (Journey, Outcome) {
    let servers: Vec<(String, PathBuf)> = servers
        .iter()
        .map(|(l, p)| (l.to_string(), p.clone()))
        .collect();
    let journey = journey_across(&servers, &QueueId::parse(id).unwrap()).unwrap();
    let outcome = outcome(&journey);
    for (_, dir) in &servers {
        let _ = std::fs::remove_dir_all(dir);
    }
    (journey, outcome)
}

fn looks(marks: &[Mark; 7]) -> [Look; 7] {
    [0, 1, 2, 3, 4, 5, 6].map(|i| marks[i].look)
}

use Look::{Deferred as D, Failed as F, NotReached as N, Passed as P, RelayedOn as R};
use Look::{Skipped as S, Waiting as W};

/// (what, queue id, servers, the looks of each lane, each recipient's fate as text)
type Row<'a> = (
    &'a str,
    &'a str,
    Vec<(&'a str, PathBuf)>,
    Vec<[Look; 7]>,
    Vec<&'a str>,
);

/// `text` without the lines about nobody: a journey of carol alone.
fn carol_only(text: &str) -> String {
    text.lines()
        .filter(|l| !l.contains("nobody") && !l.contains("bounce "))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn each_journey_gets_its_true_looks_and_fates() {
    let a_id = "6620B7BF14FF2";
    let (queued, attempt) = (carol_only(QUEUED), carol_only(FIRST_ATTEMPT));
    let rows: Vec<Row> = vec![
        (
            "greylisted: deferred at step 5, the mailbox not reached yet",
            a_id,
            vec![("", server("a", &[("s1-submission.log", &queued), ("s2-relay.log", &attempt)]))],
            vec![[N, P, P, P, D, N, N]],
            vec!["<carol@slow.b.test> deferred: 1 attempt(s) so far, still in the queue: 127.0.0.1:43397 said 451 4.7.1 greylisted, try again later (hint: this failure was injected on purpose; `postlab fault list` shows the rules)"],
        ),
        (
            "lesson 01: a local delivery, not read yet",
            "6620B7328E4A1",
            vec![("", server("a", &[("s1-smtp.log", LOCAL)]))],
            vec![[P, P, P, S, S, P, W]],
            vec!["<bob@a.test> passed: delivered to bob on mx.a.test, not read yet"],
        ),
        (
            "lesson 01: bob got it, nobody was refused at RCPT: step 3 is not red",
            "6620B7328E4A1",
            vec![("", server("a", &[("s1-smtp.log", &format!("{LOCAL}{REFUSED_RCPT}"))]))],
            vec![[P, P, P, S, S, P, W]],
            vec![
                "<bob@a.test> passed: delivered to bob on mx.a.test, not read yet",
                "<nobody@a.test> failed: refused, the client was told at once: no such account or alias",
            ],
        ),
        (
            "read over POP3",
            "6620B7328E4A1",
            vec![("", server("a", &[("s1-smtp.log", LOCAL), ("s2-pop3.log", READ)]))],
            vec![[P, P, P, S, S, P, P]],
            vec!["<bob@a.test> passed: delivered to bob on mx.a.test, read"],
        ),
        (
            "the content refused at the end of DATA",
            "6620B7328E4A1",
            vec![("", server("a", &[("s1-smtp.log", REFUSED_DATA)]))],
            vec![[N, F, F, N, N, N, N]],
            vec!["<bob@a.test> failed: refused, the client was told at once: message refused: a line over 1000 octets"],
        ),
        (
            "a bounce and a deferral: step 5 is red and amber, not green",
            a_id,
            vec![("", server("a", &[("s1-submission.log", QUEUED), ("s2-relay.log", FIRST_ATTEMPT)]))],
            vec![[N, P, P, P, F, N, N]],
            vec![
                "<carol@slow.b.test> deferred: 1 attempt(s) so far, still in the queue: 127.0.0.1:43397 said 451 4.7.1 greylisted, try again later (hint: this failure was injected on purpose; `postlab fault list` shows the rules)",
                "<nobody@b.test> failed: bounced (5.1.1): 127.0.0.1:43397 said 550 5.1.1 <nobody@b.test>: no such user here",
            ],
        ),
        (
            "the queue lifetime ends: the deferred recipient bounces 4.4.7",
            a_id,
            vec![("", server("a", &[("s1-submission.log", QUEUED), ("s2-relay.log", LIFETIME)]))],
            vec![[N, P, P, N, F, N, N]],
            vec![
                "<carol@slow.b.test> failed: bounced (4.4.7): gave up after 1 attempts: 127.0.0.1:43397 said 451 4.7.1 greylisted, try again later",
                "<nobody@b.test> not reached: in the queue, not tried yet",
            ],
        ),
        (
            "relayed, only the sending server's data given: handed on, not 'not reached'",
            a_id,
            vec![("var-a", server("a", &[("s1-submission.log", QUEUED), ("s2-relay.log", FIRST_ATTEMPT), ("s3-relay.log", LAST_ATTEMPT)]))],
            vec![[N, P, P, P, F, R, R]],
            vec![
                "<carol@slow.b.test> relayed on: handed to mx.b.test (127.0.0.1:43397) (not in the data given)",
                "<nobody@b.test> failed: bounced (5.1.1): 127.0.0.1:43397 said 550 5.1.1 <nobody@b.test>: no such user here",
            ],
        ),
        (
            "relayed across two servers: two lanes, carol delivered on the second",
            a_id,
            vec![
                ("var-b", server("b", &[("s9-smtp.log", RECEIVED)])),
                ("var-a", server("a", &[("s1-submission.log", QUEUED), ("s2-relay.log", FIRST_ATTEMPT), ("s3-relay.log", LAST_ATTEMPT)])),
            ],
            vec![[N, P, P, P, F, R, R], [P, P, P, S, S, P, W]],
            vec![
                "<carol@slow.b.test> passed: delivered to carol on mx.b.test (var-b), not read yet",
                "<nobody@b.test> failed: bounced (5.1.1): 127.0.0.1:43397 said 550 5.1.1 <nobody@b.test>: no such user here",
            ],
        ),
    ];
    for (what, id, servers, want_looks, want_fates) in rows {
        let (journey, outcome) = run(id, &servers);
        let got: Vec<[Look; 7]> = outcome.marks.iter().map(looks).collect();
        assert_eq!(got, want_looks, "{what}");
        let fates: Vec<String> = outcome
            .recipients
            .iter()
            .map(|r| {
                format!(
                    "<{}> {}: {}",
                    r.address,
                    r.fate.look().name(),
                    r.fate.describe(&journey)
                )
            })
            .collect();
        assert_eq!(fates, want_fates, "{what}");
    }
}

#[test]
fn a_shared_box_says_what_each_recipient_met() {
    let (_, outcome) = run(
        "6620B7BF14FF2",
        &[(
            "",
            server(
                "a",
                &[
                    ("s1-submission.log", QUEUED),
                    ("s2-relay.log", FIRST_ATTEMPT),
                ],
            ),
        )],
    );
    let relay = &outcome.marks[0][4];
    assert_eq!(relay.look, Look::Failed);
    let lines: Vec<(Look, &str)> = relay.why.iter().map(|(l, w)| (*l, w.as_str())).collect();
    assert_eq!(
        lines,
        [
            (Look::Deferred, "<carol@slow.b.test> deferred 1 time(s), still in the queue"),
            (Look::Failed, "<nobody@b.test> bounced (5.1.1): 127.0.0.1:43397 said 550 5.1.1 <nobody@b.test>: no such user here"),
        ]
    );
}
