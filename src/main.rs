fn main() -> std::process::ExitCode {
    limit_malloc_arenas();
    pulse::cli::main()
}

/// glibc gives each allocating thread its own heap arena (up to 8 per core), and memory freed
/// in one arena is not reused by another. Pollers, guest-detail workers, the web server and
/// the monitor all allocate and free state-sized data, so RSS grew to ~1.6× the live data.
/// Two arenas: measured 115 → 74 MB RSS at 2,000 guests with CPU unchanged (docs/polling.md).
/// `MALLOC_ARENA_MAX` in the environment still wins. The static musl build has one heap.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only tunes the allocator; it runs before any other thread exists.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}
