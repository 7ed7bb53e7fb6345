//! `DIR/aliases`: other names for accounts, in the `aliases(5)` style.
//!
//! ```text
//! # alias: target, target
//! postmaster: alice
//! staff: alice, bob
//! webmaster: bob@localhost
//! ```
//!
//! A target is an account name, another alias, or a full address (which the router resolves
//! again, so it may point to another domain). RFC 5321 §4.5.1 requires every server to accept
//! mail for `postmaster`; the default file maps it to the first account.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

/// Alias name (lower case) → its targets, as written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Aliases {
    map: BTreeMap<String, Vec<String>>,
}

impl Aliases {
    pub fn load(path: &Path) -> io::Result<Aliases> {
        match std::fs::read_to_string(path) {
            Ok(text) => Aliases::parse(&text).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: {e}", path.display()),
                )
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Aliases::default()),
            Err(e) => Err(e),
        }
    }

    pub fn parse(text: &str) -> Result<Aliases, String> {
        let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut last: Option<String> = None;
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            // A line starting with white space continues the previous alias's target list.
            let (name, targets) = match (line.starts_with([' ', '\t']), &last) {
                (true, Some(name)) => (name.clone(), line),
                _ => {
                    let (name, targets) = line.split_once(':').ok_or_else(|| {
                        format!("line {}: expected 'alias: target, target'", index + 1)
                    })?;
                    (name.trim().to_ascii_lowercase(), targets)
                }
            };
            if name.is_empty() || name.contains(char::is_whitespace) {
                return Err(format!(
                    "line {}: the alias name is missing or has spaces",
                    index + 1
                ));
            }
            let entry = map.entry(name.clone()).or_default();
            entry.extend(
                targets
                    .split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_string),
            );
            last = Some(name);
        }
        Ok(Aliases { map })
    }

    pub fn get(&self, name: &str) -> Option<&[String]> {
        self.map.get(&name.to_ascii_lowercase()).map(Vec::as_slice)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Vec<String>)> {
        self.map.iter()
    }
}

/// An alias name, as `postlab alias add` will write it: a local part in the Dot-string form
/// (RFC 5321 §4.1.2: atoms of RFC 5322 `atext`, UTF-8 allowed by RFC 6531), at most 64 octets.
/// That keeps out everything the file's syntax gives a meaning to — `:` and `,` (separators),
/// white space and line breaks (a new line or a continuation, so `bob\nbob: evil@x` would add a
/// line), a leading `#` (a comment) — and `@`, which would make it an address.
pub fn check_name(name: &str) -> Result<(), String> {
    let atext = |c: char| {
        c.is_ascii_alphanumeric()
            || "!#$%&'*+-/=?^_`{|}~".contains(c)
            || (!c.is_ascii() && !c.is_control() && !c.is_whitespace())
    };
    let ok = !name.is_empty()
        && name.len() <= crate::address::MAX_LOCAL_PART
        && !name.starts_with('#')
        && name
            .split('.')
            .all(|atom| !atom.is_empty() && atom.chars().all(atext));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} cannot be an alias name: use a local part (letters, digits, . - _ + and the like; no spaces, ':', ',', '@', control characters; not starting with '#' or '.')"
        ))
    }
}

/// A target, as `postlab alias add` will write it: a name (account or alias, the same rule as
/// [`check_name`]) or an address that SMTP allows (`parse_mailbox`), without a `,` (the file's
/// separator, which a quoted local part could hold).
pub fn check_target(target: &str) -> Result<(), String> {
    if target.contains(',') {
        return Err(format!(
            "{target:?} cannot be a target: ',' separates targets"
        ));
    }
    if !target.contains('@') {
        return check_name(target).map_err(|_| {
            format!("{target:?} cannot be a target: not an account or alias name, nor an address")
        });
    }
    crate::address::parse_mailbox(target, true)
        .map(|_| ())
        .map_err(|e| format!("{target:?} cannot be a target: not a valid address ({e:?})"))
}

/// The aliases file written on first start.
pub fn default_file_text(first_account: Option<&str>) -> String {
    let target = first_account.unwrap_or("root");
    format!(
        "# postlab aliases: `alias: target, target`. A target is an account, another alias or an address.\n\
         # RFC 5321 section 4.5.1: every mail server must accept mail for postmaster.\n\
         postmaster: {target}\n\
         abuse: postmaster\n\
         mailer-daemon: postmaster\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists_and_continuations() {
        let aliases =
            Aliases::parse("# x\nStaff: alice, bob\n  carol\npostmaster: alice\n").unwrap();
        assert_eq!(aliases.get("staff").unwrap(), ["alice", "bob", "carol"]);
        assert_eq!(aliases.get("POSTMASTER").unwrap(), ["alice"]);
        assert!(Aliases::parse("no colon here\n").is_err());
    }

    #[test]
    fn names_and_targets_that_would_change_the_file_are_refused() {
        for bad in [
            "", "bob\nbob", "a\tb", "a b", "a:b", "a,b", "a@b", "#x", ".a", "a..b", "a\r",
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        for good in ["staff", "list+admin", "first.last", "jos\u{e9}"] {
            assert!(check_name(good).is_ok(), "{good:?}");
        }
        for bad in [
            "bob\nbob: evil@attacker.test",
            "a,b",
            "\"a,b\"@x.test",
            "x@",
            "a b@x.test",
        ] {
            assert!(check_target(bad).is_err(), "{bad:?}");
        }
        for good in ["bob", "bob@b.test", "\"x> y\"@b.test", "v@[192.0.2.1]"] {
            assert!(check_target(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn default_file_resolves_postmaster() {
        let aliases = Aliases::parse(&default_file_text(Some("alice"))).unwrap();
        assert_eq!(aliases.get("postmaster").unwrap(), ["alice"]);
    }
}
