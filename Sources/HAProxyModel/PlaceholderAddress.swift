/// Where a slot without an instance points: `127.0.0.1:9` (discard), in templates, `add server` and adoption.
///
/// Written once so the rendered `server-template`, the planner's `add server` and the expected live view agree.
public enum PlaceholderAddress {
    public static let host = "127.0.0.1"
    public static let port = 9
    /// `host:port`, as haproxy.cfg writes it.
    public static let endpoint = "\(host):\(port)"
}
