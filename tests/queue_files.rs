//! Queue files (issue 14, finding 2): every address SMTP allows survives the queue, and a queue
//! file that cannot be read is set aside where `postlab queue list` and `postlab check` show
//! it, never skipped in silence.

use std::fs;

use crate::support::{domain_server, route, wait_for, SmtpClient};

const PLAIN_ALICE: &str = "AGFsaWNlAGFsaWNlLXBhc3N3b3Jk"; // "\0alice\0alice-password"

/// A quoted local part with `"> "` in it once made the envelope unreadable: the client had its
/// 250, and then nobody, not even the other recipient, ever got the message.
#[test]
fn a_quoted_local_part_with_angle_and_space_is_relayed_and_bounced() {
    let a = domain_server("a.test", "");
    let b = domain_server("b.test", "");
    route(&a, "b.test", b.smtp);
    let mut c = SmtpClient::connect(a.addr("submission"));
    c.expect("EHLO laptop", 250);
    c.expect(&format!("AUTH PLAIN {PLAIN_ALICE}"), 235);
    c.expect("MAIL FROM:<alice@a.test>", 250);
    c.expect("RCPT TO:<\"x> y\"@b.test>", 250);
    c.expect("RCPT TO:<bob@b.test>", 250);
    c.expect("DATA", 354);
    c.send_raw(b"Subject: quoted\r\n\r\nfor two\r\n.\r\n");
    assert_eq!(c.read_reply().code, 250);
    // bob on b.test gets his copy; b.test has no "x> y", so alice gets a bounce naming it.
    wait_for("bob's copy on b.test", || {
        b.new_mail("bob").into_iter().next()
    });
    let bounce = wait_for("a bounce for alice", || {
        a.new_mail("alice").into_iter().next()
    });
    let text = fs::read_to_string(bounce).unwrap();
    assert!(text.contains("\"x> y\"@b.test"), "{text}");
    let (code, list, _) = a.postlab(&["queue", "list"]);
    assert_eq!(code, 0);
    assert!(!list.contains("CORRUPT"), "{list}");
}

/// An envelope damaged by hand moves to queue/corrupt/, and stays visible there.
#[test]
fn an_unreadable_queue_file_is_set_aside_and_reported() {
    let a = domain_server("a.test", "");
    let id = "19A3C4F2B8D10";
    let active = a.dir.join("queue/active");
    fs::write(
        active.join(format!("{id}.msg")),
        "Subject: x\r\n\r\nbody\r\n",
    )
    .unwrap();
    fs::write(
        active.join(format!("{id}.env")),
        "from: <alice@a.test>\nrcpt: <bob@b.test> lost in thought\n",
    )
    .unwrap();
    let corrupt = a.dir.join("queue/corrupt");
    wait_for("the envelope in queue/corrupt/", || {
        corrupt.join(format!("{id}.env")).exists().then_some(())
    });
    assert!(corrupt.join(format!("{id}.msg")).exists());
    assert!(!active.join(format!("{id}.env")).exists());

    let (code, list, _) = a.postlab(&["queue", "list"]);
    assert_eq!(code, 0);
    assert!(
        list.contains(&format!("{id}  CORRUPT")) && list.contains("bad status"),
        "{list}"
    );
    let (code, report, _) = a.postlab(&["check"]);
    assert_eq!(code, 1, "{report}");
    assert!(
        report.contains(&format!(
            "queue/corrupt/{id}.env: message {id} cannot be delivered"
        )),
        "{report}"
    );
    // `queue show` prints it as it is; `queue delete` removes both files, and check is clean.
    let (code, shown, _) = a.postlab(&["queue", "show", id]);
    assert_eq!(code, 0);
    assert!(
        shown.contains("rcpt: <bob@b.test> lost in thought"),
        "{shown}"
    );
    assert_eq!(a.postlab(&["queue", "delete", id]).0, 0);
    assert!(!corrupt.join(format!("{id}.env")).exists());
    assert!(!corrupt.join(format!("{id}.msg")).exists());
    let (code, report, _) = a.postlab(&["check"]);
    assert!(!report.contains("corrupt"), "{code} {report}");
}
