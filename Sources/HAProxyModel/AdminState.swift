/// HAProxy's administrative state of a server as the bridge uses it.
public enum AdminState: String, Sendable, Hashable, Codable {
    case ready, drain, maint
}
