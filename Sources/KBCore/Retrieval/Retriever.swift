/// A passage found for a query, with why it was found.
public struct RetrievedPassage: Sendable, Equatable {
    public var passage: Passage
    /// 1-based rank.
    public var rank: Int
    /// Retrieval score (BM25 for keyword search; higher is better).
    public var score: Double
    /// Query terms the passage contains.
    public var matchedTerms: [String]
    /// Ranks and scores on each side, for hybrid and vector retrieval.
    public var explanation: RetrievalExplanation?
    /// Where the query's terms are in the passage's text, when the retriever matched them (snippets reuse it).
    var textSpans: [Range<Int>]?

    public init(passage: Passage, rank: Int, score: Double, matchedTerms: [String], explanation: RetrievalExplanation? = nil) {
        self.passage = passage
        self.rank = rank
        self.score = score
        self.matchedTerms = matchedTerms
        self.explanation = explanation
    }
}

/// Finds the passages that best match a query.
public protocol Retriever: Sendable {
    /// Name of the retrieval mode, for example `keyword`.
    var mode: String { get }
    func retrieve(_ query: AnalyzedQuery, limit: Int) async throws(KBError) -> Retrieval
}

/// What a retriever found: the passages, best first, and the query's embedding when it computed one (the answer
/// check reuses it instead of embedding the question again).
public struct Retrieval: Sendable {
    public var passages: [RetrievedPassage]
    public var queryVector: [Float]?
    /// The embedding model of `queryVector` (whose stored passage vectors it compares with).
    public var vectorModel: String?
    public init(passages: [RetrievedPassage], queryVector: [Float]? = nil, vectorModel: String? = nil) {
        self.passages = passages
        self.queryVector = queryVector
        self.vectorModel = vectorModel
    }
}

/// Reorders retrieved passages before the generator sees them (a cross-encoder, for example).
public protocol Reranker: Sendable {
    /// Registry name.
    var name: String { get }
    /// The passages in their new order, ranks renumbered.
    func rerank(_ query: AnalyzedQuery, passages: [RetrievedPassage]) async throws(KBError) -> [RetrievedPassage]
}

/// The reranking slot's default: keeps the retriever's order.
public struct IdentityReranker: Reranker {
    public let name = "identity"
    public init() {}
    public func rerank(_ query: AnalyzedQuery, passages: [RetrievedPassage]) async throws(KBError) -> [RetrievedPassage] { passages }
}
