import KubeAPI
import Metrics
import NIOCore

/// One event from a watch stream.
public struct WatchEvent: Sendable {
    public enum Kind: String, Sendable {
        case added = "ADDED"
        case modified = "MODIFIED"
        case deleted = "DELETED"
        case bookmark = "BOOKMARK"
    }

    public var kind: Kind
    public var object: JSON

    /// The event's `metadata.resourceVersion`.
    public var resourceVersion: String? { object["metadata"]?["resourceVersion"]?.stringValue }
}

extension KubeClient {
    /// Watches a collection from `resourceVersion` (or from now, with the current objects as ADDED events, when
    /// `nil`). The stream ends when the server closes it (after `timeoutSeconds`) and fails with `Status` on an
    /// ERROR event or HTTP error (410 `Expired` when the version is too old), or `ClientError` when the
    /// connection breaks. Events of any size, however the response is chunked.
    public func watch(
        _ resource: Resource, namespace: String? = nil, resourceVersion: String? = nil, labelSelector: String? = nil,
        fieldSelector: String? = nil, allowBookmarks: Bool = true, timeoutSeconds: Int = 300
    ) -> AsyncThrowingStream<WatchEvent, any Error> {
        var query: [(String, String)] = [("watch", "true"), ("timeoutSeconds", String(timeoutSeconds))]
        if let resourceVersion { query.append(("resourceVersion", resourceVersion)) }
        if allowBookmarks { query.append(("allowWatchBookmarks", "true")) }
        if let labelSelector { query.append(("labelSelector", labelSelector)) }
        if let fieldSelector { query.append(("fieldSelector", fieldSelector)) }
        let path = resource.path(namespace: namespace) + encode(query)
        let (stream, continuation) = AsyncThrowingStream<WatchEvent, any Error>.makeStream()
        let task = Task {
            do {
                try await self.limiter.acquire()
                let response: HTTPExchangeHandler.StreamedResponse
                do {
                    response = try await self.transport.stream(
                        "GET", self.basePath + path, headers: self.standardHeaders(contentType: nil),
                        timeout: .seconds(Int64(timeoutSeconds) + 30))
                } catch {
                    Self.count("watch", resource, nil, code: "error")
                    throw error
                }
                Self.count("watch", resource, nil, code: String(response.status))
                guard response.status == 200 else {
                    var bytes = ByteBuffer()
                    for try await var piece in response.body {
                        bytes.writeBuffer(&piece)
                        if bytes.readableBytes >= 1 << 20 { break }
                    }
                    if let json = try? JSONParser.parse(bytes.readableBytesView), let status = Status(json: json) {
                        throw status
                    }
                    throw Status(code: response.status, reason: response.reason, message: String(buffer: bytes))
                }
                var decoder = JSONLineDecoder()
                for try await chunk in response.body {
                    decoder.append(chunk.readableBytesView)
                    while let line = try decoder.next() {
                        guard let type = line["type"]?.stringValue, let object = line["object"] else {
                            throw ClientError.decoding("watch event without type or object")
                        }
                        if type == "ERROR" {
                            throw Status(json: object) ?? Status.internalError("watch error event: \(object.text())")
                        }
                        guard let kind = WatchEvent.Kind(rawValue: type) else { continue }
                        continuation.yield(WatchEvent(kind: kind, object: object))
                    }
                }
                continuation.finish()
            } catch let status as Status {
                continuation.finish(throwing: status)
            } catch let error as ClientError {
                continuation.finish(throwing: error)
            } catch {
                continuation.finish(throwing: ClientError.transport("watch \(resource.plural): \(error)"))
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }
}
