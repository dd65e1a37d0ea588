/// The versions of the CNI specification the plugin speaks.
public enum CNIVersion {
    /// The newest, in which results are written unless the configuration asks for another.
    public static let current = "1.1.0"
    /// Every version a configuration may name: CHECK arrived in 0.4.0, GC and STATUS in 1.1.0.
    public static let supported = ["0.4.0", "1.0.0", "1.1.0"]

    /// Whether `version` (a supported one) has `command`.
    public static func allows(_ command: CNICommand, in version: String) -> Bool {
        switch command {
        case .add, .delete, .check, .version: true
        case .status, .garbageCollect: version == "1.1.0"
        }
    }
}
