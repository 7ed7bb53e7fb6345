//! The POP3 server's state machine (RFC 1939 §3–§6), with no I/O.
//!
//! ```text
//!  connect ─► +OK greeting ─► AUTHORIZATION ──USER+PASS / APOP / AUTH ok──► TRANSACTION
//!                                  │   ▲  (maildrop locked, snapshot taken)     │  STAT LIST RETR
//!                                  │   └── -ERR: wrong password, in use ──┐     │  DELE RSET TOP
//!                                 QUIT                                    │     │  UIDL NOOP
//!                                  ▼                                            QUIT
//!                         +OK, close (nothing changes)                          ▼
//!                                                   UPDATE: deleted messages are removed, +OK, close
//! ```
//!
//! - `AUTHORIZATION`: the client must say who it is (RFC 1939 §4).
//! - `TRANSACTION`: the maildrop is locked and numbered; DELE only *marks* (RFC 1939 §5).
//! - `UPDATE`: entered only by QUIT from TRANSACTION; the marked messages go (RFC 1939 §6). A
//!   connection that drops, or times out, never gets here, so it removes nothing.
//!
//! The session never touches a socket or a file. It returns an [`Output`]: responses to send and
//! an [`Effect`] for the server loop to carry out (check a login and open the maildrop, send a
//! message, remove the deleted ones, close). The results come back through
//! [`Session::logged_in`] and [`Session::updated`].

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use super::command::{Command, CommandError};
use super::response::{self, Response};
use crate::accounts::login;
use crate::accounts::sasl::{self, PlainError};
use crate::config::Config;
use crate::mailbox::maildrop::Message;

/// Where the session stands, as RFC 1939 names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Not logged in. `user` is the name from USER, waiting for PASS; `sasl` is true after
    /// `AUTH PLAIN` without an initial response, when the next line is the credentials.
    Authorization { user: Option<String>, sasl: bool },
    /// Logged in, working on a snapshot of the maildrop.
    Transaction(Maildrop),
    /// QUIT was given in TRANSACTION: the deleted messages are being removed.
    Update,
}

/// The snapshot taken at login, with the session's deletion marks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Maildrop {
    pub account: String,
    pub messages: Vec<Message>,
    pub deleted: Vec<bool>,
}

/// Who the client says it is. Holds a secret, so its `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    Password {
        name: String,
        password: String,
    },
    /// APOP: the MD5 of the greeting's timestamp followed by the password (RFC 1939 §7).
    Apop {
        name: String,
        timestamp: String,
        digest: String,
    },
}

impl Credentials {
    pub fn name(&self) -> &str {
        match self {
            Credentials::Password { name, .. } | Credentials::Apop { name, .. } => name,
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credentials({} <hidden>)", self.name())
    }
}

/// What the server found when it tried the credentials (in the server loop, which may wait out
/// the login throttle and reads the disk).
#[derive(Debug)]
pub enum LoginResult {
    /// Good credentials; the mailbox is locked and this is its snapshot.
    Ready {
        account: String,
        messages: Vec<Message>,
    },
    /// Wrong name or password (the two are not told apart).
    Rejected,
    /// Another session holds the mailbox.
    InUse,
    /// The Maildir could not be read.
    Unavailable,
}

/// What the server loop must do after the responses are sent.
#[derive(Debug)]
pub enum Effect {
    None,
    /// `+OK` to STLS went out: run the TLS handshake, then call [`Session::tls_started`].
    StartTls,
    /// Check these credentials and open the maildrop, then call [`Session::logged_in`].
    LogIn(Credentials),
    /// Send this message (all of it, or the header and `body_lines` lines of the body),
    /// byte-stuffed, then the final `.`.
    SendMessage {
        message: Message,
        number: usize,
        body_lines: Option<usize>,
    },
    /// Remove the `doomed` messages (UPDATE), then call [`Session::updated`]; `kept` is how
    /// many of the snapshot stay.
    Remove {
        doomed: Vec<Message>,
        kept: usize,
    },
    Close,
}

/// The session's answer to one input.
#[derive(Debug)]
pub struct Output {
    pub responses: Vec<Response>,
    pub effect: Effect,
}

impl Output {
    fn reply(response: Response) -> Output {
        Output {
            responses: vec![response],
            effect: Effect::None,
        }
    }

    fn with(response: Response, effect: Effect) -> Output {
        Output {
            responses: vec![response],
            effect,
        }
    }

    fn effect(effect: Effect) -> Output {
        Output {
            responses: Vec::new(),
            effect,
        }
    }
}

/// One POP3 conversation.
pub struct Session {
    config: Arc<Config>,
    peer: SocketAddr,
    /// The greeting's `<…@host>` when APOP is on offer.
    apop_timestamp: Option<String>,
    state: State,
    errors: usize,
    /// A certificate is loaded, so STLS can be offered (RFC 2595).
    tls_available: bool,
    /// The connection is encrypted (after STLS, or on the POP3S port).
    tls: bool,
}

impl Session {
    pub fn new(config: Arc<Config>, peer: SocketAddr, apop_timestamp: Option<String>) -> Session {
        Session {
            config,
            peer,
            apop_timestamp,
            state: State::Authorization {
                user: None,
                sasl: false,
            },
            errors: 0,
            tls_available: false,
            tls: false,
        }
    }

    /// Offers STLS (a certificate is loaded).
    pub fn with_stls(mut self) -> Session {
        self.tls_available = true;
        self
    }

    /// The connection is encrypted from the start (POP3S, RFC 8314 §3.3).
    pub fn with_implicit_tls(mut self) -> Session {
        self.tls = true;
        self
    }

    /// The STLS handshake succeeded. RFC 2595 §4: the client must forget what it learnt and
    /// may ask CAPA again; the session starts over in AUTHORIZATION.
    pub fn tls_started(&mut self) {
        self.tls = true;
        self.state = State::Authorization {
            user: None,
            sasl: false,
        };
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    /// Is the next line a SASL response (credentials, to be hidden), not a command?
    pub fn expects_sasl_response(&self) -> bool {
        matches!(self.state, State::Authorization { sasl: true, .. })
    }

    /// The greeting (RFC 1939 §4).
    pub fn greeting(&self) -> Output {
        Output::reply(response::greeting(
            &self.config.hostname,
            self.apop_timestamp.as_deref(),
        ))
    }

    /// May a password be sent as it is here? The one place this session asks: over TLS, or on
    /// loopback (`login::plaintext_allowed`).
    fn plaintext_ok(&self) -> bool {
        login::plaintext_allowed(self.peer.ip(), self.tls)
    }

    /// One command line, parsed (or not) by `command::parse` or refused by the framing.
    pub fn handle(&mut self, input: Result<Command, CommandError>) -> Output {
        // Only a line too long to be a SASL response arrives here while one is awaited; the
        // exchange is over (RFC 5034 §4: the AUTH command is rejected).
        if let State::Authorization { sasl, .. } = &mut self.state {
            *sasl = false;
        }
        let output = match input {
            Ok(command) => self.dispatch(command),
            Err(CommandError::Unknown) => Output::reply(response::unknown_command()),
            Err(CommandError::Syntax(usage)) => Output::reply(response::syntax(usage)),
            Err(CommandError::BadCharacters) => Output::reply(response::bad_characters()),
            Err(CommandError::LineTooLong) => Output::reply(response::line_too_long()),
        };
        self.count_errors(output)
    }

    /// The dispatch table: which commands each state allows (RFC 1939 §4, §5).
    fn dispatch(&mut self, command: Command) -> Output {
        let logged_in = matches!(self.state, State::Transaction(_));
        match command {
            Command::Capa => Output::reply(response::capabilities(self.capabilities())),
            Command::Stls if !logged_in => self.stls(),
            Command::Quit => self.quit(),
            Command::User(name) if !logged_in => self.user(name),
            Command::Pass(password) if !logged_in => self.pass(password),
            Command::Apop { name, digest } if !logged_in => self.apop(name, digest),
            Command::Auth { mechanism, initial } if !logged_in => self.auth(&mechanism, initial),
            Command::User(_)
            | Command::Pass(_)
            | Command::Apop { .. }
            | Command::Auth { .. }
            | Command::Stls => Output::reply(response::only_in_authorization()),
            other => match &mut self.state {
                State::Transaction(maildrop) => transaction(maildrop, other),
                _ => Output::reply(response::only_in_transaction()),
            },
        }
    }

    /// STLS (RFC 2595 §4): `+OK`, then the handshake; refused when TLS is up or not set up.
    fn stls(&mut self) -> Output {
        if self.tls {
            return Output::reply(response::tls_already_active());
        }
        if !self.tls_available {
            return Output::reply(response::tls_unavailable());
        }
        Output {
            responses: vec![response::tls_go_ahead()],
            effect: Effect::StartTls,
        }
    }

    /// CAPA (RFC 2449 §5). Login methods are listed only before login, and plaintext ones only
    /// where plaintext is allowed.
    fn capabilities(&self) -> Vec<String> {
        let mut capabilities: Vec<String> =
            ["TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE"]
                .map(String::from)
                .to_vec();
        if matches!(self.state, State::Authorization { .. }) && self.tls_available && !self.tls {
            capabilities.push("STLS".into());
        }
        if matches!(self.state, State::Authorization { .. }) && self.plaintext_ok() {
            capabilities.push("USER".into());
            capabilities.push("SASL PLAIN".into());
        }
        capabilities.push("IMPLEMENTATION postlab".into());
        capabilities
    }

    /// USER (RFC 1939 §7). Always `+OK`: saying "no such user" here would tell a stranger which
    /// names exist; the answer to PASS is the same for both mistakes.
    fn user(&mut self, name: String) -> Output {
        if !self.plaintext_ok() {
            return Output::reply(response::plaintext_refused());
        }
        let reply = response::user_accepted(&name);
        self.state = State::Authorization {
            user: Some(name),
            sasl: false,
        };
        Output::reply(reply)
    }

    /// PASS (RFC 1939 §7): only straight after a USER.
    fn pass(&mut self, password: String) -> Output {
        let State::Authorization { user, .. } = &mut self.state else {
            return Output::reply(response::only_in_authorization());
        };
        match user.take() {
            Some(name) => Output::effect(Effect::LogIn(Credentials::Password { name, password })),
            None => Output::reply(response::pass_without_user()),
        }
    }

    /// APOP (RFC 1939 §7): only if the greeting offered a timestamp.
    fn apop(&mut self, name: String, digest: String) -> Output {
        match &self.apop_timestamp {
            Some(timestamp) => Output::effect(Effect::LogIn(Credentials::Apop {
                name,
                timestamp: timestamp.clone(),
                digest,
            })),
            None => Output::reply(response::apop_not_available()),
        }
    }

    /// AUTH (RFC 5034 §4). PLAIN is the one mechanism; it sends a password, so it follows the
    /// plaintext policy.
    fn auth(&mut self, mechanism: &str, initial: Option<String>) -> Output {
        if mechanism != "PLAIN" {
            return Output::reply(response::mechanism_unsupported());
        }
        if !self.plaintext_ok() {
            return Output::reply(response::plaintext_refused());
        }
        match initial {
            Some(initial) => self.plain(&initial),
            None => {
                self.state = State::Authorization {
                    user: None,
                    sasl: true,
                };
                Output::reply(response::sasl_continue())
            }
        }
    }

    /// The line after `+ `: the PLAIN credentials, or `*` to cancel (RFC 5034 §4).
    pub fn sasl_response(&mut self, line: &[u8]) -> Output {
        self.state = State::Authorization {
            user: None,
            sasl: false,
        };
        let output = match std::str::from_utf8(line) {
            Ok("*") => Output::reply(response::sasl_cancelled()),
            Ok(text) => self.plain(text),
            Err(_) => Output::reply(response::sasl_bad_response()),
        };
        self.count_errors(output)
    }

    fn plain(&mut self, encoded: &str) -> Output {
        match sasl::decode_plain(encoded) {
            Ok(plain) => Output::effect(Effect::LogIn(Credentials::Password {
                name: plain.authcid,
                password: plain.password,
            })),
            Err(PlainError::OtherIdentity) => Output::reply(response::login_failed()),
            Err(PlainError::NotBase64 | PlainError::Malformed) => {
                Output::reply(response::sasl_bad_response())
            }
        }
    }

    /// The server loop's answer to [`Effect::LogIn`].
    pub fn logged_in(&mut self, result: LoginResult) -> Output {
        let output = match result {
            LoginResult::Ready { account, messages } => {
                let octets = messages.iter().map(|m| m.size).sum();
                let reply = response::logged_in(messages.len(), octets);
                self.state = State::Transaction(Maildrop {
                    account,
                    deleted: vec![false; messages.len()],
                    messages,
                });
                Output::reply(reply)
            }
            LoginResult::Rejected => Output::reply(response::login_failed()),
            LoginResult::InUse => Output::reply(response::in_use()),
            LoginResult::Unavailable => Output::reply(response::maildrop_unavailable()),
        };
        self.count_errors(output)
    }

    /// QUIT: from AUTHORIZATION just goodbye (RFC 1939 §4); from TRANSACTION into UPDATE
    /// (RFC 1939 §6).
    fn quit(&mut self) -> Output {
        match std::mem::replace(&mut self.state, State::Update) {
            State::Transaction(maildrop) => {
                let (kept, _) = maildrop.totals();
                let doomed = maildrop
                    .messages
                    .into_iter()
                    .zip(maildrop.deleted)
                    .filter_map(|(message, deleted)| deleted.then_some(message))
                    .collect();
                Output::effect(Effect::Remove { doomed, kept })
            }
            _ => Output::with(response::bye(), Effect::Close),
        }
    }

    /// The server loop's answer to [`Effect::Remove`]: whether every deleted message went.
    pub fn updated(&mut self, kept: usize, all_removed: bool) -> Output {
        let reply = if all_removed {
            response::bye_after_update(kept)
        } else {
            response::update_failed()
        };
        Output::with(reply, Effect::Close)
    }

    /// RFC 1939 §3: when the autologout timer runs out the server closes the connection
    /// "without removing any messages or sending any response to the client".
    pub fn timeout(&mut self) -> Output {
        Output::effect(Effect::Close)
    }

    /// Counts `-ERR` responses; at `max_errors` the session ends (nothing is removed).
    fn count_errors(&mut self, mut output: Output) -> Output {
        if output.responses.iter().any(Response::is_err) {
            self.errors += 1;
            if self.errors >= self.config.max_errors {
                output.responses.push(response::too_many_errors());
                output.effect = Effect::Close;
            }
        }
        output
    }
}

/// The TRANSACTION commands (RFC 1939 §5, §7), on the locked maildrop.
fn transaction(maildrop: &mut Maildrop, command: Command) -> Output {
    match command {
        Command::Stat => {
            let (count, octets) = maildrop.totals();
            Output::reply(response::stat(count, octets))
        }
        Command::List(None) => {
            let (count, octets) = maildrop.totals();
            let lines = maildrop
                .live()
                .map(|(n, m)| format!("{n} {}", m.size))
                .collect();
            Output::reply(response::scan_list(count, octets, lines))
        }
        Command::List(Some(n)) => match maildrop.get(n) {
            Ok((n, m)) => Output::reply(response::scan_listing(n, m.size)),
            Err(e) => Output::reply(e),
        },
        Command::Uidl(None) => {
            let lines = maildrop
                .live()
                .map(|(n, m)| format!("{n} {}", m.uid))
                .collect();
            Output::reply(response::uid_list(lines))
        }
        Command::Uidl(Some(n)) => match maildrop.get(n) {
            Ok((n, m)) => Output::reply(response::uid_listing(n, &m.uid)),
            Err(e) => Output::reply(e),
        },
        Command::Retr(n) => match maildrop.get(n) {
            Ok((number, m)) => Output::with(
                response::message_follows(m.size),
                Effect::SendMessage {
                    message: m.clone(),
                    number,
                    body_lines: None,
                },
            ),
            Err(e) => Output::reply(e),
        },
        Command::Top { message, lines } => match maildrop.get(message) {
            Ok((number, m)) => Output::with(
                response::top_follows(),
                Effect::SendMessage {
                    message: m.clone(),
                    number,
                    body_lines: Some(lines),
                },
            ),
            Err(e) => Output::reply(e),
        },
        Command::Dele(n) => match maildrop.get(n) {
            Ok((number, _)) => {
                maildrop.deleted[number - 1] = true;
                Output::reply(response::deleted(number))
            }
            Err(e) => Output::reply(e),
        },
        Command::Rset => {
            maildrop.deleted.iter_mut().for_each(|d| *d = false);
            let (count, octets) = maildrop.totals();
            Output::reply(response::reset(count, octets))
        }
        Command::Noop => Output::reply(response::noop()),
        // The dispatcher handles the rest before it gets here.
        _ => Output::reply(response::only_in_authorization()),
    }
}

impl Maildrop {
    /// The messages not marked deleted, with their numbers (from 1).
    fn live(&self) -> impl Iterator<Item = (usize, &Message)> {
        self.messages
            .iter()
            .zip(&self.deleted)
            .enumerate()
            .filter(|(_, (_, deleted))| !**deleted)
            .map(|(i, (m, _))| (i + 1, m))
    }

    /// Count and total size of the messages not marked deleted (RFC 1939 §5: STAT ignores them).
    fn totals(&self) -> (usize, u64) {
        self.live().fold((0, 0), |(count, octets), (_, m)| {
            (count + 1, octets + m.size)
        })
    }

    /// Message `n`, if it exists and is not marked deleted (RFC 1939 §5: such a number "may
    /// NOT refer to a message marked as deleted").
    fn get(&self, n: u32) -> Result<(usize, &Message), Response> {
        let index = (n as usize)
            .checked_sub(1)
            .ok_or_else(response::no_such_message)?;
        match (self.messages.get(index), self.deleted.get(index)) {
            (Some(_), Some(true)) => Err(response::already_deleted(index + 1)),
            (Some(m), _) => Ok((index + 1, m)),
            (None, _) => Err(response::no_such_message()),
        }
    }
}

#[cfg(test)]
mod tests;
