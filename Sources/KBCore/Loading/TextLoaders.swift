import Foundation

/// A line of decoded text: its range in Unicode scalars (without the newline) and 1-based number.
struct SourceLine {
    var range: Range<Int>
    var number: Int
}

extension Array where Element == Unicode.Scalar {
    /// Splits on "\n" into lines with their numbers.
    func sourceLines() -> [SourceLine] {
        var lines: [SourceLine] = []
        var start = 0
        var number = 1
        for i in indices where self[i] == "\n" {
            lines.append(SourceLine(range: start..<i, number: number))
            start = i + 1
            number += 1
        }
        if start <= count { lines.append(SourceLine(range: start..<count, number: number)) }
        return lines
    }

    func isBlank(_ range: Range<Int>) -> Bool {
        range.allSatisfy { self[$0].properties.isWhitespace }
    }

    func string(_ range: Range<Int>) -> String {
        String(String.UnicodeScalarView(self[range]))
    }
}

/// Plain text (`.txt`): paragraphs separated by blank lines.
public struct PlainTextLoader: DocumentLoader {
    public let format = "text"
    public let fileExtensions: Set<String> = ["txt", "text"]
    public let version = "1"

    public init() {}

    public func load(_ data: Data, url: URL) throws(LoadFailure) -> ExtractedDocument {
        let decoded = try TextDecoder.decode(data)
        // The content decides: an HTML page saved as .txt is read as HTML.
        let head = decoded.text.prefix(512).drop(while: { $0.isWhitespace }).lowercased()
        if head.hasPrefix("<!doctype html") || head.hasPrefix("<html") {
            var document = try HTMLLoader().load(data, url: url)
            document.format = "html"
            return document
        }
        let scalars = Array(decoded.text.unicodeScalars)
        var blocks: [TextBlock] = []
        var paragraph: (start: Int, end: Int, line: Int)?
        func flush() {
            if let p = paragraph, let range = SentenceSplitter.trim(scalars, p.start..<p.end) {
                blocks.append(TextBlock(kind: .paragraph, range: range, startLine: p.line))
            }
            paragraph = nil
        }
        for line in scalars.sourceLines() {
            if scalars.isBlank(line.range) { flush(); continue }
            if paragraph == nil { paragraph = (line.range.lowerBound, line.range.upperBound, line.number) }
            else { paragraph!.end = line.range.upperBound }
        }
        flush()
        guard !blocks.isEmpty else { throw .noText }
        return ExtractedDocument(format: format, encoding: decoded.encoding, title: nil, text: decoded.text, blocks: blocks)
    }
}

/// Markdown (`.md`, `.markdown`): ATX and setext headings, fenced code, lists, tables, front matter.
///
/// The document text is the normalised file itself, so offsets and line numbers point into the source.
public struct MarkdownLoader: DocumentLoader {
    public let format = "markdown"
    public let fileExtensions: Set<String> = ["md", "markdown", "mdown", "mkd"]
    public let version = "1"

    public init() {}

    public func load(_ data: Data, url: URL) throws(LoadFailure) -> ExtractedDocument {
        let decoded = try TextDecoder.decode(data)
        let scalars = Array(decoded.text.unicodeScalars)
        let lines = scalars.sourceLines()
        var parser = MarkdownBlockParser(scalars: scalars, lines: lines)
        parser.parse()
        guard !parser.blocks.isEmpty else { throw .noText }
        let title = parser.frontMatterTitle ?? parser.blocks.first(where: { $0.kind == .heading && $0.level == 1 })?.title
        return ExtractedDocument(format: format, encoding: decoded.encoding, title: title, text: decoded.text, blocks: parser.blocks)
    }
}

struct MarkdownBlockParser {
    let scalars: [Unicode.Scalar]
    let lines: [SourceLine]
    var blocks: [TextBlock] = []
    var frontMatterTitle: String?

    private var open: (kind: BlockKind, start: Int, end: Int, line: Int)?

    init(scalars: [Unicode.Scalar], lines: [SourceLine]) {
        self.scalars = scalars
        self.lines = lines
    }

    mutating func parse() {
        var index = skipFrontMatter()
        var fence: (marker: Unicode.Scalar, length: Int, start: Int, line: Int)?
        while index < lines.count {
            let line = lines[index]
            index += 1
            let text = scalars.string(line.range)
            let stripped = text.drop { $0 == " " }
            let indent = text.count - stripped.count

            if let f = fence {
                let run = stripped.prefix { $0.unicodeScalars.first == f.marker }.count
                if indent < 4, run >= f.length, stripped.dropFirst(run).allSatisfy(\.isWhitespace) {
                    addBlock(.code, f.start..<line.range.upperBound, f.line)
                    fence = nil
                } else if index == lines.count {
                    addBlock(.code, f.start..<line.range.upperBound, f.line)   // unclosed fence runs to the end
                }
                continue
            }
            if stripped.allSatisfy(\.isWhitespace) { flush(); continue }
            if indent < 4, let marker = stripped.first, marker == "`" || marker == "~" {
                let run = stripped.prefix { $0 == marker }.count
                if run >= 3 {
                    flush()
                    fence = (marker.unicodeScalars.first!, run, line.range.lowerBound, line.number)
                    if index == lines.count { addBlock(.code, line.range, line.number) }
                    continue
                }
            }
            if indent < 4, stripped.first == "#" {
                let hashes = stripped.prefix { $0 == "#" }.count
                let rest = stripped.dropFirst(hashes)
                if hashes <= 6, rest.isEmpty || rest.first == " " || rest.first == "\t" {
                    flush()
                    var title = rest.trimmingCharacters(in: .whitespaces)
                    while title.hasSuffix("#") { title.removeLast() }
                    addHeading(level: hashes, title: title, range: line.range, line: line.number)
                    continue
                }
            }
            if indent < 4, let current = open, current.kind == .paragraph, isSetextUnderline(stripped) {
                let title = scalars.string(current.start..<current.end)
                let level = stripped.first == "=" ? 1 : 2
                open = nil
                addHeading(level: level, title: title, range: current.start..<line.range.upperBound, line: current.line)
                continue
            }
            if indent < 4, open == nil || open?.kind != .paragraph, isThematicBreak(stripped) { flush(); continue }
            if isListItem(stripped) && indent < 8 {
                flush()
                open = (.listItem, line.range.lowerBound, line.range.upperBound, line.number)
                continue
            }
            if stripped.first == "|" {
                if open?.kind != .table { flush(); open = (.table, line.range.lowerBound, line.range.upperBound, line.number) }
                else { open!.end = line.range.upperBound }
                continue
            }
            if let current = open, current.kind != .table {
                open!.end = line.range.upperBound
            } else {
                flush()
                open = (.paragraph, line.range.lowerBound, line.range.upperBound, line.number)
            }
        }
        flush()
    }

    private mutating func skipFrontMatter() -> Int {
        guard let first = lines.first, scalars.string(first.range).trimmingCharacters(in: .whitespaces) == "---" else { return 0 }
        for index in 1..<min(lines.count, 200) {
            let text = scalars.string(lines[index].range)
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            if trimmed == "---" || trimmed == "..." { return index + 1 }
            if text.hasPrefix("title:") {
                frontMatterTitle = text.dropFirst(6).trimmingCharacters(in: CharacterSet(charactersIn: " \"'"))
            }
        }
        frontMatterTitle = nil
        return 0
    }

    private mutating func flush() {
        if let current = open { addBlock(current.kind, current.start..<current.end, current.line) }
        open = nil
    }

    private mutating func addBlock(_ kind: BlockKind, _ range: Range<Int>, _ line: Int) {
        guard let trimmed = SentenceSplitter.trim(scalars, range) else { return }
        blocks.append(TextBlock(kind: kind, range: trimmed, startLine: line))
    }

    private mutating func addHeading(level: Int, title: String, range: Range<Int>, line: Int) {
        let clean = MarkdownInline.plainText(title)
        guard !clean.isEmpty, let trimmed = SentenceSplitter.trim(scalars, range) else { return }
        blocks.append(TextBlock(kind: .heading, level: level, title: clean, range: trimmed, startLine: line))
    }

    private func isSetextUnderline(_ text: Substring) -> Bool {
        let t = text.trimmingCharacters(in: .whitespaces)
        guard let first = t.first, first == "=" || first == "-" else { return false }
        return t.allSatisfy { $0 == first }
    }

    private func isThematicBreak(_ text: Substring) -> Bool {
        let t = text.filter { $0 != " " }
        guard t.count >= 3, let first = t.first, "-*_".contains(first) else { return false }
        return t.allSatisfy { $0 == first }
    }

    private func isListItem(_ text: Substring) -> Bool {
        if let first = text.first, "-*+".contains(first) {
            let next = text.dropFirst().first
            return next == " " || next == "\t"
        }
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, digits.count <= 9 else { return false }
        let rest = text.dropFirst(digits.count)
        guard let marker = rest.first, marker == "." || marker == ")" else { return false }
        let next = rest.dropFirst().first
        return next == nil || next == " " || next == "\t"
    }
}

/// Strips inline Markdown from short texts such as headings.
enum MarkdownInline {
    static func plainText(_ text: String) -> String {
        var out = ""
        let chars = Array(text)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c == "!" && i + 1 < chars.count && chars[i + 1] == "[" { i += 1; continue }
            if c == "[", let close = chars[i...].firstIndex(of: "]"), close + 1 < chars.count, chars[close + 1] == "(",
               let paren = chars[(close + 1)...].firstIndex(of: ")") {
                out += String(chars[(i + 1)..<close])
                i = paren + 1
                continue
            }
            if c == "*" || c == "`" || (c == "_" && (i == 0 || i + 1 == chars.count || chars[i - 1] == " " || chars[i + 1] == " " || chars[i + 1] == "_" || chars[i - 1] == "_")) {
                i += 1
                continue
            }
            out.append(c)
            i += 1
        }
        return out.trimmingCharacters(in: .whitespaces)
    }
}
