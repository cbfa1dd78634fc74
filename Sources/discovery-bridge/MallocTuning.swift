#if canImport(Glibc)
import Glibc
#endif

/// Caps glibc's malloc arenas for the daemon, as the systemd unit does with `MALLOC_ARENA_MAX=2`.
///
/// glibc gives every thread that allocates its own arena (up to 8 per core); what a mass change frees there is kept,
/// not returned. Measured at 10,000 instances: peak RSS 64 MB with the default, 61 MB with two arenas, 51 MB with
/// one; the bridge's allocations happen on a few threads that rarely contend, so one arena costs no speed.
/// An operator's own `MALLOC_ARENA_MAX` wins.
enum MallocTuning {
    static func apply() {
        #if canImport(Glibc)
        guard getenv("MALLOC_ARENA_MAX") == nil else { return }
        // <malloc.h> is not part of the Glibc module; mallopt is looked up once, here.
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return }
        let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
        let arenaMax: Int32 = -8  // M_ARENA_MAX
        _ = mallopt(arenaMax, 1)
        #endif
    }
}
