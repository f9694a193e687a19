fn main() -> std::process::ExitCode {
    pulse::cli::main()
}
