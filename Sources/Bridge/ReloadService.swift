import ServiceLifecycle
import UnixSignals

/// Listens for SIGHUP and reloads the config.
struct ReloadService: Service, CustomStringConvertible {
    /// Names the service only: the service group logs it, and its fields may hold credentials.
    var description: String { "ReloadService" }

    let reloader: ConfigReloader

    func run() async {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        for await _ in signals.cancelOnGracefulShutdown() {
            await reloader.reload()
        }
    }
}
