/// Accepts each sender's nonce at most once: anything newer than the newest seen, or one of the 64 before it not
/// seen yet (UDP reorders); everything else is a replay.
///
/// A value type; one per receiving socket.
public struct ReplayGuard: Sendable {
    private var newest: [String: (nonce: UInt64, seen: UInt64)] = [:]

    public init() {}

    /// Records `nonce` from `sender`; `false` when it was seen before or is too old to tell.
    public mutating func accept(_ nonce: UInt64, from sender: String) -> Bool {
        guard let state = newest[sender] else {
            newest[sender] = (nonce, 1)
            return true
        }
        if nonce > state.nonce {
            let shift = nonce - state.nonce
            newest[sender] = (nonce, shift >= 64 ? 1 : (state.seen << shift) | 1)
            return true
        }
        let age = state.nonce - nonce
        guard age < 64, state.seen & (1 << age) == 0 else { return false }
        newest[sender]!.seen |= 1 << age
        return true
    }
}
