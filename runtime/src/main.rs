//! The `rapport` binary; everything lives in [`rapport::cli`].

fn main() -> std::process::ExitCode {
    rapport::cli::main()
}
