import FuzzDriver
import KubeAPI

/// YAML streams (request bodies, kubeconfigs, manifests): reading returns documents or a `YAMLError`, never traps,
/// and each document serializes to JSON that the JSON parser reads back to the same serialization.
func fuzzYAML(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: bytes(data, size), as: UTF8.self)
    guard let documents = try? YAMLToJSON.documents(text) else { return 0 }
    for document in documents {
        let text = document.serialized()
        guard (try? JSONParser.parse(text))?.serialized() == text else {
            fatalError("a YAML document did not survive JSON serialization: \(document)")
        }
    }
    return 0
}

runFuzzer(fuzzYAML)
