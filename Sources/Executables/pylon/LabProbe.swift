import ArgumentParser
import LabRuntime

/// `pylon lab probe` (internal): HTTP requests from the lab's client, one line per request.
struct LabProbeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe", abstract: "Send HTTP GETs to an address and print one line per answer.",
        shouldDisplay: false)

    @Argument(help: "The address to probe.")
    var address: String

    @Option(help: "TCP port.")
    var port = 80

    @Option(help: "Stop after this many requests.")
    var count = 1

    @Option(name: .customLong("interval-ms"), help: "Milliseconds from one request to the next.")
    var interval = 100

    @Option(name: .customLong("timeout-ms"), help: "Milliseconds a request may take.")
    var timeout = 2000

    @Option(help: "Stop after this many seconds.")
    var duration = 60

    func validate() throws {
        guard count > 0, count <= 100_000, interval > 0, timeout > 0, duration > 0, duration <= 3600 else {
            throw ValidationError("count (1-100000), interval, timeout and duration (1-3600 s) must be positive")
        }
    }

    func run() async throws {
        var answered = 0
        await HTTPProbe.stream(
            host: address, port: port, interval: .milliseconds(interval), timeout: .milliseconds(timeout),
            duration: .seconds(duration), count: count
        ) { line in
            if line.contains(" ok ") { answered += 1 }
            say(line)
        }
        if answered == 0 { throw ExitCode.failure }
    }
}
