//! `postlab backup FILE`: a consistent copy of the data directory, taken while mail flows.
//!
//! If the server's disk dies and there is no backup, the mail is gone. This command needs no
//! stop, because of two rules the server already follows:
//!
//! - **A Maildir file never changes once it is in `new/` or `cur/`** (the Maildir rules: it is
//!   written in `tmp/` and renamed in). Only its *name* changes, when a client sets a flag and
//!   it moves `new/X` → `cur/X:2,S`. So each file is read whole; if it vanished between the
//!   listing and the read, it is looked up again by its unique part in `new/` and `cur/`. A
//!   file gone from both was deleted (POP3 DELE + QUIT) and is left out.
//! - **A queued message is complete once its `.env` exists** (`src/mta/queue.rs`). Only pairs
//!   whose `.env` and `.msg` were both read go in; a pair that moved between `active/` and
//!   `hold/` meanwhile is looked up in the other folder.
//!
//! Left out on purpose: `tmp/` contents (half-written files, never acknowledged), `run/` (the
//! running server's pid and lock) and `transcripts/` (logs, which can be large; copy them apart
//! if they matter). Empty `tmp/ new/ cur/` folders are kept, so every restored Maildir works.
//!
//! The archive is a gzip-compressed tar (`tar tzf FILE` lists it) whose last member,
//! `MANIFEST`, lists every member with its SHA-256 and size, then `archive SHA256`: the digest
//! of the manifest lines above it, which covers every file's content, name and order. The
//! archive is written to `FILE.partial` and renamed when complete, so an interrupted backup
//! never looks like a finished one.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

use crate::datadir::DataDir;

use super::fail;

/// The manifest's name inside the archive: always the last member.
pub const MANIFEST: &str = "MANIFEST";
/// First line of every manifest; a restore refuses any other version.
pub const MANIFEST_HEADER: &str = "# postlab backup manifest, version 1";

/// Top-level files copied as they are (each replaced atomically by its writer).
const TOP_FILES: [&str; 4] = ["postlab.conf", "users", "aliases", "transport"];

/// `postlab backup FILE [--data DIR]`
pub fn main(args: &[String]) -> i32 {
    let opts = super::options();
    let brief = "usage: postlab backup FILE [--data DIR]\n\n\
                 Write the mailboxes (with their flags), the queue, users, aliases, transport,\n\
                 settings, tls/ and dkim/ to FILE (tar + gzip, with SHA-256 checksums), while the\n\
                 server runs. Restore with `postlab restore FILE --data DIR`.";
    let m = match super::parse(&opts, args, brief, 2) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let [file] = m.free.as_slice() else {
        eprint!("{}", opts.usage(brief));
        return 2;
    };
    let data = DataDir::from_option(m.opt_str("data"));
    if !data.users().exists() {
        return fail(format!(
            "{} does not look like a postlab data directory (no users file)",
            data.root().display()
        ));
    }
    match write(&data, Path::new(file)) {
        Ok(summary) => {
            println!(
                "backup of {} written to {file}: {} files, {} octets, archive sha256 {}",
                data.root().display(),
                summary.files,
                summary.octets,
                summary.digest
            );
            0
        }
        Err(e) => fail(format!("backup failed, {file} not written: {e}")),
    }
}

pub struct Summary {
    pub files: usize,
    pub octets: u64,
    pub digest: String,
}

/// The archive being written, with its manifest so far.
struct Writer {
    tar: tar::Builder<GzEncoder<File>>,
    manifest: String,
    files: usize,
    octets: u64,
}

impl Writer {
    fn dir(&mut self, path: &str) -> io::Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Directory);
        header.set_mode(0o700);
        header.set_size(0);
        self.tar.append_data(&mut header, path, io::empty())?;
        self.manifest.push_str(&format!("dir {path}\n"));
        Ok(())
    }

    fn file(&mut self, path: &str, content: &[u8]) -> io::Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(0o600);
        header.set_size(content.len() as u64);
        header.set_mtime(crate::mta::queue::unix_now());
        self.tar.append_data(&mut header, path, content)?;
        let digest = hex(&Sha256::digest(content));
        self.manifest
            .push_str(&format!("file {digest} {} {path}\n", content.len()));
        self.files += 1;
        self.octets += content.len() as u64;
        if self.files.is_multiple_of(1000) {
            eprintln!(
                "backup: {} files, {} MiB so far",
                self.files,
                self.octets >> 20
            );
        }
        Ok(())
    }
}

/// Writes the archive of `data` to `target`.
pub fn write(data: &DataDir, target: &Path) -> io::Result<Summary> {
    let partial = PathBuf::from(format!("{}.partial", target.display()));
    let file = File::create(&partial)?;
    let mut writer = Writer {
        tar: tar::Builder::new(GzEncoder::new(file, flate2::Compression::default())),
        manifest: format!("{MANIFEST_HEADER}\n"),
        files: 0,
        octets: 0,
    };
    let result = (|| {
        let root = data.root();
        for name in TOP_FILES {
            if let Some(content) = read_if_there(&root.join(name))? {
                writer.file(name, &content)?;
            }
        }
        tree(&mut writer, root, "tls")?;
        // The DKIM keys: a restore that made new ones would not match the published records.
        tree(&mut writer, root, "dkim")?;
        writer.dir("mail")?;
        mail_tree(&mut writer, root, "mail")?;
        queue(&mut writer, root)?;

        let digest = hex(&Sha256::digest(writer.manifest.as_bytes()));
        let manifest = format!("{}archive {digest}\n", writer.manifest);
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o600);
        header.set_size(manifest.len() as u64);
        writer
            .tar
            .append_data(&mut header, MANIFEST, manifest.as_bytes())?;
        let file = writer.tar.into_inner()?.finish()?;
        file.sync_all()?;
        Ok(Summary {
            files: writer.files,
            octets: writer.octets,
            digest,
        })
    })();
    match result {
        Ok(summary) => {
            fs::rename(&partial, target)?;
            Ok(summary)
        }
        Err(e) => {
            let _ = fs::remove_file(&partial);
            Err(e)
        }
    }
}

/// A file's content, or `None` if it does not exist (now).
fn read_if_there(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(content) => Ok(Some(content)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Sorted names in a folder; a missing folder is empty.
fn names(dir: &Path) -> io::Result<Vec<String>> {
    let mut names = Vec::new();
    match fs::read_dir(dir) {
        Ok(listing) => {
            for item in listing {
                names.push(item?.file_name().to_string_lossy().into_owned());
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    names.sort();
    Ok(names)
}

/// Copies a folder as it is (`tls/`: files nobody renames).
fn tree(writer: &mut Writer, root: &Path, rel: &str) -> io::Result<()> {
    let dir = root.join(rel);
    if !dir.is_dir() {
        return Ok(());
    }
    writer.dir(rel)?;
    for name in names(&dir)? {
        let child = format!("{rel}/{name}");
        let path = root.join(&child);
        if path.is_dir() {
            tree(writer, root, &child)?;
        } else if let Some(content) = read_if_there(&path)? {
            writer.file(&child, &content)?;
        }
    }
    Ok(())
}

/// Walks `mail/`: each Maildir's `new/` and `cur/` with the rename rule, `tmp/` as an empty
/// folder, Maildir++ subfolders (`.Sent/`) and other files as they are.
fn mail_tree(writer: &mut Writer, root: &Path, rel: &str) -> io::Result<()> {
    let dir = root.join(rel);
    let children = names(&dir)?;
    let is_maildir = children.iter().any(|n| n == "new") && children.iter().any(|n| n == "cur");
    let mut seen: HashSet<String> = HashSet::new();
    for name in children {
        let child = format!("{rel}/{name}");
        let path = root.join(&child);
        if is_maildir && name == "tmp" {
            writer.dir(&child)?;
        } else if is_maildir && (name == "new" || name == "cur") {
            writer.dir(&child)?;
            for file in names(&path)? {
                if file.starts_with('.') {
                    continue;
                }
                maildir_file(writer, root, rel, &name, &file, &mut seen)?;
            }
        } else if path.is_dir() {
            writer.dir(&child)?;
            mail_tree(writer, root, &child)?;
        } else if let Some(content) = read_if_there(&path)? {
            writer.file(&child, &content)?;
        }
    }
    Ok(())
}

/// Copies one message file of the Maildir `maildir`, found as `sub/file` in a listing. If it
/// was renamed since (a flag set, `new/` → `cur/`), it is looked up by its unique part.
fn maildir_file(
    writer: &mut Writer,
    root: &Path,
    maildir: &str,
    sub: &str,
    file: &str,
    seen: &mut HashSet<String>,
) -> io::Result<()> {
    let unique = file.split_once(":2,").map_or(file, |(u, _)| u).to_string();
    if seen.contains(&unique) {
        return Ok(());
    }
    let mut candidate = Some(format!("{maildir}/{sub}/{file}"));
    // A message can be renamed again while we look; a few tries are plenty in practice.
    for _ in 0..5 {
        let Some(rel) = candidate.take() else { break };
        if let Some(content) = read_if_there(&root.join(&rel))? {
            writer.file(&rel, &content)?;
            seen.insert(unique);
            return Ok(());
        }
        for folder in ["cur", "new"] {
            let found = names(&root.join(maildir).join(folder))?
                .into_iter()
                .find(|n| n == &unique || n.starts_with(&format!("{unique}:2,")));
            if let Some(found) = found {
                candidate = Some(format!("{maildir}/{folder}/{found}"));
                break;
            }
        }
    }
    // Not in new/ nor cur/ any more: deleted by its owner during the backup.
    Ok(())
}

/// Copies the queue: each message whose `.env` and `.msg` could both be read.
fn queue(writer: &mut Writer, root: &Path) -> io::Result<()> {
    writer.dir("queue")?;
    let folders = ["active", "hold"];
    for folder in folders {
        writer.dir(&format!("queue/{folder}"))?;
    }
    let mut seen: HashSet<String> = HashSet::new();
    for folder in folders {
        for name in names(&root.join("queue").join(folder))? {
            let Some(id) = name.strip_suffix(".env").filter(|_| !name.starts_with('.')) else {
                continue;
            };
            if !seen.insert(id.to_string()) {
                continue;
            }
            // Held or released meanwhile: the pair is in the other folder now.
            for place in [folder, if folder == "active" { "hold" } else { "active" }] {
                let base = format!("queue/{place}/{id}");
                let msg = read_if_there(&root.join(format!("{base}.msg")))?;
                let env = read_if_there(&root.join(format!("{base}.env")))?;
                if let (Some(msg), Some(env)) = (msg, env) {
                    writer.file(&format!("{base}.msg"), &msg)?;
                    writer.file(&format!("{base}.env"), &env)?;
                    break;
                }
            }
        }
    }
    Ok(())
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
