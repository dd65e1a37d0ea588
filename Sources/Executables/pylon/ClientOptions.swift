import ArgumentParser
import FoundationEssentials
import KubeClient

/// The standard client flags of every subcommand that talks to a Kubernetes API.
struct ClientOptions: ParsableArguments {
    @Option(help: "Path to a kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster).")
    var kubeconfig: String?

    @Option(help: "The kubeconfig context to use (default: its current-context).")
    var context: String?

    @Option(name: .customLong("kube-api-qps"), help: "Requests per second to the Kubernetes API (sustained).")
    var qps: Double = 50

    @Option(name: .customLong("kube-api-burst"), help: "Requests the client may send at once above the rate.")
    var burst: Int = 100

    func validate() throws {
        guard qps > 0, burst > 0 else { throw ValidationError("--kube-api-qps and --kube-api-burst must be positive") }
    }

    /// Builds the client configuration these flags and the environment describe.
    func configuration() throws -> ClientConfiguration {
        var configuration = try KubeConfigLoader(environment: ProcessInfo.processInfo.environment).load(
            kubeconfig: kubeconfig, context: context)
        configuration.qps = qps
        configuration.burst = burst
        return configuration
    }
}
