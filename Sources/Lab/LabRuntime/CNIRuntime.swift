import FoundationEssentials
import KubeAPI
import OrderedCollections
import Processes

/// Attaches and detaches a Pod's network the way a container runtime does through libcni: the first network
/// configuration in the configuration directory in name order (`*.conflist`, or a single `*.conf`/`*.json`
/// network), each plugin found by its `type` in the plugin directory, run with the `CNI_*` environment and its entry
/// on standard input (with the list's `name` and `cniVersion`, `runtimeConfig` for the capabilities it declares, and
/// the previous plugin's result as `prevResult`); DEL runs the plugins in reverse order.
///
/// Stateless; every failure is a `LabCluster.Failure` with the plugin's own message.
struct CNIRuntime: Sendable {
    /// One Pod's attachment.
    struct Attachment: Sendable {
        var containerID: String
        /// The network namespace's path (`CNI_NETNS`).
        var netns: String
        var interface = "eth0"
        var podNamespace: String
        var podName: String
        var podUID: String
        /// `runtimeConfig.portMappings` for plugins with the `portMappings` capability (the Pod's host ports).
        var portMappings: [JSON] = []
    }

    var configDirectory: String
    var pluginDirectory: String

    /// The network list a runtime would use now.
    /// - Throws: when the directory holds no readable network configuration (the network is not ready yet).
    func networkList() throws(LabCluster.Failure) -> JSON {
        let names =
            ((try? FileManager.default.contentsOfDirectory(atPath: configDirectory)) ?? [])
            .filter { $0.hasSuffix(".conflist") || $0.hasSuffix(".conf") || $0.hasSuffix(".json") }.sorted()
        for name in names {
            guard let bytes = FileManager.default.contents(atPath: configDirectory + "/" + name),
                let config = try? JSONParser.parse(Array(bytes))
            else { continue }
            if config["plugins"] != nil { return config }
            return ["name": config["name"] ?? "", "cniVersion": config["cniVersion"] ?? "", "plugins": [config]]
        }
        throw LabCluster.Failure("network not ready: no CNI configuration in \(configDirectory)")
    }

    /// ADD through every plugin; returns the last result.
    func add(_ attachment: Attachment) async throws(LabCluster.Failure) -> JSON {
        let list = try networkList()
        var previous: JSON?
        for plugin in list["plugins"]?.arrayValue ?? [] {
            previous = try await run("ADD", plugin, list: list, attachment, previous: previous)
        }
        return previous ?? [:]
    }

    /// DEL through every plugin in reverse order, with the ADD result when there is one.
    func delete(_ attachment: Attachment, result: JSON?) async throws(LabCluster.Failure) {
        let list = try networkList()
        for plugin in (list["plugins"]?.arrayValue ?? []).reversed() {
            _ = try await run("DEL", plugin, list: list, attachment, previous: result)
        }
    }

    private func run(_ command: String, _ plugin: JSON, list: JSON, _ attachment: Attachment, previous: JSON?)
        async throws(LabCluster.Failure) -> JSON?
    {
        guard let type = plugin["type"]?.stringValue, !type.isEmpty, !type.contains("/") else {
            throw LabCluster.Failure("CNI configuration \(list["name"]?.stringValue ?? "") has a plugin without a type")
        }
        var config = plugin
        config["name"] = list["name"]
        config["cniVersion"] = list["cniVersion"]
        if let previous { config["prevResult"] = previous }
        if plugin["capabilities"]?["portMappings"]?.boolValue == true, !attachment.portMappings.isEmpty {
            config["runtimeConfig"] = ["portMappings": .array(attachment.portMappings)]
        }
        let environment = [
            "CNI_COMMAND": command, "CNI_CONTAINERID": attachment.containerID, "CNI_NETNS": attachment.netns,
            "CNI_IFNAME": attachment.interface, "CNI_PATH": pluginDirectory,
            "CNI_ARGS":
                "IgnoreUnknown=1;K8S_POD_NAMESPACE=\(attachment.podNamespace);K8S_POD_NAME=\(attachment.podName);"
                + "K8S_POD_INFRA_CONTAINER_ID=\(attachment.containerID);K8S_POD_UID=\(attachment.podUID)",
        ]
        let output: ProcessOutput
        do {
            output = try await ChildProcess.run(
                pluginDirectory + "/" + type, [], environment: environment,
                input: String(decoding: config.serialized(), as: UTF8.self))
        } catch {
            throw LabCluster.Failure("cannot run the CNI plugin \(type): \(error)")
        }
        let answer = try? JSONParser.parse(output.standardOutput)
        guard output.succeeded else {
            let message = answer?["msg"]?.stringValue ?? output.standardError
            let details = answer?["details"]?.stringValue.map { ": \($0)" } ?? ""
            throw LabCluster.Failure("CNI \(command) by \(type) failed: \(message)\(details)")
        }
        return command == "ADD" ? answer : nil
    }
}
