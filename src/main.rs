//! The `postlab` command. Everything it does lives in the library; see `src/cli/`.

#![forbid(unsafe_code)]

use std::io::Write;

fn main() {
    init_logging();
    std::process::exit(postlab::cli::main(std::env::args().skip(1).collect()));
}

/// Transcript lines are printed as they are (they carry their own time and label); other log
/// records get a time and level. The default level shows transcripts; `RUST_LOG` changes it
/// (`RUST_LOG=warn` hides them, `RUST_LOG=transcript=off,info` too).
fn init_logging() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format(|out, record| {
            if record.target() == "transcript" {
                writeln!(out, "{}", record.args())
            } else {
                writeln!(
                    out,
                    "{} {:<5} {}",
                    postlab::clock::now().stamp(),
                    record.level(),
                    record.args()
                )
            }
        })
        .init();
}
