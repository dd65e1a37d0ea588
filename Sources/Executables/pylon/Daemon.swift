import KubeClient
import Logging
import ServiceLifecycle
import Telemetry
import UnixSignals

/// How every `pylon` daemon runs: its services and a `MemoryTrimmer` as one `ServiceGroup` that shuts down
/// gracefully on SIGTERM or SIGINT, then the Kubernetes client closed (also when a service fails, whose error is
/// rethrown).
enum Daemon {
    static func run(_ services: [any Service], client: KubeClient? = nil, logger: Logger) async throws {
        let group = ServiceGroup(
            configuration: .init(
                services: (services + [MemoryTrimmer()]).map { .init(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        do {
            try await group.run()
        } catch {
            try? await client?.shutdown()
            throw error
        }
        try await client?.shutdown()
    }
}
