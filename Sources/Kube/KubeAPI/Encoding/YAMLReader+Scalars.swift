extension YAMLReader {
    // MARK: Plain and quoted scalars in block context

    /// A scalar starting at (`row`, `column`): quoted, or plain and possibly continued on lines indented deeper
    /// than `parentIndent`.
    mutating func scalar(parentIndent: Int) throws(YAMLError) -> JSON {
        let line = lines[row]
        if line[column] == UInt8(ascii: "\"") || line[column] == UInt8(ascii: "'") {
            let quote = line[column]
            column += 1
            let text = try quoted(quote)
            try expectLineEnd()
            return .string(text)
        }
        var text = try plainLine(line, from: column)
        column = line.count
        // Continuation lines: deeper than the parent, not comments; blank lines in between become line breaks.
        var probe = row + 1
        var blanks = 0
        while probe < lines.count {
            let next = lines[probe]
            guard let indent = next.firstIndex(where: { $0 != UInt8(ascii: " ") }),
                next[indent] != UInt8(ascii: "\t") || !isBlank(next, from: indent)
            else {
                blanks += 1
                probe += 1
                continue
            }
            if indent <= parentIndent || next[indent] == UInt8(ascii: "#") || Self.isMarker(next, "---")
                || Self.isMarker(next, "...")
            {
                break
            }
            row = probe
            text += blanks == 0 ? " " : String(repeating: "\n", count: blanks)
            text += try plainLine(next, from: indent)
            column = next.count
            blanks = 0
            probe += 1
        }
        return Self.resolve(text)
    }

    /// One line's part of a plain scalar: up to a comment, trailing spaces removed.
    func plainLine(_ line: [UInt8], from start: Int) throws(YAMLError) -> String {
        var end = start
        while end < line.count {
            let c = line[end]
            if c == UInt8(ascii: "#"), end > start,
                line[end - 1] == UInt8(ascii: " ") || line[end - 1] == UInt8(ascii: "\t")
            {
                break
            }
            if c == UInt8(ascii: ":"), isSeparated(line, after: end) {
                throw YAMLError(
                    line: row + 1, column: end + 1, message: "a mapping cannot start here (\": \" inside a value)")
            }
            end += 1
        }
        while end > start, line[end - 1] == UInt8(ascii: " ") || line[end - 1] == UInt8(ascii: "\t") { end -= 1 }
        return String(decoding: line[start..<end], as: UTF8.self)
    }

    /// A quoted scalar whose opening quote is just before (`row`, `column`), possibly over several lines (folded as
    /// YAML says: a line break is a space, each blank line a line break). Leaves `column` after the closing quote.
    mutating func quoted(_ quote: UInt8) throws(YAMLError) -> String {
        let double = quote == UInt8(ascii: "\"")
        var out: [UInt8] = []
        let startRow = row
        while true {
            let line = lines[row]
            var i = column
            var escapedBreak = false
            while i < line.count {
                let c = line[i]
                if c == quote {
                    if !double, i + 1 < line.count, line[i + 1] == quote {
                        out.append(quote)
                        i += 2
                        continue
                    }
                    column = i + 1
                    return String(decoding: out, as: UTF8.self)
                }
                if double, c == UInt8(ascii: "\\") {
                    guard i + 1 < line.count else {
                        escapedBreak = true
                        i += 1
                        break
                    }
                    i = try escape(line, at: i + 1, into: &out)
                    continue
                }
                out.append(c)
                i += 1
            }
            // The line ends inside the scalar: fold.
            if !escapedBreak {
                while let last = out.last, last == UInt8(ascii: " ") || last == UInt8(ascii: "\t") { out.removeLast() }
            }
            var blanks = 0
            row += 1
            while row < lines.count, lines[row].allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }) {
                blanks += 1
                row += 1
            }
            guard row < lines.count else {
                throw YAMLError(line: startRow + 1, column: 1, message: "a quoted scalar is not closed")
            }
            if blanks > 0 {
                out += Array(repeating: UInt8(ascii: "\n"), count: blanks)
            } else if !escapedBreak {
                out.append(UInt8(ascii: " "))
            }
            column = lines[row].firstIndex { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") } ?? 0
        }
    }

    /// Escapes that stand for one byte, by their letter.
    static let byteEscapes: [UInt8: UInt8] = [
        UInt8(ascii: "0"): 0, UInt8(ascii: "a"): 7, UInt8(ascii: "b"): 8, UInt8(ascii: "t"): 9,
        UInt8(ascii: "\t"): 9, UInt8(ascii: "n"): 10, UInt8(ascii: "v"): 11, UInt8(ascii: "f"): 12,
        UInt8(ascii: "r"): 13, UInt8(ascii: "e"): 27, UInt8(ascii: " "): 32, UInt8(ascii: "\""): 34,
        UInt8(ascii: "/"): 47, UInt8(ascii: "\\"): 92,
    ]
    /// Escapes that stand for one Unicode scalar, by their letter.
    static let scalarEscapes: [UInt8: UInt32] = [
        UInt8(ascii: "N"): 0x85, UInt8(ascii: "_"): 0xA0, UInt8(ascii: "L"): 0x2028, UInt8(ascii: "P"): 0x2029,
    ]

    /// Decodes the escape whose letter is at `index` into `out`; returns the index after it.
    func escape(_ line: [UInt8], at index: Int, into out: inout [UInt8]) throws(YAMLError) -> Int {
        let c = line[index]
        if let byte = Self.byteEscapes[c] {
            out.append(byte)
            return index + 1
        }
        let digits: Int
        switch c {
        case UInt8(ascii: "x"): digits = 2
        case UInt8(ascii: "u"): digits = 4
        case UInt8(ascii: "U"): digits = 8
        default:
            guard let scalar = Self.scalarEscapes[c] else {
                throw YAMLError(line: row + 1, column: index + 1, message: "unknown escape \\\(Unicode.Scalar(c))")
            }
            out += Array(String(Unicode.Scalar(scalar)!).utf8)
            return index + 1
        }
        guard index + digits < line.count,
            let value = UInt32(String(decoding: line[(index + 1)...(index + digits)], as: UTF8.self), radix: 16),
            let scalar = Unicode.Scalar(value)
        else {
            throw YAMLError(line: row + 1, column: index + 1, message: "bad \\\(Unicode.Scalar(c)) escape")
        }
        out += Array(String(scalar).utf8)
        return index + 1 + digits
    }

    // MARK: Block scalars

    /// A literal (`|`) or folded (`>`) block scalar whose indicator is at (`row`, `column`). Leaves `row` on the
    /// first line after it.
    mutating func blockScalar(parentIndent: Int) throws(YAMLError) -> JSON {
        let header = lines[row]
        let literal = header[column] == UInt8(ascii: "|")
        var chomp: UInt8? = nil
        var explicit: Int? = nil
        var i = column + 1
        while i < header.count, header[i] != UInt8(ascii: " "), header[i] != UInt8(ascii: "\t") {
            switch header[i] {
            case UInt8(ascii: "-"), UInt8(ascii: "+"): chomp = header[i]
            case UInt8(ascii: "1")...UInt8(ascii: "9"): explicit = Int(header[i] - UInt8(ascii: "0"))
            default: throw error("bad block scalar header", at: i)
            }
            i += 1
        }
        guard isBlank(header, from: i) else { throw error("unexpected characters after a block scalar header", at: i) }
        row += 1
        column = 0
        var indent = explicit.map { max(parentIndent, 0) + $0 }
        if indent == nil {
            var probe = row
            while probe < lines.count, lines[probe].allSatisfy({ $0 == UInt8(ascii: " ") }) { probe += 1 }
            if probe < lines.count, let first = indentation(of: probe), first > parentIndent { indent = first }
        }
        // Content lines, with empty ones as nil.
        var content: [[UInt8]?] = []
        if let indent {
            while row < lines.count {
                let line = lines[row]
                if line.allSatisfy({ $0 == UInt8(ascii: " ") }) {
                    content.append(line.count > indent ? Array(line[indent...]) : nil)
                } else if let first = indentation(of: row), first >= indent {
                    content.append(Array(line[indent...]))
                } else {
                    break
                }
                row += 1
            }
        }
        var trailing = 0
        while let last = content.last, last == nil {
            trailing += 1
            content.removeLast()
        }
        var out: [UInt8] = []
        var previousNormal = false
        var pendingBlanks = 0
        var started = false
        for line in content {
            guard let line else {
                pendingBlanks += 1
                continue
            }
            let normal = !(line.first == UInt8(ascii: " ") || line.first == UInt8(ascii: "\t"))
            if started {
                if literal || !(previousNormal && normal) {
                    out += Array(repeating: UInt8(ascii: "\n"), count: pendingBlanks + 1)
                } else {
                    out +=
                        pendingBlanks == 0
                        ? [UInt8(ascii: " ")] : Array(repeating: UInt8(ascii: "\n"), count: pendingBlanks)
                }
            } else {
                out += Array(repeating: UInt8(ascii: "\n"), count: pendingBlanks)
            }
            out += line
            started = true
            previousNormal = normal
            pendingBlanks = 0
        }
        switch chomp {
        case UInt8(ascii: "-"): break
        case UInt8(ascii: "+"): out += Array(repeating: UInt8(ascii: "\n"), count: (started ? 1 : 0) + trailing)
        default: if started { out.append(UInt8(ascii: "\n")) }
        }
        return .string(String(decoding: out, as: UTF8.self))
    }

    // MARK: Resolution

    /// Resolves a plain scalar as Kubernetes' YAML library (YAML 1.1 types) does.
    static func resolve(_ text: String) -> JSON {
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON": return .bool(true)
        case "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF": return .bool(false)
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .double(.infinity)
        case "-.inf", "-.Inf", "-.INF": return .double(-.infinity)
        case ".nan", ".NaN", ".NAN": return .double(.nan)
        default: break
        }
        var digits = Substring(text)
        var negative = false
        if let sign = digits.first, sign == "-" || sign == "+" {
            negative = sign == "-"
            digits = digits.dropFirst()
        }
        guard let first = digits.first, first.isASCII, first.isNumber || first == "." else { return .string(text) }
        var radix = 10
        if digits.hasPrefix("0x") {
            radix = 16
            digits = digits.dropFirst(2)
        } else if digits.hasPrefix("0o") {
            radix = 8
            digits = digits.dropFirst(2)
        } else if digits.hasPrefix("0b") {
            radix = 2
            digits = digits.dropFirst(2)
        } else if digits.count > 1, digits.first == "0", digits.allSatisfy({ ("0"..."7").contains($0) }) {
            radix = 8
            digits = digits.dropFirst()
        }
        if !digits.isEmpty, let magnitude = UInt64(digits, radix: radix) {
            if negative, magnitude <= UInt64(Int64.max) + 1 {
                return .int(magnitude == UInt64(Int64.max) + 1 ? .min : -Int64(magnitude))
            }
            if !negative, magnitude <= UInt64(Int64.max) { return .int(Int64(magnitude)) }
            return .double(Double(magnitude) * (negative ? -1 : 1))
        }
        let allowed = Set("0123456789.eE+-")
        if radix == 10, text.allSatisfy({ allowed.contains($0) }), text.contains(where: \.isNumber),
            let value = Double(text)
        {
            return .double(value)
        }
        return .string(text)
    }
}
