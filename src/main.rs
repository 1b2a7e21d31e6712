//! The `ssibake` command: parse the arguments, run, map the result to an exit status.

fn main() -> std::process::ExitCode {
    ssibake::cli::main()
}
