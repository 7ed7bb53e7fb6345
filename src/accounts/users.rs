//! `DIR/users`: one account per line, Dovecot passwd-file style.
//!
//! ```text
//! # name:{SCHEME}hash
//! alice:{ARGON2ID}$argon2id$v=19$m=19456,t=2,p=1$…
//! bob:{ARGON2ID}$argon2id$v=19$m=19456,t=2,p=1$…
//! ```
//!
//! Dovecot allows more colon-separated fields after the password (uid, gid, home, …); postlab
//! keeps whatever follows untouched when it rewrites the file. Names are stored in lower case;
//! a name is what a Maildir folder is called, so only `a-z 0-9 . _ -` are allowed, and it may
//! not start with a dot.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

/// One account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    /// `{SCHEME}hash` as stored.
    pub password: String,
    /// Fields after the password, kept as they were.
    pub extra: String,
}

/// All accounts, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Users {
    by_name: BTreeMap<String, User>,
}

impl Users {
    /// Reads the file; a missing file means no accounts.
    pub fn load(path: &Path) -> io::Result<Users> {
        match std::fs::read_to_string(path) {
            Ok(text) => Users::parse(&text).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: {e}", path.display()),
                )
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Users::default()),
            Err(e) => Err(e),
        }
    }

    pub fn parse(text: &str) -> Result<Users, String> {
        let mut users = Users::default();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut fields = line.splitn(3, ':');
            let name = fields.next().unwrap_or("").to_ascii_lowercase();
            let password = fields
                .next()
                .ok_or_else(|| format!("line {}: expected name:{{SCHEME}}hash", index + 1))?;
            if let Err(e) = check_name(&name) {
                return Err(format!("line {}: {e}", index + 1));
            }
            let extra = fields.next().unwrap_or("").to_string();
            users.by_name.insert(
                name.clone(),
                User {
                    name,
                    password: password.to_string(),
                    extra,
                },
            );
        }
        Ok(users)
    }

    pub fn get(&self, name: &str) -> Option<&User> {
        self.by_name.get(&name.to_ascii_lowercase())
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn iter(&self) -> impl Iterator<Item = &User> {
        self.by_name.values()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    pub fn insert(&mut self, user: User) {
        self.by_name.insert(user.name.clone(), user);
    }

    pub fn remove(&mut self, name: &str) -> Option<User> {
        self.by_name.remove(&name.to_ascii_lowercase())
    }

    /// The file text, one account per line, sorted by name.
    pub fn to_text(&self) -> String {
        let mut text = String::from("# postlab accounts: name:{SCHEME}hash (Dovecot passwd-file). Manage with `postlab user`.\n");
        for user in self.by_name.values() {
            text.push_str(&user.name);
            text.push(':');
            text.push_str(&user.password);
            if !user.extra.is_empty() {
                text.push(':');
                text.push_str(&user.extra);
            }
            text.push('\n');
        }
        text
    }

    /// Writes the file so that a reader sees the old or the new version, never half of one.
    pub fn save(&self, path: &Path) -> io::Result<()> {
        crate::mailbox::durable::write_atomically(path, self.to_text().as_bytes())
    }
}

/// An account name becomes a folder name under `DIR/mail/`, so it must be safe as one.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!("'{name}' is not a valid account name (use a-z, 0-9, '.', '_', '-'; not starting with '.')"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_write_round_trip() {
        let text = "# comment\nalice:{PLAIN}x\nBob:{ARGON2ID}$argon2id$abc:1000:1000::/home/bob\n";
        let users = Users::parse(text).unwrap();
        assert!(users.contains("ALICE"));
        assert_eq!(users.get("bob").unwrap().extra, "1000:1000::/home/bob");
        assert_eq!(Users::parse(&users.to_text()).unwrap(), users);
    }

    #[test]
    fn refuses_unsafe_names() {
        for name in ["", "../root", ".hidden", "a/b", "ali ce"] {
            assert!(check_name(name).is_err(), "{name}");
        }
        assert!(Users::parse("../x:{PLAIN}y\n").is_err());
        assert!(Users::parse("nopassword\n").is_err());
    }
}
