//! `postlab backup` of a running server under mail load, `postlab restore`, and the archive
//! checks that refuse a truncated or altered backup.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};

use crate::support::*;

/// Every file under `dir/rel`, by path relative to `dir`, with its content.
fn files(dir: &Path, rel: &str) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.join(rel)];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            stack.extend(fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else if let Ok(content) = fs::read(&path) {
            let name = path
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            out.insert(name, content);
        }
    }
    out
}

/// `UIDL` of an account over POP3: (number, unique id) lines.
fn uidl(server: &TestServer, user: &str, password: &str) -> Vec<String> {
    let stream = TcpStream::connect(server.addr("pop3")).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    for command in [
        format!("USER {user}"),
        format!("PASS {password}"),
        "UIDL".into(),
    ] {
        stream
            .write_all(format!("{command}\r\n").as_bytes())
            .unwrap();
        line.clear();
        reader.read_line(&mut line).unwrap();
        assert!(line.starts_with("+OK"), "{command}: {line}");
    }
    let mut lines = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        if line == ".\r\n" {
            return lines;
        }
        lines.push(line.trim_end().to_string());
    }
}

fn send(server: &TestServer, to: &str, subject: &str) {
    let mut smtp = server.connect();
    smtp.expect("EHLO client.test", 250);
    let content = format!(
        "Subject: {subject}\r\n\r\n{}\r\n",
        "body line\r\n".repeat(50)
    );
    assert_eq!(
        smtp.send_mail("carol@example.org", &[to], &content).code,
        250
    );
}

#[test]
fn backup_under_load_restores_every_message_and_flag() {
    let server = TestServer::start_with(Setup {
        users: Some(vec![("alice", "alice-password"), ("bob", "bob-password")]),
        ..Setup::default()
    });
    for n in 0..5 {
        send(&server, "bob@localhost", &format!("for bob {n}"));
    }
    send(&server, "alice@localhost", "before the backup");
    // Flags as a mail client sets them: new/X → cur/X:2,FLAGS.
    let bob_new = server.new_mail("bob");
    for (file, flags) in bob_new.iter().zip(["S", "RS"]) {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let cur = server
            .dir
            .join("mail/bob/cur")
            .join(format!("{name}:2,{flags}"));
        fs::rename(file, cur).unwrap();
    }
    // A queued message (held, so the queue manager leaves it alone) and a half-written one.
    let hold = server.dir.join("queue/hold");
    fs::write(
        hold.join("19A3C4F2B8D10.msg"),
        "Subject: queued\r\n\r\nx\r\n",
    )
    .unwrap();
    fs::write(hold.join("19A3C4F2B8D10.env"), "from: <alice@localhost>\n").unwrap();
    fs::write(hold.join("19A3C4F2B8D11.msg"), "no envelope yet").unwrap();
    let uidl_before = uidl(&server, "bob", "bob-password");
    // After the POP3 session, which moves what it saw from new/ to cur/.
    let bob_before = files(&server.dir, "mail/bob");

    let archive = server.dir.with_extension("tgz");
    let archive_arg = archive.to_string_lossy().into_owned();
    let (code, out, err) = std::thread::scope(|scope| {
        let load = scope.spawn(|| {
            for n in 0..20 {
                send(
                    &server,
                    "alice@localhost",
                    &format!("during the backup {n}"),
                );
            }
        });
        let result = server.postlab(&["backup", &archive_arg]);
        load.join().unwrap();
        result
    });
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("archive sha256"), "{out}");
    assert!(!PathBuf::from(format!("{archive_arg}.partial")).exists());

    let restored = temp_dir("restored");
    let (code, out, err) = postlab_in(&restored, &["restore", &archive_arg]);
    assert_eq!(code, 0, "{out}{err}");

    // Bob's mailbox is the same, file for file, flags (in the names) included.
    let bob_after = files(&restored, "mail/bob");
    assert_eq!(
        bob_after.keys().collect::<Vec<_>>(),
        bob_before.keys().collect::<Vec<_>>()
    );
    assert!(bob_after == bob_before, "same content");
    // Every message of alice's that was restored is whole, and the one from before is there.
    let alice = files(&restored, "mail/alice");
    assert!(!alice.is_empty());
    let original = files(&server.dir, "mail/alice");
    for (name, content) in &alice {
        assert_eq!(Some(content), original.get(name), "{name}");
    }
    assert!(alice
        .values()
        .any(|c| String::from_utf8_lossy(c).contains("before the backup")));
    for name in [
        "users",
        "aliases",
        "postlab.conf",
        "queue/hold/19A3C4F2B8D10.env",
        "queue/hold/19A3C4F2B8D10.msg",
    ] {
        assert_eq!(
            fs::read(restored.join(name)).unwrap(),
            fs::read(server.dir.join(name)).unwrap(),
            "{name}"
        );
    }
    assert!(
        !restored.join("queue/hold/19A3C4F2B8D11.msg").exists(),
        "no half-queued message"
    );
    assert!(!restored.join("transcripts").exists() || files(&restored, "transcripts").is_empty());
    assert!(restored.join("mail/alice/tmp").is_dir());
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(restored.join("users"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the users file stays private");

    // A server on the restored directory sees the same messages under the same UIDLs.
    drop(server);
    let again = TestServer::start_in(restored.clone(), &Setup::default());
    assert_eq!(uidl(&again, "bob", "bob-password"), uidl_before);
    let restored = again.kill();

    // Into a directory that is not empty: refused without --force.
    let (code, _, err) = postlab_in(&restored, &["restore", &archive_arg]);
    assert_eq!(code, 1);
    assert!(err.contains("not empty"), "{err}");
    let (code, _, err) = postlab_in(&restored, &["restore", &archive_arg, "--force"]);
    assert_eq!(code, 0, "{err}");
    let _ = fs::remove_dir_all(&restored);
    let _ = fs::remove_file(&archive);
}

#[test]
fn a_truncated_or_altered_archive_restores_nothing() {
    let server = TestServer::start();
    send(&server, "alice@localhost", "one");
    let archive = server.dir.with_extension("tgz");
    let archive_arg = archive.to_string_lossy().into_owned();
    assert_eq!(server.postlab(&["backup", &archive_arg]).0, 0);
    let bytes = fs::read(&archive).unwrap();

    let damaged = |name: &str, content: &[u8]| {
        let path = archive.with_extension(format!("{name}.tgz"));
        fs::write(&path, content).unwrap();
        let target = temp_dir(name);
        let (code, _, err) = postlab_in(&target, &["restore", &path.to_string_lossy()]);
        assert_ne!(code, 0, "{name} was accepted");
        assert!(err.contains("nothing restored"), "{err}");
        assert_eq!(
            fs::read_dir(&target).unwrap().count(),
            0,
            "{name}: something was written"
        );
        let _ = fs::remove_file(&path);
        let _ = fs::remove_dir(&target);
    };
    damaged("truncated", &bytes[..bytes.len() * 2 / 3]);
    let mut flipped = bytes.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x01;
    damaged("flipped", &flipped);
    damaged("not-an-archive", b"hello");

    assert_eq!(server.postlab(&["backup"]).0, 2);
    assert_eq!(postlab_in(&server.dir, &["restore"]).0, 2);
    let _ = fs::remove_file(&archive);
}
