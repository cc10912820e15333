import Foundation

/// Answers without a language model: picks the sentences of the retrieved passages that cover the
/// most of the question's weighted terms, cites each, and abstains when none covers enough.
///
/// Deterministic; kb's fallback when no model is configured, and the generator used in tests.
public struct ExtractiveGenerator: AnswerGenerator {
    public let name = "extractive"
    public let model: String? = nil
    /// Share of the question's term weight a sentence must cover for kb to answer.
    public var minimumCoverage: Double
    /// At most this many sentences.
    public var maxSentences: Int

    public init(minimumCoverage: Double = 0.5, maxSentences: Int = 3) {
        self.minimumCoverage = minimumCoverage
        self.maxSentences = maxSentences
    }

    struct Candidate {
        var passageNumber: Int
        var position: Int
        var text: String
        var coverage: Double
        var score: Double
    }

    public func generate(_ request: GenerationRequest, onText: @escaping @Sendable (String) -> Void) async throws(KBError) -> GeneratedAnswer {
        let candidates = rankSentences(request)
        guard let best = candidates.first, best.coverage >= minimumCoverage else {
            let text = Self.notFound(language: request.question.language)
            onText(text)
            return GeneratedAnswer(text: text, citedPassages: [], abstained: true, passagesShown: request.passages.count)
        }
        var chosen: [Candidate] = [best]
        var seen: Set<String> = [Self.fingerprint(best.text)]
        for candidate in candidates.dropFirst() where chosen.count < maxSentences {
            guard candidate.coverage >= max(minimumCoverage * 0.6, best.coverage * 0.6) else { continue }
            guard seen.insert(Self.fingerprint(candidate.text)).inserted else { continue }
            chosen.append(candidate)
        }
        chosen.sort { ($0.passageNumber, $0.position) < ($1.passageNumber, $1.position) }
        var text = ""
        var cited: [Int] = []
        for candidate in chosen {
            let cjk = candidate.text.unicodeScalars.last.map { Script.isCJK($0.value) || $0.value >= 0x3000 } ?? false
            let piece = (text.isEmpty || cjk ? "" : " ") + candidate.text + (cjk ? "" : " ") + "[\(candidate.passageNumber)]"
            text += piece
            onText(piece)
            if !cited.contains(candidate.passageNumber) { cited.append(candidate.passageNumber) }
        }
        return GeneratedAnswer(text: text, citedPassages: cited, abstained: false, passagesShown: request.passages.count)
    }

    /// Sentences of all passages, best first.
    func rankSentences(_ request: GenerationRequest) -> [Candidate] {
        let concepts = request.question.searchConcepts
        let weightOf = { (term: String) -> Double in request.termWeights[term] ?? 0 }
        let total = concepts.reduce(0.0) { $0 + $1.terms.reduce(0.0) { $0 + weightOf($1) } }
        guard total > 0 else { return [] }
        let matcher = TermMatcher(request.question)
        var candidates: [Candidate] = []
        for (index, retrieved) in request.passages.enumerated() {
            let headingTerms = Set(matcher.matchedTerms(in: retrieved.passage.heading))
            let scalars = Array(retrieved.passage.text.unicodeScalars)
            for (position, range) in SentenceSplitter.split(scalars, in: 0..<scalars.count).enumerated() {
                let sentence = Self.clean(String(String.UnicodeScalarView(scalars[range])))
                guard TokenEstimator.count(sentence) >= 3 else { continue }
                let terms = Set(matcher.matchedTerms(in: sentence))
                var covered = 0.0
                for term in Set(concepts.flatMap(\.terms)) {
                    if terms.contains(term) { covered += weightOf(term) }
                    else if headingTerms.contains(term) { covered += 0.5 * weightOf(term) }
                }
                let coverage = covered / total
                // Shorter sentences and better-ranked passages win ties.
                let score = coverage + 0.02 * Double(max(0, 6 - index - 1)) - 0.0005 * Double(min(range.count, 400))
                candidates.append(Candidate(passageNumber: index + 1, position: position, text: sentence, coverage: coverage, score: score))
            }
        }
        return candidates.sorted { $0.score > $1.score }
    }

    /// Drops list markers, heading marks and table pipes; collapses white space.
    static func clean(_ sentence: String) -> String {
        var text = sentence.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
        for marker in ["- ", "* ", "+ ", "> "] where text.hasPrefix(marker) { text.removeFirst(marker.count) }
        while text.hasPrefix("#") { text.removeFirst() }
        if let match = text.range(of: #"^\d{1,3}[.)] "#, options: .regularExpression) { text.removeSubrange(match) }
        text = text.trimmingCharacters(in: CharacterSet(charactersIn: "| ").union(.whitespaces))
        return text
    }

    static func fingerprint(_ text: String) -> String {
        String(text.lowercased().unicodeScalars.filter { Script.isWordCharacter($0) || Script.isCJK($0.value) })
    }

    /// The abstention message, in the question's language.
    public static func notFound(language: String) -> String {
        language == "zh"
            ? "知识库中没有找到这个问题的答案。下面列出了最接近的段落。"
            : "I could not find an answer to this in the knowledge base. The closest passages are listed below."
    }
}
