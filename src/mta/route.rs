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
//! ```
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
    /// The aliases point at each other, or nest deeper than [`MAX_ALIAS_DEPTH`] (550 5.4.6).
    AliasLoop,
    /// An alias forwards to another domain, which needs the outbound MTA (not built yet).
    RemoteAlias(Address),
}

/// How deep aliases may nest before the router calls it a loop.
pub const MAX_ALIAS_DEPTH: usize = 10;

/// Routes recipients for one client.
pub struct Router<'a> {
    pub config: &'a Config,
    pub directory: &'a Directory,
    /// May this client send to other domains (authenticated, or from a trusted network)?
    pub may_relay: bool,
}

impl Router<'_> {
    pub fn route(&self, rcpt: &Address) -> Route {
        let local = rcpt.is_bare_postmaster()
            || (!rcpt.is_address_literal() && self.config.is_local_domain(&rcpt.domain));
        if !local {
            return if self.may_relay {
                Route::Remote(rcpt.clone())
            } else {
                Route::Reject(Rejection::RelayDenied)
            };
        }
        let mut accounts = Vec::new();
        match self.expand(&rcpt.local_part, 0, &mut Vec::new(), &mut accounts) {
            Ok(()) if accounts.is_empty() => Route::Reject(Rejection::UnknownUser),
            Ok(()) => Route::Local(accounts),
            Err(rejection) => Route::Reject(rejection),
        }
    }

    /// Resolves a local part to accounts, following aliases. `seen` holds the aliases on the
    /// current path, so `a: b` / `b: a` is caught as a loop.
    fn expand(
        &self,
        local_part: &str,
        depth: usize,
        seen: &mut Vec<String>,
        out: &mut Vec<String>,
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
                if seen.contains(&candidate) {
                    return Err(Rejection::AliasLoop);
                }
                seen.push(candidate);
                for target in targets {
                    self.expand_target(target, depth + 1, seen, out)?;
                }
                seen.pop();
                return Ok(());
            }
            if self.directory.users.contains(&candidate) {
                if !out.contains(&candidate) {
                    out.push(candidate);
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
        seen: &mut Vec<String>,
        out: &mut Vec<String>,
    ) -> Result<(), Rejection> {
        match target.rsplit_once('@') {
            Some((local, domain)) if self.config.is_local_domain(domain) => {
                self.expand(local, depth, seen, out)
            }
            Some((local, domain)) => Err(Rejection::RemoteAlias(Address {
                local_part: local.to_string(),
                domain: domain.to_string(),
            })),
            None => self.expand(target, depth, seen, out),
        }
    }
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
        let (config, directory) = setup("postmaster: alice\nstaff: alice, bob\nloop1: loop2\nloop2: loop1\nfwd: carol@elsewhere.example\nteam: staff, bob@example.org\n");
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
                Route::Reject(Rejection::RemoteAlias(addr("carol@elsewhere.example"))),
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
}
