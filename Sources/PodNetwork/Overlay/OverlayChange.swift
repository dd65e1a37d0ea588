/// One change to the kernel the overlay makes: put (create or replace) or remove an entry.
///
/// Pure value.
public enum OverlayChange: Sendable, Hashable, CustomStringConvertible {
    case put(OverlayEntry)
    case remove(OverlayEntry)

    public var description: String {
        switch self {
        case .put(let entry): "put \(entry)"
        case .remove(let entry): "remove \(entry)"
        }
    }
}
