/// What a generator is asked: the question and the numbered passages retrieved for it.
public struct GenerationRequest: Sendable {
    public var question: AnalyzedQuery
    /// Passages in rank order; passage `i` is cited as `[i + 1]`.
    public var passages: [RetrievedPassage]
    /// Inverse document frequency of each query term in the knowledge base (rarer terms weigh more).
    public var termWeights: [String: Double]
    /// Sampling settings for generators that sample.
    public var sampling: SamplingOptions
    /// How the prompt asks for the answer (a repair asks differently, see ``RepairStage``).
    public var style: PromptStyle

    public init(question: AnalyzedQuery, passages: [RetrievedPassage], termWeights: [String: Double],
                sampling: SamplingOptions = SamplingOptions(), style: PromptStyle = .standard) {
        self.question = question
        self.passages = passages
        self.termWeights = termWeights
        self.sampling = sampling
        self.style = style
    }
}

/// The ways kb's prompt can ask for an answer.
public enum PromptStyle: String, Sendable, Equatable, Codable {
    /// The rules and every passage that fits: one to three sentences with `[n]` citations.
    case standard
    /// One short sentence from few passages (small models answer better from one passage than from five).
    case focused
    /// The passage's answering sentence quoted word for word, with its `[n]`.
    case quote
}

/// A generated answer before kb checks it and assembles citations.
public struct GeneratedAnswer: Sendable, Equatable {
    /// Answer text with `[n]` citation markers.
    public var text: String
    /// 1-based numbers of the passages the text cites, in order of first citation.
    public var citedPassages: [Int]
    /// True when the generator declined to answer from these passages.
    public var abstained: Bool
    /// How many of the request's passages (the best ones) the generator was shown.
    public var passagesShown: Int
    /// Token counts and timings, for generators that run a language model.
    public var stats: CompletionStats?

    public init(text: String, citedPassages: [Int], abstained: Bool, passagesShown: Int, stats: CompletionStats? = nil) {
        self.text = text
        self.citedPassages = citedPassages
        self.abstained = abstained
        self.passagesShown = passagesShown
        self.stats = stats
    }
}

/// Writes an answer from retrieved passages, streaming text as it is produced.
public protocol AnswerGenerator: Sendable {
    /// Name reported with answers: `extractive`, `llama` or `openai`.
    var name: String { get }
    /// The model that writes the answers, if any.
    var model: String? { get }
    /// Generates an answer; calls `onText` with each piece of text as it is produced.
    func generate(_ request: GenerationRequest, onText: @escaping @Sendable (String) -> Void) async throws(KBError) -> GeneratedAnswer
}
