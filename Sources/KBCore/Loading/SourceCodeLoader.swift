import Foundation

/// Source code and configuration files: split into top-level units — declarations with the
/// comments and attributes above them, or `[sections]` and top-level keys of config files — never
/// in the middle of a function. Each unit is a section headed `file › symbol`.
public struct SourceCodeLoader: DocumentLoader {
    public let format = "code"
    public let fileExtensions: Set<String> = [
        "swift", "py", "js", "mjs", "cjs", "jsx", "ts", "tsx", "go", "rs", "c", "h", "cc", "cpp", "cxx", "hpp", "hh",
        "java", "kt", "kts", "cs", "rb", "php", "scala", "sh", "bash", "zsh", "sql", "r", "lua", "m", "mm",
        "json", "yaml", "yml", "toml", "ini", "cfg", "conf", "properties",
    ]
    public let version = "1"

    public init() {}

    enum Style { case braces, indentation, sections, whole }

    static func style(for ext: String) -> Style {
        switch ext {
        case "py", "yaml", "yml", "rb", "sh", "bash", "zsh", "r", "lua", "properties": return .indentation
        case "toml", "ini", "cfg", "conf": return .sections
        case "json": return .whole
        default: return .braces
        }
    }

    public func load(_ data: Data, url: URL) throws(LoadFailure) -> ExtractedDocument {
        let decoded = try TextDecoder.decode(data)
        let scalars = Array(decoded.text.unicodeScalars)
        let lines = scalars.sourceLines()
        let file = url.lastPathComponent
        let style = Self.style(for: url.pathExtension.lowercased())
        let units = Self.units(lines.map { scalars.string($0.range) }, style: style)
        guard !units.isEmpty else { throw .noText }
        var blocks: [TextBlock] = []
        for unit in units {
            guard let first = lines[safe: unit.lines.lowerBound], let last = lines[safe: unit.lines.upperBound - 1],
                  let range = SentenceSplitter.trim(scalars, first.range.lowerBound..<last.range.upperBound) else { continue }
            let title = unit.symbol.map { "\(file) › \($0)" } ?? file
            blocks.append(TextBlock(kind: .heading, level: 1, title: title, range: range.lowerBound..<range.lowerBound, startLine: first.number))
            blocks.append(TextBlock(kind: .code, range: range, startLine: first.number))
        }
        guard blocks.contains(where: { $0.kind == .code }) else { throw .noText }
        return ExtractedDocument(format: format, encoding: decoded.encoding, title: file, text: decoded.text, blocks: blocks)
    }

    struct Unit: Equatable { var lines: Range<Int>; var symbol: String? }

    /// Top-level units: line ranges and the symbol each declares.
    static func units(_ lines: [String], style: Style) -> [Unit] {
        if style == .whole {
            return lines.contains(where: { !$0.trimmingCharacters(in: .whitespaces).isEmpty }) ? [Unit(lines: 0..<lines.count, symbol: nil)] : []
        }
        var starts: [Int] = []
        var depth = 0
        var pendingPrefix: Int?   // first line of comments/attributes above a declaration
        for (index, line) in lines.enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            let topLevel: Bool
            switch style {
            case .braces: topLevel = depth == 0
            case .indentation, .sections: topLevel = !line.hasPrefix(" ") && !line.hasPrefix("\t")
            case .whole: topLevel = false
            }
            if trimmed.isEmpty { pendingPrefix = nil }
            else if topLevel {
                let isPrefix = isCommentOrAttribute(trimmed)
                let startsUnit: Bool
                switch style {
                case .sections: startsUnit = trimmed.hasPrefix("[") || (starts.isEmpty && !isPrefix)
                default: startsUnit = !isPrefix && !trimmed.hasPrefix("}") && !trimmed.hasPrefix(")") && !trimmed.hasPrefix("]")
                }
                if isPrefix {
                    if pendingPrefix == nil { pendingPrefix = index }
                } else if startsUnit {
                    starts.append(pendingPrefix ?? index)
                    pendingPrefix = nil
                }
            }
            if style == .braces { depth = max(0, depth + braceBalance(line)) }
        }
        if starts.first != 0, lines.prefix(starts.first ?? lines.count).contains(where: { !$0.trimmingCharacters(in: .whitespaces).isEmpty }) {
            starts.insert(0, at: 0)
        }
        var units: [Unit] = []
        for (position, start) in starts.enumerated() {
            var end = position + 1 < starts.count ? starts[position + 1] : lines.count
            while end > start, lines[end - 1].trimmingCharacters(in: .whitespaces).isEmpty { end -= 1 }
            guard end > start else { continue }
            let symbol = lines[start..<end].lazy.map { $0.trimmingCharacters(in: .whitespaces) }
                .first { !$0.isEmpty && !isCommentOrAttribute($0) }.flatMap(symbolName)
            units.append(Unit(lines: start..<end, symbol: symbol))
        }
        return mergeSmall(units, lines)
    }

    /// A one- or two-line unit (an import, a constant) joins the unit before it, up to six lines;
    /// config `[sections]` always stand alone.
    private static func mergeSmall(_ units: [Unit], _ lines: [String]) -> [Unit] {
        var out: [Unit] = []
        for unit in units {
            let isSection = lines[unit.lines.lowerBound].trimmingCharacters(in: .whitespaces).hasPrefix("[")
            if let last = out.last, !isSection, unit.lines.count <= 2, last.lines.count + unit.lines.count <= 6 {
                out[out.count - 1] = Unit(lines: last.lines.lowerBound..<unit.lines.upperBound, symbol: last.symbol ?? unit.symbol)
            } else {
                out.append(unit)
            }
        }
        return out
    }

    static func isCommentOrAttribute(_ trimmed: String) -> Bool {
        trimmed.hasPrefix("//") || trimmed.hasPrefix("/*") || trimmed.hasPrefix("*") || trimmed.hasPrefix("#") && !trimmed.hasPrefix("#include")
            && !trimmed.hasPrefix("#define") && !trimmed.hasPrefix("#[") || trimmed.hasPrefix("@") || trimmed.hasPrefix("--")
            || trimmed.hasPrefix(";")
    }

    /// Net `{` minus `}` outside strings and line comments.
    static func braceBalance(_ line: String) -> Int {
        var balance = 0
        var quote: Character?
        var escaped = false
        var previous: Character = " "
        let characters = Array(line)
        for (index, character) in characters.enumerated() {
            if let q = quote {
                if escaped { escaped = false }
                else if character == "\\" { escaped = true }
                else if character == q { quote = nil }
            } else if character == "\"" || character == "`" {
                quote = character
            } else if character == "'" {
                // A character literal ('x', '\n'), not an apostrophe or a Rust lifetime ('a).
                let next = index + 1 < characters.count ? characters[index + 1] : " "
                let afterNext = index + 2 < characters.count ? characters[index + 2] : " "
                if next == "\\" || afterNext == "'" { quote = character }
            } else if character == "/" && previous == "/" {
                break
            } else if character == "{" { balance += 1 }
            else if character == "}" { balance -= 1 }
            previous = character
        }
        return balance
    }

    private static let declaration = try! NSRegularExpression(pattern:
        #"\b(func|def|class|struct|enum|interface|protocol|extension|actor|trait|impl|fn|type|function|module|namespace|object|record|typealias|macro|const|let|var|static)\s+([A-Za-z_$][\w$.:<>]*)"#)

    /// "func name", "class Name", a TOML section, a top-level key, or the line itself (shortened).
    static func symbolName(_ line: String) -> String? {
        if line.hasPrefix("[") { return String(line.prefix(60)) }
        let range = NSRange(line.startIndex..., in: line)
        if let match = declaration.firstMatch(in: line, range: range),
           let kind = Range(match.range(at: 1), in: line), let name = Range(match.range(at: 2), in: line) {
            return "\(line[kind]) \(line[name].trimmingCharacters(in: CharacterSet(charactersIn: ":<")))"
        }
        if let colon = line.firstIndex(where: { $0 == ":" || $0 == "=" }), line.distance(from: line.startIndex, to: colon) < 40 {
            let key = line[..<colon].trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
            if !key.isEmpty && !key.contains(" ") { return key }
        }
        return String(line.prefix(60))
    }
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
