import CNI
import FuzzDriver
import KubeAPI

/// What a runtime or a node hands the CNI plugin: a network configuration (with `prevResult` and port mappings)
/// reads into a configuration or a `CNIError`, and so does a `subnet.env`; a configuration read once resolves
/// against any `subnet.env` and its result survives being written and read back (in 0.4.0 and 1.0.0 without the
/// interfaces' MTUs, which those versions do not have). Nothing traps.
func fuzzCNI(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = bytes(data, size)
    if let document = try? JSONParser.parse(input), let config = try? NetworkConfig(parsing: document) {
        if let previous = config.previousResult {
            // Interface MTUs are written from 1.1.0 on only.
            var withoutMTU = previous
            for i in withoutMTU.interfaces.indices { withoutMTU.interfaces[i].mtu = nil }
            for version in CNIVersion.supported {
                let expected = version == "1.1.0" ? previous : withoutMTU
                guard (try? CNIResult(json: previous.json(version: version))) == expected else {
                    fatalError("a result did not survive a round trip in \(version)")
                }
            }
        }
        let env = try? SubnetEnv(
            parsing:
                "FLANNEL_NETWORK=10.42.0.0/16\nFLANNEL_SUBNET=10.42.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n",
            file: "subnet.env")
        if let env { _ = try? config.resolved(with: env) }
        for set in config.ipam?.rangeSets ?? [] { _ = Array(set.candidates(after: nil).prefix(3)) }
    }
    _ = try? SubnetEnv(parsing: String(decoding: input, as: UTF8.self), file: "subnet.env")
    return 0
}

runFuzzer(fuzzCNI)
