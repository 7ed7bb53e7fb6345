//! The SMTP server's state machine (RFC 5321 §3 and §4.1.4), with no I/O.
//!
//! ```text
//!   connect ─► 220 ─► Greeting ──HELO/EHLO──► Ready ──MAIL──► Mail ──RCPT (1+)──► Mail
//!                         ▲                    ▲  ▲                                 │
//!                         │                    │  └──── RSET / HELO / EHLO ─────────┤
//!                         └── (QUIT anywhere:  │                                   DATA
//!                              221, close)     │                                    ▼
//!                                              └─── 250 queued / 5xx ◄─── 354, message, "."
//! ```
//!
//! - `Greeting`: the 220 went out; the client must introduce itself (§4.1.1.1).
//! - `Ready`: greeted, no mail transaction open.
//! - `Mail`: a transaction is open (MAIL accepted); RCPT adds recipients, DATA sends content.
//!
//! Beside the state: who the client is. AUTH (RFC 4954) may log it in as an account; on the
//! submission port (RFC 6409) that is required before MAIL. A logged-in client, on any port,
//! may use only the account's own address (or an alias of it) as the sender. On port 25 a client may send to other domains only when logged in or
//! from a trusted network (`relay_networks`): never an open relay.
//!
//! The session never touches a socket or a file. The server loop (`server.rs`) feeds it
//! commands and carries out what it returns in an [`Output`]: replies to send, events for the
//! transcript, and an [`Effect`] (read the message, deliver it, close).
//!
//! STARTTLS (RFC 3207) is one more effect: after `220 Ready to start TLS` the server loop runs
//! the handshake and calls [`Session::tls_started`], which forgets everything learnt in
//! plaintext (§4.2): the state goes back to `Greeting` and the client must EHLO again.
//!
//! Policy lives here too: the limits from postlab.conf, the error counter (too many errors →
//! 421), and, through the router, who may receive mail. This file holds the states, the
//! greeting, EHLO, STARTTLS and the dispatch; the rest follows the RFC's own sections, a file
//! each:
//!
//! | file | RFC 5321 | what |
//! |---|---|---|
//! | `session/envelope.rs` | §4.1.1.2–3 | MAIL FROM and RCPT TO: the envelope, step 3's decision per recipient |
//! | `session/data.rs` | §4.1.1.4, §4.4 | DATA, the message's fate, the `Received:` line |
//! | `session/auth.rs` | RFC 4954, RFC 6409 | AUTH, relay permission, the sender a login may use |
//! | `session/headers.rs` | §6.3, RFC 6409 §8 | hop counting, the Date and Message-ID a submission server adds |

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use super::command::{Command, CommandError};
use super::reply::{self, Reply};
use crate::accounts::sasl::{self, Credentials, Exchange};
use crate::accounts::{login, Directory};
use crate::config::Config;
use crate::faults::Faults;
use crate::ids::QueueId;
use crate::mta::message::{Envelope, Message};
use crate::pace::Cut;
use crate::transcript::Step;

/// Where the session stands (named after RFC 5321's description of the dialogue).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// 220 sent; waiting for HELO or EHLO.
    Greeting,
    /// Greeted; no transaction open.
    Ready,
    /// MAIL accepted; collecting recipients.
    Mail(Envelope),
}

/// What the server loop must do after the replies are sent.
#[derive(Debug)]
pub enum Effect {
    /// Nothing: read the next command.
    None,
    /// `354` was sent: read the message (up to `max_size` octets) and call
    /// [`Session::data_received`].
    ReadData { max_size: usize },
    /// Put the message into mailboxes and the queue, and call [`Session::delivered`].
    Deliver(Box<Message>),
    /// Check these credentials (with the brute-force delay) and call
    /// [`Session::authenticated`].
    Authenticate(Credentials),
    /// `220 Ready to start TLS` was queued: send it, run the TLS handshake, then call
    /// [`Session::tls_started`] (or close the connection if the handshake fails).
    StartTls,
    /// Close the connection.
    Close,
}

/// A message-journey event for the transcript: `[3 MDA] ID: text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub step: Step,
    pub id: QueueId,
    pub text: String,
}

/// The session's answer to one input.
#[derive(Debug)]
pub struct Output {
    pub replies: Vec<Reply>,
    pub events: Vec<Event>,
    pub effect: Effect,
}

impl Output {
    fn reply(reply: Reply) -> Output {
        Output {
            replies: vec![reply],
            events: Vec::new(),
            effect: Effect::None,
        }
    }

    fn close(reply: Reply) -> Output {
        Output {
            replies: vec![reply],
            events: Vec::new(),
            effect: Effect::Close,
        }
    }
}

/// Which door the client came in by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Port 25 (10025): server-to-server transfer, and local clients.
    Relay,
    /// Port 587 (10587), RFC 6409: a mail client submitting; AUTH required.
    Submission,
}

/// One SMTP conversation.
pub struct Session {
    config: Arc<Config>,
    directory: Arc<Directory>,
    peer: SocketAddr,
    mode: Mode,
    clock: fn() -> SystemTime,
    state: State,
    /// The name the client gave in HELO/EHLO, and whether it was EHLO.
    client_name: String,
    esmtp: bool,
    /// The account the client logged in as (RFC 4954).
    user: Option<String>,
    /// An AUTH exchange waiting for the client's next line.
    sasl: Option<Exchange>,
    /// Can this server do TLS (a certificate is set up)? STARTTLS is offered only then.
    tls_available: bool,
    /// Is the connection encrypted (after STARTTLS, or from the start on the SMTPS port)?
    /// With what: `TLS 1.3, TLS_AES_256_GCM_SHA384` (`net::Negotiated`), for `Received:`.
    tls: Option<String>,
    errors: usize,
    /// Faults a teacher asked for (`DIR/faults`): replies that are injected on purpose.
    faults: Arc<Faults>,
}

impl Session {
    pub fn new(
        config: Arc<Config>,
        directory: Arc<Directory>,
        peer: SocketAddr,
        mode: Mode,
    ) -> Session {
        Session {
            config,
            directory,
            peer,
            mode,
            clock: SystemTime::now,
            state: State::Greeting,
            client_name: String::new(),
            esmtp: false,
            user: None,
            sasl: None,
            tls_available: false,
            tls: None,
            errors: 0,
            faults: Arc::new(Faults::default()),
        }
    }

    /// Is the next client line an answer in an AUTH exchange (secret, and not a command)?
    pub fn awaiting_auth_line(&self) -> bool {
        self.sasl.is_some()
    }

    /// The account the client logged in as, if any.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// Offers STARTTLS: the server has a certificate (`tls::ServerTls`).
    pub fn with_starttls(mut self) -> Session {
        self.tls_available = true;
        self
    }

    /// The connection is encrypted from its first byte (SMTPS, RFC 8314 §3.3).
    pub fn with_implicit_tls(mut self, negotiated: String) -> Session {
        self.tls = Some(negotiated);
        self
    }

    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Uses `clock` for the `Received:` date (tests pin the time).
    /// Applies the rules of `DIR/faults` (see `faults.rs`).
    pub fn with_faults(mut self, faults: Arc<Faults>) -> Session {
        self.faults = faults;
        self
    }

    /// A `data` fault fired: its reply ends the transaction instead of delivery.
    pub fn fault_reply(
        &mut self,
        id: &QueueId,
        rule: &crate::faults::Rule,
        code: u16,
        status: &str,
        text: &str,
    ) -> Output {
        let event = Event {
            step: Step::Mta,
            id: id.clone(),
            text: format!(
                "{}: end of DATA answered {code} {status} {text}",
                rule.label()
            ),
        };
        let output = Output {
            replies: vec![reply::injected(code, status, text)],
            events: vec![event],
            effect: Effect::None,
        };
        self.count_errors(output)
    }

    pub fn with_clock(mut self, clock: fn() -> SystemTime) -> Session {
        self.clock = clock;
        self
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    /// The 220 greeting (RFC 5321 §4.3.1: the server speaks first).
    pub fn greeting(&self) -> Output {
        Output::reply(reply::greeting(&self.config.hostname))
    }

    /// One command line, parsed (or not) by `command::parse` or refused by the framing.
    pub fn handle(&mut self, input: Result<Command, CommandError>) -> Output {
        let output = match input {
            Ok(command) => self.dispatch(command),
            Err(error) => Output::reply(error_reply(error)),
        };
        self.count_errors(output)
    }

    /// The dispatch table: which command runs which handler.
    fn dispatch(&mut self, command: Command) -> Output {
        match command {
            Command::Helo(name) => self.helo(name, false),
            Command::Ehlo(name) => self.helo(name, true),
            Command::Mail { from, params } => self.mail(from, params),
            Command::Rcpt { to } => self.rcpt(to),
            Command::Data => self.data(),
            Command::Rset => self.rset(),
            Command::Noop => Output::reply(reply::ok()),
            Command::Quit => Output::close(reply::bye()),
            Command::Vrfy(_) => Output::reply(reply::cannot_vrfy()),
            Command::Expn(_) => Output::reply(reply::expn_disabled()),
            Command::Help(topic) => Output::reply(reply::help(topic.as_deref())),
            Command::Auth { mechanism, initial } => self.auth(&mechanism, initial.as_deref()),
            Command::StartTls => self.starttls(),
        }
    }

    /// STARTTLS (RFC 3207 §4). Once only: inside TLS there is nothing more to start.
    fn starttls(&mut self) -> Output {
        if self.tls.is_some() {
            return Output::reply(reply::tls_already_active());
        }
        if !self.tls_available {
            return Output::reply(reply::tls_not_available());
        }
        Output {
            replies: vec![reply::ready_to_start_tls()],
            events: Vec::new(),
            effect: Effect::StartTls,
        }
    }

    /// The TLS handshake succeeded. RFC 3207 §4.2: "the server MUST discard any knowledge
    /// obtained from the client, such as the argument to the EHLO command, which was not
    /// obtained from the TLS negotiation itself." So: back to `Greeting`, no name, no login,
    /// no transaction. No new 220 is sent; the client speaks first, with EHLO.
    pub fn tls_started(&mut self, negotiated: String) {
        self.tls = Some(negotiated);
        self.state = State::Greeting;
        self.client_name.clear();
        self.esmtp = false;
        self.user = None;
        self.sasl = None;
    }

    /// HELO / EHLO (§4.1.1.1). Either one also resets a transaction in progress (§4.1.4).
    fn helo(&mut self, name: String, esmtp: bool) -> Output {
        self.state = State::Ready;
        self.esmtp = esmtp;
        let reply = if esmtp {
            reply::ehlo(&self.config.hostname, &name, &self.extensions())
        } else {
            reply::helo(&self.config.hostname, &name)
        };
        self.client_name = name;
        Output::reply(reply)
    }

    /// The EHLO keywords (each from its RFC).
    fn extensions(&self) -> Vec<String> {
        let mut keywords = vec![
            "PIPELINING".into(),                              // RFC 2920
            format!("SIZE {}", self.config.max_message_size), // RFC 1870
            "8BITMIME".into(),                                // RFC 6152
            "ENHANCEDSTATUSCODES".into(),                     // RFC 2034
            "SMTPUTF8".into(),                                // RFC 6531
        ];
        // RFC 3207 §4.2: not offered again once TLS is active.
        if self.tls_available && self.tls.is_none() {
            keywords.push("STARTTLS".into());
        }
        // RFC 4954: offered only where a password may travel as sent (TLS or loopback).
        if login::plaintext_allowed(self.peer.ip(), self.tls.is_some()) {
            keywords.push(format!("AUTH {}", sasl::MECHANISMS));
        }
        keywords.push("HELP".into()); // RFC 5321 §4.1.1.8
        keywords
    }

    /// RSET (§4.1.1.5): abandon the transaction, keep the greeting.
    fn rset(&mut self) -> Output {
        if let State::Mail(_) = self.state {
            self.state = State::Ready;
        }
        Output::reply(reply::ok())
    }

    /// The client stayed silent past `idle_timeout` (§4.5.3.2.7).
    pub fn timeout(&mut self) -> Output {
        Output::close(reply::idle_timeout())
    }

    /// A clock of the connection ended the session (`src/pace.rs`): say which.
    pub fn cut_off(&mut self, cut: Option<&Cut>) -> Output {
        Output::close(match cut {
            None | Some(Cut::Silent(_)) => reply::idle_timeout(),
            Some(Cut::MadeRoom) => reply::made_room(),
            Some(
                Cut::SlowLine(_) | Cut::Late(_) | Cut::SlowTransfer { .. } | Cut::NotReading(_),
            ) => reply::too_slow(),
        })
    }

    /// Counts error replies; at `max_errors` the session ends with 421.
    fn count_errors(&mut self, mut output: Output) -> Output {
        if output.replies.iter().any(|r| r.is_error() && !r.closes()) {
            self.errors += 1;
            if self.errors >= self.config.max_errors {
                output.replies.push(reply::too_many_errors());
                output.effect = Effect::Close;
            }
        }
        output
    }
}

pub use headers::MAX_HOPS;

/// The reply for a line that is not a valid command.
fn error_reply(error: CommandError) -> Reply {
    match error {
        CommandError::Unrecognized => reply::command_unrecognized(),
        CommandError::NotImplemented(verb) => reply::command_not_implemented(&verb),
        CommandError::Syntax(usage) => reply::syntax(usage),
        CommandError::BadParameter(text) => reply::bad_parameter(text),
        CommandError::BadAddress { error, sender, .. } => reply::bad_address(error, sender),
        CommandError::UnknownParameter(keyword) => reply::parameter_not_recognized(&keyword),
        CommandError::BadCharacters => reply::bad_characters(),
        CommandError::LineTooLong => reply::line_too_long(),
        CommandError::BareLineEnding => reply::bad_line_ending(),
    }
}

mod auth;
mod data;
mod envelope;
mod headers;
#[cfg(test)]
mod tests;
