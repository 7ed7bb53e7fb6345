//! The IMAP state machine (RFC 3501 §3): commands in, responses and an effect out. No sockets
//! here; the folder and message files are reached through `crate::mailbox`.
//!
//! ```text
//!            connect
//!               │ * OK greeting
//!               ▼
//!    ┌──── Not Authenticated ────┐
//!    │          │ LOGIN / AUTHENTICATE
//!    │          ▼
//!    │    Authenticated ◄──────┐ CLOSE, UNSELECT, failed SELECT
//!    │          │ SELECT/EXAMINE│
//!    │          ▼               │
//!    │       Selected ──────────┘
//!    │          │
//!    └──────────┴──► Logout (LOGOUT, timeout, connection closed)
//! ```
//!
//! Which commands each state allows is the one table in `allowed`; a command in the wrong
//! state gets `BAD [CLIENTBUG]` naming the state. Every command that can see the selected
//! folder first brings it up to date ([`Selected::sync`]), which is how new mail and other
//! sessions' changes reach this client.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::command::{Command, CommandError, Tagged};
use super::response::{self as r, Response};
use super::selected::Selected;
use super::utf8;
use crate::accounts::{login, Directory};
use crate::config::Config;
use crate::hints::Hint;
use crate::mailbox::folder::Folders;
use crate::pace::Cut;

/// RFC 3501 §3's states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    NotAuthenticated,
    Authenticated,
    Selected,
    Logout,
}

/// What the server loop must do after sending the responses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    None,
    Close,
    /// AUTHENTICATE sent `+`: read one line (the SASL response) for the command `tag`.
    ReadSasl {
        tag: String,
    },
    /// IDLE (RFC 2177): poll the folder until the client sends DONE.
    Idle {
        tag: String,
    },
    /// The tagged OK to STARTTLS went out: run the handshake, then call
    /// [`Session::tls_started`].
    StartTls,
}

/// What one step of the session produced.
#[derive(Debug)]
pub struct Output {
    pub responses: Vec<Response>,
    pub effect: Effect,
    /// Wait this long before answering (a throttled login).
    pub delay: Duration,
    /// Lines for the transcript that are not protocol (who logged in).
    pub notes: Vec<String>,
}

impl Output {
    pub fn only(response: Response) -> Output {
        Output::new(vec![response])
    }

    fn new(responses: Vec<Response>) -> Output {
        Output {
            responses,
            effect: Effect::None,
            delay: Duration::ZERO,
            notes: Vec::new(),
        }
    }
}

/// A login outcome the throttle must hear about, with the account name tried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginEvent {
    Failed(String),
    Succeeded(String),
}

pub struct Session {
    pub state: State,
    pub(super) config: Arc<Config>,
    pub(super) directory: Arc<Directory>,
    pub(super) mail_root: PathBuf,
    peer: IpAddr,
    pub account: Option<String>,
    pub(super) folders: Option<Folders>,
    pub(super) selected: Option<Selected>,
    /// Set by a login attempt; the server loop passes it to the shared throttle.
    pub login_event: Option<LoginEvent>,
    /// The delay the throttle asks for before answering a login (set by the server loop).
    pub login_delay: Duration,
    /// The command being answered may not report expunges (FETCH, STORE, SEARCH: §7.4.1).
    pub(super) no_expunge_now: bool,
    /// What of CONDSTORE/QRESYNC this session turned on (RFC 7162, `condstore.rs`).
    pub(super) tracking: super::condstore_args::Tracking,
    /// What SORT and THREAD read from each message, kept for the session (`sort.rs`).
    pub(super) sort_cache: super::sort::FactsCache,
    /// A certificate is loaded, so STARTTLS can be offered.
    tls_available: bool,
    /// The connection is encrypted (after STARTTLS, or on the IMAPS port).
    tls: bool,
    /// `ENABLE UTF8=ACCEPT` was given: folder names travel in UTF-8 (`utf8.rs`).
    pub(super) utf8: bool,
    /// `ENABLE IMAP4rev2` was accepted: RFC 9051's rules (`rev2.rs`).
    pub(super) rev2: bool,
}

/// RFC 3501 §6: which commands each state allows.
fn allowed(state: State, command: &Command) -> bool {
    use Command::*;
    match command {
        Capability | Noop | Logout | Id => true,
        Login { .. } | Authenticate { .. } | StartTls => state == State::NotAuthenticated,
        Select(_)
        | Examine(_)
        | SelectWith { .. }
        | Create(_)
        | CreateSpecialUse { .. }
        | Delete(_)
        | Rename(..)
        | Subscribe(_)
        | Unsubscribe(_)
        | List { .. }
        | ListExtended { .. }
        | Lsub { .. }
        | Status(..)
        | Append { .. }
        | MultiAppend { .. }
        | Namespace
        | Enable(_)
        | GetQuota(_)
        | GetQuotaRoot(_)
        | SetQuota(_)
        | Idle => matches!(state, State::Authenticated | State::Selected),
        Check
        | Close
        | Unselect
        | Expunge
        | UidExpunge(_)
        | Search { .. }
        | SearchBadCharset { .. }
        | Sort { .. }
        | Thread { .. }
        | Fetch { .. }
        | Store { .. }
        | Copy { .. }
        | Move { .. } => state == State::Selected,
    }
}

/// The news of a sync, or, if the folder could not be read, an untagged `NO` (RFC 3501
/// §7.1.2: a warning) so the client knows its view may be out of date.
fn updates_or_warning(sync: std::io::Result<Vec<Response>>) -> Vec<Response> {
    sync.unwrap_or_else(|e| {
        vec![Response::status(
            "*",
            r::Status::No,
            Some("SERVERBUG"),
            &format!("Cannot read the folder now: {e}"),
        )]
    })
}

fn state_name(state: State) -> &'static str {
    match state {
        State::NotAuthenticated => "Not Authenticated state: log in first",
        State::Authenticated => "Authenticated state: SELECT a folder first",
        State::Selected => "Selected state: already logged in",
        State::Logout => "Logout state",
    }
}

impl Session {
    pub fn new(
        config: Arc<Config>,
        directory: Arc<Directory>,
        mail_root: PathBuf,
        peer: IpAddr,
    ) -> Session {
        Session {
            state: State::NotAuthenticated,
            config,
            directory,
            mail_root,
            peer,
            account: None,
            folders: None,
            selected: None,
            login_event: None,
            login_delay: Duration::ZERO,
            no_expunge_now: false,
            utf8: false,
            rev2: false,
            tracking: Default::default(),
            sort_cache: Default::default(),
            tls_available: false,
            tls: false,
        }
    }

    /// Offers STARTTLS (a certificate is loaded).
    pub fn with_starttls(mut self) -> Session {
        self.tls_available = true;
        self
    }

    /// The connection is encrypted from the start (IMAPS, RFC 8314 §3.3).
    pub fn with_implicit_tls(mut self) -> Session {
        self.tls = true;
        self
    }

    /// The handshake after STARTTLS succeeded: RFC 3501 §6.2.1, the client must ask for the
    /// capabilities again; nothing learnt before TLS is kept (we had learnt nothing: login is
    /// not possible before it in this state).
    pub fn tls_started(&mut self) {
        self.tls = true;
    }

    /// May a password be sent as it is here? Over TLS, or on loopback (`login.rs`).
    fn plaintext_allowed(&self) -> bool {
        login::plaintext_allowed(self.peer, self.tls)
    }

    pub fn capabilities(&self) -> String {
        let mut caps = self.with_rev2(r::capabilities(
            self.state == State::NotAuthenticated,
            self.plaintext_allowed(),
        ));
        if self.state == State::NotAuthenticated && self.tls_available && !self.tls {
            caps.push_str(" STARTTLS");
        }
        caps
    }

    pub fn greeting(&self) -> Output {
        Output::new(vec![r::greeting(&self.capabilities())])
    }

    /// The client was silent for `imap_idle_timeout` (RFC 3501 §5.4: at least 30 minutes).
    pub fn timeout(&mut self) -> Output {
        self.cut_off(None)
    }

    /// A clock of the connection ended the session (`src/pace.rs`): `* BYE` says which.
    pub fn cut_off(&mut self, cut: Option<&Cut>) -> Output {
        self.state = State::Logout;
        let text = match cut {
            None | Some(Cut::Silent(_)) => r::BYE_IDLE,
            Some(Cut::MadeRoom) => r::BYE_MADE_ROOM,
            Some(
                Cut::SlowLine(_) | Cut::Late(_) | Cut::SlowTransfer { .. } | Cut::NotReading(_),
            ) => r::BYE_SLOW,
        };
        let mut out = Output::new(vec![r::bye(text)]);
        out.effect = Effect::Close;
        out
    }

    /// One parsed (or unparsable) command.
    pub fn handle(&mut self, input: Result<Tagged, CommandError>) -> Output {
        let Tagged { tag, command } = match input {
            Ok(tagged) => tagged,
            Err(CommandError::NoTag) => {
                return Output::new(vec![Response::status(
                    "*",
                    r::Status::Bad,
                    Some("CLIENTBUG"),
                    "Every command starts with a tag, e.g.: a1 CAPABILITY",
                )])
            }
            Err(CommandError::Unknown { tag, name }) => {
                return Output::new(vec![Response::bad(
                    &tag,
                    &format!("Unknown command {name}"),
                )
                .hint(Hint::ImapCapability)])
            }
            Err(CommandError::Syntax { tag, message }) => {
                return Output::new(vec![Response::bad(&tag, &message)])
            }
        };
        if !allowed(self.state, &command) {
            return Output::new(vec![Response::bad(
                &tag,
                &format!("Not allowed in the {}", state_name(self.state)),
            )]);
        }
        let command = if self.utf8 {
            match utf8::names_to_stored(command) {
                Ok(command) => command,
                Err(why) => return Output::new(vec![Response::bad(&tag, why)]),
            }
        } else {
            command
        };
        if let Some(why) = self.rev2_refusal(&command) {
            return Output::new(vec![Response::bad(&tag, why)]);
        }
        let mut out = self.dispatch(&tag, command);
        // Before the tagged reply, tell the client what changed in its folder (RFC 3501 §5.2).
        // Not during IDLE's start or a command that ends the session.
        if out.effect == Effect::None {
            if let Some(updates) = self.updates_before_tag(&out) {
                let at = out.responses.len().saturating_sub(1);
                out.responses.splice(at..at, updates);
            }
        }
        out
    }

    /// The untagged updates to insert before the tagged reply of `out`, if a folder is selected.
    fn updates_before_tag(&mut self, out: &Output) -> Option<Vec<Response>> {
        let selected = self.selected.as_mut()?;
        let last = out.responses.last()?;
        if !last.is_tagged() {
            return None;
        }
        // FETCH, STORE and SEARCH mark their response with `no_expunge` (see `dispatch`).
        Some(updates_or_warning(selected.sync(!self.no_expunge_now)))
    }

    /// Called during IDLE about once a second: what changed since the last look.
    pub fn poll(&mut self) -> Vec<Response> {
        match self.selected.as_mut() {
            Some(selected) => updates_or_warning(selected.sync(true)),
            None => Vec::new(),
        }
    }

    /// The client ended IDLE with DONE (RFC 2177 §3).
    pub fn idle_done(&mut self, tag: &str, line: &[u8]) -> Output {
        if line.eq_ignore_ascii_case(b"DONE") {
            Output::new(vec![Response::ok(tag, "IDLE terminated")])
        } else {
            Output::new(vec![Response::bad(tag, "Expected DONE to end IDLE")])
        }
    }

    fn dispatch(&mut self, tag: &str, command: Command) -> Output {
        self.no_expunge_now = false;
        let responses = match command {
            Command::Capability => vec![
                Response::data(format!("CAPABILITY {}", self.capabilities())),
                Response::ok(tag, "CAPABILITY completed"),
            ],
            Command::Noop => vec![Response::ok(tag, "NOOP completed")],
            Command::StartTls if self.tls => vec![Response::bad(tag, "TLS is already active")],
            Command::StartTls if !self.tls_available => vec![Response::no(
                tag,
                "UNAVAILABLE",
                "TLS is not available: the server has no certificate",
            )],
            Command::StartTls => {
                let mut out = Output::new(vec![Response::ok(tag, "Begin TLS negotiation now")]);
                out.effect = Effect::StartTls;
                return out;
            }
            // §6.4.1: every change is already on disk (Maildir renames), so nothing to do.
            Command::Check => vec![Response::ok(tag, "CHECK completed")],
            Command::Logout => {
                self.state = State::Logout;
                let mut out = Output::new(vec![
                    r::bye(r::BYE_LOGOUT),
                    Response::ok(tag, "LOGOUT completed"),
                ]);
                out.effect = Effect::Close;
                return out;
            }
            Command::Id => vec![
                Response::data("ID (\"name\" \"postlab\")"),
                Response::ok(tag, "ID completed"),
            ],
            Command::Login { user, password } => return self.login(tag, &user, &password),
            Command::Authenticate { mechanism, initial } => {
                return self.authenticate(tag, &mechanism, initial)
            }
            Command::Namespace => vec![
                // RFC 2342 §5: one personal namespace, no prefix, "." between levels.
                Response::data("NAMESPACE ((\"\" \".\")) NIL NIL"),
                Response::ok(tag, "NAMESPACE completed"),
            ],
            Command::Enable(names) => self.enable(tag, &names),
            Command::Idle => {
                let mut out = Output::new(vec![Response::Continue("idling".into())]);
                out.effect = Effect::Idle {
                    tag: tag.to_string(),
                };
                return out;
            }
            Command::GetQuota(_) | Command::GetQuotaRoot(_) | Command::SetQuota(_) => {
                self.quota_command(tag, command)
            }
            other => self.folder_command(tag, other),
        };
        Output::new(responses)
    }

    /// RFC 5161 ENABLE: switches on the extensions named that postlab has and that change
    /// how the server talks; the others are simply not listed in `* ENABLED` (§3.2).
    fn enable(&mut self, tag: &str, names: &[String]) -> Vec<Response> {
        let mut enabled: Vec<&str> = Vec::new();
        let tracking_before = self.tracking;
        for name in names {
            if let Some(listed) = self.enable_tracking(name, tracking_before) {
                if listed && !enabled.contains(&name.as_str()) {
                    enabled.push(name.as_str());
                }
                continue;
            }
            // RFC 6855 §3: valid only in the authenticated state, i.e. before a SELECT.
            if name == "UTF8=ACCEPT" && self.state == State::Authenticated {
                self.utf8 = true;
                if !enabled.contains(&"UTF8=ACCEPT") {
                    enabled.push("UTF8=ACCEPT");
                }
            }
            // RFC 9051 §6.3.1: only when IMAP4rev2 is advertised; else ignored (`rev2.rs`).
            let rev2 = name == "IMAP4REV2" && self.state == State::Authenticated;
            if rev2 && self.enable_rev2() && !enabled.contains(&"IMAP4rev2") {
                enabled.push("IMAP4rev2");
            }
        }
        let line = if enabled.is_empty() {
            "ENABLED".to_string()
        } else {
            format!("ENABLED {}", enabled.join(" "))
        };
        vec![Response::data(line), Response::ok(tag, "ENABLE completed")]
    }

    /// A stored folder name as this client reads it: UTF-8 after `ENABLE UTF8=ACCEPT`,
    /// else the stored modified UTF-7 as it is.
    pub(super) fn wire_name(&self, stored: &str) -> String {
        if self.utf8 {
            utf8::to_wire(stored)
        } else {
            stored.to_string()
        }
    }

    /// RFC 3501 §6.2.3 LOGIN.
    fn login(&mut self, tag: &str, user: &str, password: &str) -> Output {
        if !self.plaintext_allowed() {
            // RFC 5530 §3 PRIVACYREQUIRED: the operation needs an encrypted connection.
            return Output::new(vec![r::privacy_required(tag)]);
        }
        let mut out = self.check_credentials(tag, user, password);
        out.delay = self.login_delay;
        out
    }

    /// RFC 3501 §6.2.2 AUTHENTICATE, with the PLAIN mechanism (RFC 4616) only.
    fn authenticate(&mut self, tag: &str, mechanism: &str, initial: Option<String>) -> Output {
        if mechanism != "PLAIN" {
            return Output::new(vec![Response::no(
                tag,
                "CANNOT",
                "Only AUTHENTICATE PLAIN is offered",
            )]);
        }
        if !self.plaintext_allowed() {
            return Output::new(vec![r::privacy_required(tag)]);
        }
        match initial {
            Some(response) => self.sasl_response(tag, response.as_bytes()),
            None => {
                // An empty challenge: "+ " and the client sends its response (RFC 4616 §2).
                let mut out = Output::new(vec![Response::Continue(String::new())]);
                out.effect = Effect::ReadSasl {
                    tag: tag.to_string(),
                };
                out
            }
        }
    }

    /// The client's SASL PLAIN response: base64 of `authzid NUL authcid NUL passwd`.
    pub fn sasl_response(&mut self, tag: &str, line: &[u8]) -> Output {
        if line == b"*" {
            return Output::new(vec![Response::status(
                tag,
                r::Status::Bad,
                None,
                "AUTHENTICATE cancelled",
            )]);
        }
        let fields = super::auth::decode_plain(line);
        let mut out = match fields {
            Some((authzid, user, password)) if authzid.is_empty() || authzid == user => {
                self.check_credentials(tag, &user, &password)
            }
            _ => Output::new(vec![Response::status(
                tag,
                r::Status::Bad,
                Some("CLIENTBUG"),
                "Expected base64 of: NUL user NUL password",
            )]),
        };
        out.delay = self.login_delay;
        out
    }

    fn check_credentials(&mut self, tag: &str, user: &str, password: &str) -> Output {
        let Some(account) = login::check_password(&self.directory, user, password) else {
            self.login_event = Some(LoginEvent::Failed(user.to_string()));
            return Output::new(vec![r::authentication_failed(tag)]);
        };
        let root = crate::mda::maildir_path(&self.mail_root, &account);
        let folders = match Folders::open(&root) {
            Ok(folders) => folders,
            Err(e) => {
                return Output::new(vec![Response::no(
                    tag,
                    "UNAVAILABLE",
                    &format!("Cannot open the mailbox: {e}"),
                )])
            }
        };
        self.login_event = Some(LoginEvent::Succeeded(account.clone()));
        self.state = State::Authenticated;
        self.folders = Some(folders);
        let mut out = Output::new(vec![Response::status(
            tag,
            r::Status::Ok,
            Some(&format!("CAPABILITY {}", self.capabilities())),
            &format!("Logged in as {account}"),
        )]);
        out.notes.push(format!("logged in as {account}"));
        self.account = Some(account);
        out
    }
}
