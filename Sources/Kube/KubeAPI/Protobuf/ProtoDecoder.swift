import OrderedCollections

/// Decodes Kubernetes' protobuf envelope (`k8s\0` + runtime.Unknown) into JSON for the kinds `ProtoSchema` knows.
///
/// Pure and stateless. Unknown fields are skipped. Nesting follows `ProtoSchema`, never the input, so the depth of
/// the recursion is the schema's; the input's size is the caller's to bound (the API server's body limit).
public enum ProtoDecoder {
    /// The four bytes that open every Kubernetes protobuf body.
    public static let magic: [UInt8] = [0x6B, 0x38, 0x73, 0x00]

    /// The object a `k8s\0` envelope carries, as JSON with `apiVersion` and `kind` first.
    /// - Throws: `Status` BadRequest for malformed bytes, UnsupportedMediaType for a kind without a schema.
    public static func decodeEnvelope(_ bytes: [UInt8]) throws(Status) -> JSON {
        guard bytes.count >= 4, Array(bytes[0..<4]) == magic else {
            throw .badRequest("provided protobuf is missing the k8s envelope")
        }
        var reader = Reader(bytes: bytes[4...])
        var apiVersion = ""
        var kind = ""
        var raw: ArraySlice<UInt8> = []
        while let (field, wire) = try reader.tag() {
            switch (field, wire) {
            case (1, 2):
                var typeMeta = Reader(bytes: try reader.lengthDelimited())
                while let (f, w) = try typeMeta.tag() {
                    if f == 1, w == 2 {
                        apiVersion = String(decoding: try typeMeta.lengthDelimited(), as: UTF8.self)
                    } else if f == 2, w == 2 {
                        kind = String(decoding: try typeMeta.lengthDelimited(), as: UTF8.self)
                    } else {
                        try typeMeta.skip(w)
                    }
                }
            case (2, 2): raw = try reader.lengthDelimited()
            default: try reader.skip(wire)
            }
        }
        guard let schema = ProtoSchema.schema(kind: kind) else {
            throw .unsupportedMediaType("application/vnd.kubernetes.protobuf")
        }
        var object = try decode(raw, schema)
        object["apiVersion"] = .string(apiVersion)
        object["kind"] = .string(kind)
        var ordered: JSON = ["apiVersion": .string(apiVersion), "kind": .string(kind)]
        for (k, v) in object.objectValue ?? [:] where k != "apiVersion" && k != "kind" { ordered[k] = v }
        return ordered
    }

    private static func decode(_ bytes: ArraySlice<UInt8>, _ type: ProtoType) throws(Status) -> JSON {
        guard case .message(let fields) = type else { return .null }
        var reader = Reader(bytes: bytes)
        var object = JSONObject()
        while let (number, wire) = try reader.tag() {
            guard let (name, fieldType) = fields[number] else {
                try reader.skip(wire)
                continue
            }
            switch fieldType {
            case .repeated(let element):
                var list = object[name]?.arrayValue ?? []
                list.append(try scalar(&reader, wire, element))
                object[name] = .array(list)
            case .map(let valueType):
                var entry = Reader(bytes: try reader.lengthDelimited())
                var key = ""
                var value = JSON.null
                while let (f, w) = try entry.tag() {
                    if f == 1 {
                        key = String(decoding: try entry.lengthDelimited(), as: UTF8.self)
                    } else if f == 2 {
                        value = try scalar(&entry, w, valueType)
                    } else {
                        try entry.skip(w)
                    }
                }
                var map = object[name]?.objectValue ?? [:]
                map[key] = value.isNull ? .string("") : value
                object[name] = .object(map)
            default:
                // Go's protobuf encoding writes zero values that JSON would omit; drop them so defaulting applies.
                let value = try scalar(&reader, wire, fieldType)
                if value == .string("") || value == .int(0) { continue }
                object[name] = value
            }
        }
        return .object(object)
    }

    private static func scalar(_ reader: inout Reader, _ wire: Int, _ type: ProtoType) throws(Status) -> JSON {
        switch type {
        case .string: return .string(String(decoding: try reader.lengthDelimited(), as: UTF8.self))
        case .bytes: return .string(Base64.encode(try reader.lengthDelimited()))
        case .int64: return .int(Int64(bitPattern: try reader.varint()))
        case .int32: return .int(Int64(Int32(truncatingIfNeeded: try reader.varint())))
        case .bool: return .bool(try reader.varint() != 0)
        case .time:
            var t = Reader(bytes: try reader.lengthDelimited())
            var seconds: Int64 = 0
            while let (f, w) = try t.tag() {
                if f == 1 { seconds = Int64(bitPattern: try t.varint()) } else { try t.skip(w) }
            }
            return .string(Timestamp.format(epochSeconds: seconds))
        case .intOrString:
            var r = Reader(bytes: try reader.lengthDelimited())
            var isString = false
            var intValue: Int64 = 0
            var stringValue = ""
            while let (f, w) = try r.tag() {
                switch f {
                case 1: isString = try r.varint() == 1
                case 2: intValue = Int64(Int32(truncatingIfNeeded: try r.varint()))
                case 3: stringValue = String(decoding: try r.lengthDelimited(), as: UTF8.self)
                default: try r.skip(w)
                }
            }
            return isString ? .string(stringValue) : .int(intValue)
        case .message: return try decode(try reader.lengthDelimited(), type)
        case .repeated, .map: throw .badRequest("nested repeated fields are not supported")
        }
    }

    struct Reader {
        var bytes: ArraySlice<UInt8>

        mutating func varint() throws(Status) -> UInt64 {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while let b = bytes.popFirst() {
                value |= UInt64(b & 0x7F) << shift
                if b & 0x80 == 0 { return value }
                shift += 7
                if shift > 63 { break }
            }
            throw .badRequest("malformed protobuf: bad varint")
        }

        mutating func tag() throws(Status) -> (Int, Int)? {
            guard !bytes.isEmpty else { return nil }
            let t = try varint()
            return (Int(t >> 3), Int(t & 7))
        }

        mutating func lengthDelimited() throws(Status) -> ArraySlice<UInt8> {
            // A length of 2^63 or more is no Int: checked, not converted with a trap.
            guard let n = Int(exactly: try varint()), n <= bytes.count else {
                throw .badRequest("malformed protobuf: length beyond end")
            }
            let slice = bytes.prefix(n)
            bytes = bytes.dropFirst(n)
            return slice
        }

        mutating func skip(_ wire: Int) throws(Status) {
            switch wire {
            case 0: _ = try varint()
            case 1: guard bytes.count >= 8 else { throw .badRequest("malformed protobuf") }; bytes = bytes.dropFirst(8)
            case 2: _ = try lengthDelimited()
            case 5: guard bytes.count >= 4 else { throw .badRequest("malformed protobuf") }; bytes = bytes.dropFirst(4)
            default: throw .badRequest("malformed protobuf: wire type \(wire)")
            }
        }
    }
}
