/// One health query: a service name and the source's query parameters.
struct WatchKey: Hashable, Sendable, CustomStringConvertible {
    var service: String
    var params: ConsulQueryParams
    var description: String { service }
}

extension WatchKey {
    /// The query parameters of the health query (tags, node meta, filter).
    var queryItems: [(String, String)] {
        var query: [(String, String)] = params.tags.map { ("tag", $0) }
        query += params.nodeMeta.map { ("node-meta", $0) }
        if let f = params.filter { query.append(("filter", f)) }
        return query
    }
}
