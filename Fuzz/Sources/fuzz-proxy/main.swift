import FuzzDriver
import KubeAPI
import NetCore
import Proxy

/// What any client of the API hands the proxy: a JSON array of Services and EndpointSlices reads into a plan per
/// family that never traps, whose every endpoint index is below its target's count, and which needs no change
/// against itself.
func fuzzProxy(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let objects = (try? JSONParser.parse(bytes(data, size)))?.arrayValue else { return 0 }
    let services = objects.filter { $0["kind"]?.stringValue != "EndpointSlice" }
    let slices = objects.filter { $0["kind"]?.stringValue == "EndpointSlice" }
    for family in [IPFamily.ipv4, .ipv6] {
        let plan = ProxyPlan(services: services, slices: slices, family: family, node: "node-1")
        for (key, _) in plan.endpoints {
            switch plan.services[key.key] {
            case .pick(let n)?, .pickExternal(let n)?:
                guard key.index < n else { fatalError("an endpoint index beyond its target's count") }
            default: fatalError("an endpoint of an address with no pick target")
            }
        }
        guard plan.elementChanges(from: plan, maps: ProxyMaps(family: family)).isEmpty else {
            fatalError("a kernel holding the plan needs changes")
        }
    }
    return 0
}

runFuzzer(fuzzProxy)
