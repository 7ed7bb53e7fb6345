//! `postlab restore FILE --data DIR`: a backup back into place, all or nothing.
//!
//! Every member is unpacked into a temporary sibling of DIR (`DIR.restore-PID`) while its
//! SHA-256 is computed. Only when the whole archive has been read, the manifest's own digest
//! matches, and every member matches its manifest line (none missing, none extra) is the
//! folder renamed into place. A truncated file (gzip ends early, or no manifest), a flipped
//! byte (gzip's CRC or a checksum differs) or a foreign archive leaves DIR exactly as it was.
//!
//! A non-empty DIR is refused unless `--force`; with it, the old DIR is set aside and removed
//! only after the new one is in place. Member names are checked (no absolute paths, no `..`),
//! so an archive cannot write outside DIR. Stop the server on DIR before restoring into it.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use flate2::read::GzDecoder;
use sha2::{Digest, Sha256};

use super::backup::{hex, MANIFEST, MANIFEST_HEADER};
use super::fail;
use crate::datadir::DataDir;
use crate::mailbox::durable;

/// `postlab restore FILE --data DIR [--force]`
pub fn main(args: &[String]) -> i32 {
    let mut opts = super::options();
    opts.optflag("", "force", "replace a data directory that is not empty");
    let brief = "usage: postlab restore FILE --data DIR [--force]\n\n\
                 Check every checksum in FILE (from `postlab backup`), then put its contents in\n\
                 DIR. Nothing is written to DIR unless the whole archive is intact.";
    let m = match super::parse(&opts, args, brief, 2) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let ([file], Some(dir)) = (m.free.as_slice(), m.opt_str("data")) else {
        eprint!("{}", opts.usage(brief));
        return 2;
    };
    let data = DataDir::new(dir);
    let target = data.root();
    let empty = match fs::read_dir(target) {
        Ok(mut listing) => listing.next().is_none(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => true,
        Err(e) => return fail(format!("cannot look into {}: {e}", target.display())),
    };
    if !empty && !m.opt_present("force") {
        return fail(format!(
            "{} is not empty; restore into an empty folder, or give --force to replace it \
             (stop the server that uses it first)",
            target.display()
        ));
    }
    let staging = sibling(target, "restore");
    let _ = fs::remove_dir_all(&staging);
    let files = match unpack(Path::new(file), &staging) {
        Ok(files) => files,
        Err(e) => {
            let _ = fs::remove_dir_all(&staging);
            return fail(format!(
                "{file} is not a good backup, nothing restored: {e}"
            ));
        }
    };
    if let Err(e) = put_in_place(&staging, target, empty) {
        let _ = fs::remove_dir_all(&staging);
        return fail(format!("cannot put the restored data in place: {e}"));
    }
    println!(
        "restored {files} files from {file} into {}; start it with `postlab serve --data {}`",
        target.display(),
        target.display()
    );
    0
}

/// `DIR.what-PID`, next to DIR (so the final rename stays on one file system).
fn sibling(target: &Path, what: &str) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "data".into());
    target.with_file_name(format!(".{name}.{what}-{}", std::process::id()))
}

/// Swaps the staging folder in. An existing (empty, or `--force`d) target is set aside first.
fn put_in_place(staging: &Path, target: &Path, empty: bool) -> io::Result<()> {
    let old = sibling(target, "old");
    let had_target = target.exists();
    if had_target {
        if empty {
            fs::remove_dir(target)?;
        } else {
            fs::rename(target, &old)?;
        }
    }
    fs::rename(staging, target)?;
    if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
        durable::sync_dir(parent)?;
    }
    if had_target && !empty {
        fs::remove_dir_all(&old)?;
    }
    Ok(())
}

/// What the manifest says about one member.
#[derive(Debug, PartialEq, Eq)]
enum Listed {
    Dir,
    File { sha256: String, size: u64 },
}

/// Unpacks the archive into `staging` and checks it. Returns the number of files.
fn unpack(file: &Path, staging: &Path) -> Result<usize, String> {
    let archive = fs::File::open(file).map_err(|e| format!("cannot open it: {e}"))?;
    let mut archive = tar::Archive::new(GzDecoder::new(archive));
    fs::create_dir_all(staging).map_err(|e| e.to_string())?;
    let mut found: BTreeMap<String, Listed> = BTreeMap::new();
    let mut manifest: Option<String> = None;
    let entries = archive.entries().map_err(|e| e.to_string())?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("unreadable archive: {e}"))?;
        let name = entry
            .path()
            .map_err(|e| e.to_string())?
            .to_string_lossy()
            .trim_end_matches('/')
            .to_string();
        if manifest.is_some() {
            return Err(format!("member {name} after the manifest"));
        }
        let mut content = Vec::new();
        entry
            .read_to_end(&mut content)
            .map_err(|e| format!("{name}: {e} (truncated or corrupt)"))?;
        if name == MANIFEST {
            manifest = Some(String::from_utf8(content).map_err(|_| "manifest is not text")?);
            continue;
        }
        let relative = safe_relative(&name)?;
        let path = staging.join(relative);
        if entry.header().entry_type().is_dir() {
            fs::create_dir_all(&path).map_err(|e| e.to_string())?;
            found.insert(name, Listed::Dir);
        } else if entry.header().entry_type().is_file() {
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).map_err(|e| e.to_string())?;
            }
            fs::write(&path, &content).map_err(|e| format!("{name}: {e}"))?;
            // Mail and password hashes are private, whatever the umask says.
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600))
                .map_err(|e| format!("{name}: {e}"))?;
            let listed = Listed::File {
                sha256: hex(&Sha256::digest(&content)),
                size: content.len() as u64,
            };
            if found.insert(name.clone(), listed).is_some() {
                return Err(format!("{name} is in the archive twice"));
            }
        } else {
            return Err(format!("{name}: only files and folders belong in a backup"));
        }
    }
    let manifest = manifest.ok_or("no manifest at the end: the archive is truncated")?;
    let listed = parse_manifest(&manifest)?;
    for (name, what) in &listed {
        match found.remove(name) {
            Some(got) if &got == what => {}
            Some(_) => return Err(format!("{name}: checksum does not match the manifest")),
            None => return Err(format!("{name} is in the manifest but not in the archive")),
        }
    }
    if let Some(extra) = found.keys().next() {
        return Err(format!("{extra} is in the archive but not in the manifest"));
    }
    Ok(listed
        .values()
        .filter(|l| matches!(l, Listed::File { .. }))
        .count())
}

/// Reads the manifest and checks its own digest (the `archive` line).
///
/// ```text
/// # postlab backup manifest, version 1
/// dir mail
/// file 9f86d08…  1234 mail/alice/cur/1795707025.M1P2Q3.mx,S=1234:2,S
/// archive 3a7bd3e…
/// ```
fn parse_manifest(text: &str) -> Result<BTreeMap<String, Listed>, String> {
    if !text.starts_with(&format!("{MANIFEST_HEADER}\n")) {
        return Err("not a postlab backup manifest (or a newer version)".into());
    }
    let body_end = text
        .rfind("archive ")
        .filter(|&i| i > 0 && text.as_bytes()[i - 1] == b'\n')
        .ok_or("the manifest has no archive checksum")?;
    let (body, last) = text.split_at(body_end);
    let claimed = last
        .strip_prefix("archive ")
        .map(str::trim_end)
        .unwrap_or_default();
    if hex(&Sha256::digest(body.as_bytes())) != claimed {
        return Err("the manifest's own checksum does not match".into());
    }
    let mut listed = BTreeMap::new();
    for line in body.lines().skip(1) {
        let bad = || format!("bad manifest line: {line}");
        let (kind, rest) = line.split_once(' ').ok_or_else(bad)?;
        match kind {
            "dir" => {
                listed.insert(rest.to_string(), Listed::Dir);
            }
            "file" => {
                let mut words = rest.splitn(3, ' ');
                let (Some(sha256), Some(size), Some(name)) =
                    (words.next(), words.next(), words.next())
                else {
                    return Err(bad());
                };
                let size = size.parse().map_err(|_| bad())?;
                listed.insert(
                    name.to_string(),
                    Listed::File {
                        sha256: sha256.to_string(),
                        size,
                    },
                );
            }
            _ if kind.starts_with('#') => {}
            _ => return Err(bad()),
        }
    }
    Ok(listed)
}

/// A member name as a path inside DIR: relative, no `..`, no root.
fn safe_relative(name: &str) -> Result<&Path, String> {
    let path = Path::new(name);
    let safe = !name.is_empty()
        && path
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if safe {
        Ok(path)
    } else {
        Err(format!(
            "member {name} would land outside the data directory"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names_stay_inside() {
        assert!(safe_relative("mail/alice/new/1").is_ok());
        assert!(safe_relative("../etc/passwd").is_err());
        assert!(safe_relative("/etc/passwd").is_err());
        assert!(safe_relative("mail/../../x").is_err());
    }

    #[test]
    fn a_manifest_with_a_changed_line_is_refused() {
        let body = format!("{MANIFEST_HEADER}\ndir mail\nfile ab 2 users\n");
        let good = format!("{body}archive {}\n", hex(&Sha256::digest(body.as_bytes())));
        assert_eq!(parse_manifest(&good).unwrap().len(), 2);
        let bad = good.replace("file ab 2", "file ab 3");
        assert!(parse_manifest(&bad).is_err());
    }
}
