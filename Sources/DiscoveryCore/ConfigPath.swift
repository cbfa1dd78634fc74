/// Helpers to build JSON paths the way users read them.
public enum ConfigPath {
    public static func key(_ base: String, _ key: String) -> String {
        base.isEmpty ? key : "\(base).\(key)"
    }

    public static func index(_ base: String, _ i: Int) -> String {
        "\(base)[\(i)]"
    }
}
