import OrderedCollections

extension YAMLReader {
    /// A flow collection (`[…]`, `{…}`, JSON) starting at (`row`, `column`), possibly over several lines. Leaves
    /// `column` after its closing bracket.
    mutating func flowNode() throws(YAMLError) -> JSON {
        try enter()
        defer { depth -= 1 }
        let open = lines[row][column]
        let close = open == UInt8(ascii: "[") ? UInt8(ascii: "]") : UInt8(ascii: "}")
        let startRow = row
        column += 1
        var items: [JSON] = []
        var object = JSONObject()
        while true {
            try skipFlowSpace(startRow)
            if lines[row][column] == close {
                column += 1
                break
            }
            if open == UInt8(ascii: "[") {
                items.append(try flowValue(startRow))
            } else {
                let keyRow = row
                let keyColumn = column
                let key: String
                switch try flowValue(startRow) {
                case .string(let s): key = s
                case .null: key = ""
                case .bool(let b): key = b ? "true" : "false"
                case .int(let i): key = String(i)
                case .double(let d): key = String(d)
                case .array, .object:
                    throw YAMLError(line: keyRow + 1, column: keyColumn + 1, message: "mapping keys must be scalars")
                }
                guard object[key] == nil else {
                    throw YAMLError(
                        line: keyRow + 1, column: keyColumn + 1, message: "duplicate mapping key \"\(key)\"")
                }
                try skipFlowSpace(startRow)
                if lines[row][column] == UInt8(ascii: ":") {
                    column += 1
                    try skipFlowSpace(startRow)
                    let next = lines[row][column]
                    object[key] = next == UInt8(ascii: ",") || next == close ? .null : try flowValue(startRow)
                } else {
                    object[key] = .null
                }
            }
            try skipFlowSpace(startRow)
            let next = lines[row][column]
            if next == UInt8(ascii: ",") {
                column += 1
            } else if next != close {
                throw error("expected \",\" or \"\(Unicode.Scalar(close))\" in a flow collection", at: column)
            }
        }
        return open == UInt8(ascii: "[") ? .array(items) : .object(object)
    }

    /// One value inside a flow collection.
    mutating func flowValue(_ startRow: Int) throws(YAMLError) -> JSON {
        let line = lines[row]
        switch line[column] {
        case UInt8(ascii: "["), UInt8(ascii: "{"):
            return try flowNode()
        case UInt8(ascii: "\""), UInt8(ascii: "'"):
            let quote = line[column]
            column += 1
            return .string(try quoted(quote))
        case UInt8(ascii: "&"):
            let name = anchorName()
            try skipFlowSpace(startRow)
            let value = try flowValue(startRow)
            anchors[name] = value
            return value
        case UInt8(ascii: "*"):
            return try alias()
        case UInt8(ascii: "!"):
            throw error("tags are not supported", at: column)
        default:
            let start = column
            var end = column
            scan: while end < line.count {
                switch line[end] {
                case UInt8(ascii: ","), UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: "{"), UInt8(ascii: "}"):
                    break scan
                case UInt8(ascii: ":") where isSeparated(line, after: end, flow: true):
                    break scan
                case UInt8(ascii: "#") where end > start && line[end - 1] == UInt8(ascii: " "):
                    break scan
                default:
                    end += 1
                }
            }
            column = end
            while end > start, line[end - 1] == UInt8(ascii: " ") || line[end - 1] == UInt8(ascii: "\t") { end -= 1 }
            guard end > start else { throw error("a value was expected in a flow collection", at: start) }
            return Self.resolve(String(decoding: line[start..<end], as: UTF8.self))
        }
    }

    /// Skips spaces, comments and line ends inside a flow collection opened on `startRow`.
    mutating func skipFlowSpace(_ startRow: Int) throws(YAMLError) {
        while true {
            skipSpaces()
            if !atLineEnd() { return }
            row += 1
            column = 0
            guard row < lines.count else {
                throw YAMLError(line: startRow + 1, column: 1, message: "a flow collection is not closed")
            }
        }
    }
}
