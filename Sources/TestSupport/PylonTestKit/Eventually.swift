/// Waits until `condition` holds, checking every 20 ms, for at most `timeout`; throws `TestFailure` naming `what`
/// otherwise. The way tests synchronise with asynchronous systems: on a condition, with a deadline.
public func eventually(
    _ what: String, timeout: Duration = .seconds(20), _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    if try await condition() { return }
    throw TestFailure("timed out after \(timeout) waiting for \(what)")
}
