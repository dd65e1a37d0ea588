import HTTPTypes
import Hummingbird
import KubeAPI
import NIOCore

/// Adapts Hummingbird requests to the `APIHandler` and its responses back.
struct KubeResponder: HTTPResponder {
    typealias Context = KubeRequestContext

    /// kube-apiserver's request body limit.
    static let maximumBody = 3 * 1024 * 1024

    let handler: APIHandler

    func respond(to request: Request, context: Context) async throws -> Response {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: Self.maximumBody)
        } catch {
            return Self.response(
                .failure(
                    Status(
                        code: 413, reason: "RequestEntityTooLarge",
                        message: "Request entity too large: limit is \(Self.maximumBody)")))
        }
        var headers: [String: String] = [:]
        for field in request.headers { headers[field.name.canonicalName] = field.value }
        let (path, query) = APIRequest.splitTarget(request.uri.description)
        let apiRequest = APIRequest(
            method: request.method.rawValue, path: path, query: query, headers: headers,
            body: Array(buffer.readableBytesView), client: context.remoteAddress?.ipAddress)
        let response = await handler.handle(apiRequest)
        if let gone = response.onClientGone { context.closed.whenComplete { _ in gone() } }
        return Self.response(response)
    }

    static func response(_ r: APIResponse) -> Response {
        var headers: HTTPFields = [.contentType: r.contentType, .cacheControl: "no-cache, private"]
        for (k, v) in r.headers where k != "transfer-encoding" {
            if let name = HTTPField.Name(k) { headers[name] = v }
        }
        let status = HTTPResponse.Status(code: r.status)
        switch r.body {
        case .bytes(let bytes):
            return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        case .stream(let stream):
            return Response(
                status: status, headers: headers, body: .init(asyncSequence: stream.map { ByteBuffer(bytes: $0) }))
        }
    }
}
