import Hummingbird
import NIOCore

/// Hummingbird's request context with the connection's remote address, which the per-client limits count by,
/// and the connection's close, which ends a watch whose client has gone.
struct KubeRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: SocketAddress?
    let closed: EventLoopFuture<Void>

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
        closed = source.channel.closeFuture
    }
}
