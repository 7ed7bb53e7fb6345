//! Flowchart step 3: address processing. One recipient address in, one [`Route`] out.
//!
//! ```text
//!            RCPT TO:<bob+news@localhost>
//!                       │
//!           domain one of ours? ── no ──► may this client relay? ── no ──► Reject(RelayDenied)
//!                       │ yes                        │ yes
//!                       ▼                            ▼
//!     alias? account? (after dropping +news)     Remote(address) → queue, DNS, relay
//!          │ yes                │ no
//!          ▼                    ▼
//!     Local([bob])     Reject(UnknownUser)
//!     (or Forwarded: an alias that names addresses in other domains too)
//! ```
//!
//! Aliases are followed once each per recipient (memoised), at most [`MAX_ALIAS_DEPTH`] deep
//! and to at most [`MAX_ALIAS_RECIPIENTS`] recipients; past either, the recipient is refused
//! with a reply that says why. An alias that forwards to another domain is honoured whoever
//! the client is: the administrator, not the client, chose that destination.
//!
//! The router is pure: it reads the configuration and a snapshot of users and aliases, and
//! touches no file. Address literals (`user@[192.0.2.1]`) are never local here, so they are
//! relay attempts; a quoted local part (`"v@t.example"@ours`) never names an account, so the
//! classic open-relay tricks end as "unknown user" or "relay denied", never as a relay.

use crate::accounts::Directory;
use crate::address::Address;
use crate::config::Config;

/// Step 3's decision for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Deliver into these accounts' mailboxes (an alias may name several).
    Local(Vec<String>),
    /// Another domain's server must receive it (steps 4 and 5).
    Remote(Address),
    /// An alias of ours that leads to other domains too: local copies for `accounts`, and the
    /// outbound queue for `remote` (a forward, as `alias: someone@elsewhere.example`).
    Forwarded {
        accounts: Vec<String>,
        remote: Vec<Address>,
    },
    /// Refuse the recipient at RCPT.
    Reject(Rejection),
}

/// Why a recipient is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// A local domain, but no such account or alias (550 5.1.1).
    UnknownUser,
    /// Another domain, and this client may not relay (554 5.7.1).
    RelayDenied,
    /// Another domain, but not one `relay_to` lets this server send to (554 5.7.1): a class
    /// server sends to the class's domains only.
    OutsideRelayTo,
    /// The aliases point at each other, or nest deeper than [`MAX_ALIAS_DEPTH`] (550 5.4.6).
    AliasLoop,
    /// The aliases file is wrong for this name (550 5.3.5, RFC 3463 §3.4 "system incorrectly
    /// configured"): it expands to more than [`MAX_ALIAS_RECIPIENTS`], or names a target that
    /// is not an address.
    BadAlias(String),
}

/// How deep aliases may nest (alias → alias → …) before the router calls it a loop. Postfix
/// allows 1000 (`virtual_alias_recursion_limit`); a class's aliases file nests two or three
/// deep, and 100 keeps the recursion's stack small while leaving room for any real list.
pub const MAX_ALIAS_DEPTH: usize = 100;

/// How many recipients one address may expand to: Postfix's `expansion_recipient_limit` and
/// `virtual_alias_expansion_limit`, both 1000 by default.
pub const MAX_ALIAS_RECIPIENTS: usize = 1000;

/// Routes recipients for one client.
pub struct Router<'a> {
    pub config: &'a Config,
    pub directory: &'a Directory,
    /// May this client send to other domains (authenticated, or from a trusted network)?
    pub may_relay: bool,
}

/// What one address expands to, gathered during [`Router::route`].
#[derive(Default)]
struct Expansion {
    accounts: Vec<String>,
    remote: Vec<Address>,
    /// Aliases on the path being followed (a loop if one comes round again).
    on_path: Vec<String>,
    /// Aliases already expanded for this address: each is followed once, however many lists
    /// name it. Without this, `a: b, b` / `b: c, c` / … took 2^depth steps (issue 14: one RCPT
    /// took 4.9 s).
    done: std::collections::HashSet<String>,
}

impl Expansion {
    fn count(&self) -> usize {
        self.accounts.len() + self.remote.len()
    }
}

impl Router<'_> {
    pub fn route(&self, rcpt: &Address) -> Route {
        let local = rcpt.is_bare_postmaster()
            || (!rcpt.is_address_literal() && self.config.is_local_domain(&rcpt.domain));
        if !local {
            return if !self.may_relay {
                Route::Reject(Rejection::RelayDenied)
            } else if !self.config.may_relay_to(&rcpt.domain) {
                Route::Reject(Rejection::OutsideRelayTo)
            } else {
                Route::Remote(rcpt.clone())
            };
        }
        let mut found = Expansion::default();
        match self.expand(&rcpt.local_part, 0, &mut found) {
            Ok(()) if found.count() == 0 => Route::Reject(Rejection::UnknownUser),
            Ok(()) if found.remote.is_empty() => Route::Local(found.accounts),
            Ok(()) => Route::Forwarded {
                accounts: found.accounts,
                remote: found.remote,
            },
            Err(rejection) => Route::Reject(rejection),
        }
    }

    /// Resolves a local part to accounts and remote addresses, following aliases.
    fn expand(
        &self,
        local_part: &str,
        depth: usize,
        found: &mut Expansion,
    ) -> Result<(), Rejection> {
        if depth > MAX_ALIAS_DEPTH {
            return Err(Rejection::AliasLoop);
        }
        let name = local_part.to_ascii_lowercase();
        // Try the whole local part first, so an alias may be named `list+admin`; then without
        // the extension after the recipient delimiter (`bob+news` → `bob`).
        let mut candidates = vec![name.clone()];
        if let Some(base) = self
            .config
            .recipient_delimiter
            .and_then(|d| name.split_once(d))
            .map(|(b, _)| b)
        {
            if !base.is_empty() {
                candidates.push(base.to_string());
            }
        }
        for candidate in candidates {
            if let Some(targets) = self.directory.aliases.get(&candidate) {
                if found.on_path.contains(&candidate) {
                    return Err(Rejection::AliasLoop);
                }
                if found.done.contains(&candidate) {
                    return Ok(());
                }
                found.on_path.push(candidate.clone());
                for target in targets {
                    self.expand_target(target, depth + 1, found)?;
                }
                found.on_path.pop();
                found.done.insert(candidate);
                return Ok(());
            }
            if self.directory.users.contains(&candidate) {
                if !found.accounts.contains(&candidate) {
                    found.accounts.push(candidate);
                    check_size(found)?;
                }
                return Ok(());
            }
        }
        Ok(())
    }

    fn expand_target(
        &self,
        target: &str,
        depth: usize,
        found: &mut Expansion,
    ) -> Result<(), Rejection> {
        if !target.contains('@') {
            return self.expand(target, depth, found);
        }
        // As a Path, so the length limits of RFC 5321 §4.5.3.1 hold too: the address goes into
        // a queue file and a RCPT command.
        let address = crate::address::parse_path(&format!("<{target}>"), true).map_err(|_| {
            Rejection::BadAlias(format!(
                "the aliases file names {target:?}, which is not an address"
            ))
        })?;
        if !address.is_address_literal() && self.config.is_local_domain(&address.domain) {
            return self.expand(&address.local_part, depth, found);
        }
        if !found.remote.contains(&address) {
            found.remote.push(address);
            check_size(found)?;
        }
        Ok(())
    }
}

fn check_size(found: &Expansion) -> Result<(), Rejection> {
    if found.count() > MAX_ALIAS_RECIPIENTS {
        return Err(Rejection::BadAlias(format!(
            "the aliases expand to more than {MAX_ALIAS_RECIPIENTS} recipients"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::{Aliases, Users};

    fn setup(aliases: &str) -> (Config, Directory) {
        let mut config = Config::defaults();
        config.set("domains", "localhost, example.org").unwrap();
        let config = config.finish();
        let directory = Directory {
            users: Users::parse("alice:{PLAIN}a\nbob:{PLAIN}b\n").unwrap(),
            aliases: Aliases::parse(aliases).unwrap(),
        };
        (config, directory)
    }

    fn addr(text: &str) -> Address {
        crate::address::parse_path(&format!("<{text}>"), true).unwrap()
    }

    #[test]
    fn decides_each_kind_of_recipient() {
        let (config, directory) = setup("postmaster: alice\nstaff: alice, bob\nloop1: loop2\nloop2: loop1\nfwd: carol@elsewhere.example\nteam: staff, bob@example.org\nbad: x@-bad\nmix: bob, d@d.example, d@d.example\n");
        let router = Router {
            config: &config,
            directory: &directory,
            may_relay: false,
        };
        let cases = [
            ("bob@localhost", Route::Local(vec!["bob".into()])),
            ("BOB@LocalHost", Route::Local(vec!["bob".into()])),
            ("bob+news@example.org", Route::Local(vec!["bob".into()])),
            ("postmaster", Route::Local(vec!["alice".into()])),
            ("postmaster@localhost", Route::Local(vec!["alice".into()])),
            (
                "staff@localhost",
                Route::Local(vec!["alice".into(), "bob".into()]),
            ),
            (
                "team@localhost",
                Route::Local(vec!["alice".into(), "bob".into()]),
            ),
            ("nobody@localhost", Route::Reject(Rejection::UnknownUser)),
            ("\"bob\"@localhost", Route::Reject(Rejection::UnknownUser)),
            (
                "\"v@t.example\"@localhost",
                Route::Reject(Rejection::UnknownUser),
            ),
            (
                "v%t.example@localhost",
                Route::Reject(Rejection::UnknownUser),
            ),
            (
                "t.example!v@localhost",
                Route::Reject(Rejection::UnknownUser),
            ),
            ("loop1@localhost", Route::Reject(Rejection::AliasLoop)),
            (
                "fwd@localhost",
                Route::Forwarded {
                    accounts: vec![],
                    remote: vec![addr("carol@elsewhere.example")],
                },
            ),
            (
                "bad@localhost",
                Route::Reject(Rejection::BadAlias(
                    "the aliases file names \"x@-bad\", which is not an address".into(),
                )),
            ),
            (
                "mix@localhost",
                Route::Forwarded {
                    accounts: vec!["bob".into()],
                    remote: vec![addr("d@d.example")],
                },
            ),
            ("v@t.example", Route::Reject(Rejection::RelayDenied)),
            ("v@[127.0.0.1]", Route::Reject(Rejection::RelayDenied)),
        ];
        for (rcpt, want) in cases {
            assert_eq!(router.route(&addr(rcpt)), want, "{rcpt}");
        }
    }

    #[test]
    fn a_trusted_client_may_relay() {
        let (config, directory) = setup("");
        let router = Router {
            config: &config,
            directory: &directory,
            may_relay: true,
        };
        assert_eq!(
            router.route(&addr("v@t.example")),
            Route::Remote(addr("v@t.example"))
        );
    }

    /// A class server (`relay_to = class.test`) sends to the class's domains and nowhere
    /// else, not even for a client that may relay: no address literal, no real domain.
    #[test]
    fn relay_to_keeps_relaying_inside_the_class() {
        let (mut config, directory) = setup("");
        config.set("relay_to", "class.test").unwrap();
        let router = Router {
            config: &config,
            directory: &directory,
            may_relay: true,
        };
        let outside = Route::Reject(Rejection::OutsideRelayTo);
        let cases = [
            (
                "bob@bo.class.test",
                Route::Remote(addr("bob@bo.class.test")),
            ),
            (
                "bob@BO.Class.Test",
                Route::Remote(addr("bob@BO.Class.Test")),
            ),
            ("bob@class.test", Route::Remote(addr("bob@class.test"))),
            ("bob@notclass.test", outside.clone()),
            ("bob@gmail.com", outside.clone()),
            ("bob@[203.0.113.22]", outside.clone()),
            ("alice@example.org", Route::Local(vec!["alice".into()])),
        ];
        for (rcpt, want) in cases {
            assert_eq!(router.route(&addr(rcpt)), want, "{rcpt}");
        }
    }
}
