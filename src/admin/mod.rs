//! The administrator's commands: `postlab deliver | backup | restore | check | status | alias`,
//! and the account switches `postlab user disable | enable` (DESIGN.md's command line, grown for
//! running the server as a service).
//!
//! None of them needs the server to stop: each works on the data directory with the same
//! atomic-rename and Maildir rules the server follows, so a running server sees either the old
//! or the new state of a file, never half of one.
//!
//! Exit codes: 0 success, 1 failure, 2 a wrong argument, except `postlab deliver`, which speaks
//! the `sysexits.h` codes a mail transfer agent expects (see `deliver.rs`).

pub mod aliases;
pub mod backup;
pub mod check;
pub mod deliver;
pub mod restore;
pub mod status;

use getopts::Options;

/// Parses `args` (see [`crate::cli::parse_args`]).
fn parse(
    opts: &Options,
    args: &[String],
    brief: &str,
    usage_code: i32,
) -> Result<getopts::Matches, i32> {
    crate::cli::parse_args(opts, args, brief, usage_code)
}

/// The options every admin command shares: `--data DIR` and `--help`.
fn options() -> Options {
    let mut opts = Options::new();
    opts.optopt(
        "",
        "data",
        "data directory (default $POSTLAB_DATA or ./var)",
        "DIR",
    );
    opts.optflag("h", "help", "this help");
    opts
}

fn fail(message: impl std::fmt::Display) -> i32 {
    eprintln!("postlab: {message}");
    1
}
