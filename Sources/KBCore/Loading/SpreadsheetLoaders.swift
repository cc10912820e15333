import CLibXML2
import Foundation

/// Excel workbooks (`.xlsx`, `.xlsm`): every worksheet in workbook order becomes a heading (the sheet name)
/// followed by one `.table` block per row, written as `column: value` lines; numbers and dates read as Excel
/// shows them (the cells' number formats), the first row names the columns when it is a row of labels.
public struct XLSXLoader: DocumentLoader {
    public let format = "xlsx"
    public let fileExtensions: Set<String> = ["xlsx", "xlsm"]
    public let version = "1"
    /// Rows read per workbook; the rest is left out with a warning.
    let rowLimit: Int

    /// Creates the loader.
    public init() { rowLimit = SpreadsheetLayout.rowLimit }

    init(rowLimit: Int) { self.rowLimit = max(1, rowLimit) }

    public func load(_ data: Data, url: URL) throws(LoadFailure) -> ExtractedDocument {
        try ZipContainer.rejectCompoundFile(data, protected: "the Excel workbook",
                                            legacy: "the file is an old binary Office file (.xls), not an XLSX workbook")
        let container = try ZipContainer(data, kind: "XLSX")
        guard let workbook = try container.xml("xl/workbook.xml") else { throw .damaged("no xl/workbook.xml in the XLSX") }
        var date1904 = false
        var entries: [(name: String, id: String?)] = []
        if let root = xmlDocGetRootElement(workbook) {
            if let properties = LibXML.descendants(root, named: "workbookpr").first, let value = LibXML.attribute(properties, "date1904") {
                date1904 = value == "1" || value.lowercased() == "true"
            }
            for sheet in LibXML.descendants(root, named: "sheet") {
                entries.append((LibXML.attribute(sheet, "name") ?? "", LibXML.attribute(sheet, "id")))
            }
        }
        xmlFreeDoc(workbook)

        // Relationship id → part path; the shared strings and styles parts are found the same way.
        var targets: [String: String] = [:]
        var sharedStringsPath = "xl/sharedStrings.xml"
        var stylesPath = "xl/styles.xml"
        if let relationships = try container.xml("xl/_rels/workbook.xml.rels") {
            if let root = xmlDocGetRootElement(relationships) {
                for relationship in LibXML.descendants(root, named: "relationship") {
                    guard let id = LibXML.attribute(relationship, "Id"), let target = LibXML.attribute(relationship, "Target") else { continue }
                    let path = Self.resolve(target)
                    targets[id] = path
                    let type = LibXML.attribute(relationship, "Type") ?? ""
                    if type.hasSuffix("/sharedStrings") { sharedStringsPath = path } else if type.hasSuffix("/styles") { stylesPath = path }
                }
            }
            xmlFreeDoc(relationships)
        }
        var sheets: [(name: String, path: String)] = []
        for (index, entry) in entries.enumerated() {
            let path: String
            if let id = entry.id, let target = targets[id] {
                path = target
            } else if targets.isEmpty {
                path = "xl/worksheets/sheet\(index + 1).xml"
            } else {
                continue
            }
            // Chart sheets (and dialog or macro sheets) hold no cells.
            guard path.contains("worksheets/") else { continue }
            let name = entry.name.trimmingCharacters(in: .whitespacesAndNewlines)
            sheets.append((name.isEmpty ? "Sheet\(index + 1)" : name, path))
        }

        var strings: [String] = []
        if let shared = try container.data(sharedStringsPath) { strings = Self.sharedStrings(shared) }
        let formats = try Self.numberFormats(container, path: stylesPath)

        var builder = DocumentTextBuilder()
        var warnings: [String] = []
        var rowsRead = 0
        let limit = rowLimit
        for sheet in sheets {
            guard rowsRead < limit else {
                warnings.append("sheet \(sheet.name): not read (the workbook's first \(limit) rows were read)")
                continue
            }
            guard let part = try container.data(sheet.path) else {
                warnings.append("sheet \(sheet.name): its part \(sheet.path) is missing")
                continue
            }
            let result = Self.readSheet(part, strings: strings, formats: formats, date1904: date1904, limit: limit - rowsRead)
            rowsRead += result.rows.count
            if result.truncated { warnings.append("sheet \(sheet.name): only the first \(limit) rows were read") }
            SpreadsheetLayout.append(sheet: sheet.name, rows: result.rows, to: &builder)
        }
        guard !builder.blocks.isEmpty else { throw .noText }

        var title: String?
        if let core = try? container.xml("docProps/core.xml") {
            if let root = xmlDocGetRootElement(core), let node = LibXML.descendants(root, named: "title").first {
                let text = LibXML.content(node).trimmingCharacters(in: .whitespacesAndNewlines)
                if !text.isEmpty { title = text }
            }
            xmlFreeDoc(core)
        }
        return ExtractedDocument(format: format, encoding: "utf-8", title: title, text: builder.text, blocks: builder.blocks,
                                 warnings: warnings)
    }

    /// A relationship target as a path in the package: relative to `xl/`, or absolute when it starts with "/".
    static func resolve(_ target: String) -> String {
        let raw = target.hasPrefix("/") ? String(target.dropFirst()) : "xl/" + target
        var parts: [Substring] = []
        for part in raw.split(separator: "/") {
            if part.isEmpty || part == "." { continue }
            if part == ".." {
                if !parts.isEmpty { parts.removeLast() }
                continue
            }
            parts.append(part)
        }
        return parts.joined(separator: "/")
    }

    /// The shared strings: each `<si>` is its `<t>` texts (rich runs included, phonetic runs left out).
    static func sharedStrings(_ data: Data) -> [String] {
        var strings: [String] = []
        var current = ""
        var inItem = false
        var inText = false
        var phonetic = 0
        SpreadsheetXML.scan(data) { (event: SpreadsheetXML.Event) -> SpreadsheetXML.Next in
            switch event {
            case .start(let name, _):
                switch name {
                case "si": inItem = true; current = ""; phonetic = 0
                case "rph": phonetic += 1
                case "t": inText = inItem && phonetic == 0
                default: break
                }
            case .end(let name):
                switch name {
                case "si":
                    if inItem { strings.append(Self.unescape(current)) }
                    inItem = false
                case "rph": phonetic = max(0, phonetic - 1)
                case "t": inText = false
                default: break
                }
            case .text(let text):
                if inText { current += text }
            }
            return inText ? .keepText : .skipText
        }
        return strings
    }

    /// The number format of each cell style (`<cellXfs>` in order), custom `<numFmt>` codes before built-in ids.
    static func numberFormats(_ container: ZipContainer, path: String) throws(LoadFailure) -> [SpreadsheetNumberFormat] {
        guard let styles = try container.xml(path) else { return [] }
        defer { xmlFreeDoc(styles) }
        guard let root = xmlDocGetRootElement(styles) else { return [] }
        var custom: [Int: String] = [:]
        for numberFormat in LibXML.descendants(root, named: "numfmt") {
            if let id = LibXML.attribute(numberFormat, "numFmtId").flatMap({ Int($0) }),
               let code = LibXML.attribute(numberFormat, "formatCode") {
                custom[id] = code
            }
        }
        var formats: [SpreadsheetNumberFormat] = []
        if let cellFormats = LibXML.descendants(root, named: "cellxfs").first {
            for xf in LibXML.children(cellFormats) where xf.pointee.type == XML_ELEMENT_NODE && LibXML.name(xf) == "xf" {
                let id = LibXML.attribute(xf, "numFmtId").flatMap { Int($0) } ?? 0
                if let code = custom[id] {
                    formats.append(SpreadsheetNumberFormat.classify(code))
                } else {
                    formats.append(SpreadsheetNumberFormat.builtin(id))
                }
            }
        }
        return formats
    }

    /// A worksheet's non-empty rows, at most `limit` of them; `truncated` when more rows followed.
    static func readSheet(_ data: Data, strings: [String], formats: [SpreadsheetNumberFormat], date1904: Bool,
                          limit: Int) -> (rows: [SpreadsheetRow], truncated: Bool) {
        var rows: [SpreadsheetRow] = []
        var truncated = false
        var rowNumber = 0
        var cells: [SpreadsheetCell] = []
        var inRow = false
        var column = 0
        var inCell = false
        var cellType = "n"
        var cellStyle = 0
        var value = ""
        var inline = ""
        var inValue = false
        var inInline = false
        var inText = false
        var phonetic = 0
        SpreadsheetXML.scan(data) { (event: SpreadsheetXML.Event) -> SpreadsheetXML.Next in
            switch event {
            case .start(let name, let attributes):
                switch name {
                case "row":
                    rowNumber = SpreadsheetXML.attribute(attributes, "r").flatMap { Int($0) } ?? rowNumber + 1
                    cells = []
                    column = 0
                    inRow = true
                case "c" where inRow:
                    let reference = SpreadsheetXML.attribute(attributes, "r")
                    column = reference.flatMap { SpreadsheetLayout.columnIndex(reference: $0) } ?? column + 1
                    cellType = SpreadsheetXML.attribute(attributes, "t") ?? "n"
                    cellStyle = SpreadsheetXML.attribute(attributes, "s").flatMap { Int($0) } ?? 0
                    value = ""
                    inline = ""
                    inCell = true
                    phonetic = 0
                case "v" where inCell:
                    inValue = true
                case "is" where inCell:
                    inInline = true
                case "rph" where inInline:
                    phonetic += 1
                case "t" where inInline:
                    inText = phonetic == 0
                default:
                    break
                }
            case .end(let name):
                switch name {
                case "v": inValue = false
                case "t": inText = false
                case "rph": phonetic = max(0, phonetic - 1)
                case "is": inInline = false
                case "c" where inCell:
                    inCell = false
                    inValue = false
                    inText = false
                    let format = cellStyle >= 0 && cellStyle < formats.count ? formats[cellStyle] : .general
                    if let shown = Self.display(type: cellType, raw: value, inline: inline, format: format, strings: strings,
                                                date1904: date1904) {
                        let text = SpreadsheetLayout.clean(shown.text)
                        if !text.isEmpty { cells.append(SpreadsheetCell(column: column, text: text, isText: shown.isText)) }
                    }
                case "row" where inRow:
                    inRow = false
                    if !cells.isEmpty {
                        if rows.count >= limit {
                            truncated = true
                            return .stop
                        }
                        rows.append(SpreadsheetRow(number: rowNumber, cells: cells))
                    }
                    cells = []
                case "sheetdata":
                    return .stop
                default:
                    break
                }
            case .text(let text):
                if inValue { value += text } else if inText { inline += text }
            }
            return inValue || inText ? .keepText : .skipText
        }
        return (rows, truncated)
    }

    /// A cell's text as Excel shows it; `isText` for strings (what a header row is made of). Nil for an empty cell.
    static func display(type: String, raw: String, inline: String, format: SpreadsheetNumberFormat, strings: [String],
                        date1904: Bool) -> (text: String, isText: Bool)? {
        let trimmed = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        switch type {
        case "s":
            guard let index = Int(trimmed), index >= 0, index < strings.count else { return nil }
            return (strings[index], true)
        case "inlineStr", "inlinestr":
            return (unescape(inline.isEmpty ? raw : inline), true)
        case "str":
            return (unescape(raw), true)
        case "b":
            guard !trimmed.isEmpty else { return nil }
            return (trimmed == "1" || trimmed.lowercased() == "true" ? "TRUE" : "FALSE", false)
        case "e":
            return (trimmed, false)
        case "d":
            guard !trimmed.isEmpty else { return nil }
            var text = trimmed
            if text.hasSuffix("Z") { text.removeLast() }
            text = text.replacingOccurrences(of: "T", with: " ")
            if text.hasSuffix(" 00:00:00") { text = String(text.dropLast(9)) }
            return (text, false)
        default:
            guard !trimmed.isEmpty else { return nil }
            guard let number = Double(trimmed), number.isFinite else { return (trimmed, false) }
            return (format.display(number, date1904: date1904), false)
        }
    }

    /// Undoes OOXML's `_xHHHH_` escapes (`_x000D_` is a carriage return).
    static func unescape(_ text: String) -> String {
        guard text.contains("_x") else { return text }
        let scalars = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        var index = 0
        while index < scalars.count {
            if scalars[index] == "_", index + 6 < scalars.count, scalars[index + 1] == "x", scalars[index + 6] == "_",
               let value = UInt32(String(String.UnicodeScalarView(scalars[(index + 2)..<(index + 6)])), radix: 16),
               let scalar = Unicode.Scalar(value) {
                out.append(scalar)
                index += 7
                continue
            }
            out.append(scalars[index])
            index += 1
        }
        return String(out)
    }
}

/// OpenDocument spreadsheets (`.ods`): every table becomes a heading (the sheet name) followed by one `.table`
/// block per row of `column: value` lines, with the text the cells display; the first row names the columns
/// when it is a row of labels.
public struct ODSLoader: DocumentLoader {
    public let format = "ods"
    public let fileExtensions: Set<String> = ["ods"]
    public let version = "1"
    /// Rows read per spreadsheet; the rest is left out with a warning.
    let rowLimit: Int

    /// Creates the loader.
    public init() { rowLimit = SpreadsheetLayout.rowLimit }

    init(rowLimit: Int) { self.rowLimit = max(1, rowLimit) }

    public func load(_ data: Data, url: URL) throws(LoadFailure) -> ExtractedDocument {
        try ZipContainer.rejectCompoundFile(data, protected: "the spreadsheet",
                                            legacy: "the file is an old binary Office file, not an OpenDocument spreadsheet")
        let container = try ZipContainer.openDocument(data, kind: "ODS", protected: "the OpenDocument spreadsheet")
        guard let content = try container.data("content.xml") else { throw .damaged("no content.xml in the ODS") }
        let limit = rowLimit
        let result = Self.readContent(content, limit: limit)
        var builder = DocumentTextBuilder()
        for sheet in result.sheets { SpreadsheetLayout.append(sheet: sheet.name, rows: sheet.rows, to: &builder) }
        guard !builder.blocks.isEmpty else { throw .noText }
        var warnings: [String] = []
        if let name = result.truncatedSheet { warnings.append("sheet \(name): only the first \(limit) rows were read") }

        var title: String?
        if let meta = try? container.xml("meta.xml") {
            if let root = xmlDocGetRootElement(meta), let node = LibXML.descendants(root, named: "title").first {
                let text = LibXML.content(node).trimmingCharacters(in: .whitespacesAndNewlines)
                if !text.isEmpty { title = text }
            }
            xmlFreeDoc(meta)
        }
        return ExtractedDocument(format: format, encoding: "utf-8", title: title, text: builder.text, blocks: builder.blocks,
                                 warnings: warnings)
    }

    /// Elements inside a cell whose text is not the cell's: comments and drawn shapes.
    private static let skipped: Set<String> = [
        "annotation", "frame", "custom-shape", "g", "rect", "ellipse", "circle", "line", "polyline", "polygon", "path",
        "connector", "measure", "caption", "control", "note",
    ]

    /// The tables of `content.xml` with their non-empty rows (numbered with repeats counted), at most `limit`
    /// rows in all; `truncatedSheet` names the table where reading stopped.
    static func readContent(_ data: Data, limit: Int) -> (sheets: [(name: String, rows: [SpreadsheetRow])], truncatedSheet: String?) {
        var sheets: [(name: String, rows: [SpreadsheetRow])] = []
        var truncatedSheet: String?
        var depth = 0
        var inSpreadsheet = false
        var tableDepth = 0
        var sheetName = ""
        var rows: [SpreadsheetRow] = []
        var rowNumber = 0
        var rowsRead = 0
        var inRow = false
        var rowRepeat = 1
        var cells: [SpreadsheetCell] = []
        var column = 0
        var cellDepth: Int?
        var cellRepeat = 1
        var cellIsText = true
        var cellFallback = ""
        var paragraphs: [String] = []
        var paragraph = ""
        var paragraphDepth = 0
        var skipDepth: Int?
        SpreadsheetXML.scan(data) { (event: SpreadsheetXML.Event) -> SpreadsheetXML.Next in
            switch event {
            case .start(let name, let attributes):
                depth += 1
                if skipDepth != nil { break }
                switch name {
                case "spreadsheet":
                    inSpreadsheet = true
                case "table" where inSpreadsheet && cellDepth == nil:
                    tableDepth += 1
                    if tableDepth == 1 {
                        let given = SpreadsheetXML.attribute(attributes, "name")?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
                        sheetName = given.isEmpty ? "Sheet\(sheets.count + 1)" : given
                        rows = []
                        rowNumber = 0
                    }
                case "table-row" where tableDepth == 1 && cellDepth == nil:
                    inRow = true
                    rowRepeat = SpreadsheetLayout.count(SpreadsheetXML.attribute(attributes, "number-rows-repeated"), limit: 1_048_576)
                    cells = []
                    column = 0
                case "table-cell", "covered-table-cell":
                    guard inRow && cellDepth == nil else { break }
                    cellDepth = depth
                    cellRepeat = SpreadsheetLayout.count(SpreadsheetXML.attribute(attributes, "number-columns-repeated"),
                                                         limit: SpreadsheetLayout.columnLimit)
                    let type = SpreadsheetXML.attribute(attributes, "value-type")
                    cellIsText = type == nil || type == "string"
                    cellFallback = ""
                    if type != nil {
                        for key in ["value", "date-value", "time-value", "boolean-value", "string-value"] {
                            if let value = SpreadsheetXML.attribute(attributes, key) { cellFallback = value; break }
                        }
                    }
                    paragraphs = []
                    paragraph = ""
                    paragraphDepth = 0
                case "p" where cellDepth != nil:
                    paragraphDepth += 1
                    if paragraphDepth == 1 { paragraph = "" }
                case "s" where paragraphDepth > 0:
                    paragraph += String(repeating: " ", count: SpreadsheetLayout.count(SpreadsheetXML.attribute(attributes, "c"), limit: 1000))
                case "tab" where paragraphDepth > 0:
                    paragraph += "\t"
                case "line-break" where paragraphDepth > 0:
                    paragraph += "\n"
                default:
                    if cellDepth != nil && Self.skipped.contains(name) { skipDepth = depth }
                }
            case .end(let name):
                defer { depth -= 1 }
                if let skip = skipDepth {
                    if depth == skip { skipDepth = nil }
                    break
                }
                switch name {
                case "spreadsheet":
                    inSpreadsheet = false
                    return .stop
                case "table" where inSpreadsheet && cellDepth == nil && tableDepth > 0:
                    tableDepth -= 1
                    if tableDepth == 0 {
                        sheets.append((sheetName, rows))
                        rows = []
                    }
                case "table-row" where inRow && tableDepth == 1 && cellDepth == nil:
                    inRow = false
                    if cells.isEmpty {
                        // Empty rows (often repeated a million times to the sheet's end) only count for numbering.
                        rowNumber += rowRepeat
                    } else {
                        for _ in 0..<rowRepeat {
                            if rowsRead >= limit {
                                truncatedSheet = sheetName
                                sheets.append((sheetName, rows))
                                return .stop
                            }
                            rowNumber += 1
                            rows.append(SpreadsheetRow(number: rowNumber, cells: cells))
                            rowsRead += 1
                        }
                    }
                    cells = []
                case "table-cell", "covered-table-cell":
                    guard let start = cellDepth, start == depth else { break }
                    cellDepth = nil
                    paragraphDepth = 0
                    var text = SpreadsheetLayout.clean(paragraphs.joined(separator: " "))
                    if text.isEmpty { text = SpreadsheetLayout.clean(cellFallback) }
                    if !text.isEmpty {
                        // A repeated non-empty cell fills its columns, up to the widest sheet a spreadsheet can have.
                        let room = max(0, SpreadsheetLayout.columnLimit - column)
                        for offset in 0..<min(cellRepeat, room) {
                            cells.append(SpreadsheetCell(column: column + offset + 1, text: text, isText: cellIsText))
                        }
                    }
                    column += cellRepeat
                case "p" where paragraphDepth > 0:
                    paragraphDepth -= 1
                    if paragraphDepth == 0 { paragraphs.append(paragraph) }
                default:
                    break
                }
            case .text(let text):
                if paragraphDepth > 0 && skipDepth == nil { paragraph += SpreadsheetLayout.collapse(text) }
            }
            return paragraphDepth > 0 && skipDepth == nil ? .keepText : .skipText
        }
        return (sheets, truncatedSheet)
    }
}

// MARK: - Shared by the spreadsheet loaders

/// A non-empty cell: its 1-based column, the text it shows and whether it is a string (not a number, date or boolean).
struct SpreadsheetCell: Sendable, Equatable {
    var column: Int
    var text: String
    var isText: Bool
}

/// A non-empty row with its 1-based row number in the sheet.
struct SpreadsheetRow: Sendable, Equatable {
    var number: Int
    var cells: [SpreadsheetCell]
}

/// How spreadsheet rows become blocks, and the helpers both spreadsheet loaders use.
enum SpreadsheetLayout {
    /// Rows read per workbook (100,000: the text of a larger table would not help a search, and costs memory).
    static let rowLimit = 100_000
    /// The widest sheet (Excel's and LibreOffice's column limit).
    static let columnLimit = 16_384

    /// Excel's column letters for a 1-based column: 1 → "A", 27 → "AA".
    static func columnLetters(_ index: Int) -> String {
        guard index > 0 else { return "?" }
        var remaining = index
        var letters: [Character] = []
        while remaining > 0 {
            let digit = (remaining - 1) % 26
            letters.append(Character(Unicode.Scalar(UInt8(65 + digit))))
            remaining = (remaining - 1) / 26
        }
        return String(letters.reversed())
    }

    /// The 1-based column of a cell reference such as "B3" or "$AA$10"; nil without letters.
    static func columnIndex(reference: String) -> Int? {
        var index = 0
        var letters = 0
        for scalar in reference.unicodeScalars {
            let value = scalar.value
            if value >= 65 && value <= 90 {
                index = index * 26 + Int(value) - 64
            } else if value >= 97 && value <= 122 {
                index = index * 26 + Int(value) - 96
            } else if value == 36 {
                continue
            } else {
                break
            }
            letters += 1
            if letters > 4 { return nil }
        }
        return letters == 0 ? nil : index
    }

    /// A repeat count attribute, at least 1 and at most `limit`.
    static func count(_ text: String?, limit: Int) -> Int {
        guard let text, let value = Int(text.trimmingCharacters(in: .whitespaces)) else { return 1 }
        return min(max(value, 1), limit)
    }

    /// A cell's value on one line: newlines become spaces, the ends are trimmed.
    static func clean(_ value: String) -> String {
        var text = value
        if text.contains(where: { $0.isNewline }) { text = String(text.map { $0.isNewline ? " " : $0 }) }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// XML white space in OpenDocument text collapses to one space (`text:s` carries the real spaces).
    static func collapse(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        var lastWasSpace = false
        for scalar in text.unicodeScalars {
            if scalar == " " || scalar == "\t" || scalar == "\n" || scalar == "\r" {
                if !lastWasSpace { out.append(" ") }
                lastWasSpace = true
            } else {
                out.append(scalar)
                lastWasSpace = false
            }
        }
        return String(out)
    }

    /// Appends a sheet: a level-1 heading with its name, then one `.table` block of `column: value` lines per row,
    /// each with the row's number as its lines and the sheet as its locator. The first row names the columns when
    /// it has at least two cells, all of them text, and rows follow it; other columns are named by their letters.
    static func append(sheet name: String, rows: [SpreadsheetRow], to builder: inout DocumentTextBuilder) {
        guard let first = rows.first else { return }
        let locator = BlockLocator.sheet(name)
        builder.append(.heading, name, line: first.number, level: 1, endLine: first.number, locator: locator)
        let hasHeader = rows.count > 1 && first.cells.count >= 2 && first.cells.allSatisfy { $0.isText }
        var names: [Int: String] = [:]
        if hasHeader {
            for cell in first.cells where names[cell.column] == nil { names[cell.column] = cell.text }
        }
        for row in rows.dropFirst(hasHeader ? 1 : 0) {
            let lines = row.cells.map { cell in "\(names[cell.column] ?? columnLetters(cell.column)): \(cell.text)" }
            builder.append(.table, lines.joined(separator: "\n"), line: row.number, endLine: row.number, locator: locator)
        }
    }
}

/// An Excel number format reduced to what kb shows: general, fixed decimals (grouped, percent), scientific,
/// a date (with or without its time) or a time of day.
enum SpreadsheetNumberFormat: Equatable, Sendable {
    case general
    case fixed(decimals: Int, grouping: Bool, percent: Bool)
    case scientific(decimals: Int)
    case date(withTime: Bool)
    case time(elapsed: Bool)

    /// Excel's built-in formats by id (ids 27–36 and 50–58 are the East Asian date and time formats).
    static func builtin(_ id: Int) -> SpreadsheetNumberFormat {
        switch id {
        case 1: return .fixed(decimals: 0, grouping: false, percent: false)
        case 2: return .fixed(decimals: 2, grouping: false, percent: false)
        case 3, 5, 6, 37, 38, 41, 42: return .fixed(decimals: 0, grouping: true, percent: false)
        case 4, 7, 8, 39, 40, 43, 44: return .fixed(decimals: 2, grouping: true, percent: false)
        case 9: return .fixed(decimals: 0, grouping: false, percent: true)
        case 10: return .fixed(decimals: 2, grouping: false, percent: true)
        case 11: return .scientific(decimals: 2)
        case 48: return .scientific(decimals: 1)
        case 14...17, 27...31, 36, 50...58: return .date(withTime: false)
        case 22: return .date(withTime: true)
        case 18...21, 32...35, 45, 47: return .time(elapsed: false)
        case 46: return .time(elapsed: true)
        default: return .general
        }
    }

    /// A custom format code, read from its first section with quoted text, escapes, padding and [brackets] left out.
    static func classify(_ code: String) -> SpreadsheetNumberFormat {
        let characters = Array(code)
        var plain = ""
        var elapsedHours = false
        var index = 0
        scan: while index < characters.count {
            let character = characters[index]
            index += 1
            switch character {
            case ";":
                break scan
            case "\"":
                while index < characters.count && characters[index] != "\"" { index += 1 }
                index += 1
            case "\\", "_", "*":
                index += 1
            case "[":
                var inner = ""
                while index < characters.count && characters[index] != "]" {
                    inner.append(characters[index])
                    index += 1
                }
                index += 1
                // [h], [mm], [ss]: elapsed time; anything else ([Red], [$-409], [>100]) is not part of the number.
                let lower = inner.lowercased()
                if !lower.isEmpty && lower.allSatisfy({ $0 == "h" || $0 == "m" || $0 == "s" }) {
                    if lower.hasPrefix("h") { elapsedHours = true }
                    plain += lower
                }
            default:
                plain += character.lowercased()
            }
        }
        if plain.contains("general") { return .general }
        let hasDate = plain.contains("d") || plain.contains("y")
        let hasTime = plain.contains("h") || plain.contains("s")
        if hasDate { return .date(withTime: hasTime) }
        if hasTime { return .time(elapsed: elapsedHours) }
        if plain.contains("m") { return .date(withTime: false) }
        if plain.contains("@") || plain.contains("/") { return .general }
        let point = plain.firstIndex(of: ".")
        var decimals = 0
        if let point {
            for character in plain[plain.index(after: point)...] {
                guard character == "0" || character == "#" || character == "?" else { break }
                decimals += 1
            }
        }
        if plain.contains("e+") || plain.contains("e-") { return .scientific(decimals: decimals) }
        guard plain.contains(where: { $0 == "0" || $0 == "#" || $0 == "?" }) else { return .general }
        let integerPart = point.map { plain[..<$0] } ?? plain[...]
        return .fixed(decimals: decimals, grouping: integerPart.contains(","), percent: plain.contains("%"))
    }

    /// A number as this format shows it; date serials count days from 1899-12-30 (or 1904-01-01).
    func display(_ value: Double, date1904: Bool) -> String {
        switch self {
        case .general:
            return Self.generalText(value)
        case .fixed(let decimals, let grouping, let percent):
            let scaled = percent ? value * 100 : value
            var text = String(format: "%.\(min(max(decimals, 0), 30))f", scaled)
            if text.hasPrefix("-") && !text.contains(where: { $0 >= "1" && $0 <= "9" }) { text.removeFirst() }
            if grouping { text = Self.grouped(text) }
            return percent ? text + "%" : text
        case .scientific(let decimals):
            return String(format: "%.\(min(max(decimals, 0), 30))E", value)
        case .date(let withTime):
            return Self.dateText(value, date1904: date1904, withTime: withTime) ?? Self.generalText(value)
        case .time(let elapsed):
            return Self.timeText(value, elapsed: elapsed) ?? Self.generalText(value)
        }
    }

    /// Excel's General: integers without a decimal point, others in the shortest decimal of 15 significant digits,
    /// without an exponent for ordinary magnitudes.
    static func generalText(_ value: Double) -> String {
        if value == 0 { return "0" }
        if value.rounded() == value && abs(value) < 1e15 { return String(Int64(value)) }
        let text = String(format: "%.15g", value)
        guard let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }), let exponent = Int(text[text.index(after: e)...]),
              exponent > -10 && exponent < 21 else { return text }
        var mantissa = String(text[..<e])
        var sign = ""
        if mantissa.hasPrefix("-") {
            sign = "-"
            mantissa.removeFirst()
        }
        let parts = mantissa.split(separator: ".", omittingEmptySubsequences: false)
        let integerDigits = parts.first.map { String($0) } ?? ""
        let fraction = parts.count > 1 ? String(parts[1]) : ""
        let digits = Array(integerDigits + fraction)
        let point = integerDigits.count + exponent
        var out: String
        if point <= 0 {
            out = "0." + String(repeating: "0", count: -point) + String(digits)
        } else if point >= digits.count {
            out = String(digits) + String(repeating: "0", count: point - digits.count)
        } else {
            out = String(digits[..<point]) + "." + String(digits[point...])
        }
        if out.contains(".") {
            while out.hasSuffix("0") { out.removeLast() }
            if out.hasSuffix(".") { out.removeLast() }
        }
        return sign + out
    }

    /// Thousands separators in a plain decimal ("-1234567.5" → "-1,234,567.5").
    static func grouped(_ text: String) -> String {
        var sign = ""
        var body = Substring(text)
        if body.hasPrefix("-") {
            sign = "-"
            body = body.dropFirst()
        }
        let point = body.firstIndex(of: ".") ?? body.endIndex
        let integer = Array(body[..<point])
        var out = ""
        for (offset, digit) in integer.enumerated() {
            if offset > 0 && (integer.count - offset) % 3 == 0 { out.append(",") }
            out.append(digit)
        }
        return sign + out + String(body[point...])
    }

    /// `yyyy-MM-dd`, with ` HH:mm` for formats that show the time; nil outside Excel's date range.
    static func dateText(_ serial: Double, date1904: Bool, withTime: Bool) -> String? {
        guard serial >= 0 && serial < 2_958_466 else { return nil }
        var days = Int(serial.rounded(.down))
        var seconds = Int(((serial - Double(days)) * 86_400).rounded())
        if seconds >= 86_400 {
            days += 1
            seconds -= 86_400
        }
        // Excel counts a 29 February 1900 that never was: serials before it are one day later than the epoch says.
        if !date1904 && days >= 1 && days < 60 { days += 1 }
        let (year, month, day) = civil(days + (date1904 ? -24_107 : -25_569))
        var text = pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2)
        if withTime { text += " " + pad(seconds / 3600, 2) + ":" + pad(seconds % 3600 / 60, 2) }
        return text
    }

    /// `HH:mm:ss` of a time serial (hours past 24 for elapsed-time formats such as `[h]:mm:ss`).
    static func timeText(_ serial: Double, elapsed: Bool) -> String? {
        guard serial >= 0 && serial < 10_000_000 else { return nil }
        let total = Int((serial * 86_400).rounded())
        let hours = elapsed ? total / 3600 : total % 86_400 / 3600
        return pad(hours, 2) + ":" + pad(total % 3600 / 60, 2) + ":" + pad(total % 60, 2)
    }

    /// Year, month and day of a count of days since 1970-01-01 (proleptic Gregorian calendar).
    static func civil(_ daysSince1970: Int) -> (year: Int, month: Int, day: Int) {
        let z = daysSince1970 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}

/// A small streaming XML tokenizer for the large parts of spreadsheets (worksheets, shared strings,
/// `content.xml`): a tree of a 64 MiB sheet would take gigabytes, so these are read event by event.
/// Names are local (no prefix) and lower-cased; entities and character references are decoded.
enum SpreadsheetXML {
    typealias Attributes = [(name: String, value: String)]

    enum Event {
        /// A start tag; a self-closing element is reported as a start and an end.
        case start(String, Attributes)
        case end(String)
        /// Character data, reported only while the handler asked for it.
        case text(String)
    }

    /// What the handler wants next: the text up to the next tag, or not, or nothing more.
    enum Next {
        case skipText, keepText, stop
    }

    static func attribute(_ attributes: Attributes, _ name: String) -> String? {
        attributes.first { $0.name == name }?.value
    }

    /// Scans UTF-8 (or BOM-marked UTF-16) XML, calling `handle` for each event until it returns `.stop`.
    static func scan(_ data: Data, _ handle: (Event) -> Next) {
        if data.starts(with: [0xFF, 0xFE]) || data.starts(with: [0xFE, 0xFF]) {
            guard let text = String(data: data, encoding: .utf16) else { return }
            scanUTF8(Data(text.utf8), handle)
        } else {
            scanUTF8(data, handle)
        }
    }

    private static func scanUTF8(_ data: Data, _ handle: (Event) -> Next) {
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            run(raw.bindMemory(to: UInt8.self), handle)
        }
    }

    private static let commentStart = Array("<!--".utf8)
    private static let commentEnd = Array("-->".utf8)
    private static let cdataStart = Array("<![CDATA[".utf8)
    private static let cdataEnd = Array("]]>".utf8)
    private static let instructionEnd = Array("?>".utf8)

    private static func run(_ bytes: UnsafeBufferPointer<UInt8>, _ handle: (Event) -> Next) {
        let n = bytes.count
        let lt = UInt8(ascii: "<"), gt = UInt8(ascii: ">"), slash = UInt8(ascii: "/"), equals = UInt8(ascii: "=")
        let quote = UInt8(ascii: "\""), apostrophe = UInt8(ascii: "'")
        var i = 0
        var textStart = 0
        var keepText = false
        while i < n {
            guard bytes[i] == lt else {
                i += 1
                continue
            }
            if keepText && i > textStart {
                if handle(.text(decode(bytes, textStart, i, isText: true))) == .stop { return }
            }
            var next: Next = keepText ? .keepText : .skipText
            let second: UInt8 = i + 1 < n ? bytes[i + 1] : 0
            if second == slash {
                var j = i + 2
                let nameStart = j
                while j < n && bytes[j] != gt && !isSpace(bytes[j]) { j += 1 }
                let name = localName(bytes, nameStart, j)
                while j < n && bytes[j] != gt { j += 1 }
                i = j + 1
                next = handle(.end(name))
            } else if second == UInt8(ascii: "?") {
                i = (find(bytes, instructionEnd, from: i + 2) ?? n) + 2
            } else if second == UInt8(ascii: "!") {
                if starts(bytes, commentStart, at: i) {
                    i = (find(bytes, commentEnd, from: i + 4) ?? n) + 3
                } else if starts(bytes, cdataStart, at: i) {
                    let contentStart = i + cdataStart.count
                    let end = find(bytes, cdataEnd, from: contentStart) ?? n
                    if keepText && end > contentStart {
                        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[contentStart..<end]), as: UTF8.self)
                        if handle(.text(text)) == .stop { return }
                    }
                    i = end + 3
                } else {
                    // <!DOCTYPE …>, possibly with an internal subset in brackets.
                    var j = i + 2
                    var brackets = 0
                    while j < n {
                        let byte = bytes[j]
                        if byte == UInt8(ascii: "[") { brackets += 1 }
                        else if byte == UInt8(ascii: "]") { brackets -= 1 }
                        else if byte == gt && brackets <= 0 { break }
                        j += 1
                    }
                    i = j + 1
                }
            } else {
                var j = i + 1
                let nameStart = j
                while j < n && !isSpace(bytes[j]) && bytes[j] != slash && bytes[j] != gt { j += 1 }
                let name = localName(bytes, nameStart, j)
                var attributes: Attributes = []
                var selfClosing = false
                while j < n {
                    let byte = bytes[j]
                    if byte == gt {
                        j += 1
                        break
                    }
                    if byte == slash {
                        selfClosing = true
                        j += 1
                        continue
                    }
                    if isSpace(byte) {
                        j += 1
                        continue
                    }
                    selfClosing = false
                    let attributeStart = j
                    while j < n && !isSpace(bytes[j]) && bytes[j] != equals && bytes[j] != gt && bytes[j] != slash { j += 1 }
                    let attributeName = localName(bytes, attributeStart, j)
                    while j < n && isSpace(bytes[j]) { j += 1 }
                    var value = ""
                    if j < n && bytes[j] == equals {
                        j += 1
                        while j < n && isSpace(bytes[j]) { j += 1 }
                        if j < n && (bytes[j] == quote || bytes[j] == apostrophe) {
                            let delimiter = bytes[j]
                            j += 1
                            let valueStart = j
                            while j < n && bytes[j] != delimiter { j += 1 }
                            value = decode(bytes, valueStart, j, isText: false)
                            j += 1
                        } else {
                            let valueStart = j
                            while j < n && !isSpace(bytes[j]) && bytes[j] != gt { j += 1 }
                            value = decode(bytes, valueStart, j, isText: false)
                        }
                    }
                    if j == attributeStart { j += 1 }
                    if !attributeName.isEmpty { attributes.append((attributeName, value)) }
                }
                i = j
                next = handle(.start(name, attributes))
                if selfClosing && next != .stop { next = handle(.end(name)) }
            }
            if next == .stop { return }
            keepText = next == .keepText
            textStart = i
        }
        if keepText && textStart < n { _ = handle(.text(decode(bytes, textStart, n, isText: true))) }
    }

    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }

    private static func starts(_ bytes: UnsafeBufferPointer<UInt8>, _ pattern: [UInt8], at start: Int) -> Bool {
        guard start >= 0 && start + pattern.count <= bytes.count else { return false }
        for (offset, byte) in pattern.enumerated() where bytes[start + offset] != byte { return false }
        return true
    }

    private static func find(_ bytes: UnsafeBufferPointer<UInt8>, _ pattern: [UInt8], from start: Int) -> Int? {
        guard let first = pattern.first, start >= 0 else { return nil }
        var k = start
        while k + pattern.count <= bytes.count {
            if bytes[k] == first && starts(bytes, pattern, at: k) { return k }
            k += 1
        }
        return nil
    }

    /// The lower-cased local part of a qualified name.
    private static func localName(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> String {
        guard start < end else { return "" }
        var from = start
        for k in start..<end where bytes[k] == UInt8(ascii: ":") { from = k + 1 }
        guard from < end else { return "" }
        var out: [UInt8] = []
        out.reserveCapacity(end - from)
        for k in from..<end {
            let byte = bytes[k]
            out.append(byte >= 65 && byte <= 90 ? byte + 32 : byte)
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Text or an attribute value with entities and character references decoded and line ends normalised.
    private static func decode(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, isText: Bool) -> String {
        guard start < end else { return "" }
        let ampersand = UInt8(ascii: "&"), semicolon = UInt8(ascii: ";"), cr: UInt8 = 0x0D, lf: UInt8 = 0x0A
        var plain = true
        for k in start..<end where bytes[k] == ampersand || bytes[k] == cr {
            plain = false
            break
        }
        if plain { return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self) }
        var out: [UInt8] = []
        out.reserveCapacity(end - start)
        var k = start
        while k < end {
            let byte = bytes[k]
            if byte == cr {
                out.append(isText ? lf : 0x20)
                k += 1
                if k < end && bytes[k] == lf { k += 1 }
                continue
            }
            if byte == ampersand, let close = ((k + 1)..<min(end, k + 12)).first(where: { bytes[$0] == semicolon }) {
                let name = String(decoding: UnsafeBufferPointer(rebasing: bytes[(k + 1)..<close]), as: UTF8.self)
                if let scalar = entity(name) {
                    out.append(contentsOf: String(Character(scalar)).utf8)
                    k = close + 1
                    continue
                }
            }
            out.append(byte)
            k += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func entity(_ name: String) -> Unicode.Scalar? {
        switch name {
        case "amp": return "&"
        case "lt": return "<"
        case "gt": return ">"
        case "quot": return "\""
        case "apos": return "'"
        default:
            guard name.hasPrefix("#") else { return nil }
            let digits = name.dropFirst()
            let value: UInt32?
            if digits.hasPrefix("x") || digits.hasPrefix("X") {
                value = UInt32(digits.dropFirst(), radix: 16)
            } else {
                value = UInt32(digits, radix: 10)
            }
            guard let value, let scalar = Unicode.Scalar(value) else { return nil }
            return scalar
        }
    }
}
