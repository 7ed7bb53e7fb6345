//! One journey line, typed: what the server meant when it wrote it.
//!
//! The server writes each event of a message's journey with a fixed wording (the `format!`s in
//! `smtp/session.rs`, `mta/scheduler.rs`, `pop3/server.rs`). Here those wordings are read back
//! into values, once, so that the outcome of a message (`outcome.rs`) is computed from what
//! happened — "bob was stored", "carol was deferred" — and never guessed from loose words
//! such as "failed" or "refused" somewhere in the last line.
//!
//! A line this file does not know is [`Event::Other`]: it is still listed in the picture, it
//! just changes no outcome.

use crate::transcript::Step;

/// One event of the journey, as the server wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `[3 MDA] <bob@a.test> is local: account bob` (an alias may list several accounts).
    Local {
        rcpt: String,
        accounts: Vec<String>,
    },
    /// `[3 MDA] <bob@b.test> is remote: for the outbound queue`
    Remote {
        rcpt: String,
    },
    /// `[3 MDA] <x@y> refused: …` or an injected RCPT fault `<x@y>: INJECTED FAULT …: answered
    /// 451 …`: the client was told at once, nothing was accepted for this recipient.
    Refused {
        rcpt: String,
        why: String,
    },
    /// `[2 MTA] message refused: …` or an injected DATA fault `…: end of DATA answered 452 …`:
    /// the whole message was refused, for every recipient.
    MessageRefused {
        why: String,
    },
    /// `[6 MAILBOX] delivered to bob: mail/bob/new/…`
    Stored {
        account: String,
    },
    /// `[6 MAILBOX] not delivered: …` (the client got a 4xx or 5xx to its DATA).
    NotStored {
        why: String,
    },
    /// `[5 RELAY] delivery attempt 3 for 1 recipient(s)`
    Attempt {
        number: u32,
    },
    /// `[5 RELAY] <bob@b.test> delivered: mx.b.test said 250 2.0.0 Ok: queued as 19A…`: the
    /// next server took it; `next` is its queue id there.
    Handed {
        rcpt: String,
        host: String,
        next: Option<String>,
    },
    /// `[5 RELAY] <carol@b.test> deferred, will retry: …`
    Deferred {
        rcpt: String,
        why: String,
    },
    /// `[5 RELAY] <nobody@b.test> failed (5.1.1): …`: a bounce goes to the sender.
    Failed {
        rcpt: String,
        status: String,
        why: String,
    },
    /// `[5 RELAY] queue lifetime over: the pending recipients bounce` (status 4.4.7; the
    /// scheduler writes no line per recipient for this).
    LifetimeOver,
    /// `[7 ACCESS] retrieved by bob over POP3` / `deleted by bob over POP3`
    Read {
        account: String,
    },
    Other,
}

/// Reads one event text (after `ID: `) written at `step`.
pub fn parse(step: Step, text: &str) -> Event {
    match step {
        Step::Mta => mta(text),
        Step::Mda => mda(text),
        Step::Relay => relay(text),
        Step::Mailbox => mailbox(text),
        Step::Access => access(text),
        Step::Mua | Step::Dns => Event::Other,
    }
}

fn mta(text: &str) -> Event {
    if let Some(why) = text.strip_prefix("message refused: ") {
        return Event::MessageRefused { why: why.into() };
    }
    // `INJECTED FAULT (faults line 2): end of DATA answered 452 4.3.1 disk full`
    if let Some((_, answer)) = text.split_once(": end of DATA answered ") {
        return Event::MessageRefused {
            why: format!("answered {answer}"),
        };
    }
    Event::Other
}

fn mda(text: &str) -> Event {
    let Some((rcpt, rest)) = recipient(text) else {
        return Event::Other;
    };
    if let Some(accounts) = rest.strip_prefix(" is local: account ") {
        let accounts = accounts.split(", ").map(String::from).collect();
        return Event::Local { rcpt, accounts };
    }
    if rest.starts_with(" is remote") {
        return Event::Remote { rcpt };
    }
    if let Some(why) = rest.strip_prefix(" refused: ") {
        return Event::Refused {
            rcpt,
            why: why.into(),
        };
    }
    // An injected RCPT fault: `<x@y>: INJECTED FAULT (faults line 2): answered 451 4.7.1 …`
    if let Some(fault) = rest.strip_prefix(": ") {
        if let Some((_, answer)) = fault.split_once(": answered ") {
            return Event::Refused {
                rcpt,
                why: format!("answered {answer}"),
            };
        }
    }
    Event::Other
}

fn relay(text: &str) -> Event {
    if let Some(rest) = text.strip_prefix("delivery attempt ") {
        let number = rest
            .split(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        return Event::Attempt { number };
    }
    if text.starts_with("queue lifetime over") {
        return Event::LifetimeOver;
    }
    let Some((rcpt, rest)) = recipient(text) else {
        return Event::Other;
    };
    if let Some(said) = rest.strip_prefix(" delivered: ") {
        // `mx.b.test said 250 2.0.0 Ok: queued as 19A3C4F2B8D10`
        let host = said.split(" said ").next().unwrap_or(said).to_string();
        let next = said
            .split("queued as ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .map(String::from);
        return Event::Handed { rcpt, host, next };
    }
    if let Some(why) = rest.strip_prefix(" deferred, will retry: ") {
        return Event::Deferred {
            rcpt,
            why: why.into(),
        };
    }
    if let Some(failed) = rest.strip_prefix(" failed (") {
        if let Some((status, why)) = failed.split_once("): ") {
            return Event::Failed {
                rcpt,
                status: status.into(),
                why: why.into(),
            };
        }
    }
    Event::Other
}

fn mailbox(text: &str) -> Event {
    if let Some(rest) = text.strip_prefix("delivered to ") {
        let account = rest.split(':').next().unwrap_or(rest).to_string();
        return Event::Stored { account };
    }
    if let Some(why) = text.strip_prefix("not delivered: ") {
        return Event::NotStored { why: why.into() };
    }
    Event::Other
}

fn access(text: &str) -> Event {
    for verb in ["retrieved by ", "deleted by "] {
        if let Some(rest) = text.strip_prefix(verb) {
            let account = rest.split(' ').next().unwrap_or(rest).to_string();
            return Event::Read { account };
        }
    }
    Event::Other
}

/// `<bob@b.test> rest` → (`bob@b.test`, ` rest`).
fn recipient(text: &str) -> Option<(String, &str)> {
    let inner = text.strip_prefix('<')?;
    let (address, rest) = inner.split_once('>')?;
    Some((address.to_ascii_lowercase(), rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each row is a line the server really writes (copied from transcripts of a run with
    /// two servers, a greylisting fault and a bounce), and what it means.
    #[test]
    fn the_servers_own_lines_read_back() {
        let s = String::from;
        let rows: Vec<(Step, &str, Event)> = vec![
            (Step::Mda, "<bob@a.test> is local: account bob", Event::Local { rcpt: s("bob@a.test"), accounts: vec![s("bob")] }),
            (Step::Mda, "<team@a.test> is local: account bob, carol", Event::Local { rcpt: s("team@a.test"), accounts: vec![s("bob"), s("carol")] }),
            (Step::Mda, "<nobody@b.test> is remote: for the outbound queue", Event::Remote { rcpt: s("nobody@b.test") }),
            (Step::Mda, "<nobody@b.test> queued for delivery to another server", Event::Other),
            (Step::Mda, "<nobody@b.test> refused: no such user here", Event::Refused { rcpt: s("nobody@b.test"), why: s("no such user here") }),
            (Step::Mda, "<carol@slow.b.test>: INJECTED FAULT (faults line 2): answered 451 4.7.1 greylisted, try again later", Event::Refused { rcpt: s("carol@slow.b.test"), why: s("answered 451 4.7.1 greylisted, try again later") }),
            (Step::Mta, "new message from <alice@a.test>, client 127.0.0.1", Event::Other),
            (Step::Mta, "message refused: a line over 1000 octets", Event::MessageRefused { why: s("a line over 1000 octets") }),
            (Step::Mta, "INJECTED FAULT (faults line 2): end of DATA answered 452 4.3.1 disk full", Event::MessageRefused { why: s("answered 452 4.3.1 disk full") }),
            (Step::Mailbox, "delivered to bob: var-a/mail/bob/new/1796651176.M519419P27978Q0.mx.a.test,S=200", Event::Stored { account: s("bob") }),
            (Step::Mailbox, "not delivered: the disk is full", Event::NotStored { why: s("the disk is full") }),
            (Step::Relay, "delivery attempt 14 for 1 recipient(s)", Event::Attempt { number: 14 }),
            (Step::Relay, "<bob@b.test> delivered: 127.0.0.1:43397 said 250 2.0.0 Ok: queued as 6620B7335027A", Event::Handed { rcpt: s("bob@b.test"), host: s("127.0.0.1:43397"), next: Some(s("6620B7335027A")) }),
            (Step::Relay, "<carol@slow.b.test> deferred, will retry: 127.0.0.1:43397 said 451 4.7.1 greylisted, try again later (hint: this failure was injected on purpose; `postlab fault list` shows the rules)", Event::Deferred { rcpt: s("carol@slow.b.test"), why: s("127.0.0.1:43397 said 451 4.7.1 greylisted, try again later (hint: this failure was injected on purpose; `postlab fault list` shows the rules)") }),
            (Step::Relay, "<nobody@b.test> failed (5.1.1): 127.0.0.1:43397 said 550 5.1.1 <nobody@b.test>: no such user here", Event::Failed { rcpt: s("nobody@b.test"), status: s("5.1.1"), why: s("127.0.0.1:43397 said 550 5.1.1 <nobody@b.test>: no such user here") }),
            (Step::Relay, "queue lifetime over: the pending recipients bounce", Event::LifetimeOver),
            // Words that used to colour a box, in lines that change no outcome.
            (Step::Relay, "bounce 6620B73350705 sent to <alice@a.test>", Event::Other),
            (Step::Relay, "done: removed from the queue", Event::Other),
            (Step::Relay, "next attempt in 1 s", Event::Other),
            (Step::Relay, "INJECTED FAULT (faults line 1): connections to b.test are refused", Event::Other),
            (Step::Dns, "b.test: the transport map says 127.0.0.1:43397 (no DNS lookup)", Event::Other),
            (Step::Access, "retrieved by bob over POP3", Event::Read { account: s("bob") }),
            (Step::Access, "deleted by bob over POP3", Event::Read { account: s("bob") }),
        ];
        for (step, text, want) in rows {
            assert_eq!(parse(step, text), want, "{step} {text}");
        }
    }
}
