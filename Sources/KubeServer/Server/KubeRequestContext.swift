import Hummingbird
import NIOCore

/// Hummingbird's request context with the connection's remote address, which the per-client limits count by.
struct KubeRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: SocketAddress?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}
