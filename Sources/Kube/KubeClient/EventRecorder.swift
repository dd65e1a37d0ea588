import DequeModule
import FoundationEssentials
import KubeAPI
import Logging
import Synchronization

/// Records core/v1 Events about objects the way client-go's recorder does: the first occurrence creates an Event,
/// repeats of the same event (same object, type, reason, message, source) increase its `count` and
/// `lastTimestamp` instead of creating new ones, and a per-object token bucket (burst 25, one more every 5
/// minutes) stops floods. Both caches keep the 4,096 most recently added keys, as client-go's do.
///
/// Thread-safe. Recording never throws: failures are logged and dropped, like client-go.
public final class EventRecorder: Sendable {
    /// An Event already created: the suffix of its name and its count.
    private struct Seen {
        var stamp: UInt64
        var count: Int64
    }

    /// The caches are keyed by a 64-bit hash of the key text (this process's seeded SipHash), so they keep no
    /// strings of their own: thousands of small allocations made while a burst of Events is written would pin the
    /// pages around them. Two of 4,096 keys colliding is about as likely as 1 in 10^12.
    private typealias Digest = Int

    private static func digest(_ text: String) -> Digest { text.hashValue }

    private struct State {
        var seen: [Digest: Seen] = [:]
        var order: Deque<Digest> = []
        var buckets: [Digest: (tokens: Double, last: ContinuousClock.Instant)] = [:]
        var bucketOrder: Deque<Digest> = []
    }

    private let client: KubeClient
    private let component: String
    private let host: String?
    private let logger: Logger
    private let state = Mutex(State())
    private let cacheSize = 4096

    /// - Parameters:
    ///   - component: the `source.component` (e.g. `pylon-controller`).
    ///   - host: the `source.host` (the node name for speakers).
    public init(
        client: KubeClient, component: String, host: String? = nil, logger: Logger = Logger(label: "pylon.events")
    ) {
        self.client = client
        self.component = component
        self.host = host
        self.logger = logger
    }

    /// Records an event about `object` (any object with apiVersion, kind and metadata).
    /// - Parameter type: `Normal` or `Warning`.
    public func record(_ object: JSON, type: String, reason: String, message: String) async {
        let meta = object["metadata"]
        let namespace = meta?["namespace"]?.stringValue ?? "default"
        let involved: JSON = [
            "kind": object["kind"] ?? "", "namespace": meta?["namespace"] ?? .null, "name": meta?["name"] ?? "",
            "uid": meta?["uid"] ?? "", "apiVersion": object["apiVersion"] ?? "",
            "resourceVersion": meta?["resourceVersion"] ?? "",
        ]
        let objectKey = "\(namespace)/\(meta?["name"]?.stringValue ?? "")/\(meta?["uid"]?.stringValue ?? "")"
        let key = Self.digest([objectKey, type, reason, message, component, host ?? ""].joined(separator: "\u{0}"))
        let objectName = meta?["name"]?.stringValue ?? "object"
        guard allow(Self.digest(objectKey)) else {
            logger.debug("event dropped by spam filter", metadata: ["object": "\(objectKey)", "reason": "\(reason)"])
            return
        }
        let now = JSON.string(Timestamp.format(epochSeconds: Int64(Date().timeIntervalSince1970)))
        let previous = state.withLock { $0.seen[key] }
        if let previous {
            let count = previous.count + 1
            do {
                _ = try await client.patch(
                    .events, namespace: namespace, name: Self.eventName(objectName, previous.stamp),
                    ["count": .int(count), "lastTimestamp": now], type: .merge)
                state.withLock { $0.seen[key]?.count = count }
                return
            } catch let status as Status where status.code == 404 {
                // The event expired or was deleted: create a new one below.
            } catch {
                logger.warning("cannot update event", metadata: ["reason": "\(reason)", "error": "\(error)"])
                return
            }
        }
        let stamp = UInt64(Date().timeIntervalSince1970 * 1e9)
        let name = Self.eventName(objectName, stamp)
        var source: JSON = ["component": .string(component)]
        if let host { source["host"] = .string(host) }
        let event: JSON = [
            "apiVersion": "v1", "kind": "Event", "metadata": ["name": .string(name), "namespace": .string(namespace)],
            "involvedObject": involved, "reason": .string(reason), "message": .string(message), "type": .string(type),
            "source": source, "firstTimestamp": now, "lastTimestamp": now, "count": 1,
            "reportingComponent": .string(component), "reportingInstance": .string(host ?? ""),
        ]
        do {
            _ = try await client.create(.events, namespace: namespace, event)
            state.withLock { s in
                s.seen[key] = Seen(stamp: stamp, count: 1)
                s.order.append(key)
                if s.order.count > cacheSize { s.seen[s.order.removeFirst()] = nil }
            }
        } catch {
            logger.warning("cannot record event", metadata: ["reason": "\(reason)", "error": "\(error)"])
        }
    }

    /// An Event's name: its object's and the creation time in nanoseconds, in hexadecimal (as client-go names them).
    private static func eventName(_ objectName: String, _ stamp: UInt64) -> String {
        "\(objectName).\(String(stamp, radix: 16))"
    }

    private func allow(_ objectKey: Digest) -> Bool {
        state.withLock { s in
            let now = ContinuousClock.now
            func refilled(_ bucket: (tokens: Double, last: ContinuousClock.Instant)) -> Double {
                let elapsed = bucket.last.duration(to: now)
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                return min(25, bucket.tokens + seconds / 300)
            }
            var bucket: (tokens: Double, last: ContinuousClock.Instant)
            if let known = s.buckets[objectKey] {
                bucket = known
            } else {
                // A new object; the one whose bucket is oldest is forgotten and would start again with a full one.
                bucket = (25, now)
                s.bucketOrder.append(objectKey)
                if s.bucketOrder.count > cacheSize { s.buckets[s.bucketOrder.removeFirst()] = nil }
            }
            bucket.tokens = refilled(bucket)
            bucket.last = now
            guard bucket.tokens >= 1 else {
                s.buckets[objectKey] = bucket
                return false
            }
            bucket.tokens -= 1
            s.buckets[objectKey] = bucket
            return true
        }
    }
}
