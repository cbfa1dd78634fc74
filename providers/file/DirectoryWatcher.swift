import Dispatch
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// inotify on a folder, waited on without blocking Swift's cooperative threads; cancellation wakes the wait at once.
final class DirectoryWatcher: @unchecked Sendable {
    // Both descriptors are set once in init and closed once in close(); reads happen on one waiting task at a time.
    private let inotifyFD: Int32
    private let wakeRead: Int32
    private let wakeWrite: Int32

    init(directory: String, logger: Logger) {
        var fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        if fd >= 0 {
            let mask = UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF)
            if inotify_add_watch(fd, directory.isEmpty ? "." : directory, mask) < 0 {
                logger.warning("inotify unavailable for the folder; falling back to periodic checks", metadata: ["provider": "file", "folder": "\(directory)", "error": "\(String(cString: strerror(errno)))"])
                Glibc.close(fd)
                fd = -1
            }
        }
        inotifyFD = fd
        var fds: [Int32] = [-1, -1]
        if pipe(&fds) != 0 {
            fds = [-1, -1]
        } else {
            for f in fds {
                _ = fcntl(f, F_SETFL, fcntl(f, F_GETFL, 0) | O_NONBLOCK)
                _ = fcntl(f, F_SETFD, FD_CLOEXEC)
            }
        }
        wakeRead = fds[0]
        wakeWrite = fds[1]
    }

    /// Waits until the folder changes (true), or `timeout` passes or the task is cancelled (false).
    func wait(timeout: Duration) async -> Bool {
        let ms = Int32(clamping: timeout.milliseconds)
        let inotifyFD = self.inotifyFD, wakeRead = self.wakeRead, wakeWrite = self.wakeWrite
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                DispatchQueue.global().async {
                    var fds = [pollfd(fd: inotifyFD, events: Int16(POLLIN), revents: 0), pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
                    var r: Int32
                    repeat { r = poll(&fds, 2, ms) } while r < 0 && errno == EINTR
                    continuation.resume(returning: r > 0 && fds[0].revents & Int16(POLLIN) != 0)
                }
            }
        } onCancel: {
            var b: UInt8 = 1
            _ = write(wakeWrite, &b, 1)
        }
    }

    /// What the queued events say about the watched file.
    enum Change {
        /// Nothing about the file (an editor's or a deploy tool's temporary file next to it).
        case unrelated
        /// The file is complete (closed after writing, renamed into place, removed), or events were lost: read it.
        case settled
        /// The file was only created: its content follows, and its close (`IN_CLOSE_WRITE`) is the event to read on.
        case beingWritten
    }

    /// Discards queued events and tells what they meant for `fileName`.
    func drain(fileName: String) -> Change {
        guard inotifyFD >= 0 else { return .settled }
        let wanted = Array(fileName.utf8)
        let header = MemoryLayout<inotify_event>.size
        let folderEvents = UInt32(IN_Q_OVERFLOW | IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)
        var change = Change.unrelated
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buf.withUnsafeMutableBytes { read(inotifyFD, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            var offset = 0
            while offset + header <= n {
                let (mask, length) = buf.withUnsafeBytes { raw in
                    (raw.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self), Int(raw.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self)))
                }
                let nameStart = offset + header
                let nameEnd = min(n, nameStart + length)
                let name = buf[nameStart..<nameEnd].prefix { $0 != 0 }
                if mask & folderEvents != 0 || length == 0 {
                    change = .settled
                } else if name.elementsEqual(wanted) {
                    if mask & ~UInt32(IN_CREATE) != 0 { change = .settled } else if change == .unrelated { change = .beingWritten }
                }
                offset = nameEnd
            }
        }
        return change
    }

    func close() {
        for fd in [inotifyFD, wakeRead, wakeWrite] where fd >= 0 { Glibc.close(fd) }
    }
}
