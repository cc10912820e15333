import Foundation

/// Quality scores kb returns with every answer, each between 0 and 1.
public struct QualityScores: Sendable, Equatable, Codable {
    /// Share of the answer's sentences that a retrieved passage supports.
    public var groundedness: Double
    /// Share of the model's own citations that point to a passage supporting the cited sentence
    /// (nil when the answer cites nothing).
    public var citationAccuracy: Double?
    /// How well the best retrieved passages cover the question (see ``RetrievalConfidence``).
    public var retrievalConfidence: Double
    /// How much the answer (and the passages it cites) addresses the question.
    public var relevance: Double
    /// The two signals behind ``retrievalConfidence``: the question's weighted terms found in the best passage,
    /// and the best passage's cosine similarity (when vectors were searched).
    public var keywordCoverage: Double
    public var vectorSimilarity: Double?

    public init(groundedness: Double, citationAccuracy: Double?, retrievalConfidence: Double, relevance: Double,
                keywordCoverage: Double = 0, vectorSimilarity: Double? = nil) {
        self.groundedness = groundedness
        self.citationAccuracy = citationAccuracy
        self.retrievalConfidence = retrievalConfidence
        self.relevance = relevance
        self.keywordCoverage = keywordCoverage
        self.vectorSimilarity = vectorSimilarity
    }

    enum CodingKeys: String, CodingKey {
        case groundedness, relevance
        case citationAccuracy = "citation_accuracy", retrievalConfidence = "retrieval_confidence"
        case keywordCoverage = "keyword_coverage", vectorSimilarity = "vector_similarity"
    }
}

/// One sentence of an answer after checking.
public struct AssessedSentence: Sendable, Equatable, Codable {
    /// The sentence without citation markers.
    public var text: String
    /// Passage numbers the sentence cites after checking.
    public var citations: [Int]
    /// Passage numbers the generator cited.
    public var generatorCitations: [Int]
    /// True when a passage supports the sentence.
    public var supported: Bool
    /// Support of the best passage, 0–1.
    public var support: Double
    /// True when kb changed the generator's citations (a wrong passage replaced, a missing one added).
    public var corrected: Bool
    /// False for sentences without content words ("Yes."), which are not scored.
    public var scored: Bool
    /// Where in each cited passage the sentence's support is: the passage sentence sharing most of its terms.
    public var evidence: [Evidence] = []

    /// A span of a cited passage's text that supports an answer sentence.
    public struct Evidence: Sendable, Equatable, Codable {
        /// The citation number (the passage's `[n]`).
        public var passage: Int
        /// Offsets into the passage text (the citation's `text`), in Unicode scalars.
        public var start: Int
        public var end: Int
        public init(passage: Int, start: Int, end: Int) { self.passage = passage; self.start = start; self.end = end }
    }

    enum CodingKeys: String, CodingKey {
        case text, citations, supported, support, corrected, scored, evidence
        case generatorCitations = "generator_citations"
    }
}

/// The verdict on a generated answer.
public struct Assessment: Sendable, Equatable {
    public var sentences: [AssessedSentence]
    public var quality: QualityScores
    /// The answer rebuilt from the checked sentences, with corrected `[n]` markers.
    public var text: String
    /// Why kb should abstain instead of returning the answer, or nil.
    public var abstainReason: String?
}

/// Checks a generated answer against the passages it was written from.
public protocol AnswerAssessor: Sendable {
    /// Verifies each sentence's citations, corrects or marks them, and scores the answer.
    func assess(answer: String, question: AnalyzedQuery, passages: [RetrievedPassage], passagesShown: Int,
                retrievalConfidence: Double, generatorAbstained: Bool) throws(KBError) -> Assessment
}

/// Retrieval confidence: how well the best retrieved passages cover the question.
///
/// Two signals, each in 0…1: **lexical coverage** — the share of the question's terms (weighted by IDF,
/// a CJK concept counted by the share of its bigrams) found in the best of the top three passages — and,
/// when the passages came with vector scores from a calibrated model, **semantic closeness** — the best
/// cosine mapped linearly from ``cosineFloor`` (0) to ``cosineCeiling`` (1). The confidence is their mean, or
/// the lexical coverage alone without vectors.
///
/// Calibrated with `scripts/calibrate.sh` on CMRC 2018 (1,000 Chinese questions, 303 with their paragraph
/// withheld) and SciFact (300 English claims, 100 withheld, 1,000 distractor abstracts): the weights and the
/// threshold maximise the mean balanced accuracy while keeping at least 80% of answerable questions in both
/// languages (README, "Answers").
public enum RetrievalConfidence {
    /// Below this, kb abstains without calling the generator.
    public static let threshold = 0.41
    /// The cosine range over which multilingual-e5 similarity goes from "unrelated" to "certainly related".
    public static let cosineFloor = 0.80
    public static let cosineCeiling = 0.95

    /// True for embedding models whose cosine range was calibrated (the e5 family).
    public static func isCalibrated(model: String?) -> Bool { model?.contains("e5") == true }

    /// The confidence (0…1) for the passages retrieved for `question`, with its two signals.
    public static func estimate(question: AnalyzedQuery, passages: [RetrievedPassage], termWeights: [String: Double],
                                vectorModel: String? = nil) -> (confidence: Double, keywordCoverage: Double, vectorSimilarity: Double?) {
        let lexical = lexicalCoverage(question: question, passages: passages, termWeights: termWeights)
        let cosine = passages.prefix(3).compactMap { $0.explanation?.vectorScore }.max()
        guard isCalibrated(model: vectorModel), let cosine else { return (lexical, lexical, cosine) }
        let semantic = min(1, max(0, (cosine - cosineFloor) / (cosineCeiling - cosineFloor)))
        return (0.5 * lexical + 0.5 * semantic, lexical, cosine)
    }

    static func lexicalCoverage(question: AnalyzedQuery, passages: [RetrievedPassage], termWeights: [String: Double]) -> Double {
        let concepts = question.searchConcepts
        guard !concepts.isEmpty, !passages.isEmpty else { return 0 }
        let matcher = TermMatcher(question)
        var best = 0.0
        for retrieved in passages.prefix(3) {
            let present = Set(matcher.matchedTerms(in: retrieved.passage.heading + "\n" + retrieved.passage.text))
            var covered = 0.0, total = 0.0
            for concept in concepts {
                let weights = concept.terms.map { max(termWeights[$0] ?? 1, 0.1) }
                let weight = weights.reduce(0, +) / Double(max(1, weights.count))
                let share = Double(concept.terms.filter(present.contains).count) / Double(max(1, concept.terms.count))
                covered += weight * share
                total += weight
            }
            best = max(best, total > 0 ? covered / total : 0)
        }
        return best
    }
}
