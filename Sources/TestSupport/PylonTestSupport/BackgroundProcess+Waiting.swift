import Processes

extension BackgroundProcess {
    /// Waits until the output contains `needle`; throws `TestFailure` after `timeout`.
    public func waitFor(_ needle: String, timeout: Duration = .seconds(20)) async throws {
        try await eventually("output containing \"\(needle)\"", timeout: timeout) { self.text.contains(needle) }
    }
}
