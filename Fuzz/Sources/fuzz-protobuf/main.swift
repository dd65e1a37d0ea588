import FuzzDriver
import KubeAPI

/// Protobuf bodies as kubectl's typed clients send them: the envelope decoder gives JSON or a `Status`, never a
/// trap, and what it gives is an object with `apiVersion` and `kind` first that survives a JSON round trip.
/// The input is what follows the `k8s\0` magic.
func fuzzProtobuf(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let object = try? ProtoDecoder.decodeEnvelope(ProtoDecoder.magic + bytes(data, size)) else { return 0 }
    guard let fields = object.objectValue, Array(fields.keys.prefix(2)) == ["apiVersion", "kind"] else {
        fatalError("a decoded protobuf body is not an object led by apiVersion and kind: \(object)")
    }
    let text = object.serialized()
    guard (try? JSONParser.parse(text))?.serialized() == text else {
        fatalError("a decoded protobuf body did not survive a JSON round trip: \(object)")
    }
    return 0
}

runFuzzer(fuzzProtobuf)
