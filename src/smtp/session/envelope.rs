//! The envelope (RFC 5321 §3.3, §4.1.1.2–3): `MAIL FROM` opens a transaction and names the
//! sender, each `RCPT TO` adds a recipient once step 3 has decided its route.
//!
//! ```text
//! C: MAIL FROM:<alice@localhost> SIZE=342
//! S: 250 2.1.0 Sender ok, queue id 19A3C4F2B8D10
//! C: RCPT TO:<bob@localhost>
//! S: 250 2.1.5 Recipient ok                ← [3 MDA] <bob@localhost> is local: account bob
//! ```
//!
//! What can go wrong is answered here: a sender the login does not own (`auth.rs` decides), a
//! recipient no account or alias has, relaying without permission, too many recipients.

use super::{Effect, Event, Mode, Output, Session, State};
use crate::address::{Address, ReversePath};
use crate::hints::Hint;
use crate::ids::QueueId;
use crate::mta::message::{Envelope, Recipient};
use crate::mta::route::{Rejection, Route, Router};
use crate::smtp::command::MailParams;
use crate::smtp::reply::{self, Reply};
use crate::transcript::Step;

impl Session {
    /// MAIL FROM (§4.1.1.2): opens a transaction and gives the message its queue id.
    pub(super) fn mail(&mut self, from: ReversePath, params: MailParams) -> Output {
        match self.state {
            State::Greeting => {
                return Output::reply(reply::bad_sequence(
                    "send HELO or EHLO first",
                    Hint::IntroduceYourself,
                ))
            }
            State::Mail(_) => {
                return Output::reply(reply::bad_sequence(
                    "a message is already started",
                    Hint::RsetAbandons,
                ))
            }
            State::Ready => {}
        }
        // RFC 6409 §4.3 and RFC 4954 §6: submission requires a login first.
        if self.mode == Mode::Submission && self.user.is_none() {
            return Output::reply(reply::auth_required());
        }
        // An authenticated session is bound to its account on every port: AUTH on port 25
        // grants relaying too, so the submission rule (RFC 6409 §6.1) must hold there as well,
        // or a login as alice would send as bob (issue 14).
        if let Some(user) = &self.user {
            if !self.owns_sender(&from) {
                return Output::reply(reply::sender_not_owned(user));
            }
        }
        // Extensions exist only after EHLO (§4.1.1.1); a HELO client sends no parameters.
        if !self.esmtp && params != MailParams::default() {
            return Output::reply(reply::parameter_not_recognized("after HELO, any"));
        }
        if params
            .size
            .is_some_and(|size| size > self.config.max_message_size as u64)
        {
            return Output::reply(reply::message_too_big(self.config.max_message_size));
        }
        if let ReversePath::Mailbox(address) = &from {
            if !address.is_ascii() && !params.smtputf8 {
                return Output::reply(reply::non_ascii_address());
            }
        }
        let id = QueueId::new();
        let event = Event {
            step: Step::Mta,
            id: id.clone(),
            text: format!("new message from {from}, client {}", self.peer.ip()),
        };
        let reply = reply::sender_ok(&id);
        self.state = State::Mail(Envelope {
            id,
            from,
            recipients: Vec::new(),
            smtputf8: params.smtputf8,
            body_8bit: params.body_8bit,
        });
        Output {
            replies: vec![reply],
            events: vec![event],
            effect: Effect::None,
        }
    }

    /// RCPT TO (§4.1.1.3): step 3 decides for each recipient; each gets its own reply.
    pub(super) fn rcpt(&mut self, to: Address) -> Output {
        let may_relay = self.may_relay();
        let State::Mail(envelope) = &mut self.state else {
            return Output::reply(reply::bad_sequence(
                "RCPT needs MAIL first",
                Hint::MailBeforeRcpt,
            ));
        };
        if envelope.recipients.len() >= self.config.max_recipients {
            return Output::reply(reply::too_many_recipients(self.config.max_recipients));
        }
        if !to.is_ascii() && !envelope.smtputf8 {
            return Output::reply(reply::non_ascii_address());
        }
        if let Some(rule) = self.faults.rcpt(&to.to_string()) {
            if let crate::faults::Action::Reply { code, status, text } = &rule.action {
                let event = Event {
                    step: Step::Mda,
                    id: envelope.id.clone(),
                    text: format!("<{to}>: {}: answered {code} {status} {text}", rule.label()),
                };
                return Output {
                    replies: vec![reply::injected(*code, status, text)],
                    events: vec![event],
                    effect: Effect::None,
                };
            }
        }
        let router = Router {
            config: &self.config,
            directory: &self.directory,
            may_relay,
        };
        let route = router.route(&to);
        let (reply, text) = match &route {
            Route::Local(accounts) => (
                reply::recipient_ok(),
                format!("<{to}> is local: account {}", accounts.join(", ")),
            ),
            Route::Remote(_) => (
                reply::recipient_ok(),
                format!("<{to}> is remote: for the outbound queue"),
            ),
            Route::Forwarded { accounts, remote } => {
                let remote: Vec<String> = remote.iter().map(|a| format!("<{a}>")).collect();
                let accounts = match accounts.is_empty() {
                    true => String::new(),
                    false => format!("account {}, and ", accounts.join(", ")),
                };
                (
                    reply::recipient_ok(),
                    format!(
                        "<{to}> is an alias: {accounts}{} for the outbound queue",
                        remote.join(", ")
                    ),
                )
            }
            Route::Reject(rejection) => {
                let (reply, why) = rejection_reply(&to, rejection);
                (reply, format!("<{to}> refused: {why}"))
            }
        };
        let event = Event {
            step: Step::Mda,
            id: envelope.id.clone(),
            text,
        };
        if !matches!(route, Route::Reject(_)) {
            envelope.recipients.push(Recipient { address: to, route });
        }
        Output {
            replies: vec![reply],
            events: vec![event],
            effect: Effect::None,
        }
    }
}

/// The reply for a refused recipient, and the reason in words for the transcript.
fn rejection_reply(to: &Address, rejection: &Rejection) -> (Reply, String) {
    let address = to.to_string();
    match rejection {
        Rejection::UnknownUser => (
            reply::unknown_user(&address),
            "no such account or alias".into(),
        ),
        Rejection::RelayDenied => (
            reply::relay_denied(&address),
            "another domain, and this client may not relay".into(),
        ),
        Rejection::OutsideRelayTo => (
            reply::outside_relay_to(&address),
            "another domain, outside relay_to".into(),
        ),
        Rejection::AliasLoop => (reply::alias_loop(&address), "the aliases loop".into()),
        Rejection::BadAlias(why) => (
            reply::alias_misconfigured(&address, why),
            format!("the aliases cannot be followed: {why}"),
        ),
    }
}
