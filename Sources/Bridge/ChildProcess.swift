#if canImport(Glibc)
import Glibc
#endif

/// Runs a program to completion with `posix_spawn` (no shell, no Foundation `Process`), stdin from /dev/null,
/// stdout and stderr into one pipe that is drained while it runs (a chatty child cannot fill the pipe and stall),
/// bounded by a deadline after which the child is killed.
struct ChildProcess {
    enum Outcome: Equatable {
        case exited(Int32)
        case signalled(Int32)
        case timedOut
    }

    struct SpawnError: Error, CustomStringConvertible {
        var description: String
    }

    /// Keeps the last `keep` bytes of the output.
    static func run(_ path: String, _ argv: [String], timeout: Duration, keep: Int = 8192) throws(SpawnError) -> (Outcome, [UInt8]) {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw SpawnError(description: String(cString: strerror(errno))) }
        let (readEnd, writeEnd) = (fds[0], fds[1])
        // Neither end may leak into other children (the spawned one gets the write end as stdout and stderr).
        _ = fcntl(readEnd, F_SETFD, FD_CLOEXEC)
        _ = fcntl(writeEnd, F_SETFD, FD_CLOEXEC)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, writeEnd, 1)
        posix_spawn_file_actions_adddup2(&actions, writeEnd, 2)
        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for p in cArgs { free(p) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, path, &actions, nil, &cArgs, environ)
        close(writeEnd)
        guard spawned == 0 else {
            close(readEnd)
            throw SpawnError(description: String(cString: strerror(spawned)))
        }
        defer { close(readEnd) }

        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        var eof = false
        var status: Int32?
        var exitedAt: ContinuousClock.Instant?
        while true {
            if status == nil {
                var raw: Int32 = 0
                if waitpid(pid, &raw, WNOHANG) == pid {
                    status = raw
                    exitedAt = clock.now
                }
            }
            // The output ends at EOF, once the child (and anything it started) closed the pipe; a grandchild that
            // keeps it open gets two seconds.
            if let exitedAt, eof || clock.now - exitedAt > .seconds(2) { break }
            if status == nil, clock.now >= deadline {
                kill(pid, SIGKILL)
                var raw: Int32 = 0
                while waitpid(pid, &raw, 0) < 0, errno == EINTR {}
                return (.timedOut, output)
            }
            if eof {
                _ = poll(nil, 0, 5)
                continue
            }
            var p = pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&p, 1, 20)
            guard ready > 0 else { continue }
            let n = buffer.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
            if n > 0 {
                output.append(contentsOf: buffer[0..<n])
                if output.count > keep * 2 { output.removeFirst(output.count - keep) }
            } else if n == 0 || errno != EINTR {
                eof = true
            }
        }
        let raw = status ?? 0
        // The <sys/wait.h> macros, which Swift cannot import: low 7 bits the signal, next byte the exit status.
        let signal = raw & 0x7F
        return (signal == 0 ? .exited((raw >> 8) & 0xFF) : .signalled(signal), Array(output.suffix(keep)))
    }
}
