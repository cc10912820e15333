import Foundation

/// A SQuAD-format question-answering set (SQuAD 1.1/2.0, CMRC 2018): titled articles of paragraphs, each
/// with questions and gold answer spans; `is_impossible` marks questions the paragraph does not answer.
public struct SQuADDataset: Sendable {
    public struct Paragraph: Sendable { public var id: String; public var title: String; public var context: String }
    public struct Question: Sendable {
        public var id: String
        public var text: String
        public var answers: [String]
        public var isImpossible: Bool
        /// Index into ``paragraphs``.
        public var paragraph: Int
    }
    public var path: String
    public var paragraphs: [Paragraph]
    /// Questions in file order.
    public var questions: [Question]

    public static func load(_ path: String) throws(KBError) -> SQuADDataset {
        guard let data = FileManager.default.contents(atPath: path) else { throw KBError.pathNotFound(path) }
        guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let articles = json["data"] as? [[String: Any]] else {
            throw KBError(.invalidArgument, "\(path) is not a SQuAD-format file (expected {\"data\": [{\"paragraphs\": [{\"context\", \"qas\"}]}]}).")
        }
        var paragraphs: [Paragraph] = []
        var questions: [Question] = []
        for (a, article) in articles.enumerated() {
            let title = article["title"] as? String ?? ""
            for (p, paragraph) in (article["paragraphs"] as? [[String: Any]] ?? []).enumerated() {
                guard let context = paragraph["context"] as? String else { continue }
                let id = (paragraph["id"] as? String) ?? "\(a)-\(p)"
                paragraphs.append(Paragraph(id: id, title: title, context: context))
                for qa in paragraph["qas"] as? [[String: Any]] ?? [] {
                    // Questions without text (CMRC 2018's trial set has two) cannot be asked.
                    guard let text = qa["question"] as? String, !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { continue }
                    let answers = (qa["answers"] as? [[String: Any]] ?? []).compactMap { $0["text"] as? String }
                    let impossible = (qa["is_impossible"] as? Bool) ?? false
                    guard impossible || !answers.isEmpty else { continue }
                    questions.append(Question(id: (qa["id"] as? String) ?? "\(id)-q\(questions.count)", text: text, answers: answers,
                                              isImpossible: impossible, paragraph: paragraphs.count - 1))
                }
            }
        }
        guard !paragraphs.isEmpty, !questions.isEmpty else {
            throw KBError(.invalidArgument, "\(path) has \(paragraphs.count) paragraphs and \(questions.count) questions; both must be non-zero.")
        }
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        return SQuADDataset(path: (absolute as NSString).standardizingPath, paragraphs: paragraphs, questions: questions)
    }

    /// The first `limit` questions, and the paragraphs withheld so that at least `withhold` of them become
    /// unanswerable: paragraphs of the last selected questions, taken whole (every selected question on a
    /// withheld paragraph counts as unanswerable).
    public func plan(limit: Int?, withhold: Int) -> (questions: [Question], withheld: Set<Int>) {
        let selected = Array(questions.prefix(limit ?? questions.count))
        var withheld = Set<Int>()
        var covered = 0
        for question in selected.reversed() where covered < withhold {
            guard !question.isImpossible, withheld.insert(question.paragraph).inserted else { continue }
            covered = selected.filter { $0.paragraph == question.paragraph }.count + covered
        }
        return (selected, withheld)
    }

    /// The paragraphs as a retrieval corpus, without the withheld ones.
    func corpus(withholding withheld: Set<Int>) -> BEIRDataset {
        let documents = paragraphs.enumerated().filter { !withheld.contains($0.offset) }
            .map { BEIRDataset.Document(id: $0.element.id, title: $0.element.title, text: $0.element.context) }
        return BEIRDataset(corpusPath: path, documents: documents, queries: [], judgements: [:])
    }
}

/// Answer scoring as the official evaluation scripts define it.
public enum AnswerScoring {
    /// Exact match and F1 of a prediction against gold answers (the best over the answers). Chinese uses the
    /// CMRC 2018 definitions (character segmentation with English words kept whole, punctuation removed, F1
    /// from the longest common substring); other languages the SQuAD ones (lower case, no punctuation, no
    /// articles, F1 over the bag of tokens).
    public static func score(prediction: String, answers: [String], language: String) -> (exactMatch: Double, f1: Double) {
        var em = 0.0, f1 = 0.0
        for answer in answers {
            if language == "zh" {
                em = max(em, removePunctuation(prediction) == removePunctuation(answer) ? 1 : 0)
                f1 = max(f1, cmrcF1(prediction, answer))
            } else {
                em = max(em, squadNormalize(prediction) == squadNormalize(answer) ? 1 : 0)
                f1 = max(f1, squadF1(prediction, answer))
            }
        }
        return (em, f1)
    }

    static let asciiPunctuation = Set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
    static let cmrcPunctuation: Set<Character> = Set("-:_*^/\\~`+=，。：？！“”；’《》·、「」（）－～『』…").union(asciiPunctuation)

    static func squadNormalize(_ text: String) -> String {
        let lowered = text.lowercased().filter { !asciiPunctuation.contains($0) }
        return lowered.split(whereSeparator: \.isWhitespace).filter { !["a", "an", "the"].contains($0) }.joined(separator: " ")
    }

    static func squadF1(_ prediction: String, _ answer: String) -> Double {
        let p = squadNormalize(prediction).split(separator: " ").map(String.init)
        let g = squadNormalize(answer).split(separator: " ").map(String.init)
        guard !p.isEmpty, !g.isEmpty else { return p == g ? 1 : 0 }
        var counts: [String: Int] = [:]
        for token in g { counts[token, default: 0] += 1 }
        var common = 0
        for token in p where (counts[token] ?? 0) > 0 { counts[token]! -= 1; common += 1 }
        guard common > 0 else { return 0 }
        let precision = Double(common) / Double(p.count), recall = Double(common) / Double(g.count)
        return 2 * precision * recall / (precision + recall)
    }

    static func removePunctuation(_ text: String) -> String {
        String(text.lowercased().trimmingCharacters(in: .whitespacesAndNewlines).filter { !cmrcPunctuation.contains($0) })
    }

    /// CMRC's mixed segmentation: every CJK character is a segment; runs of other characters are split into
    /// words at white space (the official script uses NLTK's word tokenizer there); punctuation is dropped.
    static func mixedSegments(_ text: String) -> [String] {
        var segments: [String] = []
        var run = ""
        func flush() {
            segments += run.split(whereSeparator: \.isWhitespace).map(String.init)
            run = ""
        }
        for character in text.lowercased() {
            if cmrcPunctuation.contains(character) { flush(); continue }
            if character.unicodeScalars.contains(where: { Script.isCJK($0.value) }) {
                flush()
                segments.append(String(character))
            } else {
                run.append(character)
            }
        }
        flush()
        return segments
    }

    static func cmrcF1(_ prediction: String, _ answer: String) -> Double {
        let p = mixedSegments(prediction), g = mixedSegments(answer)
        guard !p.isEmpty, !g.isEmpty else { return 0 }
        // Longest common substring over segments.
        var best = 0
        var previous = [Int](repeating: 0, count: p.count + 1)
        for i in 1...g.count {
            var current = [Int](repeating: 0, count: p.count + 1)
            for j in 1...p.count where g[i - 1] == p[j - 1] {
                current[j] = previous[j - 1] + 1
                best = max(best, current[j])
            }
            previous = current
        }
        guard best > 0 else { return 0 }
        let precision = Double(best) / Double(p.count), recall = Double(best) / Double(g.count)
        return 2 * precision * recall / (precision + recall)
    }
}

/// The outcome of `kb eval qa`.
public struct QAMetrics: Sendable, Codable {
    public struct PerQuestion: Sendable, Codable {
        public var id: String
        public var question: String
        public var answerable: Bool
        public var gold: [String]
        public var answer: String
        public var abstained: Bool
        public var exactMatch: Double
        public var f1: Double
        /// True when a citation points to the gold paragraph.
        public var citesGold: Bool
        public var citationAccuracy: Double?
        public var retrievalConfidence: Double
        /// The signals behind the confidence (see ``QualityScores``).
        public var keywordCoverage: Double
        public var vectorSimilarity: Double?
        public var groundedness: Double
        public var seconds: Double
        public var firstToken: Double?
        /// The strategy of the attempt kb kept (`initial` or a repair, ``RepairStrategy``); nil when it abstained.
        public var strategy: String?
        /// Attempts made (1 when the first answer passed the check or nothing was generated).
        public var attempts: Int
        /// True when the first generated answer was rejected by the check (a repair was called for).
        public var initialRejected: Bool
        enum CodingKeys: String, CodingKey {
            case id, question, answerable, gold, answer, abstained, f1, groundedness, seconds, strategy, attempts
            case initialRejected = "initial_rejected"
            case exactMatch = "exact_match", citesGold = "cites_gold", citationAccuracy = "citation_accuracy"
            case retrievalConfidence = "retrieval_confidence", firstToken = "first_token", vectorSimilarity = "vector_similarity"
            case keywordCoverage = "keyword_coverage"
        }
    }
    public var generator: GeneratorInfo
    public var questions: Int
    public var answerable: Int
    public var unanswerable: Int
    /// Over answerable questions (an abstention scores 0).
    public var exactMatch: Double
    public var f1: Double
    /// Over the answerable questions kb answered.
    public var exactMatchAnswered: Double
    public var f1Answered: Double
    public var abstentionAnswerable: Double
    /// Higher is better: kb said "not found" when the knowledge base did not hold the answer.
    public var abstentionUnanswerable: Double
    /// Answered answerable questions whose citations include the gold paragraph.
    public var goldCitationRate: Double
    /// Mean share of the generator's own citations that kb found correct.
    public var generatorCitationAccuracy: Double?
    public var latencyP50: Double
    public var latencyP90: Double
    public var latencyP99: Double
    /// Latency of the questions kb answered (not abstained).
    public var answeredLatencyP50: Double
    public var answeredLatencyP90: Double
    /// Questions whose first generated answer the check rejected, and the share of them a repair rescued.
    public var initialRejected: Int
    public var rescueRate: Double
    /// Per repair strategy: answers it rescued, and how many of those were wrong (the question was unanswerable,
    /// or the answer shares nothing with the gold answer: F1 0).
    public var rescues: [Rescue]

    public struct Rescue: Sendable, Codable, Equatable {
        public var strategy: String
        public var rescued: Int
        public var wrong: Int
    }
    public var firstTokenP50: Double?
    /// The retrieval-confidence threshold that best separates answerable from unanswerable questions here
    /// (highest balanced accuracy), with that accuracy.
    public var calibratedThreshold: Double?
    public var calibratedBalancedAccuracy: Double?
    public var seconds: Double
    public var perQuestion: [PerQuestion]

    enum CodingKeys: String, CodingKey {
        case generator, questions, answerable, unanswerable, f1, seconds
        case exactMatch = "exact_match", exactMatchAnswered = "exact_match_answered", f1Answered = "f1_answered"
        case abstentionAnswerable = "abstention_answerable", abstentionUnanswerable = "abstention_unanswerable"
        case goldCitationRate = "gold_citation_rate", generatorCitationAccuracy = "generator_citation_accuracy"
        case latencyP50 = "latency_p50", latencyP90 = "latency_p90", latencyP99 = "latency_p99", firstTokenP50 = "first_token_p50"
        case answeredLatencyP50 = "answered_latency_p50", answeredLatencyP90 = "answered_latency_p90"
        case initialRejected = "initial_rejected", rescueRate = "rescue_rate", rescues
        case calibratedThreshold = "calibrated_threshold", calibratedBalancedAccuracy = "calibrated_balanced_accuracy"
        case perQuestion = "per_question"
    }
}

extension KnowledgeBase {
    /// Ingests a SQuAD set's paragraphs (without the withheld ones) as a corpus kb can reuse across runs.
    public func ingest(_ dataset: SQuADDataset, withholding withheld: Set<Int>, embed: Bool,
                       progress: @escaping @Sendable (IngestProgress) -> Void = { _ in },
                       isCancelled: @escaping @Sendable () -> Bool = { false }) async throws(KBError) -> IngestSummary {
        try await ingest(dataset.corpus(withholding: withheld), embed: embed, progress: progress, isCancelled: isCancelled)
    }

    /// Asks every planned question and scores the answers.
    public func evaluate(_ dataset: SQuADDataset, questions: [SQuADDataset.Question], withheld: Set<Int>, passages: Int? = nil,
                         progress: @Sendable (Int, Int, QAMetrics.PerQuestion) -> Void = { _, _, _ in },
                         isCancelled: @Sendable () -> Bool = { false }) async throws(KBError) -> QAMetrics {
        let started = Date()
        let corpus = dataset.corpus(withholding: withheld)
        var results: [QAMetrics.PerQuestion] = []
        var info = GeneratorInfo(name: "", model: nil)
        for (index, question) in questions.enumerated() {
            if isCancelled() { break }
            let answerable = !question.isImpossible && !withheld.contains(question.paragraph)
            let answer = try await ask(question.text, passages: passages, remember: false)
            info = answer.generator
            let prediction = answer.abstained ? "" : CitationMarkers.strip(answer.answer)
            let language = Script.detectLanguage(question.text)
            let (em, f1) = answerable ? AnswerScoring.score(prediction: prediction, answers: question.answers, language: language) : (0, 0)
            let goldPath = corpus.path(of: dataset.paragraphs[question.paragraph].id)
            let result = QAMetrics.PerQuestion(
                id: question.id, question: question.text, answerable: answerable, gold: question.answers, answer: answer.answer,
                abstained: answer.abstained, exactMatch: em, f1: f1,
                citesGold: answer.citations.contains { $0.path == goldPath && $0.supported },
                citationAccuracy: answer.quality.citationAccuracy, retrievalConfidence: answer.quality.retrievalConfidence,
                keywordCoverage: answer.quality.keywordCoverage, vectorSimilarity: answer.quality.vectorSimilarity,
                groundedness: answer.quality.groundedness, seconds: answer.timings.total, firstToken: answer.timings.firstToken,
                strategy: answer.abstained ? nil : (answer.attempts.last?.strategy ?? "initial"), attempts: max(1, answer.attempts.count),
                initialRejected: answer.attempts.first?.rejected != nil)
            results.append(result)
            progress(index + 1, questions.count, result)
        }
        return QAMetrics.summarize(results, generator: info, seconds: Date().timeIntervalSince(started))
    }
}

extension QAMetrics {
    static func summarize(_ results: [PerQuestion], generator: GeneratorInfo, seconds: Double) -> QAMetrics {
        let answerable = results.filter(\.answerable), unanswerable = results.filter { !$0.answerable }
        let answered = answerable.filter { !$0.abstained }
        func mean(_ values: [Double]) -> Double { values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count) }
        func percentile(_ values: [Double], _ p: Double) -> Double {
            guard !values.isEmpty else { return 0 }
            let sorted = values.sorted()
            return sorted[min(sorted.count - 1, Int((p * Double(sorted.count - 1)).rounded()))]
        }
        let accuracies = results.compactMap(\.citationAccuracy)
        let firstTokens = results.compactMap(\.firstToken)
        // Calibration: the confidence threshold with the best balanced accuracy.
        var threshold: Double?, balanced: Double?
        if !answerable.isEmpty && !unanswerable.isEmpty {
            for step in 0...100 {
                let t = Double(step) / 100
                let keep = Double(answerable.filter { $0.retrievalConfidence >= t }.count) / Double(answerable.count)
                let refuse = Double(unanswerable.filter { $0.retrievalConfidence < t }.count) / Double(unanswerable.count)
                let score = (keep + refuse) / 2
                if score > (balanced ?? -1) { balanced = score; threshold = t }
            }
        }
        let rejected = results.filter(\.initialRejected)
        var rescues: [Rescue] = []
        for result in rejected {
            guard let strategy = result.strategy, strategy != "initial" else { continue }
            let wrong = !result.answerable || result.f1 == 0
            if let index = rescues.firstIndex(where: { $0.strategy == strategy }) {
                rescues[index].rescued += 1
                if wrong { rescues[index].wrong += 1 }
            } else {
                rescues.append(Rescue(strategy: strategy, rescued: 1, wrong: wrong ? 1 : 0))
            }
        }
        let answeredSeconds = results.filter { !$0.abstained }.map(\.seconds)
        return QAMetrics(
            generator: generator, questions: results.count, answerable: answerable.count, unanswerable: unanswerable.count,
            exactMatch: mean(answerable.map(\.exactMatch)), f1: mean(answerable.map(\.f1)),
            exactMatchAnswered: mean(answered.map(\.exactMatch)), f1Answered: mean(answered.map(\.f1)),
            abstentionAnswerable: answerable.isEmpty ? 0 : Double(answerable.count - answered.count) / Double(answerable.count),
            abstentionUnanswerable: unanswerable.isEmpty ? 0 : Double(unanswerable.filter(\.abstained).count) / Double(unanswerable.count),
            goldCitationRate: answered.isEmpty ? 0 : Double(answered.filter(\.citesGold).count) / Double(answered.count),
            generatorCitationAccuracy: accuracies.isEmpty ? nil : mean(accuracies),
            latencyP50: percentile(results.map(\.seconds), 0.5), latencyP90: percentile(results.map(\.seconds), 0.9),
            latencyP99: percentile(results.map(\.seconds), 0.99),
            answeredLatencyP50: percentile(answeredSeconds, 0.5), answeredLatencyP90: percentile(answeredSeconds, 0.9),
            initialRejected: rejected.count,
            rescueRate: rejected.isEmpty ? 0 : Double(rescues.reduce(0) { $0 + $1.rescued }) / Double(rejected.count),
            rescues: rescues, firstTokenP50: firstTokens.isEmpty ? nil : percentile(firstTokens, 0.5),
            calibratedThreshold: threshold, calibratedBalancedAccuracy: balanced, seconds: seconds, perQuestion: results)
    }
}
