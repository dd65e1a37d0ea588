import FoundationEssentials
import KubeAPI
import Synchronization

/// The bearer token to send: fixed, or read from a file and re-read when the file changes (rotated service
/// account tokens), checked at most once a second.
final class TokenSource: Sendable {
    private struct Cached {
        var token: String?
        var checked: ContinuousClock.Instant?
        var modified: Date?
    }

    private let credentials: ClientConfiguration.Credentials
    private let cache = Mutex(Cached())

    init(_ credentials: ClientConfiguration.Credentials) {
        self.credentials = credentials
    }

    func current() -> String? {
        switch credentials {
        case .token(let t): return t
        case .tokenFile(let path):
            return cache.withLock { c in
                let now = ContinuousClock.now
                if let checked = c.checked, checked.duration(to: now) < .seconds(1) { return c.token }
                c.checked = now
                let modified = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
                if c.token == nil || modified != c.modified,
                    let data = FileManager.default.contents(atPath: path)
                {
                    c.token = String(decoding: data, as: UTF8.self).trimmed()
                    c.modified = modified
                }
                return c.token
            }
        default: return nil
        }
    }
}
