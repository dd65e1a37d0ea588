/// YAML that could not be read, with the position (1-based line and column) where reading stopped.
public struct YAMLError: Error, CustomStringConvertible, Equatable {
    public var line: Int
    public var column: Int
    public var message: String

    public init(line: Int, column: Int, message: String) {
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String { "line \(line), column \(column): \(message)" }
}
