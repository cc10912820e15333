import Foundation

/// CSV and TSV: the first row names the columns; every other row becomes a block of
/// `column: value` lines, so a question about a value finds its row with the column names around it.
///
/// CSV follows RFC 4180 (quoted fields, doubled quotes, newlines inside quotes); a `.csv` file whose
/// first line has semicolons but no commas is read with semicolons. TSV splits on tabs.
public struct DelimitedTextLoader: DocumentLoader {
    public let format = "table"
    public let fileExtensions: Set<String> = ["csv", "tsv", "tab"]
    public let version = "1"

    public init() {}

    public func load(_ data: Data, url: URL) throws(LoadFailure) -> ExtractedDocument {
        let decoded = try TextDecoder.decode(data)
        let ext = url.pathExtension.lowercased()
        var delimiter: Character = ext == "csv" ? "," : "\t"
        if ext == "csv", let firstLine = decoded.text.split(separator: "\n").first, !firstLine.contains(","), firstLine.contains(";") {
            delimiter = ";"
        }
        let rows = Self.parse(decoded.text, delimiter: delimiter, quoted: ext == "csv")
        guard let header = rows.first?.fields, rows.count > 1 else {
            if rows.isEmpty { throw .noText }
            // A single row: keep it as a paragraph.
            var builder = DocumentTextBuilder()
            builder.append(.paragraph, rows[0].fields.joined(separator: " | "), line: rows[0].line)
            return ExtractedDocument(format: format, encoding: decoded.encoding, title: nil, text: builder.text, blocks: builder.blocks)
        }
        let names = header.enumerated().map { $0.element.trimmingCharacters(in: .whitespaces).isEmpty ? "column \($0.offset + 1)" : $0.element.trimmingCharacters(in: .whitespaces) }
        var builder = DocumentTextBuilder()
        for row in rows.dropFirst() {
            let lines = row.fields.enumerated().compactMap { index, value -> String? in
                let trimmed = value.trimmingCharacters(in: .whitespaces)
                guard !trimmed.isEmpty else { return nil }
                let name = index < names.count ? names[index] : "column \(index + 1)"
                return "\(name): \(trimmed.replacingOccurrences(of: "\n", with: " "))"
            }
            if !lines.isEmpty { builder.append(.table, lines.joined(separator: "\n"), line: row.line, endLine: row.endLine) }
        }
        guard !builder.blocks.isEmpty else { throw .noText }
        return ExtractedDocument(format: format, encoding: decoded.encoding, title: url.deletingPathExtension().lastPathComponent,
                                 text: builder.text, blocks: builder.blocks)
    }

    /// Rows with the 1-based line each starts on.
    static func parse(_ text: String, delimiter: Character, quoted: Bool) -> [(fields: [String], line: Int, endLine: Int)] {
        var rows: [(fields: [String], line: Int, endLine: Int)] = []
        var fields: [String] = []
        var field = ""
        var inQuotes = false
        var line = 1
        var rowLine = 1
        var characters = text.makeIterator()
        var pending: Character? = nil
        func endRow() {
            fields.append(field)
            if !(fields.count == 1 && fields[0].trimmingCharacters(in: .whitespaces).isEmpty) { rows.append((fields, rowLine, line)) }
            fields = []
            field = ""
        }
        while let character = pending ?? characters.next() {
            pending = nil
            if inQuotes {
                if character == "\"" {
                    let next = characters.next()
                    if next == "\"" { field.append("\"") } else { inQuotes = false; pending = next }
                } else {
                    if character == "\n" { line += 1 }
                    field.append(character)
                }
            } else if quoted && character == "\"" && field.trimmingCharacters(in: .whitespaces).isEmpty {
                field = ""
                inQuotes = true
            } else if character == delimiter {
                fields.append(field)
                field = ""
            } else if character == "\n" {
                endRow()
                line += 1
                rowLine = line
            } else {
                field.append(character)
            }
        }
        if !field.isEmpty || !fields.isEmpty { endRow() }
        return rows
    }
}
