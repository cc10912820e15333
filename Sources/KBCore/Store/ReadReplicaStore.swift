import Foundation

/// A store whose searches go to a read replica (a PostgreSQL streaming standby) and everything else to the
/// primary (`kb serve --read-db URL`): keyword and vector search, term statistics and the passages they return
/// are read from the replica; ingest, conversations, feedback, users and status use the primary,
/// so a follow-up question finds the turn just written and a revoked token stops at once.
///
/// A replica lags its primary by its replay delay (a fraction of a second on one machine): a document just
/// ingested is searchable once the replica has replayed it.
public final class ReadReplicaStore: KnowledgeStore {
    public let primary: any KnowledgeStore
    public let replica: any KnowledgeStore

    public init(primary: any KnowledgeStore, replica: any KnowledgeStore) {
        self.primary = primary
        self.replica = replica
    }

    public var location: String { primary.location + " (searches: " + replica.location + ")" }

    // MARK: Searches: the replica

    public func keywordSearch(_ query: KeywordQuery, limit: Int) async throws(KBError) -> [ScoredChunk] {
        try await replica.keywordSearch(query, limit: limit)
    }
    public func termStatistics(_ terms: [KeywordQuery.Term]) async throws(KBError) -> TermStatistics {
        try await replica.termStatistics(terms)
    }
    public func searchCoverage() async throws(KBError) -> SearchCoverage { try await replica.searchCoverage() }
    public func nearestChunks(model: String, to query: [Float], limit: Int) async throws(KBError) -> [ScoredChunk] {
        try await replica.nearestChunks(model: model, to: query, limit: limit)
    }
    public func storedVectors(model: String, chunkIDs: [Int]) async throws(KBError) -> [Int: [Float]] {
        try await replica.storedVectors(model: model, chunkIDs: chunkIDs)
    }
    public func passages(ids: [Int]) async throws(KBError) -> [Passage] { try await replica.passages(ids: ids) }

    // MARK: Everything else: the primary

    public func documents() async throws(KBError) -> [DocumentRecord] { try await primary.documents() }
    public func saveDocument(_ document: DocumentRecord, chunks: [PreparedChunk], replacing existingID: Int?) async throws(KBError) -> ChunkWriteStats {
        try await primary.saveDocument(document, chunks: chunks, replacing: existingID)
    }
    public func moveDocument(id: Int, to path: String, modifiedAt: Double) async throws(KBError) {
        try await primary.moveDocument(id: id, to: path, modifiedAt: modifiedAt)
    }
    public func touchDocument(id: Int, size: Int, modifiedAt: Double) async throws(KBError) {
        try await primary.touchDocument(id: id, size: size, modifiedAt: modifiedAt)
    }
    @discardableResult public func removeDocument(id: Int) async throws(KBError) -> Int { try await primary.removeDocument(id: id) }
    public func acquireIngestLease() async throws(KBError) -> any IngestLease { try await primary.acquireIngestLease() }
    public func beginIngestRun(roots: [String]) async throws(KBError) -> Int { try await primary.beginIngestRun(roots: roots) }
    public func finishIngestRun(id: Int, counts: IngestRunCounts, status: String) async throws(KBError) {
        try await primary.finishIngestRun(id: id, counts: counts, status: status)
    }
    public func recordFailure(path: String, reason: String, runID: Int) async throws(KBError) {
        try await primary.recordFailure(path: path, reason: reason, runID: runID)
    }
    public func clearFailures(paths: [String]) async throws(KBError) { try await primary.clearFailures(paths: paths) }
    public func failures() async throws(KBError) -> [IngestFailure] { try await primary.failures() }
    public func passageCount() async throws(KBError) -> Int { try await primary.passageCount() }
    /// From the primary: a document's text is joined from its chunks and cached against the document's hash,
    /// which the primary gives.
    public func documentChunks(documentID: Int) async throws(KBError) -> [ChunkSpan] {
        try await primary.documentChunks(documentID: documentID)
    }
    public func status() async throws(KBError) -> StatusReport {
        var report = try await primary.status()
        report.database = location
        return report
    }
    public func consistencyProblems() async throws(KBError) -> [String] { try await primary.consistencyProblems() }
    public func chunksMissingEmbeddings(model: String, afterID: Int, limit: Int) async throws(KBError) -> [PendingChunk] {
        try await primary.chunksMissingEmbeddings(model: model, afterID: afterID, limit: limit)
    }
    public func saveEmbeddings(model: String, _ vectors: [(chunkID: Int, vector: [Float])]) async throws(KBError) {
        try await primary.saveEmbeddings(model: model, vectors)
    }
    public func embeddingCoverage() async throws(KBError) -> [EmbeddingCoverage] { try await primary.embeddingCoverage() }
    public func createConversation(title: String, user: String?) async throws(KBError) -> String {
        try await primary.createConversation(title: title, user: user)
    }
    public func conversation(id: String) async throws(KBError) -> Conversation? { try await primary.conversation(id: id) }
    public func conversations(limit: Int, user: String?) async throws(KBError) -> [ConversationSummary] {
        try await primary.conversations(limit: limit, user: user)
    }
    @discardableResult public func saveAnswer(_ answer: AnswerRecord) async throws(KBError) -> Int { try await primary.saveAnswer(answer) }
    public func saveFeedback(answerID: String, rating: Int, comment: String?, user: String?) async throws(KBError) {
        try await primary.saveFeedback(answerID: answerID, rating: rating, comment: comment, user: user)
    }
    public func feedbackReport(worst: Int) async throws(KBError) -> FeedbackReport { try await primary.feedbackReport(worst: worst) }
    public func createUser(name: String, role: UserRole, tokenHash: String) async throws(KBError) {
        try await primary.createUser(name: name, role: role, tokenHash: tokenHash)
    }
    public func users() async throws(KBError) -> [APIUser] { try await primary.users() }
    public func revokeUser(name: String) async throws(KBError) -> Bool { try await primary.revokeUser(name: name) }
    public func checkToken(hash: String?) async throws(KBError) -> TokenCheck { try await primary.checkToken(hash: hash) }
    public func storedChunks(documentID: Int) async throws(KBError) -> [StoredChunk] { try await primary.storedChunks(documentID: documentID) }
    public func feedbackEntries() async throws(KBError) -> [FeedbackEntry] { try await primary.feedbackEntries() }
    public func userRecords() async throws(KBError) -> [UserRecord] { try await primary.userRecords() }
    public func importConversation(_ conversation: Conversation) async throws(KBError) { try await primary.importConversation(conversation) }
    public func importFeedback(_ entries: [FeedbackEntry]) async throws(KBError) { try await primary.importFeedback(entries) }
    public func importUser(_ record: UserRecord) async throws(KBError) { try await primary.importUser(record) }
}
