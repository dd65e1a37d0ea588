/// Why the overlay cannot do something: a configuration it refuses, a Node it skips, a kernel change that failed.
///
/// Pure value. `reason.label` is the metric label (`pylon_overlay_errors_total{reason}`) and the Event reason.
public struct OverlayError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: String, Sendable, CaseIterable {
        /// `net-conf.json` is not JSON or holds a value flannel would refuse.
        case invalidNetConf
        /// A backend this platform cannot run (wireguard, ipsec) or nobody knows.
        case unsupportedBackend
        /// This node's Node has no `spec.podCIDR` yet (flannel: "pod cidr not assigned").
        case podCIDRNotAssigned
        /// A Node's pod CIDR lies outside the cluster network.
        case podCIDROutsideNetwork
        /// A Node's `backend-data` annotation is not `{"VNI":…,"VtepMAC":"…"}`.
        case invalidBackendData
        /// A Node has no usable public IP annotation.
        case invalidPublicIP
        /// A host-gw peer whose public IP is not on this node's segment.
        case notOnSegment
        /// The kernel refused a change.
        case kernelRefused
        /// Writing `subnet.env` or the CNI configuration failed.
        case fileWrite

        /// The metric label and Event reason.
        public var label: String {
            switch self {
            case .invalidNetConf: "InvalidNetConf"
            case .unsupportedBackend: "UnsupportedBackend"
            case .podCIDRNotAssigned: "PodCIDRNotAssigned"
            case .podCIDROutsideNetwork: "PodCIDROutsideNetwork"
            case .invalidBackendData: "InvalidBackendData"
            case .invalidPublicIP: "InvalidPublicIP"
            case .notOnSegment: "NotOnSegment"
            case .kernelRefused: "KernelRefused"
            case .fileWrite: "FileWrite"
            }
        }
    }

    public let reason: Reason
    public let message: String

    public init(_ reason: Reason, _ message: String) {
        self.reason = reason
        self.message = message
    }

    public var description: String { message }
}
