import Foundation

/// A chunk ready to store: the draft plus its analysed keyword terms (see ``TextAnalyzer``).
public struct PreparedChunk: Sendable {
    public var draft: ChunkDraft
    /// What the keyword index holds for the chunk: its heading path and text, analysed.
    public var terms: IndexTerms

    public init(_ draft: ChunkDraft) {
        self.draft = draft
        terms = Self.terms(heading: draft.heading, text: draft.text)
    }

    /// A chunk's keyword terms: its heading path and text, analysed.
    static func terms(heading: String, text: String) -> IndexTerms {
        TextAnalyzer.indexTerms(heading.isEmpty ? text : heading + "\n" + text)
    }
}

/// What saving a document did to its chunks.
public struct ChunkWriteStats: Sendable, Equatable {
    public var documentID: Int
    public var inserted: Int
    public var reused: Int
    public var removed: Int
}

/// Counts over an ingest run, recorded in the store.
public struct IngestRunCounts: Sendable {
    var added = 0, updated = 0, unchanged = 0, moved = 0, removed = 0, skipped = 0, failed = 0
}

/// The documents and chunks of a knowledge base, and its ingest history.
///
/// Every operation keeps the store consistent on its own: a document and its chunks and index
/// rows are written in one transaction, so an interrupted ingest never leaves half a document.
/// Methods are asynchronous so that a store on a network database (PostgreSQL) can implement them
/// without blocking; the SQLite store runs them on ``BlockingPool`` threads.
public protocol DocumentStore: AnyObject, Sendable {
    /// Where the store lives (a database file path, or a database URL without its password).
    var location: String { get }
    /// All stored documents, by path.
    func documents() async throws(KBError) -> [DocumentRecord]
    /// Inserts or replaces a document and its chunks. Chunks whose content hash is unchanged keep their ids.
    func saveDocument(_ document: DocumentRecord, chunks: [PreparedChunk], replacing existingID: Int?) async throws(KBError) -> ChunkWriteStats
    /// Records that a stored document's file moved.
    func moveDocument(id: Int, to path: String, modifiedAt: Double) async throws(KBError)
    /// Records a new size and modification time for an unchanged document.
    func touchDocument(id: Int, size: Int, modifiedAt: Double) async throws(KBError)
    /// Removes a document with its chunks, index rows and embeddings; returns the chunks removed.
    @discardableResult func removeDocument(id: Int) async throws(KBError) -> Int
    /// Excludes every other ingest into this store until the returned lease is released (deinitialised).
    /// Throws ``KBError/Code/ingestInProgress`` when another one holds it.
    func acquireIngestLease() async throws(KBError) -> any IngestLease
    /// Starts an ingest run; marks runs left `running` by a killed process as interrupted.
    func beginIngestRun(roots: [String]) async throws(KBError) -> Int
    func finishIngestRun(id: Int, counts: IngestRunCounts, status: String) async throws(KBError)
    func recordFailure(path: String, reason: String, runID: Int) async throws(KBError)
    func clearFailures(paths: [String]) async throws(KBError)
    func failures() async throws(KBError) -> [IngestFailure]
    /// Chunks with their documents, in the order of `ids` (ids that no longer exist are left out).
    func passages(ids: [Int]) async throws(KBError) -> [Passage]
    /// Number of stored chunks.
    func passageCount() async throws(KBError) -> Int
    /// A document's chunks in document order, with their offsets into the document text.
    func documentChunks(documentID: Int) async throws(KBError) -> [ChunkSpan]
    func status() async throws(KBError) -> StatusReport
    /// Invariants an interrupted ingest must not break; empty when the store is sound.
    func consistencyProblems() async throws(KBError) -> [String]
}

/// Held while an ingest writes; releasing it (letting it go) lets the next ingest in.
public protocol IngestLease: AnyObject, Sendable {}

/// Keyword (BM25) search over stored chunks. The store receives kb's analysed terms and ranks them its own way.
public protocol KeywordIndex: Sendable {
    /// The best `limit` chunks for the query, best first, with BM25 scores (higher is better).
    func keywordSearch(_ query: KeywordQuery, limit: Int) async throws(KBError) -> [ScoredChunk]
    /// Number of indexed chunks and of chunks containing each term.
    func termStatistics(_ terms: [KeywordQuery.Term]) async throws(KBError) -> TermStatistics
}

/// A chunk waiting for its embedding.
public struct PendingChunk: Sendable {
    public var id: Int
    public var heading: String
    public var text: String
    /// What is embedded: the heading path, then the text.
    public var embeddingInput: String { heading.isEmpty ? text : heading + "\n" + text }
}

/// How many chunks a model has vectors for.
public struct EmbeddingCoverage: Sendable, Equatable, Codable {
    public var model: String
    public var dimension: Int
    public var vectors: Int
    /// When the newest vector was written (seconds since 1970); with `vectors`, identifies the set's state.
    public var updatedAt: Double = 0

    enum CodingKeys: String, CodingKey { case model, dimension, vectors, updatedAt = "updated_at" }
}

/// All of one model's vectors, loaded for search.
public struct VectorSet: Sendable {
    public var model: String
    public var dimension: Int
    /// Chunk id of each row.
    public var ids: [Int]
    /// Rows of `dimension` floats, contiguous.
    public var values: [Float]

    public init(model: String, dimension: Int, ids: [Int], values: [Float]) {
        self.model = model
        self.dimension = dimension
        self.ids = ids
        self.values = values
    }
}

/// What vector search can use: chunks, and vectors per model.
public struct SearchCoverage: Sendable, Equatable {
    /// Vectors stored for one model.
    public struct Model: Sendable, Equatable {
        public var model: String
        public var vectors: Int
        public init(model: String, vectors: Int) { self.model = model; self.vectors = vectors }
    }
    public var chunks: Int
    public var models: [Model]
    public init(chunks: Int, models: [Model]) { self.chunks = chunks; self.models = models }
}

/// Stored embedding vectors, one per chunk and model, and nearest-neighbour search over them.
public protocol VectorStore: Sendable {
    /// Chunks that have no vector for `model`, in id order, after `afterID`.
    func chunksMissingEmbeddings(model: String, afterID: Int, limit: Int) async throws(KBError) -> [PendingChunk]
    /// Stores vectors (one transaction).
    func saveEmbeddings(model: String, _ vectors: [(chunkID: Int, vector: [Float])]) async throws(KBError)
    /// Vector counts per model (exact).
    func embeddingCoverage() async throws(KBError) -> [EmbeddingCoverage]
    /// Chunks and vector counts as search sees them (cheap: recounted only after a change was committed).
    func searchCoverage() async throws(KBError) -> SearchCoverage
    /// The `limit` chunks whose `model` vectors have the highest cosine with `query`, best first.
    func nearestChunks(model: String, to query: [Float], limit: Int) async throws(KBError) -> [ScoredChunk]
    /// The stored `model` vectors of these chunks (those that have one).
    func storedVectors(model: String, chunkIDs: [Int]) async throws(KBError) -> [Int: [Float]]
}

/// Everything kb keeps: documents and chunks, keyword and vector search, conversations and feedback, users.
/// A new store (PostgreSQL) implements this and passes the store conformance suite (`KBTestSupport`).
public protocol KnowledgeStore: DocumentStore, KeywordIndex, VectorStore, ConversationStore, UserStore, StoreTransfer {}
