/// Streamed batches: planning and sending overlap (`BatchFeed`, `BatchStreamer`).
extension RuntimeClient {
    /// Runs `feed` as one batch: each backend's actions go on the socket as soon as the feed has planned them, while
    /// it plans the next; with `readingLiveFirst`, `show info` and `show servers state` come first over a fresh
    /// connection and each backend is handed to the feed as soon as its rows have arrived.
    ///
    /// Nothing touches the socket when the feed produces no action and no live read is asked for. A large batch
    /// moves to two connections when HAProxy runs two or more threads (`RuntimeClient+Lanes.swift`).
    nonisolated(nonsending) public func stream<Feed: BatchFeed>(_ feed: Feed, readingLiveFirst: Bool) async -> StreamedBatch<Feed> {
        await lanes[0].run { [self] in runStream(feed, readingLiveFirst: readingLiveFirst) }
    }

    /// How many connections the last streamed batch used (0 when it sent nothing).
    public var connectionsOfLastBatch: Int { lastBatchConnections.load(ordering: .relaxed) }

    /// Runs on lane 0's thread; lane 1's connection is borrowed from its queue for the batch.
    private func runStream<Feed: BatchFeed>(_ feed: Feed, readingLiveFirst: Bool) -> StreamedBatch<Feed> {
        let began = ContinuousClock.now
        if readingLiveFirst {
            lanes[0].holder.connection?.close()
            lanes[0].holder.connection = nil
        }
        var streamer = BatchStreamer(
            feed: feed, phase: readingLiveFirst ? .info : .planning, timeoutMs: Int32(clamping: max(1, timeout.milliseconds)),
            connect: { [self] (n: Int) throws(RuntimeError) -> (RuntimeConnection, reused: Bool) in try borrow(lane: n) },
            secondLaneAllowed: { [self] in maxConnections >= 2 && haproxyThreads.load(ordering: .relaxed) >= 2 },
            noteInfo: { [self] info in noteThreads(info) }
        )
        let (results, failure, open) = streamer.run()
        lastBatchConnections.store(streamer.lanes.count, ordering: .relaxed)
        for lane in open { give(back: lane.connection, lane: lane.index) }
        return StreamedBatch(feed: streamer.feed, results: results, failure: failure, ran: began..<ContinuousClock.now)
    }

    /// Lane `n`'s open connection (taken out of its holder for the batch), or a new one.
    private func borrow(lane n: Int) throws(RuntimeError) -> (RuntimeConnection, reused: Bool) {
        let holder = lanes[n].holder
        let take = { () -> RuntimeConnection? in
            defer { holder.connection = nil }
            return holder.connection
        }
        let taken = n == 0 ? take() : lanes[n].queue.sync(execute: take)
        if let taken, taken.isOpen, !taken.peerClosed() { return (taken, true) }
        taken?.close()
        return (try RuntimeConnection(endpoint: endpoint, timeout: timeout), false)
    }

    private func give(back connection: RuntimeConnection, lane n: Int) {
        let holder = lanes[n].holder
        if n == 0 { holder.connection = connection } else { lanes[n].queue.sync { holder.connection = connection } }
    }
}
