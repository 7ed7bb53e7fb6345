//! Writing files so that they survive a crash.
//!
//! A `write` only hands bytes to the kernel's cache; they reach the disk some seconds later. A
//! mail server that says "250 Ok" must be sure they are there, so it calls `fsync` on the file,
//! and — because a new name is an entry in a directory, which is a file too — on the directory
//! that holds the name. Renaming a complete file into place is atomic: a reader sees the old
//! content or the new, never a mixture.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Mode of every file postlab creates under the data directory: mail, queue files,
/// transcripts and password hashes are for the server's own user alone (DESIGN.md).
pub const FILE_MODE: u32 = 0o600;
/// Mode of every folder postlab creates under the data directory.
pub const DIR_MODE: u32 = 0o700;

/// Flushes a directory's entries (new names, renames) to disk.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Creates `dir` and any missing parents, and makes each new entry durable.
pub fn create_dir_all_durably(dir: &Path) -> io::Result<()> {
    // A relative path's last parent is "" (the current directory), which always exists.
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        create_dir_all_durably(parent)?;
    }
    // 0700 and 0600 below whatever the umask: the data directory holds other people's mail.
    match fs::DirBuilder::new().mode(DIR_MODE).create(dir) {
        Ok(()) => {}
        // Another thread made it first: just as good.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(e),
    }
    match dir.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => sync_dir(parent),
        _ => Ok(()),
    }
}

/// Replaces `path` with `content`: write a temporary file beside it, fsync, rename over, fsync
/// the directory. Used for the small state files (users, aliases, configuration).
pub fn write_atomically(path: &Path, content: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    // Unique per call, not only per process: two sessions of one server may rewrite the same
    // file at once, and must not share (and truncate) one temporary file.
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let tmp = dir.join(format!(
        ".{}.tmp.{}.{}",
        name.to_string_lossy(),
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(FILE_MODE)
            .open(&tmp)?;
        file.write_all(content)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by `make stress`: with one temporary name per process, two sessions rewriting the
    /// same file at once shared (and truncated) it, and one rename failed with "not found".
    #[test]
    fn many_threads_rewrite_one_file_at_once() {
        let dir = std::env::temp_dir().join(format!("postlab-durable-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("subscriptions");
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let path = path.clone();
                std::thread::spawn(move || {
                    for i in 0..50 {
                        let text = format!("thread {t} write {i}\n").repeat(100);
                        write_atomically(&path, text.as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        // Whole: one writer's text, never a mixture.
        let text = fs::read_to_string(&path).unwrap();
        let first = text.lines().next().unwrap().to_string();
        assert!(text.lines().all(|l| l == first), "a mixed file");
        assert_eq!(
            fs::read_dir(&dir).unwrap().count(),
            1,
            "temporary files left"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
