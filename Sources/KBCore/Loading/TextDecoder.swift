import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Text decoded from a file's bytes, with the encoding kb settled on.
public struct DecodedText: Sendable, Equatable {
    /// Normalised text: LF line endings, NFC, no BOM, no control characters but tab and newline.
    public var text: String
    /// The encoding's canonical name, for example `utf-8`, `utf-16le`, `gb18030`, `big5`, `windows-1252`.
    public var encoding: String
}

/// Detects a file's text encoding and decodes it.
///
/// Order of evidence: a byte-order mark; NUL-byte patterns (UTF-16 without a BOM, or binary);
/// strict UTF-8 validity; a declared charset (HTML `<meta charset>`, XML declaration) when the
/// bytes decode under it; then GB18030 or Big5 when their decoding yields common Chinese
/// characters; Windows-1252 last. A declared charset is a hint, never the truth: UTF-8 bytes
/// under `charset=gb2312` decode as UTF-8.
public enum TextDecoder {
    /// Decodes `data`, or throws a ``LoadFailure`` saying why the bytes are not text.
    public static func decode(_ data: Data, declaredCharset: String? = nil) throws(LoadFailure) -> DecodedText {
        let bytes = [UInt8](data)
        if bytes.isEmpty { return DecodedText(text: "", encoding: "utf-8") }
        if let kind = BinarySniffer.binaryKind(bytes) { throw .binary(kind) }

        // Byte-order marks.
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) {
            return finish(String(decoding: bytes[3...], as: UTF8.self), "utf-8")
        }
        if bytes.starts(with: [0xFF, 0xFE, 0x00, 0x00]) || bytes.starts(with: [0x00, 0x00, 0xFE, 0xFF]) {
            let little = bytes[0] == 0xFF
            guard let text = Iconv.decode(Array(bytes[4...]), from: little ? "UTF-32LE" : "UTF-32BE") else {
                throw .undecodable("invalid UTF-32 after its byte-order mark")
            }
            return finish(text, little ? "utf-32le" : "utf-32be")
        }
        if bytes.starts(with: [0xFF, 0xFE]) || bytes.starts(with: [0xFE, 0xFF]) {
            let little = bytes[0] == 0xFF
            guard let text = Iconv.decode(Array(bytes[2...]), from: little ? "UTF-16LE" : "UTF-16BE") else {
                throw .undecodable("invalid UTF-16 after its byte-order mark")
            }
            return finish(text, little ? "utf-16le" : "utf-16be")
        }

        // NUL bytes: UTF-16 without a BOM, or binary.
        let sample = bytes.prefix(65_536)
        var zerosEven = 0, zerosOdd = 0
        for (index, byte) in sample.enumerated() where byte == 0 {
            if index % 2 == 0 { zerosEven += 1 } else { zerosOdd += 1 }
        }
        if zerosEven + zerosOdd > 0 {
            let half = max(1, sample.count / 2)
            let candidates: [(String, String)] =
                zerosOdd * 5 >= half && zerosEven * 20 <= half ? [("UTF-16LE", "utf-16le")]
                : zerosEven * 5 >= half && zerosOdd * 20 <= half ? [("UTF-16BE", "utf-16be")] : []
            for (iconvName, name) in candidates where bytes.count % 2 == 0 {
                if let text = Iconv.decode(bytes, from: iconvName) { return finish(text, name) }
            }
            throw .binary("contains NUL bytes")
        }

        // UTF-8, strict, or nearly so (a few stray bytes in an otherwise UTF-8 file).
        let check = UTF8Check(bytes)
        if check.errors == 0 { return finish(String(decoding: bytes, as: UTF8.self), "utf-8") }
        if check.multibyteSequences >= 8 && check.errors * 100 <= check.multibyteSequences {
            return finish(String(decoding: bytes, as: UTF8.self), "utf-8")
        }

        // Control characters other than white space: binary.
        let controls = sample.reduce(0) { $0 + (($1 < 0x20 && ![0x09, 0x0A, 0x0C, 0x0D, 0x0B, 0x1B].contains($1)) || $1 == 0x7F ? 1 : 0) }
        if controls * 100 > sample.count { throw .binary("control characters: not a text file") }

        // A declared charset that decodes cleanly and looks like text wins.
        if let declared = declaredCharset.flatMap(canonicalCharset), declared.name != "utf-8" {
            if let text = Iconv.decode(bytes, from: declared.iconv) {
                if !declared.isChinese || ChineseFrequency.commonRatio(text) >= 0.2 {
                    return finish(text, declared.name)
                }
            }
        }

        // Chinese double-byte encodings, judged by how common the decoded characters are.
        var best: (text: String, name: String, score: Double)?
        for (iconvName, name) in [("GB18030", "gb18030"), ("BIG5-HKSCS", "big5")] {
            guard let text = Iconv.decode(bytes, from: iconvName) else { continue }
            let score = ChineseFrequency.commonRatio(text)
            if score >= 0.25, score > (best?.score ?? 0) { best = (text, name, score) }
        }
        if let best { return finish(best.text, best.name) }

        if let text = Iconv.decode(bytes, from: "WINDOWS-1252") { return finish(text, "windows-1252") }
        if let text = Iconv.decode(bytes, from: "ISO-8859-1") { return finish(text, "iso-8859-1") }
        throw .undecodable("not UTF-8, UTF-16, GB18030, Big5 or Windows-1252")
    }

    /// Maps a declared charset label to kb's decoder names.
    static func canonicalCharset(_ label: String) -> (iconv: String, name: String, isChinese: Bool)? {
        let lower = label.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        switch lower {
        case "utf-8", "utf8": return ("UTF-8", "utf-8", false)
        case "gb2312", "gbk", "gb18030", "x-gbk", "cp936", "euc-cn": return ("GB18030", "gb18030", true)
        case "big5", "big5-hkscs", "x-x-big5", "cp950": return ("BIG5-HKSCS", "big5", true)
        case "windows-1252", "cp1252", "iso-8859-1", "latin1", "latin-1", "us-ascii", "ascii", "iso8859-1":
            return ("WINDOWS-1252", "windows-1252", false)
        case "utf-16", "utf-16le", "utf-16be": return nil   // only with a BOM or NUL pattern
        default:
            // Other declared encodings (Shift_JIS, EUC-KR, KOI8-R …) are tried as declared.
            guard lower.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else { return nil }
            return (lower.uppercased(), lower, false)
        }
    }

    /// Finds `charset=` in the first bytes of an HTML document or `encoding=` in an XML declaration.
    public static func declaredCharset(in data: Data) -> String? {
        let head = String(decoding: data.prefix(4096).map { $0 < 0x80 ? $0 : 0x20 }, as: UTF8.self).lowercased()
        for key in ["charset", "encoding"] {
            var searchRange = head.startIndex..<head.endIndex
            while let found = head.range(of: key, range: searchRange) {
                var index = found.upperBound
                while index < head.endIndex, head[index] == " " { index = head.index(after: index) }
                if index < head.endIndex, head[index] == "=" {
                    index = head.index(after: index)
                    while index < head.endIndex, head[index] == " " || head[index] == "\"" || head[index] == "'" {
                        index = head.index(after: index)
                    }
                    let label = head[index...].prefix { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." || $0 == ":" }
                    if !label.isEmpty { return String(label) }
                }
                searchRange = found.upperBound..<head.endIndex
            }
        }
        return nil
    }

    /// Normalises decoded text: strips a BOM, makes line endings LF, drops control characters, applies NFC.
    static func finish(_ raw: String, _ encoding: String) -> DecodedText {
        DecodedText(text: normalize(raw), encoding: encoding)
    }

    /// LF line endings, NFC, no BOM, no NUL or other control characters (tab and newline kept;
    /// form feed and vertical tab become newlines).
    public static func normalize(_ raw: String) -> String {
        var view = String.UnicodeScalarView()
        var previousWasCR = false
        for scalar in raw.unicodeScalars {
            let v = scalar.value
            if v == 0x0D { view.append("\n"); previousWasCR = true; continue }
            if v == 0x0A && previousWasCR { previousWasCR = false; continue }
            previousWasCR = false
            if v == 0xFEFF { continue }
            if v == 0x0C || v == 0x0B || v == 0x2028 || v == 0x2029 { view.append("\n"); continue }
            if v < 0x20 && v != 0x09 && v != 0x0A { continue }
            if v == 0x7F || (v >= 0x80 && v < 0xA0) { continue }
            view.append(scalar)
        }
        return String(view).precomposedStringWithCanonicalMapping
    }
}

/// Counts UTF-8 decoding errors without allocating.
struct UTF8Check {
    var errors = 0
    var multibyteSequences = 0

    init(_ bytes: [UInt8]) {
        var i = 0
        let n = bytes.count
        while i < n {
            let b = bytes[i]
            if b < 0x80 { i += 1; continue }
            let length: Int
            if b >= 0xC2 && b <= 0xDF { length = 2 }
            else if b >= 0xE0 && b <= 0xEF { length = 3 }
            else if b >= 0xF0 && b <= 0xF4 { length = 4 }
            else { errors += 1; i += 1; continue }
            if i + length > n { errors += 1; break }
            var ok = true
            for k in 1..<length where bytes[i + k] & 0xC0 != 0x80 { ok = false; break }
            if ok && length == 3 {
                let b1 = bytes[i + 1]
                if (b == 0xE0 && b1 < 0xA0) || (b == 0xED && b1 >= 0xA0) { ok = false }
            }
            if ok && length == 4 {
                let b1 = bytes[i + 1]
                if (b == 0xF0 && b1 < 0x90) || (b == 0xF4 && b1 >= 0x90) { ok = false }
            }
            if ok { multibyteSequences += 1; i += length } else { errors += 1; i += 1 }
        }
    }
}

/// Recognises binary formats by their magic numbers.
enum BinarySniffer {
    static func binaryKind(_ bytes: [UInt8]) -> String? {
        func starts(_ prefix: [UInt8]) -> Bool { bytes.starts(with: prefix) }
        if starts([0x89, 0x50, 0x4E, 0x47]) { return "PNG image" }
        if starts([0xFF, 0xD8, 0xFF]) { return "JPEG image" }
        if starts(Array("GIF8".utf8)) { return "GIF image" }
        if starts(Array("%PDF".utf8)) { return "PDF document" }
        if starts([0x50, 0x4B, 0x03, 0x04]) { return "ZIP archive (or an Office/EPUB document)" }
        if starts([0x7F, 0x45, 0x4C, 0x46]) { return "ELF executable" }
        if starts([0x1F, 0x8B]) { return "gzip archive" }
        if starts(Array("SQLite format 3".utf8)) { return "SQLite database" }
        if starts([0xD0, 0xCF, 0x11, 0xE0]) { return "legacy Office document" }
        if bytes.count > 12, starts(Array("RIFF".utf8)) { return "RIFF media file" }
        return nil
    }
}

/// Strict conversions through glibc's iconv.
enum Iconv {
    /// Converts `bytes` from `encoding` to a String; nil if any byte sequence is invalid.
    static func decode(_ bytes: [UInt8], from encoding: String) -> String? {
        let cd = iconv_open("UTF-8", encoding)
        if cd == iconv_t(bitPattern: -1) { return nil }
        defer { iconv_close(cd) }
        if bytes.isEmpty { return "" }
        var output = [UInt8](repeating: 0, count: bytes.count * 4 + 16)
        var input = bytes
        let produced: Int? = input.withUnsafeMutableBufferPointer { inBuffer in
            output.withUnsafeMutableBufferPointer { outBuffer in
                var inPointer: UnsafeMutablePointer<CChar>? = UnsafeMutableRawPointer(inBuffer.baseAddress!).assumingMemoryBound(to: CChar.self)
                var inLeft = inBuffer.count
                var outPointer: UnsafeMutablePointer<CChar>? = UnsafeMutableRawPointer(outBuffer.baseAddress!).assumingMemoryBound(to: CChar.self)
                var outLeft = outBuffer.count
                let result = iconv(cd, &inPointer, &inLeft, &outPointer, &outLeft)
                if result == -1 || inLeft != 0 { return nil }
                return outBuffer.count - outLeft
            }
        }
        guard let produced else { return nil }
        return String(decoding: output[0..<produced], as: UTF8.self)
    }
}
