import ArgumentParser
import Foundation
import KubeClient

/// The standard client flags of every subcommand that talks to a Kubernetes API.
struct ClientOptions: ParsableArguments {
    @Option(help: "Path to a kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster).")
    var kubeconfig: String?

    @Option(help: "The kubeconfig context to use (default: its current-context).")
    var context: String?

    /// Builds the client configuration these flags and the environment describe.
    func configuration() throws -> ClientConfiguration {
        try KubeConfigLoader(environment: ProcessInfo.processInfo.environment).load(
            kubeconfig: kubeconfig, context: context)
    }
}
