import Crypto
import FuzzDriver
import Membership

/// Membership packets behind a valid MAC (the input is authenticated with the fuzzer's key first, so the parser
/// sees every mutation): opening returns a message or a `Drop`, never traps, and an opened message seals and opens
/// to the same one.
func fuzzMembership(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let key = SymmetricKey(data: Array(repeating: UInt8(7), count: 32))
    let body = bytes(data, size)
    let packet = body + Array(HMAC<SHA256>.authenticationCode(for: body, using: key))
    guard let opened = try? PacketCodec.open(packet, key: key) else { return 0 }
    let again = PacketCodec.seal(opened.message, sender: opened.sender, nonce: opened.nonce, key: key)
    guard (try? PacketCodec.open(again, key: key))?.message == opened.message else {
        fatalError("a membership message did not survive a round trip: \(opened.message)")
    }
    return 0
}

runFuzzer(fuzzMembership)
