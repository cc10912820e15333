import Foundation

/// A document's text as kb indexed it, with its chunks marked: what the web page's document view shows and
/// what `read` cuts excerpts from (`GET /v1/documents/{id}`).
public struct DocumentText: Sendable, Codable, Equatable {
    public var document: DocumentRecord
    /// The extracted text (for HTML, PDF and office files the visible text, not the markup).
    public var text: String
    /// `file`: the file was read again and is what was ingested; `chunks`: the file changed or is gone since it
    /// was ingested, so the text is its stored chunks joined (what search sees until the next ingest).
    public var source: String
    /// True when the text's lines are the file's lines (plain text, Markdown, code): the chunks' line numbers index
    /// `text` directly. False for formats whose line numbers refer to the source file (HTML, XML) or to pages.
    public var linesMatch: Bool
    /// The chunks in document order, their offsets into `text` (Unicode scalars).
    public var chunks: [ChunkSpan]

    enum CodingKeys: String, CodingKey { case document, text, source, chunks, linesMatch = "lines_match" }
}

/// `read`: a document's exact text over a line range, or one chunk's (MCP `read`, `GET /v1/read`).
public struct ReadRequest: ServiceRequest, Equatable {
    public static let fields = ["path", "document_id", "chunk_id", "start_line", "end_line"]
    /// A document's path: absolute, or relative to a knowledge folder.
    public var path: String?
    public var documentID: Int?
    public var chunkID: Int?
    /// 1-based, inclusive; default: from the start.
    public var startLine: Int?
    /// 1-based, inclusive; default: ``ReadRequest/maximumLines`` lines on.
    public var endLine: Int?

    /// The most lines one read returns; an agent reads on with the next `start_line`.
    public static let maximumLines = 400

    public init(path: String? = nil, documentID: Int? = nil, chunkID: Int? = nil, startLine: Int? = nil, endLine: Int? = nil) {
        self.path = path; self.documentID = documentID; self.chunkID = chunkID; self.startLine = startLine; self.endLine = endLine
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownFields(Self.fields)
        let container = try decoder.container(keyedBy: FieldKey.self)
        path = try container.decodeIfPresent(String.self, forKey: FieldKey(stringValue: "path"))
        documentID = try container.decodeIfPresent(Int.self, forKey: FieldKey(stringValue: "document_id"))
        // Chunk ids are strings in kb's answers and search results; an integer is taken too.
        let chunkKey = FieldKey(stringValue: "chunk_id")
        if let text = try? container.decodeIfPresent(String.self, forKey: chunkKey) {
            guard let id = Int(text) else {
                throw KBError(.invalidArgument, "Field \"chunk_id\" must be a chunk id such as \"42\".", details: ["field": "chunk_id"])
            }
            chunkID = id
        } else {
            chunkID = try container.decodeIfPresent(Int.self, forKey: chunkKey)
        }
        startLine = try container.decodeIfPresent(Int.self, forKey: FieldKey(stringValue: "start_line"))
        endLine = try container.decodeIfPresent(Int.self, forKey: FieldKey(stringValue: "end_line"))
        try validate()
    }

    func validate() throws(KBError) {
        let given = [path != nil, documentID != nil, chunkID != nil].filter { $0 }.count
        guard given == 1 else {
            throw KBError(.invalidArgument, "Give exactly one of \"path\", \"document_id\" or \"chunk_id\".", details: ["field": "path"])
        }
        if let path { try Validate.nonEmpty(path, "path") }
        if chunkID != nil && (startLine != nil || endLine != nil) {
            throw KBError(.invalidArgument, "A chunk is read whole: give \"chunk_id\" or a line range, not both.", details: ["field": "start_line"])
        }
        try Validate.range(startLine, "start_line", 1...Int(Int32.max))
        try Validate.range(endLine, "end_line", 1...Int(Int32.max))
        if let startLine, let endLine, endLine < startLine {
            throw KBError(.invalidArgument, "Field \"end_line\" (\(endLine)) is before \"start_line\" (\(startLine)).", details: ["field": "end_line"])
        }
    }
}

/// What `read` returns: the exact text and where it is.
public struct Excerpt: Sendable, Codable, Equatable {
    public var documentID: Int
    public var path: String
    public var title: String?
    public var format: String
    /// The lines returned, 1-based inclusive (for a chunk: its lines).
    public var startLine: Int
    public var endLine: Int
    /// Lines in the document (of its text when ``DocumentText/linesMatch``, else of the source file as far as kb knows).
    public var totalLines: Int
    public var page: Int?
    public var text: String
    /// True when the range asked for was longer than ``ReadRequest/maximumLines`` and was cut.
    public var truncated: Bool
    /// As in ``DocumentText/source``.
    public var source: String
    /// The chunks the excerpt overlaps.
    public var chunks: [Chunk]

    public struct Chunk: Sendable, Codable, Equatable {
        public var chunkID: String
        public var heading: String
        public var startLine: Int
        public var endLine: Int
        public var page: Int?
        enum CodingKeys: String, CodingKey { case heading, page, chunkID = "chunk_id", startLine = "start_line", endLine = "end_line" }
    }

    enum CodingKeys: String, CodingKey {
        case path, title, format, page, text, truncated, source, chunks
        case documentID = "document_id", startLine = "start_line", endLine = "end_line", totalLines = "total_lines"
    }
}

/// The last few documents read back, by id and the state of their ingest.
final class RecentDocumentTexts: @unchecked Sendable {
    struct Key: Hashable { var id: Int; var contentHash: String; var ingestedAt: Double }
    private let lock = NSLock()
    private var entries: [(key: Key, text: DocumentText)] = []
    private let capacity = 8

    subscript(key: Key) -> DocumentText? {
        get { lock.withLock { entries.first { $0.key == key }?.text } }
        set {
            lock.withLock {
                entries.removeAll { $0.key.id == key.id }
                if let newValue { entries.append((key, newValue)) }
                if entries.count > capacity { entries.removeFirst(entries.count - capacity) }
            }
        }
    }
}

/// Which documents to list.
public struct DocumentFilter: Sendable, Equatable {
    /// Only documents under this folder (absolute, or relative to a knowledge folder).
    public var folder: String?
    /// Only documents of this loader format (`markdown`, `pdf`, …).
    public var format: String?
    public init(folder: String? = nil, format: String? = nil) { self.folder = folder; self.format = format }
}

extension KnowledgeBase {
    /// A document's text and chunks. The file is read again with the loader that ingested it; when it changed or is
    /// gone the stored chunks are joined instead (``DocumentText/source``).
    public func documentText(id: Int) async throws(KBError) -> DocumentText {
        guard let document = try await store.documents().first(where: { $0.id == id }) else {
            throw KBError(.notFound, "There is no document \(id) in the knowledge base.", details: ["document_id": String(id)])
        }
        let key = RecentDocumentTexts.Key(id: id, contentHash: document.contentHash, ingestedAt: document.ingestedAt)
        if let cached = documentTexts[key] { return cached }
        let text = try await readDocumentText(document)
        documentTexts[key] = text
        return text
    }

    func readDocumentText(_ document: DocumentRecord) async throws(KBError) -> DocumentText {
        let chunks = try await store.documentChunks(documentID: document.id)
        let loaded = try await Self.onBlockingPool { () async throws(KBError) -> String? in Self.reload(document) }
        if let loaded {
            let length = loaded.unicodeScalars.count
            if chunks.allSatisfy({ $0.endOffset <= length }) {
                return DocumentText(document: document, text: loaded, source: "file", linesMatch: Self.linesMatch(loaded, chunks), chunks: chunks)
            }
        }
        let (text, remapped) = Self.join(chunks)
        return DocumentText(document: document, text: text, source: "chunks", linesMatch: Self.linesMatch(text, remapped), chunks: remapped)
    }

    /// The document's text as the loader extracts it now, when the file is still what was ingested.
    static func reload(_ document: DocumentRecord) -> String? {
        guard case .success(let data) = FileInfo.read(document.path), SHA256.hex(data) == document.contentHash else { return nil }
        let url = URL(fileURLWithPath: document.path)
        let registry = LoaderRegistry.standard
        guard let loader = registry.loader(for: url, content: data) ?? registry.loader(for: url),
              document.fingerprint.hasPrefix("\(loader.format)-v\(loader.version)/"),
              let extracted = try? loader.load(data, url: url) else { return nil }
        return extracted.text
    }

    /// True when every chunk starts on the text line its start line names.
    static func linesMatch(_ text: String, _ chunks: [ChunkSpan]) -> Bool {
        guard !chunks.isEmpty, chunks.allSatisfy({ $0.page == nil }) else { return false }
        let scalars = Array(text.unicodeScalars)
        var lineAt: [Int] = []   // line number of each scalar offset
        lineAt.reserveCapacity(scalars.count + 1)
        var line = 1
        for scalar in scalars {
            lineAt.append(line)
            if scalar == "\n" { line += 1 }
        }
        lineAt.append(line)
        return chunks.allSatisfy { chunk in
            guard chunk.startOffset < lineAt.count else { return false }
            let start = lineAt[chunk.startOffset]
            // A chunk may begin on the line break that ends the line before its first one.
            return start == chunk.startLine
                || (start + 1 == chunk.startLine && chunk.startOffset < scalars.count && scalars[chunk.startOffset] == "\n")
        }
    }

    /// The chunks joined in document order with their overlaps removed. The text starts on the first chunk's line
    /// and a gap becomes as many line breaks as the chunks' line numbers say (a space between chunks of one line),
    /// so that line numbers still hold. Returns the text and the chunks with offsets into it.
    static func join(_ chunks: [ChunkSpan]) -> (String, [ChunkSpan]) {
        var scalars: [Unicode.Scalar] = []
        var remapped: [ChunkSpan] = []
        var cursor = 0            // end of what was appended, in the original offsets
        var lastLine = 1          // the line the text ends on
        for chunk in chunks.sorted(by: { ($0.startOffset, $0.ordinal) < ($1.startOffset, $1.ordinal) }) {
            let own = Array(chunk.text.unicodeScalars)
            var moved = chunk
            if remapped.isEmpty || chunk.startOffset >= cursor {
                let breaks = chunk.startLine - lastLine
                if breaks > 0 { scalars.append(contentsOf: Array(repeating: "\n", count: breaks)) }
                else if !remapped.isEmpty { scalars.append(" ") }
                moved.startOffset = scalars.count
                scalars.append(contentsOf: own)
            } else {
                // Overlaps what is already there: it starts that far back from the end.
                let back = min(scalars.count, cursor - chunk.startOffset)
                moved.startOffset = scalars.count - back
                if own.count > back { scalars.append(contentsOf: own[back...]) }
            }
            moved.endOffset = moved.startOffset + own.count
            cursor = max(cursor, chunk.endOffset)
            lastLine = max(lastLine, chunk.startLine + own.reduce(0) { $0 + ($1 == "\n" ? 1 : 0) })
            remapped.append(moved)
        }
        var text = String.UnicodeScalarView()
        text.append(contentsOf: scalars)
        return (String(text), remapped.sorted { $0.ordinal < $1.ordinal })
    }

    /// The exact text of a chunk or of a document's line range.
    public func read(_ request: ReadRequest) async throws(KBError) -> Excerpt {
        try request.validate()
        let documentID: Int
        var chunk: Passage?
        if let chunkID = request.chunkID {
            guard let passage = try await store.passages(ids: [chunkID]).first else {
                throw KBError(.notFound, "There is no chunk \(chunkID) in the knowledge base (an ingest may have replaced it; search again).",
                              details: ["chunk_id": String(chunkID)])
            }
            chunk = passage
            documentID = passage.documentID
        } else if let id = request.documentID {
            documentID = id
        } else {
            documentID = try await self.documentID(path: request.path ?? "")
        }
        let document = try await documentText(id: documentID)
        let record = document.document
        func summary(_ spans: [ChunkSpan]) -> [Excerpt.Chunk] {
            spans.map { Excerpt.Chunk(chunkID: String($0.chunkID), heading: $0.heading, startLine: $0.startLine, endLine: $0.endLine, page: $0.page) }
        }
        let lines = document.text.split(separator: "\n", omittingEmptySubsequences: false)
        // A final line break ends the last line; it does not start another.
        let textLines = document.text.hasSuffix("\n") ? lines.count - 1 : lines.count
        let totalLines = document.linesMatch ? max(1, textLines) : (document.chunks.map(\.endLine).max() ?? 1)

        if let chunk {
            let span = document.chunks.filter { $0.chunkID == chunk.chunkID }
            return Excerpt(documentID: record.id, path: record.path, title: record.title, format: record.format, startLine: chunk.startLine,
                           endLine: chunk.endLine, totalLines: totalLines, page: chunk.page, text: chunk.text, truncated: false,
                           source: document.source, chunks: summary(span))
        }
        let start = request.startLine ?? 1
        guard start <= totalLines else {
            throw KBError(.invalidArgument, "\(record.path) has \(totalLines) lines; \"start_line\" \(start) is past its end.",
                          details: ["field": "start_line"])
        }
        let wanted = min(request.endLine ?? Int.max, totalLines)
        let end = min(wanted, start + ReadRequest.maximumLines - 1)
        let overlapping = document.chunks.filter { $0.endLine >= start && $0.startLine <= end }
        let text: String
        if document.linesMatch {
            text = lines[(start - 1)..<end].joined(separator: "\n")
        } else if let first = overlapping.map(\.startOffset).min(), let last = overlapping.map(\.endOffset).max() {
            // Line numbers of the source file (HTML, PDF pages): the text of the chunks that cover them.
            let scalars = Array(document.text.unicodeScalars)
            var view = String.UnicodeScalarView()
            view.append(contentsOf: scalars[first..<min(last, scalars.count)])
            text = String(view)
        } else {
            text = ""
        }
        return Excerpt(documentID: record.id, path: record.path, title: record.title, format: record.format, startLine: start,
                       endLine: end, totalLines: totalLines, page: overlapping.first?.page, text: text, truncated: end < wanted,
                       source: document.source, chunks: summary(overlapping))
    }

    /// The id of the stored document at `path`: absolute, or relative to a knowledge folder or the working folder.
    /// Only stored documents can be read; any other path is refused, one outside the knowledge folders as such.
    func documentID(path: String) async throws(KBError) -> Int {
        guard !path.contains("\u{0}") else { throw KBError(.invalidArgument, "The path is not valid.", details: ["field": "path"]) }
        let candidates = Self.candidates(path, folders: configuration.knowledgeFolders)
        let documents = try await store.documents()
        if let found = documents.first(where: { candidates.contains($0.path) }) { return found.id }
        let folders = configuration.knowledgeFolders.map { URL(fileURLWithPath: $0).resolvingSymlinksInPath().standardizedFileURL.path }
        let inside = candidates.contains { candidate in
            folders.contains { candidate == $0 || candidate.hasPrefix($0.hasSuffix("/") ? $0 : $0 + "/") }
        }
        guard inside else {
            throw KBError(.outsideKnowledgeFolders, "\(path) is neither a document of the knowledge base nor inside its folders (\(folders.joined(separator: ", "))); kb reads only its documents.",
                          details: ["path": path])
        }
        throw KBError(.notFound, "\(path) is not in the knowledge base (not ingested yet, or not a supported file).", details: ["path": path])
    }

    /// The absolute paths a user's path can mean, standardised (`..` removed), with symbolic links resolved as well.
    static func candidates(_ path: String, folders: [String]) -> Set<String> {
        let bases = folders + [FileManager.default.currentDirectoryPath]
        let joined = path.hasPrefix("/") ? [path] : bases.map { ($0 as NSString).appendingPathComponent(path) }
        var out = Set<String>()
        for candidate in joined {
            let url = URL(fileURLWithPath: candidate).standardizedFileURL
            out.insert(url.path)
            out.insert(url.resolvingSymlinksInPath().path)
        }
        return out
    }

    /// Documents matching `filter`, by path.
    public func documents(matching filter: DocumentFilter) async throws(KBError) -> [DocumentRecord] {
        var documents = try await store.documents()
        if let format = filter.format?.lowercased(), !format.isEmpty { documents = documents.filter { $0.format == format } }
        if let folder = filter.folder, !folder.isEmpty {
            let prefixes = Self.candidates(folder, folders: configuration.knowledgeFolders).map { $0.hasSuffix("/") ? $0 : $0 + "/" }
            documents = documents.filter { document in prefixes.contains { document.path.hasPrefix($0) } }
        }
        return documents
    }

    /// Conversations, the most recently continued first: the caller's own, or all of them for an admin or the owner.
    public func conversations(limit: Int = 50, caller: Caller = .owner) async throws(KBError) -> [ConversationSummary] {
        try await store.conversations(limit: limit, user: caller.role == .admin ? nil : caller.user)
    }
}
