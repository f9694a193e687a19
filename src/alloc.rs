//! The process allocator: jemalloc, for every binary that links this crate (the server, the
//! simulator, tests and benches alike, so benchmarks measure what ships).
//!
//! Why not the platform's malloc (measured with `cargo bench --bench poll_cycle`, 5 clusters ×
//! 10 nodes × 1,000 guests, runs interleaved; docs/polling.md "Session 8"):
//! - musl's malloc, in the static release binary users install, cost 150-162 ms of CPU per
//!   poll cycle against 78-84 ms for glibc: every parse, TLS record and guest is allocated
//!   and freed each cycle.
//! - glibc needed tuning (two arenas, fixed mmap/trim thresholds) to keep RSS near the live
//!   data, and still spent a quarter of the poller's samples consolidating fastbins.
//! - jemalloc: 68-73 ms and 38 MB RSS (glibc 58-60 MB, musl 37 MB). mimalloc v3 was as fast
//!   but held 145-151 MB.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's settings, read at its first allocation (`_RJEM_MALLOC_CONF` in the environment
/// still overrides each): one arena, and freed pages handed back at once instead of after
/// jemalloc's default 10 s decay, which on a 10 s poll cycle kept every cycle's peak resident.
/// Live benchmark, 5 × 10 × 1,000 guests, side by side: decay 0 → 63-64 MB RSS and 86-88 ms
/// per cycle; 1 s → 72-75 MB, 71-74 ms; the default → 94 MB; glibc 88 MB, 152 ms. Session 9,
/// response buffers reused: 100 ms → +7 MB for −8 % CPU live (docs/polling.md).
#[cfg(not(target_env = "msvc"))]
#[unsafe(export_name = "_rjem_malloc_conf")]
static MALLOC_CONF: Conf = Conf(c"narenas:1,dirty_decay_ms:0,muzzy_decay_ms:0".as_ptr());

/// A C string pointer jemalloc reads as `const char *malloc_conf`.
#[repr(transparent)]
struct Conf(*const std::ffi::c_char);

// SAFETY: the pointer is to a static, immutable C string literal.
unsafe impl Sync for Conf {}
