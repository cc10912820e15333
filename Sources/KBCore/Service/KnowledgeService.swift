import Foundation

/// The service layer every front end shares — the CLI, the REST and OpenAI-compatible routes of `kb serve`, and
/// the MCP server and web page to come: search, ask (streaming), feedback, conversations, documents, ingest and
/// status, taking the Codable requests of `Schemas/http` and returning the Codable responses. No transport here:
/// no HTTP status, no exit code; errors are ``KBError``s that each edge maps.
///
/// It also owns what is shared across requests: how many answers may be written at once per generator backend
/// (``GenerationLimiter``; an in-process model writes one at a time, a remote server several).
public final class KnowledgeService: Sendable {
    public let knowledgeBase: KnowledgeBase
    /// Answers waiting for or being written by the generator.
    public let generation: GenerationLimiter

    /// - Parameter queue: answers that may wait for the generator beyond those it is writing; more are refused.
    public init(knowledgeBase: KnowledgeBase, queue: Int = 4) throws(KBError) {
        self.knowledgeBase = knowledgeBase
        let concurrency = (try? knowledgeBase.generatorChoice().concurrency) ?? 1
        generation = GenerationLimiter(running: concurrency, waiting: queue)
    }

    // MARK: Reading

    public func search(_ request: SearchRequest) async throws(KBError) -> SearchResponse {
        try await knowledgeBase.search(request.query, limit: request.k, mode: request.mode)
    }

    /// A conversation with its turns: the caller's own, or any for an admin.
    public func conversation(id: String, caller: Caller) async throws(KBError) -> Conversation {
        try await knowledgeBase.conversation(id: id, caller: caller)
    }

    /// The documents (filtered by folder and format) and the files the last ingests could not read.
    public func documents(_ filter: DocumentFilter = DocumentFilter()) async throws(KBError) -> DocumentList {
        let documents = try await knowledgeBase.documents(matching: filter)
        let failed = try await knowledgeBase.status().failed
        return DocumentList(documents: documents, failed: failed)
    }

    /// A document's text with its chunks marked.
    public func document(id: Int) async throws(KBError) -> DocumentText {
        try await knowledgeBase.documentText(id: id)
    }

    /// The exact text of a chunk or of a document's line range.
    public func read(_ request: ReadRequest) async throws(KBError) -> Excerpt {
        try await knowledgeBase.read(request)
    }

    /// Conversations, the most recently continued first: the caller's own, or all of them for an admin.
    public func conversations(limit: Int = 50, caller: Caller) async throws(KBError) -> ConversationList {
        ConversationList(conversations: try await knowledgeBase.conversations(limit: limit, caller: caller))
    }

    public func status() async throws(KBError) -> StatusReport {
        try await knowledgeBase.status()
    }

    /// Ratings and the worst-rated answers, everyone's: for admins.
    public func feedbackReport(worst: Int = 10, caller: Caller) async throws(KBError) -> FeedbackReport {
        try caller.require(.admin, to: "read everyone's feedback")
        return try await knowledgeBase.feedbackReport(worst: worst)
    }

    // MARK: Answers

    /// Answers a question; the answer's text goes to `onText` as it is written, and `onReplaced` says (with the
    /// reason) when the text so far is withdrawn, before its replacement streams. Waits for a generator slot and
    /// throws ``KBError/Code/busy`` when too many answers are already waiting.
    ///
    /// - Parameter reserved: the caller already holds a slot (``GenerationLimiter/acquire()``: a streaming front end
    ///   takes it before it starts its response, so that a full queue is a plain refusal); it is released here.
    public func ask(_ request: AskRequest, caller: Caller, reserved: Bool = false,
                    onText: @escaping @Sendable (String) -> Void = { _ in },
                    onReplaced: @escaping @Sendable (String) -> Void = { _ in }) async throws(KBError) -> Answer {
        try await answer(reserved: reserved) { [knowledgeBase] () throws(KBError) in
            try await knowledgeBase.ask(request.question, passages: request.k, mode: request.mode, conversation: request.conversationID,
                                        caller: caller, onText: onText, onReplaced: onReplaced)
        }
    }

    /// Answers a chat (the OpenAI-compatible request): the last user message, in the context of the earlier turns.
    public func chat(_ request: ChatCompletionRequest, caller: Caller, reserved: Bool = false,
                     onText: @escaping @Sendable (String) -> Void = { _ in },
                     onReplaced: @escaping @Sendable (String) -> Void = { _ in }) async throws(KBError) -> Answer {
        let (question, prior) = try request.conversation()
        return try await answer(reserved: reserved) { [knowledgeBase] () throws(KBError) in
            try await knowledgeBase.ask(question, priorTurns: prior, caller: caller, onText: onText, onReplaced: onReplaced)
        }
    }

    /// Runs a generation within the generator's limits.
    func answer(reserved: Bool, _ body: @Sendable () async throws(KBError) -> Answer) async throws(KBError) -> Answer {
        if !reserved { try await generation.acquire() }
        defer { Task { [generation] in await generation.release() } }
        return try await body()
    }

    public func rate(_ request: FeedbackRequest, caller: Caller) async throws(KBError) -> FeedbackReceipt {
        try await knowledgeBase.rate(answerID: request.answerID, up: request.rating == "up", comment: request.comment, caller: caller)
        return FeedbackReceipt(answerID: request.answerID, rating: request.rating)
    }

    // MARK: Users

    /// Who a bearer token stands for (see ``KnowledgeBase/authenticate(bearer:ownerToken:)``).
    public func authenticate(bearer: String?, ownerToken: String?, tokenRequired: Bool = false) async throws(KBError) -> Caller {
        try await knowledgeBase.authenticate(bearer: bearer, ownerToken: ownerToken, tokenRequired: tokenRequired)
    }

    /// A new user and token (printed once): for admins.
    public func createToken(_ request: TokenRequest, caller: Caller) async throws(KBError) -> IssuedToken {
        try caller.require(.admin, to: "manage tokens")
        return try await knowledgeBase.createToken(name: request.name, role: request.role)
    }

    /// The users: for admins.
    public func users(caller: Caller) async throws(KBError) -> UserList {
        try caller.require(.admin, to: "manage tokens")
        return try await knowledgeBase.users()
    }

    /// Revokes a user's token: for admins.
    public func revokeToken(name: String, caller: Caller) async throws(KBError) -> RevokedToken {
        try caller.require(.admin, to: "manage tokens")
        try await knowledgeBase.revokeToken(name: name)
        return RevokedToken(revoked: name)
    }

    // MARK: Documents

    /// Ingests a file or folder inside the knowledge folders (`..` and symbolic links resolved first).
    public func ingest(_ request: IngestRequest, caller: Caller) async throws(KBError) -> IngestSummary {
        try caller.require(.writer, to: "ingest documents")
        let resolved = try knowledgeBase.pathInsideKnowledgeFolders(request.path)
        return try await knowledgeBase.ingest(paths: [resolved], embed: request.embed ?? true)
    }

    /// Removes a document from the index (the file stays).
    public func removeDocument(id: Int, caller: Caller) async throws(KBError) -> RemovedDocument {
        try caller.require(.writer, to: "remove documents")
        let removed = try await knowledgeBase.removeDocument(id: id)
        return RemovedDocument(removed: .init(id: removed.id, path: removed.path))
    }
}

/// `GET /v1/documents`.
public struct DocumentList: Sendable, Codable, Equatable {
    public var documents: [DocumentRecord]
    /// Files that could not be ingested, with the reason.
    public var failed: [IngestFailure] = []
}

/// `GET /v1/conversations`.
public struct ConversationList: Sendable, Codable, Equatable {
    public var conversations: [ConversationSummary]
}

/// `POST /v1/feedback`'s reply.
public struct FeedbackReceipt: Sendable, Codable, Equatable {
    public var answerID: String
    public var rating: String
    enum CodingKeys: String, CodingKey { case answerID = "answer_id", rating }
}

/// `DELETE /v1/tokens/{name}`'s reply.
public struct RevokedToken: Sendable, Codable, Equatable {
    public var revoked: String
}

/// `DELETE /v1/documents/{id}`'s reply.
public struct RemovedDocument: Sendable, Codable, Equatable {
    public struct Document: Sendable, Codable, Equatable { public var id: Int; public var path: String }
    public var removed: Document
}

extension KBError.Code {
    /// Too many answers are waiting for the generator; try again shortly.
    public static let busy = KBError.Code(name: "busy")
}

/// How many answers a generator writes at once and how many may wait: the rest are refused at once
/// (``KBError/Code/busy``) rather than piling up.
public actor GenerationLimiter {
    public nonisolated let running: Int
    public nonisolated let waiting: Int
    private var active = 0
    private var queue: [CheckedContinuation<Void, Never>] = []

    public init(running: Int, waiting: Int) {
        self.running = max(1, running)
        self.waiting = max(0, waiting)
    }

    /// Waits for a slot; throws ``KBError/Code/busy`` when the queue is full.
    public func acquire() async throws(KBError) {
        if active < running { active += 1; return }
        guard queue.count < waiting else {
            throw KBError(.busy, "The language model is busy (\(waiting) requests already waiting); retry shortly.")
        }
        await withCheckedContinuation { queue.append($0) }
    }

    public func release() {
        if queue.isEmpty { active -= 1 } else { queue.removeFirst().resume() }
    }

    /// Answers being written or waiting.
    public var depth: Int { active + queue.count }
}
