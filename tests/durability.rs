//! DESIGN.md's first promise: a 250 after DATA is sent only once the message is on disk.
//!
//! The server runs under `strace`, which records its system calls in order. For each message
//! the order must be: fsync of the file in tmp/ → rename into new/ → fsync of new/ → the write
//! that sends "250 2.0.0 Ok: queued". Without any one of those fsyncs a crash could lose a
//! message the client was told is safe.

use std::process::Command;

use crate::support::{Setup, TestServer};

#[test]
fn the_250_follows_fsync_of_the_file_and_of_the_directory() {
    let available = Command::new("strace")
        .arg("-V")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        available,
        "strace is needed for this test: apt-get install strace (.ci/run installs it)"
    );
    let log = crate::support::temp_dir("strace").join("calls");
    let server = TestServer::start_with(Setup {
        wrapper: vec![
            "strace".into(),
            "-f".into(),
            "-s".into(),
            "200".into(),
            "-e".into(),
            "trace=openat,fsync,fdatasync,rename,renameat,renameat2,write,sendto".into(),
            "-o".into(),
            log.display().to_string(),
        ],
        ..Setup::default()
    });
    let mut c = server.connect();
    c.expect("EHLO laptop", 250);
    let reply = c.send_mail(
        "alice@localhost",
        &["bob@localhost", "alice@localhost"],
        "Subject: safe\r\n\r\nkeep me\r\n",
    );
    assert_eq!(reply.code, 250);
    c.expect("QUIT", 221);
    let calls = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = calls.lines().collect();
    let find = |what: &dyn Fn(&str) -> bool, from: usize| -> usize {
        from + lines[from..]
            .iter()
            .position(|l| what(l))
            .unwrap_or_else(|| panic!("not found after line {from}:\n{calls}"))
    };
    let ack = find(&|l| l.contains("250 2.0.0 Ok: queued"), 0);
    for account in ["bob", "alice"] {
        let tmp_open = find(
            &|l| l.contains("openat(") && l.contains(&format!("mail/{account}/tmp/")),
            0,
        );
        let fd = lines[tmp_open].rsplit(" = ").next().unwrap().trim();
        let fsync_file = find(&|l| l.contains(&format!("fsync({fd})")), tmp_open);
        let rename = find(
            &|l| l.contains("rename") && l.contains(&format!("mail/{account}/new/")),
            fsync_file,
        );
        let open_dir = find(
            &|l| l.contains("openat(") && l.contains(&format!("mail/{account}/new\"")),
            rename,
        );
        let dir_fd = lines[open_dir].rsplit(" = ").next().unwrap().trim();
        let fsync_dir = find(&|l| l.contains(&format!("fsync({dir_fd})")), open_dir);
        assert!(
            fsync_file < rename && rename < fsync_dir && fsync_dir < ack,
            "{account}: order wrong in\n{calls}"
        );
    }
}
