//! Bounces: telling the sender that a message could not be delivered (RFC 3464).
//!
//! A bounce is a new message, from `MAILER-DAEMON` with the null sender `<>` (so that a bounce
//! of a bounce can never happen: RFC 5321 §4.5.5 says not to answer mail from `<>`), in three
//! MIME parts (RFC 3462 `multipart/report`):
//!
//! 1. plain words for a person — here, for a student: what failed, at which flowchart step;
//! 2. `message/delivery-status`: the same for programs, one block per recipient;
//! 3. `text/rfc822-headers`: the original message's header, so the sender knows which one.

use std::fmt::Write as _;

use super::message::{Envelope, Message, Recipient};
use super::route::Route;
use crate::address::{Address, ReversePath};
use crate::clock::Civil;
use crate::ids::QueueId;
// The hint a postlab server adds to its replies is for the person typing at that server, not
// for a sender reading a bounce somewhere else: it is left out, in either language.
use crate::hints::without_hint;

/// One recipient that failed, and why.
#[derive(Debug, Clone)]
pub struct Failed {
    pub address: Address,
    /// RFC 3463 code, e.g. `5.1.1`.
    pub status: String,
    /// The remote server's reply or our own reason.
    pub diagnostic: String,
}

/// Builds the bounce for `original` (its queue id, sender, arrival time and content).
/// Returns `None` when the original had the null sender: never bounce a bounce.
pub fn build(
    hostname: &str,
    id: &QueueId,
    from: &ReversePath,
    arrived: u64,
    content: &[u8],
    failed: &[Failed],
    route: Route,
) -> Option<Message> {
    let ReversePath::Mailbox(sender) = from else {
        return None;
    };
    let bounce_id = QueueId::new();
    let now = Civil::from_system_time(std::time::SystemTime::now()).rfc5322();
    let arrival =
        Civil::from_system_time(std::time::UNIX_EPOCH + std::time::Duration::from_secs(arrived))
            .rfc5322();
    let boundary = format!("{bounce_id}/{hostname}");
    // Say why it stopped as it really happened: refused (5.x.x) is not the same as not
    // delivered in time (4.4.7, the queue lifetime ran out), which a student can cure by
    // waiting less or fixing the other server.
    let refused = failed.iter().any(|f| f.status.starts_with('5'));
    let expired = failed.iter().any(|f| !f.status.starts_with('5'));
    let why = match (refused, expired) {
        (true, false) => "It was refused for good, so it will not be tried again:",
        (false, _) => "It could not be delivered before the queue lifetime ran out, so it is no longer tried:",
        (true, true) => "It was refused, or could not be delivered before the queue lifetime ran out, and is no longer tried:",
    };

    let mut text = String::new();
    let _ = write!(
        text,
        "From: Mail Delivery System <MAILER-DAEMON@{hostname}>\r\n\
         To: <{sender}>\r\n\
         Subject: Undelivered Mail Returned to Sender\r\n\
         Date: {now}\r\n\
         Message-ID: <{bounce_id}@{hostname}>\r\n\
         Auto-Submitted: auto-replied\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"{boundary}\"\r\n\
         \r\n\
         This is a MIME-encapsulated message.\r\n\
         \r\n\
         --{boundary}\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         This is the mail system at {hostname} (postlab).\r\n\
         \r\n\
         Your message {id} could not be delivered to {} recipient(s).\r\n\
         {why}\r\n\
         \r\n",
        failed.len()
    );
    for f in failed {
        let _ = write!(
            text,
            "  <{}>\r\n      {}\r\n      ({})\r\n\r\n",
            f.address,
            explain(&f.status),
            without_hint(&f.diagnostic)
        );
    }
    let _ = write!(
        text,
        "`postlab trace {id}` shows the message's whole journey.\r\n\
         \r\n\
         --{boundary}\r\n\
         Content-Type: message/delivery-status\r\n\
         \r\n\
         Reporting-MTA: dns; {hostname}\r\n\
         X-Postlab-Queue-ID: {id}\r\n\
         Arrival-Date: {arrival}\r\n"
    );
    for f in failed {
        // RFC 3464 §2.3: one block per recipient, after an empty line.
        let diagnostic: String = without_hint(&f.diagnostic)
            .chars()
            .filter(|c| !c.is_control())
            .collect();
        let _ = write!(text, "\r\nFinal-Recipient: rfc822; {}\r\nAction: failed\r\nStatus: {}\r\nDiagnostic-Code: smtp; {diagnostic}\r\n", f.address, f.status);
    }
    let _ = write!(
        text,
        "\r\n--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n"
    );
    let mut body = text.into_bytes();
    body.extend_from_slice(header_section(content));
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());

    let envelope = Envelope {
        id: bounce_id.clone(),
        from: ReversePath::Null,
        recipients: vec![Recipient {
            address: sender.clone(),
            route,
        }],
        smtputf8: false,
        body_8bit: true,
    };
    let received = format!("Received: by {hostname} (postlab) id {bounce_id}; {now}\r\n");
    Some(Message {
        origin: super::message::Origin::Here,
        junk: false,
        envelope,
        received,
        content: body,
    })
}

/// The original's header section, CRLF-terminated, without the body.
fn header_section(content: &[u8]) -> &[u8] {
    match content.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(end) => &content[..end + 2],
        None => content,
    }
}

/// What a status code means, for the student reading the bounce.
pub fn explain(status: &str) -> &'static str {
    match status {
        "5.1.1" => "the receiving server says there is no such mailbox (step 6)",
        "5.1.2" => "the domain does not exist in DNS (step 4)",
        "5.1.10" => "the domain publishes a null MX: it accepts no mail (step 4, RFC 7505)",
        "5.4.6" => "a mail loop: the message kept coming back (step 5)",
        "5.3.4" => "the message is larger than the receiving server accepts (step 5)",
        "4.4.7" | "5.4.7" => "it could not be delivered before the queue lifetime ran out (step 5)",
        s if s.starts_with("5.7") => "the receiving server refused it for policy reasons (step 5)",
        _ => "the receiving server refused it (step 5)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bounce_has_three_parts_and_never_answers_the_null_sender() {
        let id = QueueId::new();
        let sender = crate::address::parse_path("<alice@a.test>", false).unwrap();
        let failed = vec![Failed {
            address: crate::address::parse_path("<bob@b.test>", false).unwrap(),
            status: "5.1.1".into(),
            diagnostic: "550 5.1.1 no such user".into(),
        }];
        let content = b"Subject: hello\r\nFrom: alice@a.test\r\n\r\nsecret body\r\n";
        let bounce = build(
            "mx.a.test",
            &id,
            &ReversePath::Mailbox(sender.clone()),
            0,
            content,
            &failed,
            Route::Local(vec!["alice".into()]),
        )
        .unwrap();
        let text = String::from_utf8(bounce.content.clone()).unwrap();
        assert_eq!(bounce.envelope.from, ReversePath::Null);
        assert!(text.contains("Content-Type: multipart/report; report-type=delivery-status;"));
        assert!(text.contains(
            "Final-Recipient: rfc822; bob@b.test\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        ));
        assert!(text.contains("Subject: hello\r\nFrom: alice@a.test\r\n"));
        assert!(!text.contains("secret body"), "only the headers go back");
        assert!(!text.replace("\r\n", "").contains('\n'), "CRLF only");
        assert!(build(
            "mx.a.test",
            &id,
            &ReversePath::Null,
            0,
            content,
            &failed,
            Route::Local(vec![])
        )
        .is_none());
    }

    fn bounce_text(failed: &[Failed]) -> String {
        let sender = crate::address::parse_path("<alice@a.test>", false).unwrap();
        let bounce = build(
            "mx.a.test",
            &QueueId::new(),
            &ReversePath::Mailbox(sender),
            0,
            b"Subject: hi\r\n\r\nbody\r\n",
            failed,
            Route::Local(vec!["alice".into()]),
        )
        .unwrap();
        String::from_utf8(bounce.content).unwrap()
    }

    #[test]
    fn a_timeout_is_not_called_a_refusal_and_the_other_servers_hint_stays_there() {
        let expired = Failed {
            address: crate::address::parse_path("<carol@b.test>", false).unwrap(),
            status: "4.4.7".into(),
            diagnostic: "127.0.0.1:20025 said 451 4.7.1 greylisted (hint: this failure was injected on purpose; `postlab fault list` shows the rules)".into(),
        };
        let text = bounce_text(std::slice::from_ref(&expired));
        assert!(!text.contains("refused for good"), "{text}");
        assert!(text.contains("could not be delivered before the queue lifetime ran out"));
        assert!(
            text.contains("Diagnostic-Code: smtp; 127.0.0.1:20025 said 451 4.7.1 greylisted\r\n")
        );
        assert!(!text.contains("hint:"), "{text}");
        let refused = Failed {
            status: "5.1.1".into(),
            diagnostic: "550 5.1.1 no such user here (hint: postlab user list shows the accounts)"
                .into(),
            ..expired.clone()
        };
        let text = bounce_text(std::slice::from_ref(&refused));
        assert!(text.contains("It was refused for good"), "{text}");
        assert!(!text.contains("hint:"), "{text}");
        let in_indonesian = Failed {
            diagnostic: "550 5.1.1 no such user here (petunjuk: perintah postlab user list menampilkan akun yang ada)".into(),
            ..refused.clone()
        };
        let text = bounce_text(std::slice::from_ref(&in_indonesian));
        assert!(!text.contains("petunjuk:"), "{text}");
        let both = bounce_text(&[refused, expired]);
        assert!(
            both.contains("It was refused, or could not be delivered"),
            "{both}"
        );
    }
}
