import Basics
import DiscoveryCore
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// Registers the `file` provider: `providers.file` = `{"path": "...", "poll_interval": "2s", "stale_after": "60s"}`.
public struct FileProviderFactory: ProviderFactory {
    public let name = "file"

    public init() {}

    public func makeProvider(config: JSONValue, path: String, sources: [SourceSpec], context: ProviderContext) throws(ConfigError) -> any DiscoveryProvider {
        var r = try ObjectReader(config, at: path)
        let file = try r.nonEmptyString("path") ?? ""
        guard !file.isEmpty else { throw ConfigError(path: r.pathOf("path"), "is required: the instances file to watch") }
        let poll = try r.duration("poll_interval") ?? .seconds(2)
        guard poll >= .milliseconds(10) else { throw ConfigError(path: r.pathOf("poll_interval"), "must be at least 10ms") }
        let staleAfter = try r.duration("stale_after") ?? max(.seconds(60), poll * 3)
        guard staleAfter > poll else { throw ConfigError(path: r.pathOf("stale_after"), "must be longer than poll_interval") }
        try r.finish()
        var filters: [String: [String]] = [:]
        for source in sources {
            var s = try ObjectReader(.object(source.options), at: source.path)
            let tags = try s.stringArray("tags") ?? []
            try s.finish()
            filters[source.key] = tags
        }
        let resolved = FileBytes.join(context.configDirectory, file)
        return FileProvider(
            path: resolved, pollInterval: poll, stalenessLimit: staleAfter,
            sources: sources.map { FileProvider.Source(key: $0.key, service: $0.service, tags: filters[$0.key] ?? []) },
            logger: context.logger
        )
    }
}

/// Watches a JSON instances file: inotify on its folder tells of a change at once, a periodic check of the file's
/// identity (inode, size, mtime) covers file systems without inotify. A malformed file publishes nothing, so the
/// last good snapshot stays applied.
public struct FileProvider: DiscoveryProvider {
    public struct Source: Sendable, Hashable {
        public var key: String
        public var service: String
        /// Instances must carry every one of these tags.
        public var tags: [String]
    }

    public let name = "file"
    public let path: String
    public let pollInterval: Duration
    public let sources: [Source]
    let logger: Logger

    /// How long the file may stay unreadable or malformed before discovery counts as stale (`stale_after`).
    public let stalenessLimit: Duration

    public init(path: String, pollInterval: Duration, stalenessLimit: Duration = .seconds(60), sources: [Source], logger: Logger) {
        self.path = path
        self.pollInterval = pollInterval
        self.stalenessLimit = stalenessLimit
        self.sources = sources
        self.logger = logger
    }

    public func run(sink: any ProviderSink) async throws {
        let watcher = DirectoryWatcher(directory: FileBytes.folder(of: path), logger: logger)
        let fileName = FileBytes.name(of: path)
        defer { watcher.close() }
        var lastIdentity: FileIdentity?
        var lastPublished: [String: [Instance]]?
        var lastError: String?
        var forceRead = true
        var reader = InstancesFileReader()
        while !Task.isCancelled {
            let identity = FileIdentity(path: path)
            if forceRead || identity != lastIdentity {
                forceRead = false
                lastIdentity = identity
                switch read(with: &reader) {
                case .success(let services):
                    var update: [String: [Instance]] = [:]
                    for source in sources {
                        let all = services[source.service] ?? []
                        update[source.key] = source.tags.isEmpty ? all : all.filter { i in source.tags.allSatisfy(i.tags.contains) }
                    }
                    if lastError != nil {
                        logger.notice("instances file is valid again", metadata: ["provider": "file", "file": "\(path)"])
                        lastError = nil
                    }
                    // Only the sources whose list changed (all of them the first time): a rewrite that touches one
                    // service of 500 hands the reconciler one list to compare and plan, not 500.
                    let changed = lastPublished.map { last in update.filter { last[$0.key] != $0.value } } ?? update
                    if !changed.isEmpty {
                        lastPublished = update
                        logger.debug("instances file changed", metadata: ["provider": "file", "file": "\(path)", "sources": "\(changed.count)", "instances": "\(update.values.reduce(0) { $0 + $1.count })"])
                        await sink.publish(ProviderUpdate(provider: name, sources: changed))
                    }
                    await sink.reportSuccess(provider: name)
                case .failure(let error):
                    let message = error.description
                    if message != lastError {
                        logger.error("instances file rejected; keeping the last good snapshot", metadata: ["provider": "file", "file": "\(path)", "error": "\(message)"])
                        lastError = message
                    }
                    await sink.reportFailure(provider: name, error: message)
                }
            } else if lastError == nil {
                await sink.reportSuccess(provider: name)
            }
            // No settling delay: the file is read as soon as an event says it is complete (renamed into place or
            // closed after writing); a bare creation waits for its close, so a half-written file is not read.
            while await watcher.wait(timeout: pollInterval) {
                switch watcher.drain(fileName: fileName) {
                case .settled: forceRead = true
                case .beingWritten: continue
                case .unrelated: break
                }
                break
            }
        }
    }

    private func read(with reader: inout InstancesFileReader) -> Result<[String: [Instance]], ConfigError> {
        let bytes: [UInt8]
        switch FileBytes.read(path) {
        case .success(let b): bytes = b
        case .failure(let reason): return .failure(ConfigError(path: "", "cannot read: \(reason.text)", file: path))
        }
        do {
            return .success(try reader.parse(bytes, file: path))
        } catch {
            return .failure(error)
        }
    }
}

/// What tells whether the file was replaced or rewritten.
struct FileIdentity: Equatable {
    var device: UInt64 = 0
    var inode: UInt64 = 0
    var size: Int64 = 0
    var mtimeNs: Int64 = 0
    var exists = false

    init(path: String) {
        var st = stat()
        guard stat(path, &st) == 0 else { return }
        exists = true
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
        size = Int64(st.st_size)
        mtimeNs = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
    }
}
