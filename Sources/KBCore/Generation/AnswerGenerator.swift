/// What a generator is asked: the question and the numbered passages retrieved for it.
public struct GenerationRequest: Sendable {
    public var question: AnalyzedQuery
    /// Passages in rank order; passage `i` is cited as `[i + 1]`.
    public var passages: [RetrievedPassage]
    /// Inverse document frequency of each query term in the knowledge base (rarer terms weigh more).
    public var termWeights: [String: Double]
}

/// A generated answer before kb assembles citations.
public struct GeneratedAnswer: Sendable, Equatable {
    /// Answer text with `[n]` citation markers.
    public var text: String
    /// 1-based numbers of the passages the text cites, in order of first citation.
    public var citedPassages: [Int]
    /// True when the generator declined to answer from these passages.
    public var abstained: Bool
}

/// Writes an answer from retrieved passages, streaming text as it is produced.
public protocol AnswerGenerator: Sendable {
    /// Name reported with answers, for example `extractive`.
    var name: String { get }
    /// Generates an answer; calls `onText` with each piece of text as it is produced.
    func generate(_ request: GenerationRequest, onText: @Sendable (String) -> Void) async throws(KBError) -> GeneratedAnswer
}
