//! The `rapport` program, built inside the test package so that `tests/cli.rs` can run it
//! (cargo builds a package's own binaries for its integration tests, not other packages').

fn main() -> std::process::ExitCode {
    rapport::cli::main()
}
