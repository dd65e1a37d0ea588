/// Annotations Pylon's speaker adds to the objects it writes, beyond MetalLB's fields.
public enum SpeakerAnnotations {
    /// On a ServiceL2Status: the MAC address of each interface the node answers on, `eth0=aa:bb:cc:dd:ee:ff,…`.
    public static let interfaceMACs = "pylon.io/interface-macs"
}
