/// `address:port` in HAProxy's notation (an IPv6 address in brackets), also the key that dedupes instances.
public enum Endpoint {
    public static func key(address: String, port: Int) -> String {
        address.utf8.contains(0x3A) ? "[\(address)]:\(port)" : "\(address):\(port)"
    }
}
