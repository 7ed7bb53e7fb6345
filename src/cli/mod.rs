//! The command line (DESIGN.md fixes the contract, README.md lists every command).
//!
//! Each subcommand parses its own flags with getopts and returns an exit code: 0 success,
//! 1 failure, 2 a wrong argument (with the usage text on stderr). They live in the files beside
//! this one:
//!
//! | file | commands |
//! |---|---|
//! | `server.rs` | `serve` |
//! | `user.rs` | `user` |
//! | `mta.rs` | `trace`, `queue`, `dns` |
//! | `mua.rs` | `send`, `fetch` (our mail client) |
//! | `classroom.rs` | `fault`, `watch`, `lab` |
//! | `class.rs` | `lab class` (a class across laptops) |
//! | `lesson.rs` | `lesson` (start, reset, list, check) |
//! | `dkim.rs` | `dkim show` |
//! | `../admin/` | `backup`, `restore`, `check`, `status`, `deliver`, `alias` |

use std::io::Write as _;

use getopts::Options;

use crate::accounts::{password, users, users::User, Users};
use crate::config::Config;
use crate::datadir::DataDir;
use crate::dns;
use crate::ids::QueueId;
use crate::mailbox::Maildir;
use crate::serve::{self, Server};
use crate::trace;

const USAGE: &str = "\
postlab: a teaching mail server

usage:
  postlab serve  [--data DIR] [--config FILE] [--listen ADDR] [--port-offset N]
                 [--hostname NAME] [--domain D]... [--ephemeral-ports]
  postlab user   add NAME [--password P] | del NAME [--purge | --keep-mail] | passwd NAME [--password P] | list   [--data DIR]
  postlab user   disable NAME | enable NAME | quota NAME SIZE   [--data DIR]
  postlab alias  add ALIAS TARGET... | del ALIAS | list   [--data DIR]
  postlab deliver --user NAME [--from ADDR] [--data DIR] < message   (an MDA for Postfix)
  postlab backup FILE [--data DIR]            a consistent archive, while the server runs
  postlab restore FILE --data DIR [--force]   checked in full before anything is written
  postlab check  [--fix] [--data DIR]         settings, users, aliases, permissions, Maildirs
  postlab status [--data DIR]                 pid, listeners, sessions, queue, last deliveries
  postlab trace  ID [--data DIR]      the journey of one message through the flowchart
  postlab queue  list | show ID | flush | hold ID | release ID | delete ID   [--data DIR]
  postlab dns    --zone FILE... [--listen ADDR:PORT]   a DNS server for the lab's domains
  postlab send   --from A --to B [--cc C] [--subject S] [--body TEXT] [--attach FILE] [--auth USER:PASS]
                 [--server HOST:PORT] [--verbose]      compose and submit a message (body on stdin)
  postlab lab    up [N] | down | status  [--dir DIR] [--port-offset N]   a mini internet: N servers + DNS
  postlab lab    class host --network CIDR | join NAME --teacher IP --code CODE | leave | status   across laptops
  postlab watch  [--data DIR] [--all] [--no-color]   the transcripts live, each step in its colour
  postlab dkim   show DOMAIN [--data DIR]     the DNS records that publish DOMAIN's DKIM keys
  postlab fault  add STEP PATTERN ACTION… | list | clear   [--data DIR]   failures on purpose
  postlab lesson list | start N | reset | check N [--json]   [--dir DIR]   a lesson's starting state
  postlab fetch  list | read N | delete N  --user U [--password P] [--pop3 | --imap] [--server HOST:PORT] [--verbose]

DIR defaults to $POSTLAB_DATA, else ./var. `postlab COMMAND --help` says more.
";

/// Runs `postlab ARGS…` and returns the process exit code.
pub fn main(args: Vec<String>) -> i32 {
    let Some((command, rest)) = args.split_first() else {
        eprint!("{USAGE}");
        return 2;
    };
    match command.as_str() {
        "serve" => serve(rest),
        "user"
            if matches!(
                rest.first().map(String::as_str),
                Some("disable" | "enable" | "quota")
            ) =>
        {
            crate::admin::aliases::user_switch(rest)
        }
        "user" => user(rest),
        "alias" => crate::admin::aliases::main(rest),
        "deliver" => crate::admin::deliver::main(rest),
        "backup" => crate::admin::backup::main(rest),
        "restore" => crate::admin::restore::main(rest),
        "status" => crate::admin::status::main(rest),
        "check" => crate::admin::check::main(rest),
        "trace" => trace(rest),
        "queue" => queue(rest),
        "dns" => dns(rest),
        "send" => send(rest),
        "fetch" => fetch(rest),
        "fault" => fault(rest),
        "watch" => watch(rest),
        "lab" => lab(rest),
        "lesson" => lesson(rest),
        "dkim" => dkim(rest),
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            0
        }
        other => {
            eprintln!("postlab: unknown command '{other}'\n");
            eprint!("{USAGE}");
            2
        }
    }
}

/// Parses `args` with `opts`; on error prints it with the usage and gives the exit code.
fn parse(opts: &Options, args: &[String], brief: &str) -> Result<getopts::Matches, i32> {
    parse_args(opts, args, brief, 2)
}

/// Parses `args`; on `--help` prints the usage (exit 0), on error prints it with the error and
/// gives `usage_code` (sysexits' 64 for `postlab deliver`, 2 elsewhere).
pub(crate) fn parse_args(
    opts: &Options,
    args: &[String],
    brief: &str,
    usage_code: i32,
) -> Result<getopts::Matches, i32> {
    match opts.parse(args) {
        Ok(m) if m.opt_present("help") => {
            print!("{}", opts.usage(brief));
            Err(0)
        }
        Ok(m) => Ok(m),
        Err(e) => {
            eprintln!("postlab: {e}\n");
            eprint!("{}", opts.usage(brief));
            Err(usage_code)
        }
    }
}

fn fail(message: impl std::fmt::Display) -> i32 {
    eprintln!("postlab: {message}");
    1
}

/// Prints what a subcommand made of it (exit 0), or its error (exit 1).
fn report(result: Result<String, String>) -> i32 {
    match result {
        Ok(text) => {
            println!("{}", text.trim_end());
            0
        }
        Err(e) => fail(e),
    }
}

mod class;
mod classroom;
mod dkim;
mod lesson;
mod mta;
mod mua;
mod server;
mod user;

use classroom::{fault, lab, watch};
use dkim::dkim;
use lesson::lesson;
use mta::{dns, queue, trace};
use mua::{fetch, send};
use server::serve;
use user::user;
