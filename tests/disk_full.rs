//! A full disk: the client hears 452 4.3.1 (try again later), nothing half-written stays, and
//! mail flows again as soon as there is space. The data directory sits on a small tmpfs of its
//! own (mounted by the test: CI runs as root), so the rest of the machine never fills up.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{temp_dir, Setup, TestServer};

/// A 3 MiB tmpfs, unmounted when dropped.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount() -> SmallDisk {
        let dir = temp_dir("small-disk");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=3m", "tmpfs"])
            .arg(&dir)
            .status()
            .expect("mount");
        assert!(
            status.success(),
            "mounting a tmpfs needs root (CI runs as root)"
        );
        SmallDisk(dir)
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Fills the disk with one file until fewer than `leave` octets are free.
fn fill(dir: &Path, leave: u64) -> PathBuf {
    let filler = dir.join("filler");
    let chunk = vec![0u8; 64 * 1024];
    let mut file = fs::File::create(&filler).unwrap();
    loop {
        let out = Command::new("df")
            .args(["--output=avail", "-B1"])
            .arg(dir)
            .output()
            .unwrap();
        let free: u64 = String::from_utf8_lossy(&out.stdout)
            .lines()
            .nth(1)
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or(0);
        if free < leave {
            return filler;
        }
        if std::io::Write::write_all(
            &mut file,
            &chunk[..chunk.len().min((free - leave / 2) as usize)],
        )
        .is_err()
        {
            return filler;
        }
    }
}

#[test]
fn a_full_disk_gets_452_keeps_nothing_half_written_and_recovers() {
    let disk = SmallDisk::mount();
    let data = disk.0.join("var");
    fs::create_dir_all(&data).unwrap();
    fs::write(
        data.join("users"),
        "alice:{PLAIN}alice-password\nbob:{PLAIN}bob-password\n",
    )
    .unwrap();
    let server = TestServer::start_in(data.clone(), &Setup::default());
    let filler = fill(&disk.0, 100 * 1024);

    let big = format!(
        "Subject: too big for the disk\r\n\r\n{}",
        format!("{}\r\n", "x".repeat(78)).repeat(4000)
    );
    let mut c = server.connect();
    c.expect("EHLO laptop", 250);
    let reply = c.send_mail("alice@localhost", &["bob@localhost"], &big);
    assert_eq!(
        (reply.code, reply.lines[0].get(..5)),
        (452, Some("4.3.1")),
        "{reply:?}"
    );
    let leftovers: Vec<_> = fs::read_dir(data.join("mail/bob/tmp"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "half-written files: {leftovers:?}");
    assert!(server.new_mail("bob").is_empty());
    // The session goes on, and so does the server.
    c.expect("NOOP", 250);

    fs::remove_file(filler).unwrap();
    let reply = c.send_mail("alice@localhost", &["bob@localhost"], &big);
    assert_eq!(reply.code, 250, "space is back: {reply:?}");
    assert_eq!(server.new_mail("bob").len(), 1);
    drop(c);
    drop(server);
}
