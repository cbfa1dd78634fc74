import DiscoveryCore
import Logging
import ServiceLifecycle

/// One provider as a lifecycle service: runs its watch until cancelled, restarting it with backoff when it returns
/// or throws, and reporting failures to its sink.
public struct ProviderService: Service, CustomStringConvertible {
    /// Names the service only: the service group logs it, and its fields may hold credentials.
    public var description: String { "ProviderService(\(provider.name))" }

    let provider: any DiscoveryProvider
    let sink: any ProviderSink
    let logger: Logger

    public init(provider: any DiscoveryProvider, sink: any ProviderSink, logger: Logger) {
        self.provider = provider
        self.sink = sink
        self.logger = logger
    }

    public func run() async {
        var backoff = Backoff(base: .milliseconds(500), cap: .seconds(30))
        while !Task.isCancelled {
            do {
                try await provider.run(sink: sink)
                if Task.isCancelled { return }
                logger.warning("provider stopped unexpectedly; restarting", metadata: ["provider": "\(provider.name)"])
            } catch is CancellationError {
                return
            } catch {
                if Task.isCancelled { return }
                await sink.reportFailure(provider: provider.name, error: "\(error)")
                logger.error("provider failed; restarting", metadata: ["provider": "\(provider.name)", "error": "\(error)"])
            }
            try? await Task.sleep(for: backoff.next())
        }
    }
}
