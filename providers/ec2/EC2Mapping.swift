import DiscoveryCore

/// Turns DescribeInstances results into `Instance` lists per watched service.
///
/// Health rules (the core drains `critical` instances under the `passing` policy):
/// - `running` → passing; `pending` → not published (it has not booted; it appears once running);
/// - `stopping`, `shutting-down` → critical; `stopped`, `terminated` → not published;
/// - tag `HAProxy:Drain` = `true`/`yes`/`1` → critical;
/// - tag `HAProxy:Lifecycle:State` or `aws:autoscaling:lifecycle-state` starting with `Terminating`
///   (`Terminating`, `Terminating:Wait`, `Terminating:Proceed`, as a lifecycle-hook handler writes it) → critical;
/// - spot instances (`instanceLifecycle = spot`) carrying a non-empty `HAProxy:Spot:Interruption` tag → critical.
public struct EC2Mapper: Sendable {
    public var serviceTag: String
    public var portTag: String
    public var weightTag: String
    public var address: EC2Config.AddressKind

    public static let drainTag = "HAProxy:Drain"
    public static let lifecycleTags = ["HAProxy:Lifecycle:State", "aws:autoscaling:lifecycle-state"]
    public static let spotInterruptionTag = "HAProxy:Spot:Interruption"

    public init(serviceTag: String, portTag: String, weightTag: String, address: EC2Config.AddressKind) {
        self.serviceTag = serviceTag
        self.portTag = portTag
        self.weightTag = weightTag
        self.address = address
    }

    init(config: EC2Config) {
        self.init(serviceTag: config.serviceTag, portTag: config.portTag, weightTag: config.weightTag, address: config.address)
    }

    /// A problem with one instance that is logged (once) and otherwise tolerated.
    public struct Warning: Sendable, Hashable {
        public var instanceID: String
        public var message: String
    }

    /// Maps one instance; nil when it is not published (state, or no usable address → warning).
    public func map(_ ec2: EC2Instance, region: String, prefixRegion: Bool, warnings: inout [Warning]) -> Instance? {
        let health: InstanceHealth
        switch ec2.state {
        case "running": health = .passing
        case "stopping", "shutting-down": health = .critical
        default: return nil
        }
        let id = prefixRegion ? "\(region)/\(ec2.instanceID)" : ec2.instanceID
        let addr: String?
        switch address {
        case .private: addr = ec2.privateIPv4
        case .public: addr = ec2.publicIPv4
        case .ipv6: addr = ec2.ipv6.first
        }
        guard let addr, AddressLiteral.isValid(addr) else {
            // A stopping instance may already have lost its public address; that is not worth a warning.
            if health == .passing {
                let what = addr.map { "invalid \(address.rawValue) address \"\($0.prefix(50))\"" } ?? "no \(address.rawValue) address"
                warnings.append(Warning(instanceID: id, message: "\(what); not published"))
            }
            return nil
        }
        var port: Int?
        if let p = ec2.tags[portTag] {
            if let v = Int(p.trimmingWhitespace()), (1...65535).contains(v) {
                port = v
            } else {
                warnings.append(Warning(instanceID: id, message: "tag \(portTag)=\"\(p.prefix(20))\" is not a port 1-65535; using the backend port"))
            }
        }
        var weight: Int?
        if let w = ec2.tags[weightTag] {
            if let v = Int(w.trimmingWhitespace()) {
                weight = min(max(v, 0), 256)
                if weight != v {
                    warnings.append(Warning(instanceID: id, message: "tag \(weightTag)=\(v) clamped to \(weight ?? 0)"))
                }
            } else {
                warnings.append(Warning(instanceID: id, message: "tag \(weightTag)=\"\(w.prefix(20))\" is not an integer; using the default weight"))
            }
        }
        var finalHealth = health
        if let d = ec2.tags[Self.drainTag], ["true", "yes", "1"].contains(d.trimmingWhitespace().lowercased()) {
            finalHealth = max(finalHealth, .critical)
        }
        for t in Self.lifecycleTags {
            if let s = ec2.tags[t], s.trimmingWhitespace().hasPrefix("Terminating") { finalHealth = max(finalHealth, .critical) }
        }
        if ec2.instanceLifecycle == "spot", let s = ec2.tags[Self.spotInterruptionTag], !s.trimmingWhitespace().isEmpty {
            finalHealth = max(finalHealth, .critical)
        }
        var meta = ec2.tags
        meta["ec2.instance_id"] = ec2.instanceID
        meta["ec2.region"] = region
        meta["ec2.state"] = ec2.state
        if let az = ec2.availabilityZone { meta["ec2.availability_zone"] = az }
        if let t = ec2.instanceType { meta["ec2.instance_type"] = t }
        if let l = ec2.instanceLifecycle { meta["ec2.lifecycle"] = l }
        return Instance(id: id, address: addr, port: port, weight: weight, health: finalHealth, tags: [], meta: meta)
    }

    /// Groups the instances of all regions by the value of the service tag, for the watched `services`.
    ///
    /// The result has an entry (possibly empty) for every watched service, sorted by id.
    public func group(_ regions: [(region: String, instances: [EC2Instance])], services: Set<String>,
                      warnings: inout [Warning]) -> [String: [Instance]] {
        var out: [String: [Instance]] = [:]
        for s in services { out[s] = [] }
        let prefix = regions.count > 1
        for (region, instances) in regions {
            for ec2 in instances {
                guard let service = ec2.tags[serviceTag], services.contains(service) else { continue }
                if let i = map(ec2, region: region, prefixRegion: prefix, warnings: &warnings) {
                    out[service, default: []].append(i)
                }
            }
        }
        for k in out.keys { out[k]?.sort { $0.id < $1.id } }
        return out
    }
}
