/// Writes kb's hottest response, the search result, straight to JSON bytes: exactly what `JSONEncoder` with
/// `.sortedKeys` and `.withoutEscapingSlashes` writes for the same value (a test compares them byte for byte), at a
/// fraction of its cost — Foundation's encoder was a quarter of the daemon's CPU per search.
public protocol JSONWritable {
    func write(to writer: inout JSONWriter)
}

/// A JSON byte buffer with the encoder's formatting: no whitespace, keys as the caller orders them (sorted),
/// strings escaped as `JSONEncoder` escapes them, numbers in Swift's shortest round-trip form.
public struct JSONWriter {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 4096) { bytes.reserveCapacity(capacity) }

    /// A writer with no buffer (nothing allocated), to hold the place of one that is lent out.
    private init(empty: Void) {}

    /// The JSON of a value.
    public static func encode(_ value: some JSONWritable) -> [UInt8] {
        var writer = JSONWriter()
        value.write(to: &writer)
        return writer.bytes
    }

    // MARK: Objects

    /// Writes `{`, then each member via `body`, then `}`.
    public mutating func object(_ body: (inout ObjectWriter) -> Void) {
        bytes.append(UInt8(ascii: "{"))
        var members = ObjectWriter(writer: self)
        self = JSONWriter(empty: ())   // the members own the buffer while they write
        body(&members)
        self = members.writer
        bytes.append(UInt8(ascii: "}"))
    }

    /// The members of one object, written in the order given (callers give sorted keys).
    public struct ObjectWriter {
        fileprivate var writer: JSONWriter
        private var first = true

        fileprivate init(writer: JSONWriter) { self.writer = writer }

        private mutating func key(_ name: StaticString) {
            if !first { writer.bytes.append(UInt8(ascii: ",")) }
            first = false
            writer.bytes.append(UInt8(ascii: "\""))
            name.withUTF8Buffer { writer.bytes.append(contentsOf: $0) }
            writer.bytes.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
        }

        public mutating func member(_ name: StaticString, _ value: String) { key(name); writer.string(value) }
        public mutating func member(_ name: StaticString, _ value: Int) { key(name); writer.int(value) }
        public mutating func member(_ name: StaticString, _ value: Double) { key(name); writer.double(value) }
        public mutating func member(_ name: StaticString, _ value: [String]) {
            key(name)
            writer.array(value) { $0.string($1) }
        }
        public mutating func member(_ name: StaticString, _ value: [[Int]]) {
            key(name)
            writer.array(value) { outer, inner in outer.array(inner) { $0.int($1) } }
        }
        public mutating func member<T: JSONWritable>(_ name: StaticString, _ value: [T]) {
            key(name)
            writer.array(value) { $1.write(to: &$0) }
        }
        public mutating func member<T: JSONWritable>(_ name: StaticString, _ value: T) { key(name); value.write(to: &writer) }
        /// Optional members are left out when nil, as `encodeIfPresent` does.
        public mutating func member(_ name: StaticString, ifPresent value: String?) { if let value { member(name, value) } }
        public mutating func member(_ name: StaticString, ifPresent value: Int?) { if let value { member(name, value) } }
        public mutating func member(_ name: StaticString, ifPresent value: Double?) { if let value { member(name, value) } }
        public mutating func member<T: JSONWritable>(_ name: StaticString, ifPresent value: T?) { if let value { member(name, value) } }
    }

    // MARK: Values

    public mutating func array<T>(_ values: [T], _ element: (inout JSONWriter, T) -> Void) {
        bytes.append(UInt8(ascii: "["))
        for (index, value) in values.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            element(&self, value)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    public mutating func int(_ value: Int) { bytes.append(contentsOf: String(value).utf8) }

    /// Swift's shortest representation that reads back as the same double, without a trailing `.0`.
    public mutating func double(_ value: Double) {
        var text = value.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        bytes.append(contentsOf: text.utf8)
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    /// A string: `"` and `\` escaped, control characters as `\n`, `\t`, … or `\u00XX`, everything else as UTF-8
    /// (runs of bytes that need no escape are copied at once).
    public mutating func string(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        var value = value
        value.withUTF8 { utf8 in
            var start = 0
            for (index, byte) in utf8.enumerated() where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                if start < index { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<index])) }
                escape(byte)
                start = index + 1
            }
            if start < utf8.count { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start...])) }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private mutating func escape(_ byte: UInt8) {
        switch byte {
        case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
        case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
        case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
        case 0x0D: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
        case 0x09: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
        case 0x08: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
        case 0x0C: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
        default:
            bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                                      Self.hex[Int(byte >> 4)], Self.hex[Int(byte & 0xF)]])
        }
    }
}

// Members in sorted key order (the test checks them against JSONEncoder's output).

extension RetrievalExplanation: JSONWritable {
    public func write(to writer: inout JSONWriter) {
        writer.object { o in
            o.member("fused_score", ifPresent: fusedScore)
            o.member("keyword_coverage", ifPresent: keywordCoverage)
            o.member("keyword_rank", ifPresent: keywordRank)
            o.member("keyword_score", ifPresent: keywordScore)
            o.member("keyword_weight", ifPresent: keywordWeight)
            o.member("translated_rank", ifPresent: translatedRank)
            o.member("translation", ifPresent: translation)
            o.member("vector_rank", ifPresent: vectorRank)
            o.member("vector_score", ifPresent: vectorScore)
            o.member("vector_weight", ifPresent: vectorWeight)
        }
    }
}

extension SearchHit: JSONWritable {
    public func write(to writer: inout JSONWriter) {
        writer.object { o in
            o.member("chunk_id", chunkID)
            o.member("document_id", documentID)
            o.member("end_line", endLine)
            o.member("explanation", ifPresent: explanation)
            o.member("heading", heading)
            o.member("highlights", highlights)
            o.member("matched_terms", matchedTerms)
            o.member("page", ifPresent: page)
            o.member("path", path)
            o.member("rank", rank)
            o.member("score", score)
            o.member("snippet", snippet)
            o.member("start_line", startLine)
            o.member("text", text)
            o.member("title", ifPresent: title)
        }
    }
}

extension SearchResponse: JSONWritable {
    public func write(to writer: inout JSONWriter) {
        writer.object { o in
            o.member("language", language)
            o.member("mode", mode)
            o.member("query", query)
            o.member("results", results)
            o.member("seconds", seconds)
            o.member("warnings", warnings)
        }
    }
}
