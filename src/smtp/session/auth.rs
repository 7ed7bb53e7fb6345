//! AUTH (RFC 4954) and who may send what: the login exchange, relay permission, and the rule
//! that a logged-in client's envelope sender must be its account's own address (any port).

use super::{Effect, Mode, Output, Session, State};
use crate::accounts::login;
use crate::accounts::sasl;
use crate::address::ReversePath;
use crate::hints::Hint;
use crate::mta::route::{Route, Router};
use crate::smtp::reply;

impl Session {
    /// AUTH (RFC 4954 §4): only after EHLO, once, outside a transaction.
    pub(super) fn auth(&mut self, mechanism: &str, initial: Option<&str>) -> Output {
        if !self.esmtp {
            return Output::reply(reply::bad_sequence(
                "AUTH needs EHLO first",
                Hint::EhloThenAuth,
            ));
        }
        if self.user.is_some() {
            return Output::reply(reply::bad_sequence("already authenticated", Hint::OneAuth));
        }
        if matches!(self.state, State::Mail(_)) {
            return Output::reply(reply::bad_sequence(
                "AUTH is not allowed during a mail transaction",
                Hint::RsetFirst,
            ));
        }
        if !login::plaintext_allowed(self.peer.ip(), self.tls.is_some()) {
            return Output::reply(reply::encryption_required());
        }
        self.sasl_step(sasl::start(mechanism, initial))
    }

    /// The client's answer to a 334 challenge.
    pub fn auth_line(&mut self, line: &str) -> Output {
        let Some(exchange) = self.sasl.take() else {
            return Output::reply(reply::local_error());
        };
        let output = self.sasl_step(sasl::respond(exchange, line));
        self.count_errors(output)
    }

    fn sasl_step(&mut self, step: sasl::Step) -> Output {
        match step {
            sasl::Step::Challenge(challenge, exchange) => {
                self.sasl = Some(exchange);
                Output::reply(reply::auth_challenge(challenge))
            }
            sasl::Step::Credentials(credentials) => Output {
                replies: Vec::new(),
                events: Vec::new(),
                effect: Effect::Authenticate(credentials),
            },
            sasl::Step::Failed(sasl::Failure::Cancelled) => Output::reply(reply::auth_cancelled()),
            sasl::Step::Failed(sasl::Failure::Malformed) => Output::reply(reply::auth_malformed()),
            sasl::Step::Failed(sasl::Failure::UnknownMechanism) => {
                Output::reply(reply::auth_unknown_mechanism())
            }
        }
    }

    /// The server loop checked the credentials: `Some(account)` if they were right.
    pub fn authenticated(&mut self, account: Option<String>) -> Output {
        match account {
            Some(account) => {
                self.user = Some(account);
                Output::reply(reply::auth_ok())
            }
            None => self.count_errors(Output::reply(reply::auth_failed())),
        }
    }

    /// May this client send to other domains? Logged in, or from a trusted network.
    pub(super) fn may_relay(&self) -> bool {
        self.user.is_some()
            || (self.mode == Mode::Relay && self.config.is_trusted_network(self.peer.ip()))
    }

    /// RFC 6409 §6.1, applied on every port once a client has logged in: the envelope sender
    /// must be the logged-in account's own address (or an alias that leads to it alone) in a
    /// local domain.
    pub(super) fn owns_sender(&self, from: &ReversePath) -> bool {
        let (Some(user), ReversePath::Mailbox(address)) = (&self.user, from) else {
            return false;
        };
        if address.is_bare_postmaster() || !self.config.is_local_domain(&address.domain) {
            return false;
        }
        let router = Router {
            config: &self.config,
            directory: &self.directory,
            may_relay: false,
        };
        matches!(router.route(address), Route::Local(accounts) if accounts == [user.clone()])
    }
}
