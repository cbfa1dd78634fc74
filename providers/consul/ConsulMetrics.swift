import DiscoveryCore

/// Reports the provider's connection figures to the sink every few seconds, while the provider runs.
struct ConsulMetrics: Sendable {
    let client: ConsulClient
    let budget: WatchBudget
    let sink: any ProviderSink
    var interval: Duration = .seconds(2)

    func run() async {
        while !Task.isCancelled {
            await sink.reportMetrics(provider: "consul", figures())
            do { try await Task.sleep(for: interval) } catch { return }
        }
    }

    func figures() -> [ProviderMetric] {
        let c = client.http.connections
        let address = ["address": client.settings.address]
        let feed = budget.decide(current: nil) == .feed
        return [
            ProviderMetric(name: "discovery_bridge_consul_connections", help: "TCP connections open to the Consul address, counted at the socket.",
                           kind: .gauge, labels: address, value: Double(c.open)),
            ProviderMetric(name: "discovery_bridge_consul_connections_peak", help: "Most TCP connections open to the Consul address at once since start.",
                           kind: .gauge, labels: address, value: Double(c.peak)),
            ProviderMetric(name: "discovery_bridge_consul_connections_opened_total", help: "TCP connections opened to the Consul address.",
                           kind: .counter, labels: address, value: Double(c.opened)),
            ProviderMetric(name: "discovery_bridge_consul_max_connections", help: "The connection budget (providers.consul.max_connections).",
                           kind: .gauge, labels: address, value: Double(client.settings.maxConnections)),
            ProviderMetric(name: "discovery_bridge_consul_concurrency", help: "Requests allowed in flight now (lowered while Consul pushes back).",
                           kind: .gauge, labels: address, value: Double(client.gate.limit)),
            ProviderMetric(name: "discovery_bridge_consul_refusals_total", help: "Requests Consul refused (HTTP 429 or closed on arrival).",
                           kind: .counter, labels: address, value: Double(client.gate.refusals)),
            ProviderMetric(name: "discovery_bridge_consul_watches", help: "Services watched.",
                           kind: .gauge, labels: address, value: Double(budget.watches)),
            ProviderMetric(name: "discovery_bridge_consul_change_feed", help: "1 while the shared change feed watches the services, 0 with one blocking query each.",
                           kind: .gauge, labels: address, value: feed ? 1 : 0),
        ]
    }
}
