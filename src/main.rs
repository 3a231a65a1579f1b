//! The `zaslon` binary: see `zaslon --help`.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    zaslon::cli::main()
}
