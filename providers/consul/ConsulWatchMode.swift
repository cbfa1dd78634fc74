/// How the provider spends its connections on watches (`providers.consul.watch_mode`).
public enum ConsulWatchMode: String, Sendable, Hashable {
    /// One blocking query per watch while they fit the connection budget (HTTP/2 streams count), else the feed.
    case auto
    /// Always one blocking query per watch; watches beyond the budget wait for a free connection.
    case perService = "per_service"
    /// Always the shared change feed: two blocking queries plus fetches of what changed.
    case feed
}
