import Foundation

/// A stored chunk as written: its id and everything it was saved with.
public struct StoredChunk: Sendable, Equatable {
    public var id: Int
    public var draft: ChunkDraft
}

/// One rating as stored.
public struct FeedbackEntry: Sendable, Equatable {
    public var answerID: String
    public var rating: Int
    public var comment: String?
    public var createdAt: Double
    public var user: String?
}

/// A user with the hash of their token (for copying a knowledge base; the token itself is never stored).
public struct UserRecord: Sendable, Equatable {
    public var user: APIUser
    public var tokenHash: String
}

/// Reading everything a store keeps and writing it into another as it was (`kb migrate`): conversations keep
/// their ids, answers theirs (ratings refer to them), users their token hashes.
public protocol StoreTransfer: Sendable {
    /// A document's chunks as stored, in order.
    func storedChunks(documentID: Int) async throws(KBError) -> [StoredChunk]
    /// Every rating, oldest first.
    func feedbackEntries() async throws(KBError) -> [FeedbackEntry]
    /// Every user with their token hash.
    func userRecords() async throws(KBError) -> [UserRecord]
    /// Writes a conversation with its turns exactly as given (ids, turn numbers, times, user).
    func importConversation(_ conversation: Conversation) async throws(KBError)
    /// Writes ratings as given.
    func importFeedback(_ entries: [FeedbackEntry]) async throws(KBError)
    /// Writes a user with their token hash and creation time.
    func importUser(_ record: UserRecord) async throws(KBError)
}

/// Copies a knowledge base from one store to another (`kb migrate --to`): documents and chunks (keyword terms
/// recomputed from the same text, so both stores index the same terms), every model's vectors (not re-embedded),
/// conversations, ratings and users. Chunk ids may differ between the stores; the chunk references inside stored
/// answers are rewritten to the new ids. The target must be empty; the source is only read.
public struct StoreCopier: Sendable {
    public struct Counts: Sendable, Codable, Equatable {
        public var documents = 0, chunks = 0, vectors = 0, conversations = 0, answers = 0, feedback = 0, users = 0
        public var seconds = 0.0
    }

    let source: any KnowledgeStore
    let target: any KnowledgeStore

    public init(from source: any KnowledgeStore, to target: any KnowledgeStore) {
        self.source = source
        self.target = target
    }

    /// Copies everything; `progress` hears what was copied so far (after each document).
    public func copy(progress: @Sendable (Counts) -> Void = { _ in }) async throws(KBError) -> Counts {
        let clock = Stopwatch()
        let existing = try await target.passageCount()
        let targetDocuments = try await target.documents()
        let targetConversations = try await target.conversations(limit: 1, user: nil)
        let targetUsers = try await target.users(), targetFeedback = try await target.feedbackEntries()
        guard existing == 0, targetDocuments.isEmpty, targetConversations.isEmpty, targetUsers.isEmpty, targetFeedback.isEmpty else {
            throw KBError(.invalidArgument, "\(target.location) already holds a knowledge base (\(targetDocuments.count) documents, \(targetUsers.count) users); migrate into an empty database.")
        }
        // No ingest into either while copying: the copy is of one state of the source.
        let sourceLease = try await source.acquireIngestLease()
        let lease = try await target.acquireIngestLease()
        defer { withExtendedLifetime((sourceLease, lease)) {} }
        var counts = Counts()
        var newID: [Int: Int] = [:]
        for document in try await source.documents() {
            let chunks = try await source.storedChunks(documentID: document.id)
            let prepared = chunks.map { PreparedChunk($0.draft) }
            let stats = try await target.saveDocument(document, chunks: prepared, replacing: nil)
            let written = try await target.documentChunks(documentID: stats.documentID)
            let byOrdinal = Dictionary(written.map { ($0.ordinal, $0.chunkID) }, uniquingKeysWith: { a, _ in a })
            for chunk in chunks { if let id = byOrdinal[chunk.draft.ordinal] { newID[chunk.id] = id } }
            counts.documents += 1
            counts.chunks += chunks.count
            progress(counts)
        }
        // Vectors, model by model, in batches.
        let oldIDs = newID.keys.sorted()
        for coverage in try await source.embeddingCoverage() where coverage.vectors > 0 {
            var start = 0
            while start < oldIDs.count {
                let batch = Array(oldIDs[start..<min(oldIDs.count, start + 512)])
                start += batch.count
                let vectors = try await source.storedVectors(model: coverage.model, chunkIDs: batch)
                let rows = batch.compactMap { old -> (chunkID: Int, vector: [Float])? in
                    guard let vector = vectors[old], let id = newID[old] else { return nil }
                    return (id, vector)
                }
                if !rows.isEmpty { try await target.saveEmbeddings(model: coverage.model, rows) }
                counts.vectors += rows.count
            }
            progress(counts)
        }
        for record in try await source.userRecords() {
            try await target.importUser(record)
            counts.users += 1
        }
        for summary in try await source.conversations(limit: Int(Int32.max), user: nil).reversed() {
            guard var conversation = try await source.conversation(id: summary.id) else { continue }
            conversation.turns = conversation.turns.map { Self.remap($0, newID) }
            try await target.importConversation(conversation)
            counts.conversations += 1
            counts.answers += conversation.turns.count
        }
        let feedback = try await source.feedbackEntries()
        try await target.importFeedback(feedback)
        counts.feedback = feedback.count
        counts.seconds = clock.seconds
        progress(counts)
        return counts
    }

    /// An answer whose citations and passages point at the target's chunk ids.
    static func remap(_ answer: AnswerRecord, _ newID: [Int: Int]) -> AnswerRecord {
        var answer = answer
        func map(_ sources: [AnswerRecord.Source]) -> [AnswerRecord.Source] {
            sources.map { source in
                var source = source
                if let old = Int(source.chunkID), let id = newID[old] { source.chunkID = String(id) }
                return source
            }
        }
        answer.citations = map(answer.citations)
        answer.passages = map(answer.passages)
        return answer
    }
}

extension KnowledgeBase {
    /// Copies this knowledge base into the store at `destination` (a `postgres://` URL or a SQLite file path,
    /// relative to the working directory), created when missing; see ``StoreCopier``.
    public func migrate(to destination: String, progress: @Sendable (StoreCopier.Counts) -> Void = { _ in }) async throws(KBError) -> StoreCopier.Counts {
        let location = destination.contains("://") ? destination
            : URL(fileURLWithPath: (destination as NSString).expandingTildeInPath).standardizedFileURL.path
        if location == configuration.databasePath || location == store.location {
            throw KBError(.invalidArgument, "--to names the knowledge base being copied (\(store.location)); give another database.")
        }
        let target = try registry.makeStore(location, create: true)
        return try await StoreCopier(from: store, to: target).copy(progress: progress)
    }
}
