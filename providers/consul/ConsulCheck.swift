/// One health check, as `/v1/health/service/<name>` nests it and `/v1/health/state/<state>` lists it.
///
/// A check with an empty `serviceID` belongs to its node (e.g. `serfHealth`) and counts for every instance there.
public struct ConsulCheck: Decodable, Sendable, Hashable {
    public var node: String
    public var checkID: String
    public var status: String
    public var serviceID: String
    public var serviceName: String
    public var createIndex: UInt64
    public var modifyIndex: UInt64

    public init(node: String = "", checkID: String, status: String, serviceID: String = "", serviceName: String = "",
                createIndex: UInt64 = 0, modifyIndex: UInt64 = 0) {
        self.node = node
        self.checkID = checkID
        self.status = status
        self.serviceID = serviceID
        self.serviceName = serviceName
        self.createIndex = createIndex
        self.modifyIndex = modifyIndex
    }

    public init(from decoder: any Decoder) throws {
        let k = try AnswerKeys(decoder)
        node = k.lenient(String.self, "Node") ?? ""
        checkID = k.lenient(String.self, "CheckID") ?? ""
        status = k.lenient(String.self, "Status") ?? ""
        serviceID = k.lenient(String.self, "ServiceID") ?? ""
        serviceName = k.lenient(String.self, "ServiceName") ?? ""
        createIndex = k.lenient(UInt64.self, "CreateIndex") ?? 0
        modifyIndex = k.lenient(UInt64.self, "ModifyIndex") ?? 0
    }

    /// Identity within a `health/state` answer: the node and the check id.
    var key: String { "\(node)\u{0}\(checkID)" }
}
