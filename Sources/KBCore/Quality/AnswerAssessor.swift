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

    public init(groundedness: Double, citationAccuracy: Double?, retrievalConfidence: Double, relevance: Double) {
        self.groundedness = groundedness
        self.citationAccuracy = citationAccuracy
        self.retrievalConfidence = retrievalConfidence
        self.relevance = relevance
    }

    enum CodingKeys: String, CodingKey {
        case groundedness, relevance
        case citationAccuracy = "citation_accuracy", retrievalConfidence = "retrieval_confidence"
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

    enum CodingKeys: String, CodingKey {
        case text, citations, supported, support, corrected, scored
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

/// Retrieval confidence: how much of the question the best retrieved passages cover, weighing rarer
/// terms more (IDF), plus — when the passages were found by vector search — how close the best one is.
///
/// The abstention threshold ``threshold`` was calibrated on the shared evaluation data with
/// `scripts/calibrate.sh` (answerable questions against the same questions with their gold paragraph
/// withheld); see the README, "Answers".
public enum RetrievalConfidence {
    /// Below this, kb abstains without calling the generator.
    public static let threshold = 0.5

    /// A score in 0…1 for the passages retrieved for `question`.
    public static func estimate(question: AnalyzedQuery, passages: [RetrievedPassage], termWeights: [String: Double]) -> Double {
        let concepts = question.searchConcepts
        guard !concepts.isEmpty, !passages.isEmpty else { return 0 }
        var best = 0.0
        for retrieved in passages.prefix(3) {
            let text = retrieved.passage.heading + "\n" + retrieved.passage.text
            let present = Set(TermMatcher(question).matchedTerms(in: text))
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
