import CNI
import Kernel
import Netlink

extension PluginContext {
    /// DEL: removes the pod's interface (its veth peer goes with it) when the namespace and interface still exist,
    /// then releases its addresses and flannel's record. Idempotent: a pod already gone, a namespace already
    /// removed or a container never added all succeed.
    /// - Throws: `CNIError.kernelRefused` when the interface exists but cannot be removed, `.ioFailure` when the
    ///   store cannot be opened.
    func delete() throws(CNIError) {
        if !invocation.networkNamespace.isEmpty,
            let socket = try? NetlinkSocket(namespace: NetworkNamespace(path: invocation.networkNamespace))
        {
            let name = invocation.interfaceName
            if let link = try kernel(
                "look up \(name) in the pod", { () throws(NetlinkSocketError) in try socket.link(named: name) })
            {
                do throws(NetlinkSocketError) {
                    try socket.perform(.deleteLink(link.index))
                } catch .refused(let error) where error.code == KernelError.noDevice {
                } catch {
                    throw CNIError(.kernelRefused, "delete \(name) in the pod: \(error)")
                }
            }
        }
        let store = try attachmentStore()
        try store.locked { () throws(CNIError) in
            store.release(containerID: invocation.containerID, interfaceName: invocation.interfaceName)
        }
        let container = invocation.containerID
        try removeNATRules(network: config.name) { $0 == container }
        if let flannel = config.flannel { FlannelRecord.remove(flannel, containerID: invocation.containerID) }
    }
}
