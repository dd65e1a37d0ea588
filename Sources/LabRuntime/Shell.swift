import Lab

/// Runs short external commands (`ip`, `kubectl`) from async code without occupying a cooperative thread.
enum Shell {
    /// Runs `executable` with `arguments` on a thread of its own; returns its exit status and its standard output
    /// and error together. A program that cannot be started gives status 127 and the reason.
    static func run(_ executable: String, _ arguments: [String]) async -> (status: Int32, output: String) {
        await BlockingWork.run {
            do {
                return try LabNetwork.process(executable, arguments, captureError: true)
            } catch {
                return (127, "cannot run \(executable): \(error)")
            }
        }
    }
}
