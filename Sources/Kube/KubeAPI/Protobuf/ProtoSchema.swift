/// Field tables for the Kubernetes protobuf messages kubectl's typed clients send (`kubectl create namespace`,
/// `create configmap`, `create secret`, `create serviceaccount`). Field numbers are those of the k8s.io/api
/// `generated.proto` files.
indirect enum ProtoType: Sendable {
    case string
    case bytes
    case int64
    case int32
    case bool
    case time
    /// `intstr.IntOrString`: type (0 int, 1 string), intVal, strVal.
    case intOrString
    case message([Int: (String, ProtoType)])
    case repeated(ProtoType)
    case map(ProtoType)
}

enum ProtoSchema {
    /// Built on each use like the kinds' tables: a global of this indirect enum would hold its boxes through tagged
    /// pointers, which LeakSanitizer cannot follow and reports as leaked.
    static var objectMeta: ProtoType {
        .message([
            1: ("name", .string), 2: ("generateName", .string), 3: ("namespace", .string), 5: ("uid", .string),
            6: ("resourceVersion", .string), 7: ("generation", .int64), 8: ("creationTimestamp", .time),
            11: ("labels", .map(.string)), 12: ("annotations", .map(.string)), 14: ("finalizers", .repeated(.string)),
        ])
    }

    /// The message schema for `kind` in the core group, or `nil` when Pylon does not decode it.
    static func schema(kind: String) -> ProtoType? {
        switch kind {
        case "Namespace":
            return .message([
                1: ("metadata", objectMeta), 2: ("spec", .message([1: ("finalizers", .repeated(.string))])),
                3: ("status", .message([1: ("phase", .string)])),
            ])
        case "ConfigMap":
            return .message([
                1: ("metadata", objectMeta), 2: ("data", .map(.string)), 3: ("binaryData", .map(.bytes)),
                4: ("immutable", .bool),
            ])
        case "Secret":
            return .message([
                1: ("metadata", objectMeta), 2: ("data", .map(.bytes)), 3: ("type", .string),
                4: ("stringData", .map(.string)),
                5: ("immutable", .bool),
            ])
        case "Service":
            let port: ProtoType = .message([
                1: ("name", .string), 2: ("protocol", .string), 6: ("appProtocol", .string), 3: ("port", .int32),
                4: ("targetPort", .intOrString), 5: ("nodePort", .int32),
            ])
            let spec: ProtoType = .message([
                1: ("ports", .repeated(port)), 2: ("selector", .map(.string)), 3: ("clusterIP", .string),
                18: ("clusterIPs", .repeated(.string)), 4: ("type", .string), 5: ("externalIPs", .repeated(.string)),
                7: ("sessionAffinity", .string), 8: ("loadBalancerIP", .string),
                9: ("loadBalancerSourceRanges", .repeated(.string)), 10: ("externalName", .string),
                11: ("externalTrafficPolicy", .string), 12: ("healthCheckNodePort", .int32),
                13: ("publishNotReadyAddresses", .bool), 19: ("ipFamilies", .repeated(.string)),
                17: ("ipFamilyPolicy", .string), 20: ("allocateLoadBalancerNodePorts", .bool),
                21: ("loadBalancerClass", .string), 22: ("internalTrafficPolicy", .string),
            ])
            return .message([1: ("metadata", objectMeta), 2: ("spec", spec)])
        case "ServiceAccount":
            return .message([1: ("metadata", objectMeta), 4: ("automountServiceAccountToken", .bool)])
        default:
            return nil
        }
    }
}
