/// Reads a `/v1/health/service/<name>` answer straight from its bytes, with no JSON tree or `Decoder` in between.
///
/// Every watch answer goes through here, so its cost is on the path from Consul's answer to HAProxy: through
/// `JSONDecoder` one entry took 70-180 µs on this 2-core VM (the bench's Consul change), which this reads in a few.
/// It keeps the fields `ConsulHealthEntry` keeps, in Consul's own spelling, and skips the rest (checked against the
/// JSON grammar all the same). Anything else makes it give up, and `ConsulMapping.parseEntries` falls back to the
/// full decoder, which accepts the variants (other letter case, a value of another type, escapes in a kept string)
/// and words the errors: a repeated field, a field spelled in other letter case, a kept string with an escape, a
/// number that is not a plain non-negative integer, `null` where a scalar or an element is kept, a missing `Node`
/// or `Service` object, invalid JSON. `null` for a kept object or array reads as empty, as the decoder reads it.
enum EntryScanner {
    typealias GiveUp = AnswerScanner.GiveUp

    /// The entries, or nil when the answer is outside the plain shape (the caller then uses the full decoder).
    static func read(_ body: [UInt8]) -> [ConsulHealthEntry]? {
        AnswerScanner.read(body, entries)
    }

    private static func entries(_ s: inout AnswerScanner) throws(GiveUp) -> [ConsulHealthEntry] {
        let out = try s.elements(entry)
        try s.expectEnd()
        return out
    }

    private static func entry(_ s: inout AnswerScanner) throws(GiveUp) -> ConsulHealthEntry {
        var node: ConsulHealthEntry.Node?
        var service: ConsulHealthEntry.Service?
        var checks: [ConsulCheck] = []
        try s.members(["Node", "Service", "Checks"]) { (field, s) throws(GiveUp) in
            switch field {
            case 0: node = try nodeObject(&s)
            case 1: service = try serviceObject(&s)
            default: checks = try checkList(&s)
            }
        }
        guard let node, let service else { throw GiveUp() }
        return ConsulHealthEntry(node: node, service: service, checks: checks)
    }

    private static func nodeObject(_ s: inout AnswerScanner) throws(GiveUp) -> ConsulHealthEntry.Node {
        var node = ConsulHealthEntry.Node(name: "", address: "", taggedAddresses: [:])
        try s.members(["Node", "Address", "TaggedAddresses"]) { (field, s) throws(GiveUp) in
            switch field {
            case 0: node.name = s.string(try s.plainString())
            case 1: node.address = s.string(try s.plainString())
            default: node.taggedAddresses = try stringMap(&s)
            }
        }
        return node
    }

    private static func serviceObject(_ s: inout AnswerScanner) throws(GiveUp) -> ConsulHealthEntry.Service {
        var service = ConsulHealthEntry.Service(id: "", name: "", address: "", port: nil, tags: [], meta: [:], taggedAddresses: [:])
        try s.members(["ID", "Service", "Address", "Port", "Tags", "Meta", "TaggedAddresses", "Weights"]) { (field, s) throws(GiveUp) in
            switch field {
            case 0: service.id = s.string(try s.plainString())
            case 1: service.name = s.string(try s.plainString())
            case 2: service.address = s.string(try s.plainString())
            case 3: service.port = .int(try integer(&s))
            case 4: service.tags = try stringList(&s)
            case 5: service.meta = try stringMap(&s)
            case 6: service.taggedAddresses = try taggedAddresses(&s)
            default:
                if try s.takeNull() { return }
                try s.members(["Passing", "Warning"]) { (field, s) throws(GiveUp) in
                    if field == 0 { service.passingWeight = try integer(&s) } else { service.warningWeight = try integer(&s) }
                }
            }
        }
        return service
    }

    /// `{"lan": {"Address": "10.0.0.5", "Port": 8080}}`; `null` reads as empty.
    private static func taggedAddresses(_ s: inout AnswerScanner) throws(GiveUp) -> [String: ConsulHealthEntry.TaggedAddress] {
        try map(&s) { (s) throws(GiveUp) in
            var tagged = ConsulHealthEntry.TaggedAddress(address: "", port: nil)
            try s.members(["Address", "Port"]) { (field, s) throws(GiveUp) in
                if field == 0 { tagged.address = s.string(try s.plainString()) } else { tagged.port = try integer(&s) }
            }
            return tagged
        }
    }

    /// An object of plain strings; `null` reads as empty.
    private static func stringMap(_ s: inout AnswerScanner) throws(GiveUp) -> [String: String] {
        try map(&s) { (s) throws(GiveUp) in s.string(try s.plainString()) }
    }

    /// An array of plain strings; `null` reads as empty.
    private static func stringList(_ s: inout AnswerScanner) throws(GiveUp) -> [String] {
        try array(&s) { (s) throws(GiveUp) in s.string(try s.plainString()) }
    }

    /// The entry's checks, each as the check-list reader reads one; `null` reads as empty.
    private static func checkList(_ s: inout AnswerScanner) throws(GiveUp) -> [ConsulCheck] {
        try array(&s) { (s) throws(GiveUp) in try CheckListScanner.check(&s) }
    }

    /// An array of `element`s; `null` reads as empty.
    private static func array<T>(_ s: inout AnswerScanner, _ element: (inout AnswerScanner) throws(GiveUp) -> T) throws(GiveUp) -> [T] {
        try s.takeNull() ? [] : try s.elements(element)
    }

    /// An object of plain-string keys, each once, to `value`s; `null` reads as empty.
    private static func map<T>(_ s: inout AnswerScanner, _ value: (inout AnswerScanner) throws(GiveUp) -> T) throws(GiveUp) -> [String: T] {
        try s.takeNull() ? [:] : try s.keyed(value)
    }

    /// A plain non-negative integer that fits `Int`.
    private static func integer(_ s: inout AnswerScanner) throws(GiveUp) -> Int {
        let value = try s.unsignedInteger()
        guard value <= UInt64(Int.max) else { throw GiveUp() }
        return Int(value)
    }
}

extension ConsulHealthEntry {
    init(node: Node, service: Service, checks: [ConsulCheck]) {
        self.node = node
        self.service = service
        self.checks = checks
    }
}

extension ConsulHealthEntry.Node {
    init(name: String, address: String, taggedAddresses: [String: String]) {
        self.name = name
        self.address = address
        self.taggedAddresses = taggedAddresses
    }
}

extension ConsulHealthEntry.TaggedAddress {
    init(address: String, port: Int?) {
        self.address = address
        self.port = port
    }
}

extension ConsulHealthEntry.Service {
    init(id: String, name: String, address: String, port: AnswerValue?, tags: [String], meta: [String: String],
         taggedAddresses: [String: ConsulHealthEntry.TaggedAddress], passingWeight: Int? = nil, warningWeight: Int? = nil) {
        self.id = id
        self.name = name
        self.address = address
        self.port = port
        self.tags = tags
        self.meta = meta
        self.taggedAddresses = taggedAddresses
        self.passingWeight = passingWeight
        self.warningWeight = warningWeight
    }
}
