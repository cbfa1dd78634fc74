import ServiceLifecycle
import UnixSignals

/// Listens for SIGHUP and reloads the config.
struct ReloadService: Service {
    let reloader: ConfigReloader

    func run() async {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        for await _ in signals.cancelOnGracefulShutdown() {
            await reloader.reload()
        }
    }
}
