/// One EC2 instance as DescribeInstances reports it, reduced to what discovery needs.
public struct EC2Instance: Sendable, Equatable {
    public var instanceID: String
    /// `pending`, `running`, `stopping`, `stopped`, `shutting-down`, `terminated`.
    public var state: String
    public var privateIPv4: String?
    public var publicIPv4: String?
    /// IPv6 addresses of the primary network interface (device index 0), in answer order.
    public var ipv6: [String]
    public var availabilityZone: String?
    public var instanceType: String?
    /// `spot` or `scheduled`; nil for on-demand.
    public var instanceLifecycle: String?
    public var tags: [String: String]

    public init(
        instanceID: String, state: String, privateIPv4: String? = nil, publicIPv4: String? = nil, ipv6: [String] = [],
        availabilityZone: String? = nil, instanceType: String? = nil, instanceLifecycle: String? = nil, tags: [String: String] = [:]
    ) {
        self.instanceID = instanceID
        self.state = state
        self.privateIPv4 = privateIPv4
        self.publicIPv4 = publicIPv4
        self.ipv6 = ipv6
        self.availabilityZone = availabilityZone
        self.instanceType = instanceType
        self.instanceLifecycle = instanceLifecycle
        self.tags = tags
    }
}

/// One page of a DescribeInstances answer.
public struct DescribeInstancesPage: Sendable, Equatable {
    public var instances: [EC2Instance]
    /// Set when more pages follow.
    public var nextToken: String?
}

/// Temporary credentials from STS AssumeRole.
struct AssumeRoleResult: Sendable {
    var credentials: AWSCredentials
}

/// An error answer of an AWS Query API (`<Response><Errors><Error><Code>`… or STS's `<ErrorResponse><Error>`).
public struct AWSAPIErrorBody: Sendable, Equatable {
    public var code: String
    public var message: String
}

/// Parsers for the XML documents the EC2 and STS Query APIs return.
public enum EC2XML {
    /// Parses a DescribeInstances response body.
    public static func describeInstances(_ body: [UInt8]) throws(EC2Error) -> DescribeInstancesPage {
        let root: XMLElement
        do { root = try XMLTree.parse(body) } catch { throw EC2Error.malformed("DescribeInstances answer is not XML: \(error)") }
        guard root.name == "DescribeInstancesResponse" else {
            throw EC2Error.malformed("expected <DescribeInstancesResponse>, got <\(root.name.prefix(60))>")
        }
        var out: [EC2Instance] = []
        if let reservations = root.child("reservationSet") {
            for reservation in reservations.children("item") {
                guard let set = reservation.child("instancesSet") else { continue }
                for item in set.children("item") {
                    guard let id = item.value("instanceId") else {
                        throw EC2Error.malformed("instance without <instanceId> in DescribeInstances answer")
                    }
                    out.append(instance(id: id, item))
                }
            }
        }
        return DescribeInstancesPage(instances: out, nextToken: root.value("nextToken"))
    }

    static func instance(id: String, _ item: XMLElement) -> EC2Instance {
        var tags: [String: String] = [:]
        for t in item.child("tagSet")?.children("item") ?? [] {
            guard let k = t.child("key")?.text else { continue }
            tags[k] = t.child("value")?.text ?? ""
        }
        var ipv6: [String] = []
        let interfaces = item.child("networkInterfaceSet")?.children("item") ?? []
        let primary = interfaces.first { $0.value("attachment", "deviceIndex") == "0" } ?? interfaces.first
        if let primary {
            for a in primary.child("ipv6AddressesSet")?.children("item") ?? [] {
                if let v = a.value("ipv6Address") { ipv6.append(v) }
            }
        }
        if ipv6.isEmpty, let v = item.value("ipv6Address") { ipv6.append(v) }
        return EC2Instance(
            instanceID: id,
            state: item.value("instanceState", "name") ?? "unknown",
            privateIPv4: item.value("privateIpAddress"),
            publicIPv4: item.value("ipAddress"),
            ipv6: ipv6,
            availabilityZone: item.value("placement", "availabilityZone"),
            instanceType: item.value("instanceType"),
            instanceLifecycle: item.value("instanceLifecycle"),
            tags: tags
        )
    }

    /// Extracts `Code` and `Message` from an AWS error document; nil when the body is not one.
    public static func apiError(_ body: [UInt8]) -> AWSAPIErrorBody? {
        guard let root = try? XMLTree.parse(body), let error = root.first(named: "Error"),
              let code = error.value("Code") else { return nil }
        return AWSAPIErrorBody(code: code, message: error.value("Message") ?? "")
    }

    /// Parses an STS AssumeRole response body.
    static func assumeRole(_ body: [UInt8]) throws(EC2Error) -> AWSCredentials {
        let root: XMLElement
        do { root = try XMLTree.parse(body) } catch { throw EC2Error.malformed("AssumeRole answer is not XML: \(error)") }
        guard let c = root.first(named: "Credentials"),
              let key = c.value("AccessKeyId"), let secret = c.value("SecretAccessKey") else {
            throw EC2Error.malformed("AssumeRole answer has no Credentials")
        }
        let expiration = c.value("Expiration").flatMap(ISO8601.parse)
        return AWSCredentials(accessKeyID: key, secretAccessKey: secret, sessionToken: c.value("SessionToken"),
                              expiration: expiration, source: "sts-assume-role")
    }
}

/// Minimal ISO 8601 UTC timestamp parsing (`2024-05-01T12:00:00Z`, fractional seconds and `+00:00` allowed).
enum ISO8601 {
    /// Seconds since 1970 for a timestamp, nil when it is not one.
    static func parse(_ s: String) -> Double? {
        let b = Array(s.utf8)
        func num(_ from: Int, _ len: Int) -> Int? {
            guard from + len <= b.count else { return nil }
            var v = 0
            for k in from..<(from + len) {
                guard b[k] >= 0x30, b[k] <= 0x39 else { return nil }
                v = v * 10 + Int(b[k] - 0x30)
            }
            return v
        }
        guard b.count >= 19, let y = num(0, 4), b[4] == UInt8(ascii: "-"), let mo = num(5, 2), b[7] == UInt8(ascii: "-"),
              let d = num(8, 2), b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: " "),
              let h = num(11, 2), b[13] == UInt8(ascii: ":"), let mi = num(14, 2), b[16] == UInt8(ascii: ":"),
              let sec = num(17, 2), (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, sec < 61 else { return nil }
        var k = 19
        var frac = 0.0
        if k < b.count, b[k] == UInt8(ascii: ".") {
            k += 1
            var scale = 0.1
            while k < b.count, b[k] >= 0x30, b[k] <= 0x39 { frac += Double(b[k] - 0x30) * scale; scale /= 10; k += 1 }
        }
        var offset = 0
        if k < b.count {
            if b[k] == UInt8(ascii: "Z") {
                k += 1
            } else if b[k] == UInt8(ascii: "+") || b[k] == UInt8(ascii: "-") {
                guard let oh = num(k + 1, 2), k + 3 < b.count, b[k + 3] == UInt8(ascii: ":"), let om = num(k + 4, 2) else { return nil }
                offset = (oh * 3600 + om * 60) * (b[k] == UInt8(ascii: "+") ? 1 : -1)
                k += 6
            }
        }
        guard k == b.count else { return nil }
        // Days from civil (Howard Hinnant).
        let yy = mo <= 2 ? y - 1 : y
        let era = (yy >= 0 ? yy : yy - 399) / 400
        let yoe = yy - era * 400
        let mp = (mo + 9) % 12
        let doy = (153 * mp + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146097 + doe - 719468
        return Double(days * 86400 + h * 3600 + mi * 60 + sec - offset) + frac
    }
}
