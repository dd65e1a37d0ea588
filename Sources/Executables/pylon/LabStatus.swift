import ArgumentParser
import FoundationEssentials
import KubeAPI
import LabRuntime

/// `pylon lab status`: the lab's hosts, daemons and load balancer addresses.
struct LabStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show the lab's hosts, processes and LoadBalancer Services.")

    enum Format: String, ExpressibleByArgument { case text, json }

    @OptionGroup var lab: LabDirectoryOption

    @Option(name: .shortAndLong, help: "Output format: text or json.")
    var output = Format.text

    func run() async throws {
        let status = try await LabCluster(say: say).status(directory: lab.directory)
        if output == .json {
            try JSONOutput.print(status)
            return
        }
        say("lab in \(status.directory); kubeconfig \(status.kubeconfig)")
        var rows = [["HOST", "NAMESPACE", "PROCESSES"]]
        for host in ["host"] + status.hosts {
            let daemons = status.daemons.filter { $0.host == host }.map {
                "\($0.role) (pid \($0.pid), \($0.running ? "running" : "NOT RUNNING"))"
            }
            rows.append([host, status.namespaces[host] ?? "-", daemons.isEmpty ? "-" : daemons.joined(separator: ", ")])
        }
        say(Self.table(rows))
        if let error = status.apiError {
            say("cannot read Services from the lab's API server: \(error)")
            return
        }
        var services = [["SERVICE", "EXTERNAL-IP", "ANNOUNCED BY"]]
        for service in status.services {
            services.append([
                "\(service.namespace)/\(service.name)",
                service.addresses.isEmpty ? "<pending>" : service.addresses.joined(separator: ","),
                service.announcedBy ?? "-",
            ])
        }
        say(Self.table(services))
    }

    static func table(_ rows: [[String]]) -> String {
        let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell.padded(to: widths[column] + 3)
            }.joined()
        }.joined(separator: "\n")
    }
}
