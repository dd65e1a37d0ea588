/// The operation a runtime asks for in `CNI_COMMAND`.
public enum CNICommand: String, Sendable, CaseIterable {
    case add = "ADD"
    case delete = "DEL"
    case check = "CHECK"
    case status = "STATUS"
    case version = "VERSION"
    case garbageCollect = "GC"
}
