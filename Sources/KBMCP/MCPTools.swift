import Foundation
import KBCore
import MCP

/// kb's MCP tools — `search`, `ask`, `read`, `list_documents`, `status` — as a thin adapter over the service layer:
/// each call's arguments are decoded strictly as the service request (the same checks as the REST API), the
/// service answers, and the reply goes back as readable text plus structured content matching the tool's
/// output schema.
public struct MCPTools: Sendable {
    let service: KnowledgeService
    /// Who the calls act for (the session's token; the owner over stdio).
    let caller: Caller

    public init(service: KnowledgeService, caller: Caller = .owner) {
        self.service = service
        self.caller = caller
    }

    /// Reports progress of a running call (progress so far, a total when known, a message).
    public typealias Progress = @Sendable (_ progress: Double, _ total: Double?, _ message: String) async -> Void

    /// The tool catalogue `tools/list` returns.
    public static let tools: [Tool] = [
        Tool(name: "search",
             title: "Search the knowledge base",
             description: """
                Hybrid (keyword + vector) search over the user's documents. Returns the best passages with their \
                path, heading, line range or page, score, a snippet, and why each was retrieved (keyword and vector \
                ranks). Use `read` to see the text around a hit.
                """,
             inputSchema: [
                "type": "object",
                "properties": [
                    "query": ["type": "string", "minLength": 1, "description": "What to look for, in any language (Chinese and English are first-class)."],
                    "k": ["type": "integer", "minimum": 1, "maximum": 100, "description": "How many passages (default 8)."],
                    "mode": ["type": "string", "enum": ["hybrid", "keyword", "vector"], "description": "Retrieval mode (default hybrid)."],
                ],
                "required": ["query"],
                "additionalProperties": false,
             ],
             annotations: .init(readOnlyHint: true, idempotentHint: true, openWorldHint: false),
             outputSchema: OutputSchemas.search),
        Tool(name: "ask",
             title: "Ask the knowledge base",
             description: """
                Answers a question from the user's documents with kb's checked answer: the text with [n] citation \
                markers, each citation's path and lines or page and whether kb found the passage supports it, and \
                the quality scores. When the documents do not answer it, kb abstains and returns the closest \
                passages instead. Pass the returned conversation_id to ask a follow-up.
                """,
             inputSchema: [
                "type": "object",
                "properties": [
                    "question": ["type": "string", "minLength": 1, "description": "The question."],
                    "conversation_id": ["type": "string", "description": "Continue this conversation (from an earlier answer)."],
                    "k": ["type": "integer", "minimum": 1, "maximum": 50, "description": "Passages shown to the language model."],
                    "mode": ["type": "string", "enum": ["hybrid", "keyword", "vector"], "description": "Retrieval mode (default hybrid)."],
                ],
                "required": ["question"],
                "additionalProperties": false,
             ],
             annotations: .init(readOnlyHint: false, idempotentHint: false, openWorldHint: false),
             outputSchema: OutputSchemas.answer),
        Tool(name: "read",
             title: "Read a document",
             description: """
                The exact text of a document over a line range (path or document_id, with start_line and end_line, \
                at most 400 lines per call), or of one chunk (chunk_id from a search or ask result). Use it to read \
                around a hit.
                """,
             inputSchema: [
                "type": "object",
                "properties": [
                    "path": ["type": "string", "minLength": 1, "description": "The document's path: absolute, or relative to a knowledge folder."],
                    "document_id": ["type": "integer", "minimum": 1],
                    "chunk_id": ["type": ["string", "integer"], "description": "A chunk id from search or ask results."],
                    "start_line": ["type": "integer", "minimum": 1, "description": "First line, 1-based (default 1)."],
                    "end_line": ["type": "integer", "minimum": 1, "description": "Last line, inclusive."],
                ],
                "additionalProperties": false,
             ],
             annotations: .init(readOnlyHint: true, idempotentHint: true, openWorldHint: false),
             outputSchema: OutputSchemas.excerpt),
        Tool(name: "list_documents",
             title: "List documents",
             description: "The documents in the knowledge base (optionally under a folder, or of one format) and the files that could not be ingested, with the reason.",
             inputSchema: [
                "type": "object",
                "properties": [
                    "folder": ["type": "string", "description": "Only documents under this folder (absolute, or relative to a knowledge folder)."],
                    "format": ["type": "string", "description": "Only this format: markdown, text, html, pdf, docx, epub, csv, code, xml…"],
                    "limit": ["type": "integer", "minimum": 1, "maximum": 10000, "description": "At most this many documents (default 200)."],
                ],
                "additionalProperties": false,
             ],
             annotations: .init(readOnlyHint: true, idempotentHint: true, openWorldHint: false),
             outputSchema: OutputSchemas.documents),
        Tool(name: "status",
             title: "Knowledge base status",
             description: "Counts of documents, chunks and vectors, the embedding models, the last ingest and the files that failed.",
             inputSchema: ["type": "object", "properties": [:], "additionalProperties": false],
             annotations: .init(readOnlyHint: true, idempotentHint: true, openWorldHint: false),
             outputSchema: OutputSchemas.status),
    ]

    /// Runs a tool call. Bad arguments (an unknown tool, a missing, unknown or wrong-typed field, an empty query, a
    /// path outside the knowledge folders) throw ``MCPError/invalidParams(_:)``; failures while answering (the model
    /// is busy, a file is gone) come back as a result with `isError`, which the calling model can read.
    public func call(_ name: String, arguments: [String: Value]?, progress: Progress? = nil) async throws -> CallTool.Result {
        let arguments = arguments ?? [:]
        guard Self.tools.contains(where: { $0.name == name }) else {
            throw MCPError.invalidParams("Unknown tool \"\(name)\"; kb's tools are: \(Self.tools.map(\.name).joined(separator: ", ")).")
        }
        do throws(KBError) {
            switch name {
            case "search":
                let request = try decode(SearchRequest.self, arguments)
                try Self.nonEmpty(request.query, "query")
                let response = try await service.search(request)
                return try result(ToolText.search(response), response)
            case "ask":
                if arguments["stream"] != nil { throw KBError(.invalidArgument, "Unknown field \"stream\"; allowed: conversation_id, k, mode, question.") }
                let request = try decode(AskRequest.self, arguments)
                try Self.nonEmpty(request.question, "question")
                let answer = try await ask(request, progress: progress)
                return try result(ToolText.answer(answer), answer)
            case "read":
                let excerpt = try await service.read(try decode(ReadRequest.self, arguments))
                return try result(ToolText.excerpt(excerpt), excerpt)
            case "list_documents":
                let request = try decode(DocumentsRequest.self, arguments)
                let list = try await service.documents(DocumentFilter(folder: request.folder, format: request.format))
                let listing = DocumentListing(list, limit: request.limit ?? 200)
                return try result(ToolText.documents(listing), listing)
            case "status":
                guard arguments.isEmpty else {
                    throw KBError(.invalidArgument, "Unknown field \"\(arguments.keys.sorted()[0])\"; status takes no arguments.")
                }
                let status = try await service.status()
                return try result(ToolText.status(status), status)
            default:
                throw KBError(.internalError, "Tool \(name) is listed but not served.")
            }
        } catch {
            switch error.code {
            case .invalidArgument, .invalidJSON, .outsideKnowledgeFolders:
                throw MCPError.invalidParams(error.message)
            default:
                return CallTool.Result(content: [.text(text: "kb: \(error.message)", annotations: nil, _meta: nil)], isError: true)
            }
        }
    }

    /// Answers with progress: retrieving first, then the growing answer while the model writes. The generation
    /// stops when the calling task is cancelled (the client cancelled or went away).
    func ask(_ request: AskRequest, progress: Progress?) async throws(KBError) -> Answer {
        guard let progress else { return try await service.ask(request, caller: caller) }
        let reporter = ProgressReporter(progress)
        reporter.report("retrieving passages")
        defer { reporter.finish() }
        let answer = try await service.ask(request, caller: caller, onText: { reporter.text($0) }, onReplaced: { reporter.replaced($0) })
        await reporter.flush()
        return answer
    }

    func decode<T: ServiceRequest>(_ type: T.Type, _ arguments: [String: Value]) throws(KBError) -> T {
        let data: Data
        do { data = try JSONEncoder().encode(arguments) } catch { throw KBError(.invalidJSON, "The arguments are not a JSON object.") }
        return try RequestDecoder.decode(T.self, from: data)
    }

    static func nonEmpty(_ value: String, _ field: String) throws(KBError) {
        if value.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            throw KBError(.invalidArgument, "Field \"\(field)\" is empty; give some words.", details: ["field": field])
        }
    }

    func result<T: Codable>(_ text: String, _ value: T) throws(KBError) -> CallTool.Result {
        let structured: Value
        do { structured = try Value(value) } catch { throw KBError(.internalError, "Could not encode the result: \(error)") }
        return CallTool.Result(content: [.text(text: text, annotations: nil, _meta: nil)], structuredContent: structured as Value?, isError: false)
    }
}

/// Sends progress in order, at most every quarter second while text arrives, from one task; ``flush()`` sends
/// the last text and waits until everything was sent, so that no progress follows the result.
final class ProgressReporter: @unchecked Sendable {
    private let lock = NSLock()
    private var characters = 0
    private var pieces = 0
    private var last = 0.0
    private var tail = ""
    private var sentPieces = 0
    private let messages: AsyncStream<(Double, String)>.Continuation
    private let sender: Task<Void, Never>

    init(_ send: @escaping MCPTools.Progress) {
        let (stream, continuation) = AsyncStream<(Double, String)>.makeStream()
        messages = continuation
        sender = Task { for await (progress, message) in stream { await send(progress, nil, message) } }
    }

    func report(_ message: String) { messages.yield((0, message)) }

    /// Called with each piece of generated text.
    func text(_ piece: String) {
        let now = Date().timeIntervalSince1970
        lock.withLock {
            characters += piece.count
            pieces += 1
            tail = String((tail + piece).suffix(120))
            guard now - last >= 0.25 else { return }
            last = now
            sentPieces = pieces
            messages.yield((Double(pieces), message))
        }
    }

    /// Called when the text so far is withdrawn: the progress starts again from the replacement.
    func replaced(_ reason: String) {
        lock.withLock {
            characters = 0
            tail = ""
            pieces += 1
            sentPieces = pieces
            last = Date().timeIntervalSince1970
            messages.yield((Double(pieces), "kb withdrew the text so far (\(reason)); writing its replacement"))
        }
    }

    private var message: String { "writing the answer (\(characters) characters): …\(tail)" }

    /// Sends what has not been sent and waits for the sender.
    func flush() async {
        lock.withLock {
            if pieces > sentPieces { messages.yield((Double(pieces), message)) }
        }
        messages.finish()
        await sender.value
    }

    func finish() { messages.finish() }
}

/// `list_documents`' structured result: compact records an agent can scan.
struct DocumentListing: Codable, Sendable {
    struct Document: Codable, Sendable {
        var documentID: Int
        var path: String
        var title: String?
        var format: String
        var chunks: Int
        var bytes: Int
        var modifiedAt: Double
        enum CodingKeys: String, CodingKey {
            case path, title, format, chunks, bytes
            case documentID = "document_id", modifiedAt = "modified_at"
        }
    }
    var documents: [Document]
    /// Documents matching, before `limit`.
    var total: Int
    var failed: [IngestFailure]

    init(_ list: DocumentList, limit: Int) {
        documents = list.documents.prefix(limit).map {
            Document(documentID: $0.id, path: $0.path, title: $0.title, format: $0.format, chunks: $0.chunkCount, bytes: $0.size,
                     modifiedAt: $0.modifiedAt)
        }
        total = list.documents.count
        failed = list.failed
    }
}
