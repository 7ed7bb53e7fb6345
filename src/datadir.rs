//! The data directory (`--data DIR`, default `./var` or `$POSTLAB_DATA`): everything postlab
//! keeps lives under it, laid out as DESIGN.md fixes.
//!
//! ```text
//! DIR/postlab.conf      settings (written with defaults on first start)
//! DIR/users             accounts, Dovecot passwd-file style
//! DIR/aliases           alias: target, target
//! DIR/queue/            the outbound spool
//! DIR/mail/NAME/        each account's Maildir
//! DIR/transcripts/      one file per session
//! DIR/run/listeners     the addresses the running server listens on (for tests and tools)
//! DIR/run/postlab.pid   the running server's process id
//! ```

use std::io;
use std::path::{Path, PathBuf};

/// The modes of every file (0600) and folder (0700) postlab creates under the data directory,
/// kept beside the code that writes files safely (`mailbox/durable.rs`).
pub use crate::mailbox::durable::{DIR_MODE, FILE_MODE};

/// Sets the process's umask to 077, so that whatever creates a file (our code, a library, a
/// child process) makes it 0600 / 0700 at most. `main` calls it before anything else; the
/// explicit modes in [`FILE_MODE`] and [`DIR_MODE`] say the same where files are created, for
/// code that runs without `main` (tests, other programs using the library).
pub fn restrict_umask() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

use crate::accounts::{aliases, password, users::User, Users};
use crate::config;
use crate::mailbox::{durable, Maildir};

#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

/// What a first start created, for the banner.
#[derive(Debug, Default)]
pub struct Created {
    pub config: bool,
    /// Demo accounts made because no users file existed: (name, password), shown once.
    pub demo_accounts: Vec<(String, String)>,
}

impl DataDir {
    pub fn new(root: impl Into<PathBuf>) -> DataDir {
        DataDir { root: root.into() }
    }

    /// `--data DIR`, else `$POSTLAB_DATA`, else `./var`.
    pub fn from_option(option: Option<String>) -> DataDir {
        let root = option
            .or_else(|| std::env::var("POSTLAB_DATA").ok().filter(|v| !v.is_empty()))
            .unwrap_or_else(|| "var".to_string());
        DataDir::new(root)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn config(&self) -> PathBuf {
        self.root.join("postlab.conf")
    }
    pub fn users(&self) -> PathBuf {
        self.root.join("users")
    }
    pub fn aliases(&self) -> PathBuf {
        self.root.join("aliases")
    }
    pub fn mail(&self) -> PathBuf {
        self.root.join("mail")
    }
    pub fn transcripts(&self) -> PathBuf {
        self.root.join("transcripts")
    }
    /// DKIM keys per domain (`src/mailauth/keys.rs`).
    pub fn dkim(&self) -> PathBuf {
        self.root.join("dkim")
    }
    pub fn run(&self) -> PathBuf {
        self.root.join("run")
    }
    pub fn listeners(&self) -> PathBuf {
        self.run().join("listeners")
    }
    pub fn pid_file(&self) -> PathBuf {
        self.run().join("postlab.pid")
    }

    /// Prepares the directory for a server: creates what is missing, never overwrites.
    /// Demo accounts `alice` and `bob` are made only when there is no users file at all, so an
    /// administrator who deleted them does not see them come back.
    pub fn init(&self) -> io::Result<Created> {
        let mut created = Created::default();
        for dir in [
            self.root.clone(),
            self.mail(),
            self.transcripts(),
            self.run(),
            self.root.join("queue"),
        ] {
            durable::create_dir_all_durably(&dir)?;
        }
        if !self.config().exists() {
            durable::write_atomically(&self.config(), config::default_file_text().as_bytes())?;
            created.config = true;
        }
        if !self.users().exists() {
            let mut users = Users::default();
            for name in ["alice", "bob"] {
                let secret = password::generate();
                let hash = password::hash(&secret).map_err(io::Error::other)?;
                users.insert(User {
                    name: name.into(),
                    password: hash,
                    extra: String::new(),
                });
                Maildir::create(&self.mail().join(name))?;
                created.demo_accounts.push((name.to_string(), secret));
            }
            users.save(&self.users())?;
        }
        if !self.aliases().exists() {
            let first = Users::load(&self.users())?
                .iter()
                .next()
                .map(|u| u.name.clone());
            durable::write_atomically(
                &self.aliases(),
                aliases::default_file_text(first.as_deref()).as_bytes(),
            )?;
        }
        Ok(created)
    }
}
