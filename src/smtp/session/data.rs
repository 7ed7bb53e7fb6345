//! The content (RFC 5321 §4.1.1.4, §4.4): `DATA`, the message the server loop reads after 354,
//! what happens to it, and the `Received:` line the server puts on top.
//!
//! ```text
//! C: DATA
//! S: 354 Send the message, end with <CRLF>.<CRLF>
//! C: Subject: hello  …  .
//! S: 250 2.0.0 Ok: queued as 19A3C4F2B8D10   ← only once every copy is on disk (mta/accept.rs)
//! ```
//!
//! The end of data ends the transaction whatever the outcome; a refused message (too big, a
//! bare line ending, a mail loop) leaves the session ready for the next `MAIL`.

use super::headers::{count_received, missing_fields, MAX_HOPS};
use super::{Effect, Event, Mode, Output, Session, State};
use crate::clock::Civil;
use crate::hints::Hint;
use crate::ids::QueueId;
use crate::mda;
use crate::mta::accept;
use crate::mta::message::{Envelope, Message};
use crate::smtp::data::{Data, DataError};
use crate::smtp::reply;
use crate::transcript::Step;

impl Session {
    /// DATA (§4.1.1.4): 354, then the server loop reads the message.
    pub(super) fn data(&mut self) -> Output {
        match &self.state {
            State::Mail(envelope) if envelope.recipients.is_empty() => {
                Output::reply(reply::no_valid_recipients())
            }
            State::Mail(_) => Output {
                replies: vec![reply::start_mail_input()],
                events: Vec::new(),
                effect: Effect::ReadData {
                    max_size: self.config.max_message_size,
                },
            },
            _ => Output::reply(reply::bad_sequence(
                "DATA needs MAIL and RCPT first",
                Hint::MailRcptData,
            )),
        }
    }

    /// The message has been read. Either it goes on to delivery, or it is refused; in both
    /// cases the transaction is over (§4.1.1.4: the end of data ends the transaction).
    pub fn data_received(&mut self, data: Data) -> Output {
        let State::Mail(envelope) = std::mem::replace(&mut self.state, State::Ready) else {
            return Output::reply(reply::local_error());
        };
        let event = |text: String| Event {
            step: Step::Mta,
            id: envelope.id.clone(),
            text,
        };
        let refused = match data.error {
            Some(DataError::TooBig) => Some((
                reply::message_too_big(self.config.max_message_size),
                "over the size limit",
            )),
            Some(DataError::LineTooLong) => {
                Some((reply::data_line_too_long(), "a line over 1000 octets"))
            }
            Some(DataError::BadLineEnding) => Some((
                reply::bare_newline_in_data(),
                "bare CR, LF or NUL in the content",
            )),
            Some(DataError::NoRoom) => Some((
                reply::too_much_mail_at_once(),
                "too many messages arriving at once (max_data_memory)",
            )),
            None => None,
        };
        if let Some((reply, why)) = refused {
            let output = Output {
                replies: vec![reply],
                events: vec![event(format!("message refused: {why}"))],
                effect: Effect::None,
            };
            return self.count_errors(output);
        }
        // RFC 5321 §6.3: a message that has passed too many servers is looping.
        let hops = count_received(&data.content);
        if hops > MAX_HOPS {
            let output = Output {
                replies: vec![reply::too_many_hops(hops)],
                events: vec![event(format!(
                    "message refused: {hops} Received: headers, a mail loop"
                ))],
                effect: Effect::None,
            };
            return self.count_errors(output);
        }
        let mut received = self.received_header(&envelope);
        let mut events = vec![event(format!(
            "content received: {} octets in {} lines",
            data.size, data.lines
        ))];
        // RFC 6409 §8.2–8.3: a submission server may add the Date and Message-ID a client forgot.
        if self.mode == Mode::Submission {
            for field in missing_fields(
                &data.content,
                &envelope.id,
                &self.config.hostname,
                (self.clock)(),
            ) {
                events.push(event(format!("added {}", field.trim_end())));
                received.push_str(&field);
            }
        }
        // src/mailauth/: our users' mail is signed, other servers' mail is checked.
        let origin = if self.may_relay() {
            crate::mta::message::Origin::Ours
        } else {
            crate::mta::message::Origin::Outside {
                ip: self.peer.ip(),
                helo: self.client_name.clone(),
            }
        };
        let message = Message {
            envelope,
            received,
            content: data.content,
            origin,
            junk: false,
        };
        Output {
            replies: Vec::new(),
            events,
            effect: Effect::Deliver(Box::new(message)),
        }
    }

    /// Delivery finished: the final reply to DATA. Only now may we say 250 (DESIGN.md: nothing
    /// acknowledged is lost).
    pub fn delivered(&mut self, id: &QueueId, outcome: accept::Outcome) -> Output {
        let mut events = Vec::new();
        let event = |step, text: String| Event {
            step,
            id: id.clone(),
            text,
        };
        let reply = match outcome {
            accept::Outcome::Refused(notes) => {
                events.extend(notes.into_iter().map(|(step, text)| event(step, text)));
                reply::dmarc_rejected()
            }
            accept::Outcome::Accepted {
                delivered,
                queued,
                notes,
            } => {
                events.extend(notes.into_iter().map(|(step, text)| event(step, text)));
                for (account, path) in delivered {
                    events.push(event(
                        Step::Mailbox,
                        format!("delivered to {account}: {}", path.display()),
                    ));
                }
                for address in queued {
                    events.push(event(
                        Step::Mda,
                        format!("<{address}> queued for delivery to another server"),
                    ));
                }
                reply::delivered(id)
            }
            accept::Outcome::Transient(failure) => {
                let (reply, text) = match failure {
                    mda::Failure::StorageFull(text) => (reply::insufficient_storage(), text),
                    mda::Failure::Io(text) => (reply::local_error(), text),
                    mda::Failure::OverQuota { permanent, text } => {
                        (reply::mailbox_full(permanent), text)
                    }
                };
                events.push(event(Step::Mailbox, format!("not delivered: {text}")));
                reply
            }
        };
        self.count_errors(Output {
            replies: vec![reply],
            events,
            effect: Effect::None,
        })
    }

    /// `Received:` (RFC 5321 §4.4), folded over three lines:
    ///
    /// ```text
    /// Received: from laptop ([127.0.0.1])
    ///     (using TLS 1.3, TLS_AES_256_GCM_SHA384)       ← only over TLS
    ///     by mx.test (postlab) with ESMTP id 19A3C4F2B8D10
    ///     for <bob@localhost>; Thu, 26 Nov 2026 15:20:55 +0000
    /// ```
    ///
    /// After AUTH, a line `(Authenticated sender: alice)` follows the `from` clause, as Postfix
    /// writes it with `smtpd_sasl_authenticated_header = yes`: the account that sent it is on
    /// record in the message itself, beside the `A` of `ESMTPA` (RFC 3848).
    ///
    /// `with` is SMTP after HELO, ESMTP after EHLO, UTF8SMTP when SMTPUTF8 was used (RFC 6531
    /// §3.7.3). `for` is given only for a single recipient, so a Bcc list is not revealed.
    pub(super) fn received_header(&self, envelope: &Envelope) -> String {
        // RFC 3848: ESMTP, plus S for TLS and A for an authenticated client; RFC 6531 §3.7.3
        // replaces ESMTP with UTF8SMTP when SMTPUTF8 was used.
        let protocol = if self.esmtp {
            let base = if envelope.smtputf8 {
                "UTF8SMTP"
            } else {
                "ESMTP"
            };
            format!(
                "{base}{}{}",
                if self.tls.is_some() { "S" } else { "" },
                if self.user.is_some() { "A" } else { "" }
            )
        } else {
            "SMTP".to_string()
        };
        let ip = match self.peer.ip() {
            std::net::IpAddr::V4(ip) => ip.to_string(),
            std::net::IpAddr::V6(ip) => format!("IPv6:{ip}"),
        };
        // As Postfix writes it: what protected the hop, for a reader judging the message.
        let tls_clause = match &self.tls {
            Some(negotiated) => format!("\r\n\t(using {negotiated})"),
            None => String::new(),
        };
        let for_clause = match envelope.recipients.as_slice() {
            [only] => format!("\r\n\tfor <{}>", only.address),
            _ => String::new(),
        };
        let authenticated = match &self.user {
            Some(user) => format!("\r\n\t(Authenticated sender: {user})"),
            None => String::new(),
        };
        format!(
            "Received: from {} ([{ip}]){tls_clause}{authenticated}\r\n\tby {} (postlab) with {protocol} id {}{for_clause};\r\n\t{}\r\n",
            self.client_name,
            self.config.hostname,
            envelope.id,
            Civil::from_system_time((self.clock)()).rfc5322()
        )
    }
}
