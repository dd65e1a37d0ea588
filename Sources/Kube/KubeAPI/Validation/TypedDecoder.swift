import OrderedCollections

/// Reads a JSON object the way kube-apiserver's decoder reads it into a built-in kind's Go type: the first value of
/// the wrong JSON type ends the decode with Go's message; fields the type does not have are unknown (and dropped, as
/// Go drops them); duplicate fields the parser found are reported where a strict decode reports them.
///
/// Pure. Walks the object once without copying it; only an object with unknown fields is rebuilt. Recursion follows
/// the object, whose depth the JSON reader bounds.
public struct TypedDecoder {
    /// One step of a field path.
    public enum PathStep: Sendable, Equatable {
        case key(String)
        case index(Int)
    }

    /// What the decode found.
    public struct Outcome: Sendable {
        /// The object without its unknown fields.
        public var object: JSON
        /// Go's message for the first value of the wrong type (the decode fails on it); `nil` when the object decodes.
        public var typeError: String?
        /// `unknown field "spec.x"` and `duplicate field "spec.y"`, in the order of the document.
        public var strictErrors: [String]
        /// The unknown fields' paths.
        public var unknownFields: [[PathStep]]
    }

    private let schema: TypedSchema
    private let root: Int
    private let duplicates: Set<String>
    private var typeError: String?
    private var strictErrors: [String] = []
    private var unknownFields: [[PathStep]] = []
    /// The path to the value being read; Go's error context is derived from it only when an error needs it.
    private var steps: [PathStep] = []

    private init(schema: TypedSchema, root: Int, duplicates: Set<String>) {
        self.schema = schema
        self.root = root
        self.duplicates = duplicates
    }

    /// Decodes `object` as the struct `root` of `schema`. `duplicates` are the duplicate field paths of the request
    /// body (`JSONParser.parse(_:duplicates:)`); those under unknown fields are not reported, as kube-apiserver
    /// reports such a field only as unknown.
    public static func decode(_ object: JSON, root: Int, schema: TypedSchema, duplicates: [String] = []) -> Outcome {
        var decoder = TypedDecoder(schema: schema, root: root, duplicates: Set(duplicates))
        _ = decoder.visit(object, .structure(root))
        var result = object
        for path in decoder.unknownFields { result.remove(path[...]) }
        return Outcome(
            object: result, typeError: decoder.typeError, strictErrors: decoder.strictErrors,
            unknownFields: decoder.unknownFields)
    }

    /// `spec.ports[0].name`, as kube-apiserver prints field paths in strict decoding errors.
    public static func render(_ path: [PathStep]) -> String {
        var text = ""
        for step in path {
            switch step {
            case .key(let key): text += text.isEmpty ? key : ".\(key)"
            case .index(let i): text += "[\(i)]"
            }
        }
        return text
    }

    /// Orders paths as a walk over keys in sorted order finds them (how kube-apiserver reports a patched object's
    /// unknown fields).
    public static func sortedOrder(_ a: [PathStep], _ b: [PathStep]) -> Bool {
        for (x, y) in zip(a, b) where x != y {
            switch (x, y) {
            case (.key(let p), .key(let q)): return p < q
            case (.index(let p), .index(let q)): return p < q
            case (.index, .key): return true
            case (.key, .index): return false
            }
        }
        return a.count < b.count
    }

    // MARK: Walk

    /// Checks one value; `false` once a type error ends the decode.
    private mutating func visit(_ value: JSON, _ type: TypedSchema.FieldType) -> Bool {
        if case .any = type { return true }
        if value.isNull { return true }
        switch (type, value) {
        case (.string, .string), (.bool, .bool), (.int64, .int), (.float64, .int), (.float64, .double),
            (.time, .string), (.bytes, .array):
            return true
        case (.int32, .int(let i)):
            if Int32(exactly: i) != nil { return true }
            return mismatch("number \(i)", type)
        case (.int32, .double), (.int64, .double):
            return mismatch("number \(value.text())", type)
        case (.bytes, .string(let text)):
            guard let offset = Self.base64Error(text) else { return true }
            return fail("illegal base64 data at input byte \(offset)")
        case (.intOrString, .string):
            return true
        case (.intOrString, .int(let i)) where Int32(exactly: i) != nil:
            return true
        case (.intOrString, _):
            return fail("json: cannot unmarshal \(Self.goValue(value)) into Go value of type int32")
        case (.quantity, .string), (.quantity, .int), (.quantity, .double):
            guard let error = Self.quantityError(value.stringValue ?? value.text()) else { return true }
            return fail(error)
        case (.quantity, _):
            return fail(Self.quantityFormat)
        case (.time, _):
            return fail("json: cannot unmarshal \(Self.goValue(value)) into Go value of type string")
        case (.structure(let i), .object(let object)):
            return visitStructure(object, schema.structures[i])
        case (.slice(let element), .array(let array)):
            for (i, item) in array.enumerated() {
                steps.append(.index(i))
                defer { steps.removeLast() }
                guard visit(item, element) else { return false }
            }
            return true
        case (.map(let valueType), .object(let object)):
            for (key, item) in object {
                steps.append(.key(key))
                defer { steps.removeLast() }
                guard visit(item, valueType) else { return false }
                noteDuplicate()
            }
            return true
        default:
            return mismatch(Self.goValue(value), type)
        }
    }

    private mutating func visitStructure(_ object: JSONObject, _ structure: TypedSchema.Structure) -> Bool {
        for (key, item) in object {
            steps.append(.key(key))
            defer { steps.removeLast() }
            guard let type = structure.fields[key] else {
                unknownFields.append(steps)
                strictErrors.append("unknown field \"\(Self.render(steps))\"")
                continue
            }
            guard visit(item, type) else { return false }
            noteDuplicate()
        }
        return true
    }

    private mutating func noteDuplicate() {
        guard !duplicates.isEmpty else { return }
        let path = Self.render(steps)
        if duplicates.contains(path) { strictErrors.append("duplicate field \"\(path)\"") }
    }

    /// Records Go's type error for `value` (as Go names it) against `type` in the current field; returns `false`.
    /// Go names the innermost struct holding a field on the path and the path's field names (not list indices or
    /// map keys).
    private mutating func mismatch(_ value: String, _ type: TypedSchema.FieldType) -> Bool {
        let target = schema.goType(type)
        var fields: [String] = []
        var goStruct: String?
        var current = TypedSchema.FieldType.structure(root)
        for step in steps {
            switch (current, step) {
            case (.structure(let i), .key(let key)):
                goStruct = schema.structures[i].name
                fields.append(key)
                current = schema.structures[i].fields[key] ?? .any
            case (.slice(let element), .index), (.map(let element), .key):
                current = element
            default:
                current = .any
            }
        }
        if let goStruct, !fields.isEmpty {
            return fail(
                "json: cannot unmarshal \(value) into Go struct field \(goStruct).\(fields.joined(separator: ".")) of type \(target)"
            )
        }
        return fail("json: cannot unmarshal \(value) into Go value of type \(target)")
    }

    private mutating func fail(_ message: String) -> Bool {
        if typeError == nil { typeError = message }
        return false
    }

    /// How Go's decoder names a JSON value in a type error.
    private static func goValue(_ value: JSON) -> String {
        switch value {
        case .null: return "null"
        case .bool: return "bool"
        case .int, .double: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }

    // MARK: Values with their own decoders

    static let quantityFormat =
        "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    private static let quantitySuffixes: Set<Substring> = [
        "", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u", "m", "k", "M", "G", "T", "P", "E",
    ]

    /// Why `text` is not a quantity, in `resource.ParseQuantity`'s words; `nil` when it is one.
    public static func quantityError(_ text: String) -> String? {
        var rest = Substring(text)
        if rest.first == "+" || rest.first == "-" { rest = rest.dropFirst() }
        let number = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
        guard number.contains(where: \.isNumber), number.filter({ $0 == "." }).count <= 1 else {
            return quantityFormat
        }
        let suffix = rest.dropFirst(number.count)
        if quantitySuffixes.contains(suffix) { return nil }
        if let e = suffix.first, e == "e" || e == "E" {
            var exponent = suffix.dropFirst()
            if exponent.first == "+" || exponent.first == "-" { exponent = exponent.dropFirst() }
            if !exponent.isEmpty, exponent.allSatisfy({ $0.isASCII && $0.isNumber }) { return nil }
        }
        let allowed = "eEinumkKMGTP"
        var tail = suffix.drop { allowed.contains($0) }
        if tail.first == "+" || tail.first == "-" { tail = tail.dropFirst() }
        return tail.allSatisfy({ $0.isASCII && $0.isNumber }) ? "unable to parse quantity's suffix" : quantityFormat
    }

    /// The offset Go's padded standard base64 decoder reports for `text`; `nil` when it decodes. Line breaks are
    /// skipped, as Go skips them.
    public static func base64Error(_ text: String) -> Int? {
        var inQuantum = 0
        var quantumStart = 0
        var padding = 0
        var ended = false
        for (offset, byte) in text.utf8.enumerated() {
            if byte == 0x0A || byte == 0x0D { continue }
            if ended { return offset }
            if byte == UInt8(ascii: "=") {
                guard inQuantum >= 2, inQuantum + padding < 4 else { return offset }
                padding += 1
                if inQuantum + padding == 4 {
                    inQuantum = 0
                    padding = 0
                    ended = true
                }
                continue
            }
            let isAlphabet =
                (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "+")
                || byte == UInt8(ascii: "/")
            guard isAlphabet, padding == 0 else { return offset }
            if inQuantum == 0 { quantumStart = offset }
            inQuantum += 1
            if inQuantum == 4 { inQuantum = 0 }
        }
        return inQuantum == 0 && padding == 0 ? nil : quantumStart
    }
}

extension JSON {
    /// Removes the member or element at `path` (nothing when it is absent).
    fileprivate mutating func remove(_ path: ArraySlice<TypedDecoder.PathStep>) {
        guard let step = path.first else { return }
        switch (step, self) {
        case (.key(let key), .object(var object)):
            self = .null
            if path.count == 1 {
                object[key] = nil
            } else {
                object[key]?.remove(path.dropFirst())
            }
            self = .object(object)
        case (.index(let i), .array(var array)) where array.indices.contains(i):
            self = .null
            array[i].remove(path.dropFirst())
            self = .array(array)
        default:
            break
        }
    }
}
