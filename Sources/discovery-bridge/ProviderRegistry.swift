import ConsulProvider
import DiscoveryCore
import EC2Provider
import FileProvider

/// Every provider the bridge knows; adding a provider is one line here and one folder under providers/.
enum ProviderRegistry {
    static let factories: [any ProviderFactory] = [
        FileProviderFactory(),
        ConsulProviderFactory(),
        EC2ProviderFactory(),
    ]
}
