import Hummingbird
import Logging
import Metrics
import NIOCore
import Prometheus
import ServiceLifecycle

/// The metrics and health endpoint every Pylon daemon serves: `/metrics` (Prometheus text format), `/healthz`
/// (the process runs) and `/readyz` (the component says it is ready).
///
/// A `Service`; listens on loopback unless told otherwise. `bootstrap()` must run once per process before
/// metrics are created, so that swift-metrics reports into this server's registry.
public struct MetricsServer: Service {
    public let host: String
    public let port: Int
    private let registry: PrometheusCollectorRegistry
    private let ready: @Sendable () -> Bool
    private let logger: Logger

    /// - Parameter ready: answers `/readyz`; `true` means 200.
    public init(
        host: String, port: Int, registry: PrometheusCollectorRegistry, logger: Logger,
        ready: @escaping @Sendable () -> Bool
    ) {
        self.host = host
        self.port = port
        self.registry = registry
        self.ready = ready
        self.logger = logger
    }

    /// Makes swift-metrics report into a new registry, returned for `MetricsServer`.
    public static func bootstrap() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }

    public func run() async throws {
        let router = Router()
        let registry = self.registry
        let ready = self.ready
        router.get("metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
        router.get("healthz") { _, _ in "ok" }
        router.get("readyz") { _, _ -> Response in
            ready()
                ? Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "ok")))
                : Response(status: .serviceUnavailable, body: .init(byteBuffer: ByteBuffer(string: "not ready")))
        }
        let app = Application(
            router: router, configuration: .init(address: .hostname(host, port: port)), logger: logger)
        try await app.runService(gracefulShutdownSignals: [])
    }
}
