import Foundation

/// Rich Text Format (`.rtf`): paragraphs, headings (styles named "heading N" or with an outline level), list items
/// and table rows (`cell | cell`, consecutive rows as one table block); footnotes at the end.
///
/// A tokenizer reads groups, control words and symbols; font tables, style sheets, pictures, objects, headers,
/// footers and every `{\*\…}` destination are skipped. `\'hh` bytes are decoded in the code page of the current
/// font's `\fcharset` (GBK for charset 134, Big5 for 136 …, the document's `\ansicpg` for charset 0), `\uN`
/// escapes as Unicode with their `\uc` fallback characters skipped. The title comes from `{\info{\title …}}`.
public struct RTFLoader: DocumentLoader {
    public let format = "rtf"
    public let fileExtensions: Set<String> = ["rtf"]
    public let version = "1"

    /// Creates the loader.
    public init() {}

    public func load(_ data: Data, url: URL) throws(LoadFailure) -> ExtractedDocument {
        let bytes = [UInt8](data)
        var start = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        while start < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[start]) { start += 1 }
        let header = Array("{\\rtf".utf8)
        guard bytes.count - start >= header.count, Array(bytes[start..<(start + header.count)]) == header else {
            throw .damaged("not an RTF file (no {\\rtf header)")
        }
        var parser = RTFParser(tokenizer: RTFTokenizer(bytes: bytes, index: start))
        parser.run()
        guard !parser.builder.blocks.isEmpty else { throw .noText }
        let title = parser.title
        let encoding = TextDecoder.canonicalCharset("cp\(parser.ansiCodepage)")?.name
        return ExtractedDocument(format: format, encoding: encoding, title: title, text: parser.builder.text,
                                 blocks: parser.builder.blocks)
    }
}

/// Splits RTF bytes into groups, control words, control symbols, hex bytes and text runs.
struct RTFTokenizer {
    enum Token {
        case open, close
        /// A control word and its numeric parameter.
        case word(String, Int?)
        /// A control symbol: a backslash and one non-letter byte.
        case symbol(UInt8)
        /// A `\'hh` byte.
        case hex(UInt8)
        /// Plain text bytes (line breaks in the source are not text in RTF).
        case text(ArraySlice<UInt8>)
    }

    let bytes: [UInt8]
    var index: Int

    /// Skips raw bytes (the data of `\binN`).
    mutating func skip(_ count: Int) {
        guard count > 0 else { return }
        index = count >= bytes.count - index ? bytes.count : index + count
    }

    mutating func next() -> Token? {
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case 0x7B: index += 1; return .open
            case 0x7D: index += 1; return .close
            case 0x0A, 0x0D: index += 1
            case 0x5C: return control()
            default:
                let start = index
                while index < bytes.count, !Self.isSpecial(bytes[index]) { index += 1 }
                return .text(bytes[start..<index])
            }
        }
        return nil
    }

    private static func isSpecial(_ byte: UInt8) -> Bool {
        byte == 0x7B || byte == 0x7D || byte == 0x5C || byte == 0x0A || byte == 0x0D
    }

    private static func isLetter(_ byte: UInt8) -> Bool { (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) }
    private static func isDigit(_ byte: UInt8) -> Bool { (0x30...0x39).contains(byte) }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: return byte - 0x30
        case 0x41...0x46: return byte - 0x41 + 10
        case 0x61...0x66: return byte - 0x61 + 10
        default: return nil
        }
    }

    private mutating func control() -> Token? {
        index += 1   // the backslash
        guard index < bytes.count else { return nil }
        let first = bytes[index]
        if Self.isLetter(first) {
            let start = index
            while index < bytes.count, Self.isLetter(bytes[index]) { index += 1 }
            let name = String(decoding: bytes[start..<min(index, start + 32)], as: UTF8.self)
            var negative = false
            if index + 1 < bytes.count, bytes[index] == 0x2D, Self.isDigit(bytes[index + 1]) { negative = true; index += 1 }
            var parameter: Int?
            if index < bytes.count, Self.isDigit(bytes[index]) {
                var value = 0
                while index < bytes.count, Self.isDigit(bytes[index]) {
                    if value < 100_000_000 { value = value * 10 + Int(bytes[index] - 0x30) }
                    index += 1
                }
                parameter = negative ? -value : value
            }
            if index < bytes.count, bytes[index] == 0x20 { index += 1 }   // the delimiter space belongs to the word
            return .word(name, parameter)
        }
        if first == 0x27 {   // \'hh
            index += 1
            if index + 1 < bytes.count, let high = Self.hexValue(bytes[index]), let low = Self.hexValue(bytes[index + 1]) {
                index += 2
                return .hex(high << 4 | low)
            }
            return .symbol(0)
        }
        index += 1
        return .symbol(first)
    }
}

/// Reads RTF tokens into document blocks.
struct RTFParser {
    enum Destination { case body, skip, fontTable, styleSheet, info, title, footnote, listText }

    /// What a group carries and restores when it closes.
    struct GroupState {
        var destination = Destination.body
        var font: Int?
        var uc = 1
        var style: Int?
        var outline: Int?
        var list = false
        var inTable = false
    }

    struct ParagraphProperties {
        var style: Int?
        var outline: Int?
        var list: Bool
    }

    /// Destinations whose content is never text.
    static let skipped: Set<String> = [
        "colortbl", "pict", "object", "objdata", "header", "headerl", "headerr", "headerf", "footer", "footerl", "footerr",
        "footerf", "xmlnstbl", "listtable", "listoverridetable", "rsidtbl", "generator", "themedata", "colorschememapping",
        "datastore", "latentstyles", "fldinst", "xe", "tc", "bkmkstart", "bkmkend", "annotation", "atnid", "atnauthor",
        "atndate", "atnref", "do", "nonshppict", "shprslt", "filetbl", "revtbl", "userprops", "ftnsep", "ftnsepc",
        "aftnsep", "aftnsepc", "pgdsctbl", "template", "docvar", "protusertbl", "mmathPr", "blipuid", "passwordhash",
    ]

    var tokenizer: RTFTokenizer
    var state = GroupState()
    var stack: [GroupState] = []

    // Document properties.
    var ansiCodepage = 1252
    var defaultFont: Int?
    var fontCharsets: [Int: Int] = [:]
    var fontCodepages: [Int: Int] = [:]
    var iconvNames: [Int: String] = [:]
    var tableFont: Int?
    var styleNames: [Int: String] = [:]
    var styleOutlines: [Int: Int] = [:]
    var entryStyle: Int? = 0
    var entryOutline: Int?
    var entryName: [UInt8] = []

    // Text in progress.
    var pending: [UInt8] = []
    var skipCount = 0
    /// Groups opened past ``maximumNesting`` (skipped with everything in them).
    var tooDeep = 0
    static let maximumNesting = 512
    var highSurrogate: UInt32?
    var paragraph = ""
    var paragraphProperties: ParagraphProperties?
    var listMarker = ""
    var cells: [String] = []
    var rows: [String] = []
    var tableLine = 1
    var paragraphNumber = 1
    var titleText = ""
    var footnoteText = ""
    var footnotes: [String] = []
    var builder = DocumentTextBuilder()

    init(tokenizer: RTFTokenizer) { self.tokenizer = tokenizer }

    /// The `{\info{\title …}}` text, when there is one.
    var title: String? {
        let text = Self.clean(titleText).split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
        return text.isEmpty ? nil : text
    }

    mutating func run() {
        loop: while let token = tokenizer.next() {
            switch token {
            case .open:
                flush()
                skipCount = 0
                // Groups nested deeper than any real document are skipped, not stacked without bound.
                if stack.count >= Self.maximumNesting {
                    tooDeep += 1
                    state.destination = .skip
                    continue
                }
                stack.append(state)
            case .close:
                flush()
                skipCount = 0
                if tooDeep > 0 { tooDeep -= 1; continue }
                guard let parent = stack.popLast() else { continue }
                leave(state, to: parent)
                state = parent
                if stack.isEmpty { break loop }   // the document group closed
            case .text(let run):
                var slice = run
                if skipCount > 0 {
                    let dropped = min(skipCount, slice.count)
                    slice = slice.dropFirst(dropped)
                    skipCount -= dropped
                }
                for byte in slice { addByte(byte) }
            case .hex(let byte):
                if skipCount > 0 { skipCount -= 1; continue }
                addByte(byte)
            case .symbol(let symbol):
                flush()
                if state.destination == .skip { continue }
                if skipCount > 0 { skipCount -= 1; continue }
                handleSymbol(symbol)
            case .word(let name, let parameter):
                flush()
                if name == "bin" { tokenizer.skip(parameter ?? 0); continue }
                if state.destination == .skip { continue }
                if skipCount > 0 { skipCount -= 1; continue }
                handleWord(name, parameter)
            }
        }
        finish()
    }

    /// A text byte (or a `\'hh` byte) in the current destination.
    private mutating func addByte(_ byte: UInt8) {
        switch state.destination {
        case .body, .title, .footnote, .listText: pending.append(byte)
        case .styleSheet: if byte == 0x3B { commitStyle() } else { entryName.append(byte) }
        case .skip, .fontTable, .info: break
        }
    }

    /// Decodes the accumulated bytes in the current font's code page.
    private mutating func flush() {
        guard !pending.isEmpty else { return }
        let text = decode(pending, codepage: currentCodepage())
        pending.removeAll(keepingCapacity: true)
        emit(text)
    }

    private mutating func emit(_ text: String) {
        guard !text.isEmpty else { return }
        switch state.destination {
        case .body:
            if paragraphProperties == nil, text.contains(where: { !$0.isWhitespace }) {
                paragraphProperties = ParagraphProperties(style: state.style, outline: state.outline, list: state.list)
            }
            paragraph += text
        case .title: titleText += text
        case .footnote: footnoteText += text
        case .listText: listMarker += text
        case .skip, .fontTable, .styleSheet, .info: break
        }
    }

    private func currentCodepage() -> Int {
        guard let font = state.font ?? defaultFont else { return ansiCodepage }
        if let codepage = fontCodepages[font], codepage > 0 { return codepage }
        if let charset = fontCharsets[font] { return Self.codepage(charset: charset) ?? ansiCodepage }
        return ansiCodepage
    }

    /// A group closes: commit what it collected.
    private mutating func leave(_ child: GroupState, to parent: GroupState) {
        if child.destination == .footnote && parent.destination != .footnote {
            let text = Self.clean(footnoteText).split(whereSeparator: { $0 == " " }).joined(separator: " ")
            if !text.isEmpty { footnotes.append(text) }
            footnoteText = ""
        }
        if child.destination == .styleSheet { commitStyle() }
        if child.destination == .fontTable { tableFont = nil }
    }

    private mutating func handleSymbol(_ symbol: UInt8) {
        switch symbol {
        case 0x2A: state.destination = .skip   // \* ignorable destination
        case 0x7E: emit("\u{00A0}")             // \~ non-breaking space
        case 0x2D: break                        // \- optional hyphen
        case 0x5F: emit("-")                    // \_ non-breaking hyphen
        case 0x7B, 0x7D, 0x5C: addByte(symbol)  // \{ \} \\ literal
        case 0x0A, 0x0D: endParagraph()         // \<newline> is \par
        case 0x09: emit("\t")
        default: break
        }
    }

    private mutating func handleWord(_ name: String, _ parameter: Int?) {
        if Self.skipped.contains(name) { state.destination = .skip; return }
        switch name {
        case "fonttbl": state.destination = .fontTable; return
        case "stylesheet":
            state.destination = .styleSheet
            entryStyle = 0; entryOutline = nil; entryName = []
            return
        case "info": state.destination = .info; return
        case "title" where state.destination == .info: state.destination = .title; titleText = ""; return
        case "footnote":
            if state.destination == .body { state.destination = .footnote; footnoteText = "" } else { state.destination = .skip }
            return
        case "listtext", "pntext":
            if state.destination == .body { state.destination = .listText; listMarker = "" } else { state.destination = .skip }
            return
        case "uc": state.uc = max(0, min(parameter ?? 1, 64)); return
        case "u":
            if let parameter { unicode(parameter) }
            skipCount = state.uc
            return
        default: break
        }
        switch state.destination {
        case .fontTable:
            switch name {
            case "f": tableFont = parameter
            case "fcharset": if let font = tableFont, let parameter { fontCharsets[font] = parameter }
            case "cpg": if let font = tableFont, let parameter { fontCodepages[font] = parameter }
            default: break
            }
            return
        case .styleSheet:
            switch name {
            case "s": entryStyle = parameter ?? 0
            case "cs", "ds", "ts": entryStyle = nil
            case "outlinelevel": entryOutline = parameter
            default: break
            }
            return
        case .info, .skip: return
        case .body, .title, .footnote, .listText: break
        }
        switch name {
        case "ansicpg": if let parameter, parameter > 0 { ansiCodepage = parameter }
        case "ansi": ansiCodepage = 1252
        case "mac": ansiCodepage = 10000
        case "pc": ansiCodepage = 437
        case "pca": ansiCodepage = 850
        case "deff": defaultFont = parameter
        case "f": state.font = parameter
        case "plain": state.font = nil
        case "pard": state.style = nil; state.outline = nil; state.list = false; state.inTable = false
        case "s": state.style = parameter
        case "outlinelevel": state.outline = parameter
        case "ls", "ilvl": state.list = true
        case "intbl": state.inTable = true
        case "par", "sect", "page": endParagraph()
        case "line": emit("\n")
        case "tab": emit("\t")
        case "cell", "nestcell": endCell()
        case "row", "nestrow": endRow()
        case "emdash": emit("\u{2014}")
        case "endash": emit("\u{2013}")
        case "bullet": emit("\u{2022}")
        case "lquote": emit("\u{2018}")
        case "rquote": emit("\u{2019}")
        case "ldblquote": emit("\u{201C}")
        case "rdblquote": emit("\u{201D}")
        case "emspace", "enspace", "qmspace": emit(" ")
        default: break
        }
    }

    /// `\uN`: a signed 16-bit value; surrogate pairs are combined.
    private mutating func unicode(_ parameter: Int) {
        let value = parameter < 0 ? parameter + 65536 : parameter
        guard value > 0, value <= 0x10FFFF else { return }
        let scalarValue = UInt32(value)
        if (0xD800...0xDBFF).contains(scalarValue) { highSurrogate = scalarValue; return }
        if (0xDC00...0xDFFF).contains(scalarValue) {
            if let high = highSurrogate, let scalar = Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (scalarValue - 0xDC00)) {
                emit(String(Character(scalar)))
            }
            highSurrogate = nil
            return
        }
        highSurrogate = nil
        if let scalar = Unicode.Scalar(scalarValue) { emit(String(Character(scalar))) }
    }

    // MARK: Paragraphs and tables

    private mutating func endParagraph() {
        switch state.destination {
        case .title: titleText += " "; return
        case .footnote: footnoteText += " "; return
        case .body: break
        case .skip, .fontTable, .styleSheet, .info, .listText: return
        }
        if state.inTable { paragraph += " "; listMarker = ""; return }   // a paragraph inside a cell
        if !cells.isEmpty { finishRow(includeParagraph: false) }
        flushTable()
        let first = paragraphProperties
        let style = state.style ?? first?.style
        let outline = state.outline ?? first?.outline
        let marker = Self.clean(listMarker)
        let isList = state.list || first?.list == true || !marker.isEmpty
        let text = Self.clean(paragraph)
        paragraph = ""; paragraphProperties = nil; listMarker = ""
        if !text.isEmpty {
            if let level = headingLevel(style: style, outline: outline) {
                builder.append(.heading, text, line: paragraphNumber, level: level)
            } else if isList {
                let prefix = marker.isEmpty || (marker.count == 1 && !marker.contains(where: { $0.isLetter || $0.isNumber }))
                    ? "- " : marker + " "
                builder.append(.listItem, prefix + text, line: paragraphNumber)
            } else {
                builder.append(.paragraph, text, line: paragraphNumber)
            }
        }
        paragraphNumber += 1
    }

    private mutating func endCell() {
        guard state.destination == .body else { return }
        cells.append(Self.clean(paragraph).replacingOccurrences(of: "\n", with: " "))
        paragraph = ""; paragraphProperties = nil; listMarker = ""
    }

    private mutating func endRow() {
        guard state.destination == .body else { return }
        finishRow(includeParagraph: true)
        paragraphNumber += 1
    }

    private mutating func finishRow(includeParagraph: Bool) {
        if includeParagraph {
            let rest = Self.clean(paragraph).replacingOccurrences(of: "\n", with: " ")
            if !rest.isEmpty { cells.append(rest) }
            paragraph = ""; paragraphProperties = nil; listMarker = ""
        }
        while let last = cells.last, last.isEmpty { cells.removeLast() }
        if !cells.isEmpty {
            if rows.isEmpty { tableLine = paragraphNumber }
            rows.append(cells.joined(separator: " | "))
        }
        cells = []
    }

    private mutating func flushTable() {
        guard !rows.isEmpty else { return }
        builder.append(.table, rows.joined(separator: "\n"), line: tableLine)
        rows = []
    }

    /// End of input (or of the document group): what was read is kept, even with braces left open.
    private mutating func finish() {
        flush()
        if state.destination == .footnote {
            let text = Self.clean(footnoteText)
            if !text.isEmpty { footnotes.append(text) }
            footnoteText = ""
        }
        state.destination = .body
        if state.inTable {
            finishRow(includeParagraph: true)
            state.inTable = false
        }
        endParagraph()
        flushTable()
        if !footnotes.isEmpty {
            builder.append(.heading, "Footnotes", line: paragraphNumber, level: 1)
            for (index, note) in footnotes.enumerated() { builder.append(.paragraph, "[\(index + 1)] \(note)", line: paragraphNumber) }
        }
    }

    // MARK: Styles

    private mutating func commitStyle() {
        if let style = entryStyle {
            let name = decode(entryName, codepage: ansiCodepage).trimmingCharacters(in: .whitespacesAndNewlines)
            if !name.isEmpty { styleNames[style] = name }
            if let outline = entryOutline { styleOutlines[style] = outline }
        }
        entryStyle = 0; entryOutline = nil; entryName = []
    }

    private func headingLevel(style: Int?, outline: Int?) -> Int? {
        if let outline { return (0...8).contains(outline) ? outline + 1 : nil }
        guard let style else { return nil }
        if let name = styleNames[style], let level = Self.headingLevel(named: name) { return level }
        if let outline = styleOutlines[style], (0...8).contains(outline) { return outline + 1 }
        return nil
    }

    /// "heading 2" (Word's built-in name; also "Heading 2", "标题 2") → 2.
    static func headingLevel(named name: String) -> Int? {
        let primary = name.lowercased().split(separator: ",").first.map(String.init) ?? ""
        let trimmed = primary.trimmingCharacters(in: .whitespaces)
        for prefix in ["heading", "标题", "標題"] where trimmed.hasPrefix(prefix) {
            let rest = trimmed.dropFirst(prefix.count).trimmingCharacters(in: .whitespaces)
            if let level = Int(rest), (1...9).contains(level) { return level }
        }
        return nil
    }

    // MARK: Code pages

    /// The Windows code page of an `\fcharsetN`; nil for the document's ANSI code page.
    static func codepage(charset: Int) -> Int? {
        switch charset {
        case 2: return 1252     // Symbol: its bytes are read as Windows-1252
        case 77: return 10000
        case 128: return 932
        case 129: return 949
        case 130: return 1361
        case 134: return 936
        case 136: return 950
        case 161: return 1253
        case 162: return 1254
        case 163: return 1258
        case 177: return 1255
        case 178: return 1256
        case 186: return 1257
        case 204: return 1251
        case 222: return 874
        case 238: return 1250
        case 255: return 437
        default: return nil
        }
    }

    /// The iconv name of a Windows code page.
    static func iconvName(codepage: Int) -> String {
        switch codepage {
        case 936: return TextDecoder.canonicalCharset("cp936")?.iconv ?? "GB18030"
        case 950: return TextDecoder.canonicalCharset("cp950")?.iconv ?? "BIG5-HKSCS"
        case 1252: return TextDecoder.canonicalCharset("windows-1252")?.iconv ?? "WINDOWS-1252"
        case 932: return "CP932"
        case 949: return "CP949"
        case 1361: return "JOHAB"
        case 10000: return "MACINTOSH"
        case 65001: return "UTF-8"
        default: return "CP\(codepage)"
        }
    }

    /// Decodes bytes in a code page (its iconv name looked up once per document).
    private mutating func decode(_ bytes: [UInt8], codepage: Int) -> String {
        if bytes.allSatisfy({ $0 < 0x80 }) { return String(decoding: bytes, as: UTF8.self) }
        let name: String
        if let known = iconvNames[codepage] {
            name = known
        } else {
            let candidate = Self.iconvName(codepage: codepage)
            name = Iconv.decode([], from: candidate) == nil ? "WINDOWS-1252" : candidate   // a code page iconv does not know
            iconvNames[codepage] = name
        }
        return Self.decode(bytes, iconv: name)
    }

    /// Decodes bytes with iconv; byte sequences the encoding does not define are dropped.
    static func decode(_ bytes: [UInt8], iconv name: String) -> String {
        if bytes.allSatisfy({ $0 < 0x80 }) { return String(decoding: bytes, as: UTF8.self) }
        if let text = Iconv.decode(bytes, from: name) { return text }
        var out = ""
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte < 0x80 { out.unicodeScalars.append(Unicode.Scalar(byte)); index += 1; continue }
            var advanced = false
            for length in [2, 1, 4] where index + length <= bytes.count {
                if let text = Iconv.decode(Array(bytes[index..<(index + length)]), from: name), !text.isEmpty {
                    out += text
                    index += length
                    advanced = true
                    break
                }
            }
            if !advanced { index += 1 }
        }
        return out
    }

    /// Normalised, trimmed text.
    static func clean(_ text: String) -> String {
        TextDecoder.normalize(text).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
