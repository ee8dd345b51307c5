//! The `vanthu` binary: parse the command line and hand over to the library.

fn main() -> std::process::ExitCode {
    limit_malloc_arenas();
    vanthu::cli::main()
}

/// glibc gives each thread that allocates its own heap arena (up to 8 per core), and under
/// load the server's worker and blocking threads each kept one, so resident memory drifted to
/// about 290 MB; two arenas hold it near 80 MB at the same throughput. Set before any thread
/// starts.
#[allow(unsafe_code)] // the crate's one unsafe block (tests/it/tidy.rs keeps it that way)
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; it is called before any other thread
    // exists, and its failure (a zero return) leaves the default in place.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}
