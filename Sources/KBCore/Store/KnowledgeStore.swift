import Foundation

/// A chunk ready to store: the draft plus its keyword-index columns (see ``TextAnalyzer``).
public struct PreparedChunk: Sendable {
    public var draft: ChunkDraft
    var words: String
    var unigrams: String
    var bigrams: String

    init(_ draft: ChunkDraft) {
        self.draft = draft
        let columns = TextAnalyzer.indexColumns(draft.heading.isEmpty ? draft.text : draft.heading + "\n" + draft.text)
        words = columns.words
        unigrams = columns.unigrams
        bigrams = columns.bigrams
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

/// The database of documents, chunks and their indexes.
///
/// Every operation keeps the store consistent on its own: a document and its chunks and index
/// rows are written in one transaction, so an interrupted ingest never leaves half a document.
public protocol KnowledgeStore: AnyObject, Sendable {
    /// Where the store lives (the database file path).
    var location: String { get }
    /// All stored documents.
    func documents() throws(KBError) -> [DocumentRecord]
    /// Inserts or replaces a document and its chunks. Chunks whose content hash is unchanged keep their ids.
    func saveDocument(_ document: DocumentRecord, chunks: [PreparedChunk], replacing existingID: Int?) throws(KBError) -> ChunkWriteStats
    /// Records that a stored document's file moved.
    func moveDocument(id: Int, to path: String, modifiedAt: Double) throws(KBError)
    /// Records a new size and modification time for an unchanged document.
    func touchDocument(id: Int, size: Int, modifiedAt: Double) throws(KBError)
    /// Removes a document with its chunks, index rows and embeddings; returns the chunks removed.
    @discardableResult func removeDocument(id: Int) throws(KBError) -> Int
    /// Starts an ingest run; marks runs left `running` by a killed process as interrupted.
    func beginIngestRun(roots: [String]) throws(KBError) -> Int
    func finishIngestRun(id: Int, counts: IngestRunCounts, status: String) throws(KBError)
    func recordFailure(path: String, reason: String, runID: Int) throws(KBError)
    func clearFailures(paths: [String]) throws(KBError)
    func failures() throws(KBError) -> [IngestFailure]
    /// Chunks with their documents, in the order of `ids`.
    func passages(ids: [Int]) throws(KBError) -> [Passage]
    func status() throws(KBError) -> StatusReport
}

/// Keyword (BM25) search over stored chunks.
public protocol KeywordIndex: Sendable {
    /// Chunks matching an FTS5 query expression, best first, with BM25 scores (higher is better).
    func keywordSearch(_ expression: String, limit: Int) throws(KBError) -> [(chunkID: Int, score: Double)]
    /// Number of chunks containing each indexed term.
    func documentFrequencies(_ terms: [String]) throws(KBError) -> [String: Int]
    /// Number of indexed chunks.
    func passageCount() throws(KBError) -> Int
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

/// Stored embedding vectors, one per chunk and model.
public protocol VectorStore: Sendable {
    /// Chunks that have no vector for `model`, in id order, after `afterID`.
    func chunksMissingEmbeddings(model: String, afterID: Int, limit: Int) throws(KBError) -> [PendingChunk]
    /// Stores vectors (one transaction).
    func saveEmbeddings(model: String, _ vectors: [(chunkID: Int, vector: [Float])]) throws(KBError)
    /// Vector counts per model.
    func embeddingCoverage() throws(KBError) -> [EmbeddingCoverage]
    /// Loads every vector of a model.
    func loadVectors(model: String) throws(KBError) -> VectorSet
}
