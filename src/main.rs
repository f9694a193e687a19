fn main() -> std::process::ExitCode {
    pulse::malloc_tuning::apply();
    pulse::cli::main()
}
