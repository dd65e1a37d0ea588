import OrderedCollections

/// Reads the YAML that Kubernetes tooling writes — kubeconfigs, manifests, JSON (YAML's flow style) — into `JSON`,
/// without Foundation.
///
/// Covers block mappings and sequences (including a mapping written on a sequence entry's line), flow collections
/// across lines, plain scalars over several lines, single- and double-quoted scalars with YAML's escapes and line
/// folding, literal and folded block scalars with chomping and explicit indentation, comments, `---`/`...`
/// document markers and `%` directives. Plain scalars resolve as Kubernetes' YAML library does (YAML 1.1): null,
/// booleans including `yes`/`no`/`on`/`off`, integers (decimal, `0x`, `0o` and a leading `0` for octal, so
/// `defaultMode: 0644` is 420), floats, `.inf`, `.nan`; everything else is a string. Anchors (`&name`) and aliases
/// (`*name`, a copy of the named node) are read; tags, unknown aliases and duplicate keys (as `kubectl` does) are
/// errors naming the line. Nesting of collections deeper than `JSONParser.maximumDepth` (block and flow alike) is an
/// error rather than a recursion as deep as the input asks for.
///
/// A value type used by one call at a time; not thread-safe.
struct YAMLReader {
    /// The stream's lines as UTF-8 bytes, without line terminators.
    let lines: [[UInt8]]
    var row = 0
    var column = 0
    /// Nodes named with `&name` in the current document, for `*name`.
    var anchors: [String: JSON] = [:]
    /// Collections open around the node being read.
    var depth = 0

    init(_ text: String) {
        var lines: [[UInt8]] = []
        var current: [UInt8] = []
        for byte in text.utf8 {
            if byte == UInt8(ascii: "\n") {
                if current.last == UInt8(ascii: "\r") { current.removeLast() }
                lines.append(current)
                current = []
            } else {
                current.append(byte)
            }
        }
        if !current.isEmpty { lines.append(current) }
        self.lines = lines
    }

    /// Every document of the stream, empty ones included (as `.null`).
    mutating func documents() throws(YAMLError) -> [JSON] {
        var result: [JSON] = []
        while true {
            // Directives, then an explicit start (`---`) or none.
            while row < lines.count, lines[row].first == UInt8(ascii: "%") || isBlank(lines[row], from: 0) {
                row += 1
            }
            guard row < lines.count else { return result }
            var explicit = false
            if Self.isMarker(lines[row], "---") {
                explicit = true
                if !isBlank(lines[row], from: 3) {
                    throw error("content on the line of a document start marker is not supported", at: 4)
                }
                row += 1
                while row < lines.count, isBlank(lines[row], from: 0) { row += 1 }
            }
            // An empty document: the stream or the next marker comes first.
            if row >= lines.count || isDocumentMarker() {
                if explicit { result.append(.null) }
                if row < lines.count, Self.isMarker(lines[row], "...") { row += 1 }
                if row >= lines.count { return result }
                continue
            }
            let indent = indentation(of: row) ?? 0
            column = indent
            anchors = [:]
            let node = try node(parentIndent: -1)
            if moveToContent() {
                guard Self.isMarker(lines[row], "---") || Self.isMarker(lines[row], "...") else {
                    throw error("unexpected content after the end of a node", at: indentation(of: row) ?? 0)
                }
                if Self.isMarker(lines[row], "...") { row += 1 }
            }
            result.append(node)
        }
    }

    // MARK: Block structure

    /// The node starting at (`row`, `column`), which is inside a parent indented by `parentIndent`. A mapping's
    /// value (`mappingValue`) may be a sequence at the key's own indentation.
    mutating func node(parentIndent: Int, mappingValue: Bool = false) throws(YAMLError) -> JSON {
        let line = lines[row]
        let c = line[column]
        switch c {
        case UInt8(ascii: "-") where isSeparated(line, after: column):
            if mappingValue { throw error("a sequence cannot start on its key's line", at: column) }
            return try sequence(at: column)
        case UInt8(ascii: "["), UInt8(ascii: "{"):
            let value = try flowNode()
            try expectLineEnd()
            return value
        case UInt8(ascii: "|"), UInt8(ascii: ">"):
            return try blockScalar(parentIndent: parentIndent)
        case UInt8(ascii: "&"):
            // An anchor counts as a level too: a chain of them over many lines recurses once per anchor.
            try enter()
            defer { depth -= 1 }
            let name = anchorName()
            skipSpaces()
            if !atLineEnd(), lines[row][column] == UInt8(ascii: "&") {
                throw error("a node has at most one anchor", at: column)
            }
            let value =
                atLineEnd()
                ? try valueOnFollowingLines(parentIndent: parentIndent, sameIndentSequence: mappingValue)
                : try node(parentIndent: parentIndent, mappingValue: mappingValue)
            anchors[name] = value
            return value
        case UInt8(ascii: "*"):
            let value = try alias()
            try expectLineEnd()
            return value
        case UInt8(ascii: "!"):
            throw error("tags are not supported", at: column)
        default:
            if keyEnd(in: line, from: column) != nil {
                if mappingValue { throw error("a mapping cannot start on its key's line", at: column) }
                return try mapping(at: column)
            }
            return try scalar(parentIndent: parentIndent)
        }
    }

    /// A block sequence whose dashes are at `indent`.
    mutating func sequence(at indent: Int) throws(YAMLError) -> JSON {
        try enter()
        defer { depth -= 1 }
        var items: [JSON] = []
        while true {
            column = indent + 1
            skipSpaces()
            if atLineEnd() {
                items.append(try valueOnFollowingLines(parentIndent: indent, sameIndentSequence: false))
            } else {
                items.append(try node(parentIndent: indent))
            }
            guard moveToContent(), let next = indentation(of: row) else { break }
            if next < indent || isDocumentMarker() { break }
            guard next == indent else { throw error("bad indentation of a sequence entry", at: next) }
            guard lines[row][next] == UInt8(ascii: "-"), isSeparated(lines[row], after: next) else { break }
        }
        return .array(items)
    }

    /// A block mapping whose keys are at `indent`.
    mutating func mapping(at indent: Int) throws(YAMLError) -> JSON {
        try enter()
        defer { depth -= 1 }
        var object = JSONObject()
        while true {
            column = indent
            let keyRow = row
            let key = try mappingKey()
            guard object[key] == nil else {
                throw YAMLError(line: keyRow + 1, column: indent + 1, message: "duplicate mapping key \"\(key)\"")
            }
            skipSpaces()
            if atLineEnd() {
                object[key] = try valueOnFollowingLines(parentIndent: indent, sameIndentSequence: true)
            } else {
                object[key] = try node(parentIndent: indent, mappingValue: true)
            }
            guard moveToContent(), let next = indentation(of: row) else { break }
            if next < indent || isDocumentMarker() { break }
            guard next == indent else { throw error("bad indentation of a mapping entry", at: next) }
            if lines[row][next] == UInt8(ascii: "-") && isSeparated(lines[row], after: next) {
                throw error("a sequence entry where a mapping key was expected", at: next)
            }
        }
        return .object(object)
    }

    /// The value of a key or sequence entry with nothing after its indicator on its own line: the next content
    /// line's node if it is indented deeper, a sequence at the key's own indentation (`sameIndentSequence`), or
    /// null.
    mutating func valueOnFollowingLines(parentIndent: Int, sameIndentSequence: Bool) throws(YAMLError) -> JSON {
        let (savedRow, savedColumn) = (row, column)
        guard moveToContent(), let next = indentation(of: row), !isDocumentMarker() else {
            (row, column) = (savedRow, savedColumn)
            return .null
        }
        let line = lines[row]
        if next > parentIndent
            || (sameIndentSequence && next == parentIndent && line[next] == UInt8(ascii: "-")
                && isSeparated(line, after: next))
        {
            column = next
            return try node(parentIndent: parentIndent)
        }
        (row, column) = (savedRow, savedColumn)
        return .null
    }

    /// Reads a mapping key at (`row`, `column`) and its `:`, leaving `column` after the colon.
    mutating func mappingKey() throws(YAMLError) -> String {
        let line = lines[row]
        guard let end = keyEnd(in: line, from: column) else {
            throw error("a mapping key was expected", at: column)
        }
        let key: String
        switch line[column] {
        case UInt8(ascii: "\""), UInt8(ascii: "'"):
            let quote = line[column]
            column += 1
            key = try quoted(quote)
        default:
            var last = end
            while last > column, line[last - 1] == UInt8(ascii: " ") { last -= 1 }
            key = String(decoding: line[column..<last], as: UTF8.self)
        }
        column = end + 1
        return key
    }

    /// The position of the `:` ending a mapping key that starts at `start`, or nil when the line holds no key there.
    func keyEnd(in line: [UInt8], from start: Int) -> Int? {
        var i = start
        if line[i] == UInt8(ascii: "\"") || line[i] == UInt8(ascii: "'") {
            let quote = line[i]
            i += 1
            while i < line.count {
                if line[i] == quote {
                    if quote == UInt8(ascii: "'"), i + 1 < line.count, line[i + 1] == quote {
                        i += 2
                        continue
                    }
                    break
                }
                if quote == UInt8(ascii: "\""), line[i] == UInt8(ascii: "\\") { i += 1 }
                i += 1
            }
            guard i < line.count else { return nil }
            i += 1
            while i < line.count, line[i] == UInt8(ascii: " ") { i += 1 }
            return i < line.count && line[i] == UInt8(ascii: ":") && isSeparated(line, after: i, flow: true) ? i : nil
        }
        while i < line.count {
            if line[i] == UInt8(ascii: ":"), isSeparated(line, after: i) { return i }
            if line[i] == UInt8(ascii: "#"), i > start, line[i - 1] == UInt8(ascii: " ") { return nil }
            i += 1
        }
        return nil
    }

    // MARK: Anchors

    /// Reads `&name` or `*name` at (`row`, `column`) and returns the name.
    mutating func anchorName() -> String {
        let line = lines[row]
        let start = column + 1
        var end = start
        while end < line.count,
            ![UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: ","), UInt8(ascii: "]"), UInt8(ascii: "}")].contains(
                line[end])
        {
            end += 1
        }
        column = end
        return String(decoding: line[start..<end], as: UTF8.self)
    }

    /// The node an alias (`*name`) at (`row`, `column`) names.
    mutating func alias() throws(YAMLError) -> JSON {
        let at = column
        let name = anchorName()
        guard let value = anchors[name] else { throw error("unknown alias *\(name)", at: at) }
        return value
    }

    // MARK: Positions

    /// Moves to the next line with content (not blank, not only a comment) if the current line has none left;
    /// false at the end of the stream.
    mutating func moveToContent() -> Bool {
        if row < lines.count, !isBlank(lines[row], from: column) { return true }
        row += 1
        column = 0
        while row < lines.count, isBlank(lines[row], from: 0) { row += 1 }
        return row < lines.count
    }

    func indentation(of row: Int) -> Int? {
        lines[row].firstIndex { $0 != UInt8(ascii: " ") }
    }

    /// Whether the rest of `line` from `start` is spaces, tabs or a comment.
    func isBlank(_ line: [UInt8], from start: Int) -> Bool {
        var i = start
        while i < line.count {
            switch line[i] {
            case UInt8(ascii: " "), UInt8(ascii: "\t"): i += 1
            case UInt8(ascii: "#"):
                return i == 0 || line[i - 1] == UInt8(ascii: " ") || line[i - 1] == UInt8(ascii: "\t")
            default: return false
            }
        }
        return true
    }

    func isDocumentMarker() -> Bool {
        Self.isMarker(lines[row], "---") || Self.isMarker(lines[row], "...")
    }

    static func isMarker(_ line: [UInt8], _ marker: StaticString) -> Bool {
        guard line.count >= 3 else { return false }
        let bytes = UnsafeBufferPointer(start: marker.utf8Start, count: 3)
        return line[0] == bytes[0] && line[1] == bytes[1] && line[2] == bytes[2]
            && (line.count == 3 || line[3] == UInt8(ascii: " ") || line[3] == UInt8(ascii: "\t"))
    }

    /// Whether the character at `index` is followed by a space, a line end or (in flow context) a flow indicator.
    func isSeparated(_ line: [UInt8], after index: Int, flow: Bool = false) -> Bool {
        guard index + 1 < line.count else { return true }
        let next = line[index + 1]
        if next == UInt8(ascii: " ") || next == UInt8(ascii: "\t") { return true }
        return flow && (next == UInt8(ascii: ",") || next == UInt8(ascii: "]") || next == UInt8(ascii: "}"))
    }

    mutating func skipSpaces() {
        let line = lines[row]
        while column < line.count, line[column] == UInt8(ascii: " ") || line[column] == UInt8(ascii: "\t") {
            column += 1
        }
    }

    func atLineEnd() -> Bool { isBlank(lines[row], from: column) }

    /// After a complete node on this line, only a comment may follow.
    mutating func expectLineEnd() throws(YAMLError) {
        guard row < lines.count else { return }
        skipSpaces()
        guard atLineEnd() else { throw error("unexpected characters after a value", at: column) }
    }

    /// Counts one more level of nesting; the caller decrements `depth` when it leaves.
    /// - Throws: `YAMLError` when the nesting would exceed `JSONParser.maximumDepth`.
    mutating func enter() throws(YAMLError) {
        depth += 1
        if depth > JSONParser.maximumDepth {
            depth -= 1
            throw error("nesting deeper than \(JSONParser.maximumDepth)", at: column)
        }
    }

    func error(_ message: String, at column: Int) -> YAMLError {
        YAMLError(line: min(row, max(lines.count - 1, 0)) + 1, column: column + 1, message: message)
    }
}
