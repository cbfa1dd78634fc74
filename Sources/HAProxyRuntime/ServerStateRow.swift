/// One row of `show servers state`.
public struct ServerStateRow: Sendable, Hashable {
    public var backendID: Int
    public var backend: String
    public var serverID: Int
    public var server: String
    public var address: String
    /// 0 stopped, 1 starting, 2 running, 3 stopping.
    public var operationalState: Int
    /// `srv_admin_state` bits: 0x01 forced maint, 0x02 inherited maint, 0x04 config `disabled`, 0x08 forced drain,
    /// 0x10 inherited drain, 0x20 maint from DNS.
    public var adminState: Int
    public var userWeight: Int
    public var initialWeight: Int
    public var port: Int
    public var fqdn: String?
}
