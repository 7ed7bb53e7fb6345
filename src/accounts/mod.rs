//! Who receives mail here: accounts (`DIR/users`), their passwords, and aliases (`DIR/aliases`).
//!
//! The files are plain text an administrator can read and edit, in the formats the field already
//! uses: Dovecot's passwd-file for users, the `aliases(5)` style for aliases. The server reads
//! them when they change on disk (checked when a client connects), so `postlab user add` takes
//! effect without a restart.

pub mod aliases;
pub mod extra;
pub mod login;
pub mod password;
pub mod sasl;
pub mod users;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

pub use aliases::Aliases;
pub use users::Users;

/// A snapshot of users and aliases, as the router sees them.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    pub users: Users,
    pub aliases: Aliases,
}

/// Keeps the [`Directory`] in step with the files on disk.
///
/// Each connection asks for [`Accounts::current`]; when either file's modification time has
/// changed since the last read, both are read again. A file that fails to parse keeps the old
/// snapshot and logs the error, so a typo never takes the server down.
pub struct Accounts {
    users_path: PathBuf,
    aliases_path: PathBuf,
    state: Mutex<(Option<SystemTime>, Option<SystemTime>, Arc<Directory>)>,
}

impl Accounts {
    pub fn open(users_path: PathBuf, aliases_path: PathBuf) -> std::io::Result<Accounts> {
        let accounts = Accounts {
            users_path,
            aliases_path,
            state: Mutex::new((None, None, Arc::new(Directory::default()))),
        };
        let directory = accounts.read()?;
        let stamps = accounts.stamps();
        *accounts.state.lock().unwrap_or_else(|e| e.into_inner()) =
            (stamps.0, stamps.1, Arc::new(directory));
        Ok(accounts)
    }

    fn stamps(&self) -> (Option<SystemTime>, Option<SystemTime>) {
        let mtime = |p: &PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        (mtime(&self.users_path), mtime(&self.aliases_path))
    }

    fn read(&self) -> std::io::Result<Directory> {
        Ok(Directory {
            users: Users::load(&self.users_path)?,
            aliases: Aliases::load(&self.aliases_path)?,
        })
    }

    /// Reads both files again at once, whatever their times say (SIGHUP, `src/daemon.rs`).
    pub fn reload(&self) {
        {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            state.0 = None;
            state.1 = None;
        }
        self.current();
    }

    /// The directory as the files say now.
    pub fn current(&self) -> Arc<Directory> {
        let stamps = self.stamps();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if (state.0, state.1) != stamps {
            match self.read() {
                Ok(directory) => {
                    log::info!(
                        "accounts: read {} and {} again",
                        self.users_path.display(),
                        self.aliases_path.display()
                    );
                    *state = (stamps.0, stamps.1, Arc::new(directory));
                }
                Err(e) => {
                    log::error!("accounts: keeping the previous users and aliases: {e}");
                    // Remember the stamps so the error is logged once per change, not per client.
                    state.0 = stamps.0;
                    state.1 = stamps.1;
                }
            }
        }
        state.2.clone()
    }
}
