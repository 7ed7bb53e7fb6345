//! One Maildir: how a message is put into it safely.
//!
//! The delivery protocol (from the Maildir description by D. J. Bernstein, which Dovecot and
//! Postfix's `local/maildir.c` also follow):
//!
//! 1. create a file in `tmp/` under a name no other delivery can be using;
//! 2. write the message and `fsync` it;
//! 3. `rename` it into `new/` — the moment the message exists for readers;
//! 4. `fsync` `new/` so the rename itself is on disk before we report success.
//!
//! The unique name is `SECONDS.MmicrosPpidQcounter.HOST` (Dovecot's spelling of the classic
//! `time.pid.host`), and in `new/` it gains `,S=SIZE`, the file's size, so a reader knows it
//! without a `stat`. In the host part `/` and `:` are written `\057` and `\072`, as the Maildir
//! description asks, because `:` separates the flags in `cur/`.
//!
//! Delivery is split in two ([`Maildir::stage`], then [`Staged::commit`]) so that a message for
//! several recipients can be written and synced everywhere before it appears anywhere: if the
//! disk fills up on the third copy, the first two are dropped from `tmp/` and the client gets a
//! 452 to retry, with no recipient getting a duplicate later.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::durable;

static DELIVERIES: AtomicU64 = AtomicU64::new(0);

/// A Maildir on disk: a folder with `tmp/`, `new/` and `cur/`.
#[derive(Debug, Clone)]
pub struct Maildir {
    root: PathBuf,
}

/// A message written and synced in `tmp/`, not yet visible in `new/`.
#[derive(Debug)]
pub struct Staged {
    tmp: PathBuf,
    new: PathBuf,
    new_dir: PathBuf,
}

impl Maildir {
    /// Opens the Maildir at `root`, creating `tmp/`, `new/` and `cur/` (durably) if missing.
    pub fn create(root: &Path) -> io::Result<Maildir> {
        for sub in ["tmp", "new", "cur"] {
            durable::create_dir_all_durably(&root.join(sub))?;
        }
        Ok(Maildir {
            root: root.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Steps 1 and 2: writes `parts` (concatenated) into a new file in `tmp/` and syncs it.
    pub fn stage(&self, parts: &[&[u8]], hostname: &str) -> io::Result<Staged> {
        let base = unique_name(hostname);
        let tmp = self.root.join("tmp").join(&base);
        let size: usize = parts.iter().map(|p| p.len()).sum();
        // create_new: a leftover file of the same name is never overwritten.
        let written = (|| {
            let mut file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
            for part in parts {
                file.write_all(part)?;
            }
            file.sync_all()
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        let new_dir = self.root.join("new");
        let new = new_dir.join(format!("{base},S={size}"));
        Ok(Staged { tmp, new, new_dir })
    }

    /// Convenience: stage and commit one message.
    pub fn deliver(&self, parts: &[&[u8]], hostname: &str) -> io::Result<PathBuf> {
        self.stage(parts, hostname)?.commit()
    }
}

impl Staged {
    /// Steps 3 and 4: rename into `new/` and sync the directory. Returns the final path.
    pub fn commit(self) -> io::Result<PathBuf> {
        fs::rename(&self.tmp, &self.new)?;
        durable::sync_dir(&self.new_dir)?;
        Ok(self.new)
    }

    /// Gives up: removes the file from `tmp/`.
    pub fn abort(self) {
        let _ = fs::remove_file(&self.tmp);
    }
}

/// `SECONDS.MmicrosPpidQcounter.HOST`, unique per delivery on this host.
fn unique_name(hostname: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let counter = DELIVERIES.fetch_add(1, Ordering::Relaxed);
    let host = hostname.replace('/', "\\057").replace(':', "\\072");
    format!(
        "{}.M{}P{}Q{}.{}",
        now.as_secs(),
        now.subsec_micros(),
        std::process::id(),
        counter,
        host
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("postlab-maildir-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn delivery_lands_in_new_with_its_size() {
        let dir = temp_dir("deliver");
        let maildir = Maildir::create(&dir).unwrap();
        let path = maildir
            .deliver(&[b"Subject: hi\r\n", b"\r\nbody\r\n"], "mx.test")
            .unwrap();
        assert_eq!(path.parent().unwrap(), dir.join("new"));
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        assert!(name.ends_with(".mx.test,S=21"), "{name}");
        assert_eq!(fs::read(&path).unwrap(), b"Subject: hi\r\n\r\nbody\r\n");
        assert_eq!(fs::read_dir(dir.join("tmp")).unwrap().count(), 0);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn staged_mail_is_invisible_until_committed() {
        let dir = temp_dir("stage");
        let maildir = Maildir::create(&dir).unwrap();
        let staged = maildir.stage(&[b"x\r\n"], "host:with/odd").unwrap();
        assert_eq!(fs::read_dir(dir.join("new")).unwrap().count(), 0);
        assert!(staged
            .tmp
            .to_string_lossy()
            .contains("host\\072with\\057odd"));
        staged.abort();
        assert_eq!(fs::read_dir(dir.join("tmp")).unwrap().count(), 0);
        fs::remove_dir_all(&dir).unwrap();
    }
}
