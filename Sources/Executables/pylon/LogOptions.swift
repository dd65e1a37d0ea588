import ArgumentParser
import Logging

/// The `--log-level` flag every subcommand has.
struct LogOptions: ParsableArguments {
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError(
                "--log-level: \"\(logLevel)\" is not one of trace, debug, info, notice, warning, error, critical")
        }
    }

    /// A logger with this level.
    func logger(_ label: String) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        return logger
    }
}
