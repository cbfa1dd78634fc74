#if canImport(Glibc)
import Glibc
#endif

/// A named OS thread running one closure, detached (no Foundation `Thread`): for loops that block in a system call,
/// such as libcurl's `curl_multi_poll`, which must never occupy a Swift concurrency thread.
public enum DetachedThread {
    private final class Box {
        let body: () -> Void
        let name: String
        init(_ name: String, _ body: @escaping () -> Void) {
            self.name = name
            self.body = body
        }
    }

    /// Starts `body` on a new thread named `name` (at most 15 bytes are shown by the kernel). Returns false when the
    /// system refused to create a thread.
    @discardableResult
    public static func start(name: String, _ body: @escaping @Sendable () -> Void) -> Bool {
        let box = Unmanaged.passRetained(Box(name, body))
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, { raw in
            guard let raw else { return nil }
            let box = Unmanaged<Box>.fromOpaque(raw).takeRetainedValue()
            _ = setThreadName(pthread_self(), String(box.name.utf8.prefix(15)) ?? "thread")
            box.body()
            return nil
        }, box.toOpaque())
        guard result == 0 else {
            box.release()
            return false
        }
        pthread_detach(thread)
        return true
    }
}

/// glibc's `pthread_setname_np` (not in the Glibc module map): the name `top -H` and `ps -L` show.
@_silgen_name("pthread_setname_np")
private func setThreadName(_ thread: pthread_t, _ name: UnsafePointer<CChar>) -> Int32
