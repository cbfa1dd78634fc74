import DiscoveryCore
import Logging
import TestSupport
import XCTest

/// A provider that does nothing; the config tests only need it to exist.
struct IdleProvider: DiscoveryProvider {
    var name: String
    var stalenessLimit: Duration { .seconds(60) }
    func run(sink: any ProviderSink) async throws {}
}

/// A factory that accepts any provider block and any source, so the loader's own validation is what is tested.
struct AcceptingFactory: ProviderFactory {
    var name: String
    func makeProvider(config: JSONValue, path: String, sources: [SourceSpec], context: ProviderContext) throws(ConfigError) -> any DiscoveryProvider {
        IdleProvider(name: name)
    }
}

/// A factory that rejects its block, to check that provider errors surface unchanged.
struct RejectingFactory: ProviderFactory {
    var name: String
    func makeProvider(config: JSONValue, path: String, sources: [SourceSpec], context: ProviderContext) throws(ConfigError) -> any DiscoveryProvider {
        throw ConfigError(path: "\(path).address", "is required")
    }
}

enum Fixtures {
    static let providerNames = ["file", "consul", "ec2"]

    static func loader(_ factories: [any ProviderFactory] = providerNames.map { AcceptingFactory(name: $0) }) -> ConfigLoader {
        ConfigLoader(factories: factories, environment: [:], logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    /// A backend config for planner tests.
    static func backend(
        name: String = "web", slots: Int = 4, port: Int? = 8080, health: HealthPolicy = .passing,
        drainTimeout: Duration = .seconds(30), growth: GrowthPolicy = GrowthPolicy(), defaultWeight: Int = 1,
        serverOptions: String = "check", sources: [SourceSpec] = [SourceSpec(provider: "file", service: "web")]
    ) -> BackendConfig {
        BackendConfig(
            name: name, slots: slots, port: port, sources: sources, health: health, drainTimeout: drainTimeout,
            growth: growth, defaultWeight: defaultWeight, serverOptions: serverOptions
        )
    }

    static func instance(_ n: Int, weight: Int = 1, port: Int = 8080, health: InstanceHealth = .passing) -> DesiredInstance {
        DesiredInstance(id: "file/i\(n)", address: "10.0.0.\(n)", port: port, weight: weight, health: health)
    }

    /// Live state of a freshly started HAProxy: every template server at the placeholder, in maintenance.
    static func freshLive(_ cfg: BackendConfig) -> [String: LiveServer] {
        var live: [String: LiveServer] = [:]
        for n in 1...cfg.slots {
            let name = cfg.serverName(n)
            live[name] = LiveServer.placeholder(name)
        }
        return live
    }
}

/// Asserts that `body` throws a `ConfigError` whose description is exactly `expected`.
func assertConfigError(
    _ expected: String, file: StaticString = #filePath, line: UInt = #line, _ body: () throws(ConfigError) -> Void
) {
    do {
        try body()
        XCTFail("expected the error \(expected), but it succeeded", file: file, line: line)
    } catch {
        XCTAssertEqual(error.description, expected, file: file, line: line)
    }
}
