/// One entry of a `/v1/health/service/<name>` answer: the node, the service instance and every check on both.
///
/// Decoded with `Codable`, fields matched case-insensitively. Only a missing or mistyped `Node`/`Service` object
/// fails the whole answer; anything else the mapping judges per entry (and skips with a warning).
public struct ConsulHealthEntry: Decodable, Sendable, Hashable {
    /// The `Node` object: name, address and tagged addresses (`{"wan": "203.0.113.7"}`).
    public struct Node: Decodable, Sendable, Hashable {
        public var name: String
        public var address: String
        public var taggedAddresses: [String: String]

        public init(from decoder: any Decoder) throws {
            let k = try AnswerKeys(decoder)
            name = k.lenient(String.self, "Node") ?? ""
            address = k.lenient(String.self, "Address") ?? ""
            taggedAddresses = k.lenient(Tagged.self, "TaggedAddresses")?.values ?? [:]
        }

        struct Tagged: Decodable {
            var values: [String: String]
            init(from decoder: any Decoder) throws { values = AnswerKeys.map(decoder, of: String.self) }
        }
    }

    /// A service tagged address (`{"lan": {"Address": "10.0.0.5", "Port": 8080}}`).
    public struct TaggedAddress: Decodable, Sendable, Hashable {
        public var address: String
        public var port: Int?

        public init(from decoder: any Decoder) throws {
            let k = try AnswerKeys(decoder)
            address = k.lenient(String.self, "Address") ?? ""
            port = k.lenient(Int.self, "Port")
        }
    }

    /// The `Service` object of one instance.
    public struct Service: Decodable, Sendable, Hashable {
        public var id: String
        public var name: String
        public var address: String
        /// As sent: the mapping validates the range and type itself, so a bad port skips one entry, not the answer.
        var port: AnswerValue?
        public var tags: [String]
        public var meta: [String: String]
        public var taggedAddresses: [String: TaggedAddress]
        public var passingWeight: Int?
        public var warningWeight: Int?

        public init(from decoder: any Decoder) throws {
            let k = try AnswerKeys(decoder)
            id = k.lenient(String.self, "ID") ?? ""
            name = k.lenient(String.self, "Service") ?? ""
            address = k.lenient(String.self, "Address") ?? ""
            port = k.raw("Port")
            tags = k.lenient(Lossy<String>.self, "Tags")?.values ?? []
            meta = k.lenient(Strings.self, "Meta")?.values ?? [:]
            taggedAddresses = k.lenient(TaggedMap.self, "TaggedAddresses")?.values ?? [:]
            let weights = k.lenient(Weights.self, "Weights")
            passingWeight = weights?.passing
            warningWeight = weights?.warning
        }

        struct Weights: Decodable {
            var passing: Int?
            var warning: Int?
            init(from decoder: any Decoder) throws {
                let k = try AnswerKeys(decoder)
                passing = k.lenient(Int.self, "Passing")
                warning = k.lenient(Int.self, "Warning")
            }
        }

        struct Strings: Decodable {
            var values: [String: String]
            init(from decoder: any Decoder) throws { values = AnswerKeys.map(decoder, of: String.self) }
        }

        struct TaggedMap: Decodable {
            var values: [String: TaggedAddress]
            init(from decoder: any Decoder) throws { values = AnswerKeys.map(decoder, of: TaggedAddress.self) }
        }
    }

    public var node: Node
    public var service: Service
    public var checks: [ConsulCheck]

    public init(from decoder: any Decoder) throws {
        let k = try AnswerKeys(decoder)
        guard let node = try k.strict(Node.self, "Node") else {
            throw DecodingError.keyNotFound(AnswerKeys.Key(stringValue: "Node"), .init(codingPath: decoder.codingPath, debugDescription: "entry has no Node object"))
        }
        guard let service = try k.strict(Service.self, "Service") else {
            throw DecodingError.keyNotFound(AnswerKeys.Key(stringValue: "Service"), .init(codingPath: decoder.codingPath, debugDescription: "entry has no Service object"))
        }
        self.node = node
        self.service = service
        checks = k.lenient(Lossy<ConsulCheck>.self, "Checks")?.values ?? []
    }
}

/// An array whose elements of the wrong type are dropped rather than failing the answer.
struct Lossy<Element: Decodable>: Decodable {
    var values: [Element]

    init(from decoder: any Decoder) throws {
        var c = try decoder.unkeyedContainer()
        var out: [Element] = []
        while !c.isAtEnd {
            if let v = try? c.decode(Element.self) { out.append(v) } else { _ = try? c.decode(AnswerValue.self) }
        }
        values = out
    }
}
