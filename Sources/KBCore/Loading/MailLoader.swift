import Foundation

/// E-mail (`.eml`, one message; `.mbox`, many): each message is a section headed by its subject, with a
/// `From/To/Cc/Date` paragraph, the body's paragraphs and its attachments.
///
/// Headers are unfolded and RFC 2047 encoded words decoded (any charset iconv knows); MIME multiparts are read
/// to any depth, with base64 and quoted-printable bodies in their declared charset. The body is the text/plain
/// part, or the text/html part read as HTML when an alternative has no plain text; a trailing signature (after a
/// line `-- `) is dropped. Attachments are read with the loaders of ``LoadContext/registry`` (a heading
/// "Attachment: name" and their blocks); those no loader reads are listed, those that fail become warnings.
/// Attached messages (message/rfc822) are sections of their own.
public struct MailLoader: DocumentLoader {
    public let format = "email"
    public let fileExtensions: Set<String> = ["eml", "mbox"]
    public let version = "1"

    /// Attachments larger than this are skipped with a warning.
    static let attachmentLimit = 32 * 1024 * 1024
    /// How deep multiparts and attached messages may nest.
    static let depthLimit = 24
    /// Attachments read inside attachments (an .mbox attached to a message attached to …) at most this deep.
    static let attachmentNestingLimit = 4

    /// Creates the loader.
    public init() {}

    public func load(_ data: Data, url: URL) throws(LoadFailure) -> ExtractedDocument {
        try load(data, url: url, context: LoadContext())
    }

    public func load(_ data: Data, url: URL, context: LoadContext) throws(LoadFailure) -> ExtractedDocument {
        let source = MailLines(bytes: [UInt8](data), firstLine: 1, exact: true)
        guard source.lines.contains(where: { !Self.isBlank(source.bytes[$0]) }) else { throw .noText }
        var output = MailOutput()
        if url.pathExtension.lowercased() == "mbox" {
            let messages = Self.splitMbox(source)
            if messages.isEmpty {
                let entity = try Self.singleMessage(source)
                render(entity, line: source.number(entity.range.lowerBound), base: 1, depth: 0, context: context, into: &output)
            }
            for message in messages {
                render(message.entity, line: message.line, base: 1, depth: 0, context: context, into: &output)
            }
        } else {
            let entity = try Self.singleMessage(source)
            render(entity, line: source.number(entity.range.lowerBound), base: 1, depth: 0, context: context, into: &output)
        }
        guard !output.builder.blocks.isEmpty else { throw .noText }
        let isMbox = url.pathExtension.lowercased() == "mbox"
        var document = ExtractedDocument(format: format, encoding: output.encoding, title: isMbox ? nil : output.firstSubject,
                                         text: output.builder.text, blocks: output.builder.blocks, warnings: output.warnings)
        document.attachments = output.attachments
        document.ocrPages = output.attachments.reduce(0) { $0 + $1.document.ocrPages }
        return document
    }

    // MARK: Messages

    /// The message of an `.eml` file (a leading mbox `From ` line is allowed).
    static func singleMessage(_ source: MailLines) throws(LoadFailure) -> MailEntity {
        var start = 0
        while start < source.count, isBlank(source.line(start)) { start += 1 }
        if start < source.count, source.line(start).starts(with: Array("From ".utf8)) { start += 1 }
        let entity = MailEntity(source: source, range: start..<source.count)
        let headers = parseHeaders(entity).headers
        let known: Set<String> = ["from", "to", "cc", "subject", "date", "message-id", "mime-version", "received", "return-path",
                                  "content-type", "delivered-to", "reply-to", "sender", "in-reply-to", "references"]
        guard start < source.count, headerColon(source.line(start)) != nil, headers.fields.contains(where: { known.contains($0.name) }) else {
            throw .malformed("no e-mail headers at the start of the file")
        }
        return entity
    }

    /// Messages of an mbox: each starts at a `From ` line at the top of the file or after a blank line, followed by
    /// a header line. `>From ` lines in bodies are unescaped; line numbers stay those of the file.
    static func splitMbox(_ source: MailLines) -> [(entity: MailEntity, line: Int)] {
        let prefix = Array("From ".utf8)
        var starts: [Int] = []
        var previousBlank = true
        for index in 0..<source.count {
            let line = source.line(index)
            if previousBlank, line.starts(with: prefix), index + 1 < source.count, headerColon(source.line(index + 1)) != nil {
                starts.append(index)
            }
            previousBlank = isBlank(line)
        }
        var messages: [(entity: MailEntity, line: Int)] = []
        for (position, start) in starts.enumerated() {
            let end = position + 1 < starts.count ? starts[position + 1] : source.count
            var bytes: [UInt8] = []
            for index in (start + 1)..<max(start + 1, end) {
                var line = source.line(index)
                if line.first == 0x3E {   // mboxrd: ">From " and ">>From " lose one ">"
                    let rest = line.drop(while: { $0 == 0x3E })
                    if rest.starts(with: prefix) { line = line.dropFirst() }
                }
                bytes.append(contentsOf: line)
                bytes.append(0x0A)
            }
            let lines = MailLines(bytes: bytes, firstLine: source.number(start + 1), exact: true)
            messages.append((MailEntity(source: lines, range: 0..<lines.count), source.number(start)))
        }
        return messages
    }

    /// Appends one message: its subject heading, header paragraph, body and attachments.
    private func render(_ entity: MailEntity, line: Int, base: Int, depth: Int, context: LoadContext, into output: inout MailOutput) {
        let (headers, bodyStart) = Self.parseHeaders(entity)
        let subject = headers.text("subject").flatMap { $0.isEmpty ? nil : $0 }
        if output.firstSubject == nil && depth == 0 && output.builder.blocks.isEmpty { output.firstSubject = subject }
        var parts = MailParts()
        Self.collect(entity, headers: headers, bodyStart: bodyStart, depth: depth, into: &parts)
        if output.encoding == nil { output.encoding = parts.encoding }

        // Attachments are read first: the header paragraph lists those that are not indexed.
        var notIndexed: [String] = []
        var loaded: [Int: ExtractedDocument] = [:]
        for (position, attachment) in parts.attachments.enumerated() {
            switch attachment {
            case .file(let name, let bytes, _):
                let safeName = (name as NSString).lastPathComponent.isEmpty ? "attachment" : (name as NSString).lastPathComponent
                let data = Data(bytes)
                guard let registry = context.registry,
                      let loader = registry.loader(for: URL(fileURLWithPath: "/" + safeName), content: data) else {
                    notIndexed.append(name)
                    continue
                }
                // Mail inside mail inside mail…: a bound, so a chain of attachments cannot recurse without end.
                guard context.nesting < Self.attachmentNestingLimit else {
                    output.warnings.append("attachment \(name): nested more than \(Self.attachmentNestingLimit) attachments deep; not read")
                    notIndexed.append(name)
                    continue
                }
                var inner = context
                inner.nesting += 1
                do throws(LoadFailure) {
                    // Loaders that hand the file to a tool (PDF, OCR, LibreOffice) need it on disk.
                    let folder = try ExternalTool.temporaryFolder("attachment")
                    defer { try? FileManager.default.removeItem(at: folder) }
                    let url = folder.appendingPathComponent(safeName)
                    do { try data.write(to: url) } catch { throw LoadFailure.unreadable("cannot write a temporary copy: \(error.localizedDescription)") }
                    let document = try loader.load(data, url: url, context: inner)
                    loaded[position] = document
                    output.warnings += document.warnings.map { "attachment \(name): \($0)" }
                } catch {
                    output.warnings.append("attachment \(name): \(error.description)")
                    notIndexed.append(name)
                }
            case .tooLarge(let name, let size):
                output.warnings.append("attachment \(name): too large (\(ByteCount.format(size)); attachments over \(ByteCount.format(Self.attachmentLimit)) are skipped)")
                notIndexed.append(name)
            case .message:
                continue
            }
        }

        output.builder.append(.heading, subject ?? "(no subject)", line: line, level: min(9, base))
        var headerLines: [String] = []
        for (field, label) in [("from", "From"), ("to", "To"), ("cc", "Cc"), ("date", "Date")] {
            if let value = headers.text(field), !value.isEmpty { headerLines.append("\(label): \(value)") }
        }
        // Attachments kb read are documents of their own (path "mail.eml › name"); the message names them.
        var indexedNames: [Int: String] = [:]
        for (position, attachment) in parts.attachments.enumerated() {
            guard case .file(let name, _, _) = attachment, loaded[position] != nil else { continue }
            var unique = (name as NSString).lastPathComponent.isEmpty ? "attachment" : (name as NSString).lastPathComponent
            var copy = 2
            while output.attachmentNames.contains(unique) { unique = "\((name as NSString).lastPathComponent) (\(copy))"; copy += 1 }
            output.attachmentNames.insert(unique)
            indexedNames[position] = unique
        }
        if !indexedNames.isEmpty {
            headerLines.append("Attached: " + indexedNames.sorted { $0.key < $1.key }.map(\.value).joined(separator: ", "))
        }
        if !notIndexed.isEmpty { headerLines.append("Attachments: " + notIndexed.joined(separator: ", ")) }
        output.builder.append(.paragraph, headerLines.joined(separator: "\n"), line: entity.source.number(entity.range.lowerBound))
        for piece in parts.body {
            let level = piece.kind == .heading ? min(9, piece.level + base) : 0
            output.builder.append(piece.kind, piece.text, line: piece.line, level: level)
        }

        for (position, attachment) in parts.attachments.enumerated() {
            switch attachment {
            case .file(let name, _, _):
                guard var document = loaded[position], let unique = indexedNames[position] else { continue }
                let message = subject.map { "“\($0)”" } ?? "a message"
                document.title = "\(document.title ?? name) (attached to \(message))"
                // An attachment's own attachments (an attached mailbox) hang under it.
                for inner in document.attachments {
                    output.attachments.append(.init(name: unique + ExtractedDocument.attachmentSeparator + inner.name, document: inner.document))
                }
                document.attachments = []
                output.attachments.append(.init(name: unique, document: document))
            case .tooLarge:
                continue
            case .message(let nested, let partLine):
                guard depth + 1 < Self.depthLimit else { continue }
                render(nested, line: partLine, base: min(9, base + 1), depth: depth + 1, context: context, into: &output)
            }
        }
    }

    // MARK: MIME

    /// Walks a MIME entity whose headers were parsed, collecting body text and attachments.
    static func collect(_ entity: MailEntity, headers: MailHeaders, bodyStart: Int, depth: Int, into parts: inout MailParts) {
        let contentType = headers.raw("content-type").map(parameters) ?? (value: "text/plain", parameters: [:])
        var type = contentType.value.isEmpty ? "text/plain" : contentType.value
        let disposition = headers.raw("content-disposition").map(parameters)
        let name = fileName(disposition?.parameters["filename"] ?? contentType.parameters["name"])
        let transfer = (headers.text("content-transfer-encoding") ?? "7bit").lowercased()
        let upper = entity.range.upperBound
        let start = min(max(bodyStart, entity.range.lowerBound), upper)
        let partLine = entity.source.number(start < upper ? start : entity.range.lowerBound)

        if type.hasPrefix("multipart/"), depth < depthLimit, let boundary = contentType.parameters["boundary"], !boundary.isEmpty {
            let children = splitMultipart(entity, from: start, boundary: boundary)
            if !children.isEmpty {
                let parsed = children.map { child -> (MailEntity, MailHeaders, Int) in
                    let (childHeaders, childBody) = MailLoader.parseHeaders(child)
                    return (child, childHeaders, childBody)
                }
                if type == "multipart/alternative" {
                    func rank(_ headers: MailHeaders) -> Int {
                        let childType = headers.raw("content-type").map(MailLoader.parameters)?.value ?? "text/plain"
                        let isAttachment = headers.raw("content-disposition").map(MailLoader.parameters)?.value == "attachment"
                        if isAttachment { return 0 }
                        if childType == "text/plain" || childType.isEmpty { return 4 }
                        if childType.hasPrefix("multipart/") { return 3 }
                        if childType == "text/html" { return 2 }
                        return 1
                    }
                    var best: (MailEntity, MailHeaders, Int)?
                    var bestRank = -1
                    for child in parsed {
                        let childRank = rank(child.1)
                        if childRank > bestRank { best = child; bestRank = childRank }
                    }
                    if let best { collect(best.0, headers: best.1, bodyStart: best.2, depth: depth + 1, into: &parts) }
                } else {
                    for child in parsed { collect(child.0, headers: child.1, bodyStart: child.2, depth: depth + 1, into: &parts) }
                }
                return
            }
            type = "text/plain"   // a multipart without its boundary lines: read the body as text
        }

        let isIdentity = !(transfer == "base64" || transfer == "quoted-printable")
        if type == "message/rfc822" || type == "message/global" {
            if isIdentity {
                parts.attachments.append(.message(MailEntity(source: entity.source, range: start..<upper), line: partLine))
            } else {
                let bytes = decodedBody(entity, from: start, transfer: transfer).bytes
                let lines = MailLines(bytes: bytes, firstLine: partLine, exact: false)
                parts.attachments.append(.message(MailEntity(source: lines, range: 0..<lines.count), line: partLine))
            }
            return
        }

        if disposition?.value == "attachment" || name != nil {
            parts.attachmentCount += 1
            let attachmentName = name ?? "attachment-\(parts.attachmentCount).\(extensionFor(type))"
            var encodedSize = 0
            for index in start..<upper { encodedSize += entity.source.lines[index].count }
            let estimate = transfer == "base64" ? encodedSize / 4 * 3 : encodedSize
            if estimate > attachmentLimit { parts.attachments.append(.tooLarge(name: attachmentName, size: estimate)); return }
            let bytes = decodedBody(entity, from: start, transfer: transfer).bytes
            if bytes.count > attachmentLimit { parts.attachments.append(.tooLarge(name: attachmentName, size: bytes.count)); return }
            if attachmentName.lowercased().hasSuffix(".eml"), depth < depthLimit {
                let lines = MailLines(bytes: bytes, firstLine: partLine, exact: false)
                parts.attachments.append(.message(MailEntity(source: lines, range: 0..<lines.count), line: partLine))
            } else {
                parts.attachments.append(.file(name: attachmentName, bytes: bytes, line: partLine))
            }
            return
        }

        guard type.hasPrefix("text/") else { return }   // inline images and other parts without a name
        let body = decodedBody(entity, from: start, transfer: transfer)
        let decoded = decodeText(body.bytes, charset: contentType.parameters["charset"])
        if parts.encoding == nil { parts.encoding = decoded.encoding }
        func sourceLine(_ index: Int) -> Int {
            if index >= 0 && index < body.lines.count { return body.lines[index] }
            return body.lines.last ?? partLine
        }
        if type == "text/html" {
            guard let document = try? HTMLLoader().load(Data(decoded.text.utf8), url: URL(fileURLWithPath: "/message.html")) else { return }
            let scalars = Array(document.text.unicodeScalars)
            for block in document.blocks where block.range.lowerBound >= 0 && block.range.upperBound <= scalars.count {
                let text = String(String.UnicodeScalarView(scalars[block.range]))
                parts.body.append(MailPiece(kind: block.kind, text: text, level: block.level, line: sourceLine(block.startLine - 1)))
            }
            return
        }
        var rows = decoded.text.components(separatedBy: "\n")
        if let signature = rows.lastIndex(of: "-- ") { rows.removeSubrange(signature...) }
        var current: [String] = []
        var currentStart = 0
        for (index, row) in rows.enumerated() {
            if row.trimmingCharacters(in: .whitespaces).isEmpty {
                if !current.isEmpty {
                    parts.body.append(MailPiece(kind: .paragraph, text: current.joined(separator: "\n"), level: 0, line: sourceLine(currentStart)))
                    current = []
                }
            } else {
                if current.isEmpty { currentStart = index }
                current.append(row)
            }
        }
        if !current.isEmpty {
            parts.body.append(MailPiece(kind: .paragraph, text: current.joined(separator: "\n"), level: 0, line: sourceLine(currentStart)))
        }
    }

    /// The parts of a multipart body between `--boundary` lines; preamble and epilogue are dropped, a missing
    /// closing boundary (a truncated message) ends the last part at the end of the input.
    static func splitMultipart(_ entity: MailEntity, from start: Int, boundary: String) -> [MailEntity] {
        let delimiter = Array(("--" + boundary).utf8)
        var children: [MailEntity] = []
        var partStart: Int?
        var index = start
        while index < entity.range.upperBound {
            let line = entity.source.line(index)
            if line.starts(with: delimiter) {
                let rest = line.dropFirst(delimiter.count)
                let isClose = rest.starts(with: [0x2D, 0x2D])
                let tail = isClose ? rest.dropFirst(2) : rest
                if tail.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) {
                    if let partStart { children.append(MailEntity(source: entity.source, range: partStart..<index)) }
                    if isClose { return children }
                    partStart = index + 1
                }
            }
            index += 1
        }
        if let partStart, partStart < entity.range.upperBound {
            children.append(MailEntity(source: entity.source, range: partStart..<entity.range.upperBound))
        }
        return children
    }

    /// A body's bytes after its transfer encoding, with the source line of each decoded line (one line for base64).
    static func decodedBody(_ entity: MailEntity, from start: Int, transfer: String) -> (bytes: [UInt8], lines: [Int]) {
        let source = entity.source
        let upper = entity.range.upperBound
        guard start < upper else { return ([], [source.number(entity.range.lowerBound)]) }
        switch transfer {
        case "base64":
            var encoded: [UInt8] = []
            for index in start..<upper { encoded.append(contentsOf: source.line(index)) }
            return (base64Decode(encoded), [source.number(start)])
        case "quoted-printable":
            var out: [UInt8] = []
            var lines: [Int] = []
            var startsLine = true
            for index in start..<upper {
                if startsLine { lines.append(source.number(index)); startsLine = false }
                let line = source.line(index)
                var position = line.startIndex
                var soft = false
                while position < line.endIndex {
                    let byte = line[position]
                    guard byte == 0x3D else { out.append(byte); position += 1; continue }
                    let after = line.index(after: position)
                    if line[after...].allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { soft = true; break }
                    if after + 1 < line.endIndex, let high = RTFTokenizer.hexValue(line[after]), let low = RTFTokenizer.hexValue(line[after + 1]) {
                        out.append(high << 4 | low)
                        position = after + 2
                    } else {
                        out.append(byte)
                        position = after
                    }
                }
                if !soft { out.append(0x0A); startsLine = true }
            }
            return (out, lines)
        default:
            var out: [UInt8] = []
            var lines: [Int] = []
            for index in start..<upper {
                lines.append(source.number(index))
                out.append(contentsOf: source.line(index))
                out.append(0x0A)
            }
            return (out, lines)
        }
    }

    // MARK: Headers

    /// Headers up to the first blank line (folded lines joined) and the index of the body's first line.
    static func parseHeaders(_ entity: MailEntity) -> (headers: MailHeaders, bodyStart: Int) {
        var headers = MailHeaders()
        var index = entity.range.lowerBound
        while index < entity.range.upperBound {
            let line = entity.source.line(index)
            if isBlank(line) { return (headers, index + 1) }
            if let first = line.first, first == 0x20 || first == 0x09 {
                guard !headers.fields.isEmpty else { return (headers, index) }
                headers.fields[headers.fields.count - 1].value.append(contentsOf: line)
                index += 1
                continue
            }
            guard let colon = headerColon(line) else { return (headers, index) }   // no blank line before the body
            let name = String(decoding: line[line.startIndex..<colon], as: UTF8.self).lowercased()
            headers.fields.append((name, Array(line[line.index(after: colon)...])))
            index += 1
        }
        return (headers, entity.range.upperBound)
    }

    /// The colon of a `Name: value` header line, when the line is one.
    static func headerColon(_ line: ArraySlice<UInt8>) -> Int? {
        guard let colon = line.firstIndex(of: 0x3A), colon > line.startIndex, colon - line.startIndex <= 76 else { return nil }
        return line[line.startIndex..<colon].allSatisfy({ $0 > 0x20 && $0 < 0x7F }) ? colon : nil
    }

    static func isBlank(_ line: ArraySlice<UInt8>) -> Bool { line.allSatisfy { $0 == 0x20 || $0 == 0x09 } }

    /// A header value: encoded words (`=?charset?B|Q?…?=`) decoded, white space between adjacent encoded words
    /// dropped, raw bytes read as UTF-8 (or guessed), white space runs collapsed.
    static func decodeHeader(_ raw: [UInt8]) -> String {
        var out = ""
        var literal: [UInt8] = []
        var pendingCharset: String?
        var pendingBytes: [UInt8] = []
        var afterEncoded = false
        func flushEncoded() {
            if let charset = pendingCharset { out += MailLoader.decodeText(pendingBytes, charset: charset).text }
            pendingCharset = nil
            pendingBytes = []
        }
        var index = 0
        while index < raw.count {
            if raw[index] == 0x3D, index + 1 < raw.count, raw[index + 1] == 0x3F, let word = encodedWord(raw, at: index) {
                if afterEncoded && literal.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { literal = [] }
                if !literal.isEmpty { flushEncoded(); out += decodeRaw(literal); literal = [] }
                if pendingCharset?.lowercased() != word.charset.lowercased() { flushEncoded(); pendingCharset = word.charset }
                pendingBytes += word.bytes
                afterEncoded = true
                index = word.end
                continue
            }
            literal.append(raw[index])
            index += 1
        }
        flushEncoded()
        out += decodeRaw(literal)
        return TextDecoder.normalize(out).split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }

    /// An encoded word starting at `start`: its charset, decoded bytes and the index after its `?=`.
    static func encodedWord(_ raw: [UInt8], at start: Int) -> (charset: String, bytes: [UInt8], end: Int)? {
        var index = start + 2
        let charsetStart = index
        while index < raw.count, raw[index] != 0x3F {
            if raw[index] <= 0x20 || raw[index] >= 0x7F || index - charsetStart > 64 { return nil }
            index += 1
        }
        guard index < raw.count, index > charsetStart else { return nil }
        var charset = String(decoding: raw[charsetStart..<index], as: UTF8.self)
        if let star = charset.firstIndex(of: "*") { charset = String(charset[..<star]) }   // RFC 2231 language suffix
        index += 1
        guard index + 1 < raw.count, raw[index + 1] == 0x3F else { return nil }
        let encoding = raw[index] | 0x20
        guard encoding == 0x62 || encoding == 0x71 else { return nil }   // b or q
        index += 2
        let textStart = index
        while index + 1 < raw.count, !(raw[index] == 0x3F && raw[index + 1] == 0x3D) {
            if raw[index] <= 0x20 { return nil }
            index += 1
        }
        guard index + 1 < raw.count else { return nil }
        let payload = raw[textStart..<index]
        let bytes = encoding == 0x62 ? base64Decode(payload) : qDecode(payload)
        return (charset, bytes, index + 2)
    }

    /// The Q encoding of RFC 2047: `_` is a space, `=XX` a byte.
    static func qDecode(_ payload: ArraySlice<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        var index = payload.startIndex
        while index < payload.endIndex {
            let byte = payload[index]
            if byte == 0x5F { out.append(0x20); index += 1; continue }
            if byte == 0x3D, index + 2 < payload.endIndex, let high = RTFTokenizer.hexValue(payload[index + 1]),
               let low = RTFTokenizer.hexValue(payload[index + 2]) {
                out.append(high << 4 | low)
                index += 3
                continue
            }
            out.append(byte)
            index += 1
        }
        return out
    }

    /// Base64, leniently: characters outside the alphabet are ignored, a damaged tail keeps its whole bytes.
    static func base64Decode<Bytes: Sequence>(_ input: Bytes) -> [UInt8] where Bytes.Element == UInt8 {
        var out: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for character in input {
            let value: UInt32
            switch character {
            case 0x41...0x5A: value = UInt32(character - 0x41)
            case 0x61...0x7A: value = UInt32(character - 0x61) + 26
            case 0x30...0x39: value = UInt32(character - 0x30) + 52
            case 0x2B, 0x2D: value = 62
            case 0x2F, 0x5F: value = 63
            case 0x3D: buffer = 0; bits = 0; continue   // padding ends a quantum
            default: continue
            }
            buffer = (buffer << 6) | value
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
            }
            buffer &= (UInt32(1) << UInt32(bits)) - 1
        }
        return out
    }

    /// `text/plain; charset="utf-8"` → ("text/plain", ["charset": "utf-8"]), with RFC 2231 continuations
    /// (`name*0=`, `name*1=`) and extended values (`filename*=utf-8''%E4%B8%AD.txt`) decoded.
    static func parameters(_ raw: [UInt8]) -> (value: String, parameters: [String: String]) {
        let text = decodeRaw(raw)
        var segments: [String] = []
        var current = ""
        var inQuotes = false
        var escaped = false
        for character in text {
            if inQuotes {
                if character == "\"" && !escaped { inQuotes = false }
                escaped = character == "\\" && !escaped
                current.append(character)
            } else if character == "\"" {
                inQuotes = true
                escaped = false
                current.append(character)
            } else if character == ";" {
                segments.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        segments.append(current)
        let value = (segments.first ?? "").trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        var simple: [String: String] = [:]
        var extended: [String: [(index: Int, encoded: Bool, value: String)]] = [:]
        for segment in segments.dropFirst() {
            guard let equals = segment.firstIndex(of: "=") else { continue }
            var key = segment[..<equals].trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
            let parameterValue = unquote(segment[segment.index(after: equals)...].trimmingCharacters(in: .whitespacesAndNewlines))
            guard !key.isEmpty else { continue }
            var encoded = false
            if key.hasSuffix("*") { encoded = true; key.removeLast() }
            if let star = key.lastIndex(of: "*"), let position = Int(key[key.index(after: star)...]) {
                extended[String(key[..<star]), default: []].append((position, encoded, parameterValue))
            } else if encoded {
                extended[key, default: []].append((0, true, parameterValue))
            } else {
                simple[key] = parameterValue
            }
        }
        for (key, pieces) in extended {
            var charset: String?
            var bytes: [UInt8] = []
            for (position, piece) in pieces.sorted(by: { $0.index < $1.index }).enumerated() {
                guard piece.encoded else { bytes += Array(piece.value.utf8); continue }
                var encodedValue = piece.value
                if position == 0 {
                    let components = piece.value.split(separator: "'", maxSplits: 2, omittingEmptySubsequences: false)
                    if components.count == 3 {
                        charset = components[0].isEmpty ? nil : String(components[0])
                        encodedValue = String(components[2])
                    }
                }
                bytes += percentDecode(encodedValue)
            }
            simple[key] = decodeText(bytes, charset: charset).text
        }
        return (value, simple)
    }

    private static func unquote(_ value: String) -> String {
        guard value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") else {
            return value.hasPrefix("\"") ? String(value.dropFirst()) : value
        }
        var out = ""
        var escaped = false
        for character in value.dropFirst().dropLast() {
            if escaped {
                if character != "\"" && character != "\\" { out.append("\\") }
                out.append(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else {
                out.append(character)
            }
        }
        if escaped { out.append("\\") }
        return out
    }

    private static func percentDecode(_ value: String) -> [UInt8] {
        let bytes = Array(value.utf8)
        var out: [UInt8] = []
        var index = 0
        while index < bytes.count {
            if bytes[index] == 0x25, index + 2 < bytes.count, let high = RTFTokenizer.hexValue(bytes[index + 1]),
               let low = RTFTokenizer.hexValue(bytes[index + 2]) {
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(bytes[index])
                index += 1
            }
        }
        return out
    }

    /// An attachment's file name: encoded words decoded, folders dropped.
    static func fileName(_ raw: String?) -> String? {
        guard let raw else { return nil }
        let decoded = decodeHeader(Array(raw.utf8))
        let last = decoded.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? ""
        let name = last.trimmingCharacters(in: .whitespacesAndNewlines)
        return name.isEmpty || name == "." || name == ".." ? nil : name
    }

    static func extensionFor(_ type: String) -> String {
        switch type {
        case "text/plain": return "txt"
        case "text/html": return "html"
        case "text/csv": return "csv"
        case "text/markdown": return "md"
        case "text/xml", "application/xml": return "xml"
        case "text/rtf", "application/rtf": return "rtf"
        case "application/pdf": return "pdf"
        case "application/epub+zip": return "epub"
        case "application/vnd.openxmlformats-officedocument.wordprocessingml.document": return "docx"
        case "message/rfc822": return "eml"
        default: return "bin"
        }
    }

    // MARK: Charsets

    /// Header bytes outside encoded words: UTF-8 when they are, else guessed (GB18030, Big5, Windows-1252).
    static func decodeRaw(_ bytes: [UInt8]) -> String {
        if bytes.allSatisfy({ $0 < 0x80 }) || UTF8Check(bytes).errors == 0 { return String(decoding: bytes, as: UTF8.self) }
        if let decoded = try? TextDecoder.decode(Data(bytes)) { return decoded.text }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Text in a declared charset: the declared one unless the bytes are UTF-8 with non-ASCII characters
    /// (a common mislabel); without a usable label, kb's detection.
    static func decodeText(_ bytes: [UInt8], charset: String?) -> (text: String, encoding: String) {
        let utf8 = UTF8Check(bytes).errors == 0
        if let label = charset?.trimmingCharacters(in: .whitespacesAndNewlines), !label.isEmpty,
           let declared = TextDecoder.canonicalCharset(label) {
            let lower = label.lowercased()
            let stateful = lower.hasPrefix("iso-2022") || lower == "utf-7" || lower.hasPrefix("hz")
            if stateful || !utf8 || !bytes.contains(where: { $0 >= 0x80 }) {
                if let text = Iconv.decode(bytes, from: declared.iconv) { return (TextDecoder.normalize(text), declared.name) }
            }
        }
        if utf8 { return (TextDecoder.normalize(String(decoding: bytes, as: UTF8.self)), "utf-8") }
        if let decoded = try? TextDecoder.decode(Data(bytes)) { return (decoded.text, decoded.encoding) }
        return (TextDecoder.normalize(String(decoding: bytes, as: UTF8.self)), "utf-8")
    }
}

/// The lines of a message (or of a decoded attached message), without their CR LF.
struct MailLines {
    let bytes: [UInt8]
    let lines: [Range<Int>]
    /// The file line of `lines[0]`.
    let firstLine: Int
    /// Whether lines map one to one to the file's lines (false for decoded content: every line reports `firstLine`).
    let exact: Bool

    init(bytes: [UInt8], firstLine: Int, exact: Bool) {
        var lines: [Range<Int>] = []
        var start = 0
        for (index, byte) in bytes.enumerated() where byte == 0x0A {
            var end = index
            if end > start && bytes[end - 1] == 0x0D { end -= 1 }
            lines.append(start..<end)
            start = index + 1
        }
        if start < bytes.count {
            var end = bytes.count
            if end > start && bytes[end - 1] == 0x0D { end -= 1 }
            lines.append(start..<end)
        }
        self.bytes = bytes
        self.lines = lines
        self.firstLine = firstLine
        self.exact = exact
    }

    var count: Int { lines.count }
    func line(_ index: Int) -> ArraySlice<UInt8> { bytes[lines[index]] }
    func number(_ index: Int) -> Int { exact ? firstLine + index : firstLine }
}

/// A MIME entity: a range of lines (headers and body).
struct MailEntity {
    let source: MailLines
    let range: Range<Int>
}

/// Header fields in order, names lower-cased, values raw (unfolded) bytes.
struct MailHeaders {
    var fields: [(name: String, value: [UInt8])] = []

    func raw(_ name: String) -> [UInt8]? { fields.first(where: { $0.name == name })?.value }
    func text(_ name: String) -> String? { raw(name).map(MailLoader.decodeHeader) }
}

/// A block of a message body.
struct MailPiece {
    var kind: BlockKind
    var text: String
    var level: Int
    var line: Int
}

/// What a MIME tree holds: body blocks and attachments in order.
struct MailParts {
    enum Attachment {
        case file(name: String, bytes: [UInt8], line: Int)
        case tooLarge(name: String, size: Int)
        case message(MailEntity, line: Int)
    }
    var body: [MailPiece] = []
    var attachments: [Attachment] = []
    var attachmentCount = 0
    var encoding: String?
}

/// The document being built from one file's messages.
struct MailOutput {
    var builder = DocumentTextBuilder()
    var warnings: [String] = []
    /// Attachments read as documents of their own, with names unique in the file.
    var attachments: [ExtractedDocument.Attachment] = []
    var attachmentNames: Set<String> = []
    var firstSubject: String?
    var encoding: String?
}
