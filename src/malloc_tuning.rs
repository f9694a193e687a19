//! glibc allocator settings for a long-running process whose big buffers come and go (each
//! `/api/state` document, each backup re-read). Each can be overridden by its glibc
//! environment variable. The static musl build has one heap and none of these knobs.
//!
//! - Arenas: glibc gives each allocating thread its own heap arena (up to 8 per core), and
//!   memory freed in one arena is not reused by another. Pollers, guest-detail workers, the
//!   web server and the monitor all allocate and free state-sized data, so RSS grew to ~1.6×
//!   the live data. Two arenas: 115 → 74 MB RSS at 2,000 guests, CPU unchanged.
//! - Mmap threshold: by default it rises to the size of the largest block freed (up to
//!   32 MiB), so after one 27 MB state document every later big buffer came from the heap and
//!   stayed in RSS once freed. Fixed at 1 MiB, big buffers are mapped and given back on free:
//!   110 vs 124 MB RSS on the 5-cluster bench fleet, CPU per cycle unchanged (117 vs 118 ms).
//! - Trim threshold: fixed with it (it otherwise follows the mmap threshold); 4 MiB keeps
//!   glibc from returning and re-faulting the top of the heap on every poll.

/// Call first thing in `main`, before any other thread exists.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn apply() {
    let unset = |var: &str| std::env::var_os(var).is_none();
    let settings = [
        ("MALLOC_ARENA_MAX", libc::M_ARENA_MAX, 2),
        ("MALLOC_MMAP_THRESHOLD_", libc::M_MMAP_THRESHOLD, 1 << 20),
        ("MALLOC_TRIM_THRESHOLD_", libc::M_TRIM_THRESHOLD, 4 << 20),
    ];
    for (var, param, value) in settings {
        if unset(var) {
            // SAFETY: mallopt only tunes the allocator; it runs before any other thread exists.
            unsafe {
                libc::mallopt(param, value);
            }
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn apply() {}
