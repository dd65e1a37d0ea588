/// How a child process ended and what it printed.
public struct ProcessOutput: Sendable, Equatable {
    /// How the process ended.
    public enum Termination: Sendable, Equatable {
        /// It called `exit` with this code.
        case exited(Int32)
        /// This signal ended it.
        case signalled(Int32)
    }

    public var termination: Termination
    /// Standard output, decoded as UTF-8 (invalid sequences replaced).
    public var standardOutput: String
    /// Standard error, decoded as UTF-8; empty when it was merged into standard output or discarded.
    public var standardError: String

    public init(termination: Termination, standardOutput: String, standardError: String) {
        self.termination = termination
        self.standardOutput = standardOutput
        self.standardError = standardError
    }

    /// The exit code, or 128 plus the signal's number when a signal ended the process (as shells report it).
    public var status: Int32 {
        switch termination {
        case .exited(let code): code
        case .signalled(let signal): 128 + signal
        }
    }

    /// The process exited with code 0.
    public var succeeded: Bool { termination == .exited(0) }

    /// The termination from a `waitpid` status word.
    static func termination(waitStatus: Int32) -> Termination {
        let signal = waitStatus & 0x7f
        return signal == 0 ? .exited((waitStatus >> 8) & 0xff) : .signalled(signal)
    }
}
