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
    func retrieve(_ query: AnalyzedQuery, limit: Int) throws(KBError) -> [RetrievedPassage]
}
