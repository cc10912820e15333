import Foundation

/// kb's answer checker. Each answer sentence is compared with every passage the generator was shown:
///
/// - **Lexical support**: the share of the sentence's content terms the passage contains — stemmed words
///   and numbers for English, characters and character bigrams for Chinese — with the terms the question
///   does not already contain (what the sentence newly claims) weighing three times as much. The terms the
///   sentence shares with the question (its subject) must be in the passage too: the support is scaled by
///   their share, so a true fact from a passage about something else, pinned on the question's subject, is
///   not supported. A number in the sentence that the passage lacks halves the support:
///   numbers are where small models invent.
/// - **Semantic support** (when an embedder is available): the cosine of the sentence and the passage,
///   mapped onto 0–1 over the model's typical range for related text, weighing 30%.
///
/// A sentence is supported when its best passage reaches ``supportThreshold``. A citation to a passage that
/// does not support the sentence is replaced by the passage that clearly does (``correctionMargin`` better);
/// a supported sentence without a citation gets one; an unsupported sentence keeps no citation and is
/// marked. The answer abstains when fewer than half of its sentences are supported.
public struct CitationVerifier: AnswerAssessor {
    /// Support a passage must reach to count as supporting a sentence.
    public var supportThreshold = 0.5
    /// How much better another passage must be to replace a wrong citation.
    public var correctionMargin = 0.15
    /// Below this groundedness the answer is withheld.
    public var minimumGroundedness = 0.5
    /// Used for semantic support; nil means lexical only.
    public var embedder: (any Embedder)?
    /// Stored passage vectors of `embedder`'s model by chunk id, used instead of embedding the passages again.
    public var passageVectors: [Int: [Float]] = [:]
    /// The question's query vector from retrieval (same model), used instead of embedding the question again.
    public var questionVector: [Float]?

    public init(embedder: (any Embedder)? = nil, passageVectors: [Int: [Float]] = [:], questionVector: [Float]? = nil) {
        self.embedder = embedder
        self.passageVectors = passageVectors
        self.questionVector = questionVector
    }

    public func assess(answer: String, question: AnalyzedQuery, passages: [RetrievedPassage], passagesShown: Int,
                       retrievalConfidence: Double, generatorAbstained: Bool) throws(KBError) -> Assessment {
        let shown = Array(passages.prefix(max(0, passagesShown)))
        let questionTerms = ContentTerms(question.normalized)
        let passageTerms = shown.map { ContentTerms($0.passage.heading + "\n" + $0.passage.text) }
        let pieces = Self.sentences(answer)

        // Semantic similarity of every sentence to every passage, in one embedding call each side.
        var semantic: [[Double]]? = nil
        if let embedder, !pieces.isEmpty, !shown.isEmpty {
            let sentenceVectors = try embedder.embed(pieces.map(\.text), kind: .query).vectors
            // Stored vectors where the store has them; only the rest are embedded.
            let missing = shown.filter { self.passageVectors[$0.passage.chunkID]?.count != embedder.dimension }
            let computed = missing.isEmpty ? [] : try embedder.embed(missing.map { $0.passage.text }, kind: .passage).vectors
            var fresh: [Int: [Float]] = [:]
            for (passage, vector) in zip(missing, computed) { fresh[passage.passage.chunkID] = vector }
            let passageVectors = shown.map { self.passageVectors[$0.passage.chunkID].flatMap { $0.count == embedder.dimension ? $0 : nil }
                ?? fresh[$0.passage.chunkID] ?? [] }
            let range = Self.cosineRange(model: embedder.model)
            semantic = sentenceVectors.map { s in
                passageVectors.map { p in
                    let cosine = Double(zip(s, p).reduce(Float(0)) { $0 + $1.0 * $1.1 })
                    return min(1, max(0, (cosine - range.low) / (range.high - range.low)))
                }
            }
        }

        var assessed: [AssessedSentence] = []
        var citationPairs = 0, correctPairs = 0
        for (index, piece) in pieces.enumerated() {
            let terms = ContentTerms(piece.text)
            // A sentence that only restates the question ("The keeper of X is the keeper of X.") answers nothing.
            let restates = !terms.isEmpty && terms.subtracting(questionTerms).isEmpty
            let scored = !terms.isEmpty && !restates && !(generatorAbstained && pieces.count == 1)
            var supports = passageTerms.enumerated().map { p, passage in
                Self.lexicalSupport(sentence: terms, passage: passage, question: questionTerms)
            }
            if let semantic {
                supports = supports.enumerated().map { p, lexical in 0.7 * lexical + 0.3 * semantic[index][p] }
            }
            let best = supports.indices.max { supports[$0] < supports[$1] }
            let bestSupport = best.map { supports[$0] } ?? 0
            let valid = piece.citations.filter { $0 >= 1 && $0 <= shown.count }
            for number in piece.citations {
                citationPairs += 1
                if number >= 1 && number <= shown.count && supports[number - 1] >= supportThreshold { correctPairs += 1 }
            }
            var citations = valid.filter { supports[$0 - 1] >= supportThreshold }
            var corrected = citations.count != piece.citations.count
            if citations.isEmpty, let best, bestSupport >= supportThreshold {
                let citedBest = valid.map { supports[$0 - 1] }.max() ?? 0
                if valid.isEmpty || bestSupport >= citedBest + correctionMargin || citedBest < supportThreshold {
                    citations = [best + 1]
                    corrected = true
                }
            }
            let supported = !scored || bestSupport >= supportThreshold
            if !scored { citations = valid; corrected = false }
            let evidence = supported && scored ? citations.compactMap { number in
                Self.evidence(for: terms, in: shown[number - 1].passage.text).map { AssessedSentence.Evidence(passage: number, start: $0.lowerBound, end: $0.upperBound) }
            } : []
            assessed.append(AssessedSentence(text: piece.text, citations: citations, generatorCitations: piece.citations,
                                             supported: supported, support: (bestSupport * 1000).rounded() / 1000,
                                             corrected: corrected, scored: scored, evidence: evidence))
        }

        let scoredSentences = assessed.filter(\.scored)
        let groundedness = scoredSentences.isEmpty ? 0 : Double(scoredSentences.filter(\.supported).count) / Double(scoredSentences.count)
        let citationAccuracy: Double? = citationPairs == 0 ? nil : Double(correctPairs) / Double(citationPairs)
        let relevance = try relevanceScore(question: question, questionTerms: questionTerms, sentences: assessed, passages: shown)
        let quality = QualityScores(groundedness: Self.round(groundedness), citationAccuracy: citationAccuracy.map(Self.round),
                                    retrievalConfidence: Self.round(retrievalConfidence), relevance: Self.round(relevance))

        var reason: String?
        if generatorAbstained {
            reason = "The generator found no answer in the passages."
        } else if retrievalConfidence < RetrievalConfidence.threshold {
            reason = "Retrieval confidence \(Self.round(retrievalConfidence)) is below \(RetrievalConfidence.threshold)."
        } else if scoredSentences.isEmpty {
            reason = "The answer says nothing the question does not already say."
        } else if let mismatch = Self.languageMismatch(answer: assessed.map(\.text).joined(separator: " "), question: question) {
            reason = mismatch
        } else if groundedness < minimumGroundedness {
            reason = "Only \(scoredSentences.filter(\.supported).count) of \(scoredSentences.count) answer sentences are supported by the passages."
        } else if Self.asksForNumber(question), !scoredSentences.filter(\.supported).contains(where: { Self.hasNumber($0.text) }) {
            reason = "The question asks for a number or a year and the answer gives none."
        }
        return Assessment(sentences: assessed, quality: quality, text: Self.render(assessed), abstainReason: reason)
    }

    /// Why an answer in the wrong language is rejected, or nil: a Chinese question answered without a Chinese
    /// character (beyond a short name), an English one answered in Chinese.
    static func languageMismatch(answer: String, question: AnalyzedQuery) -> String? {
        let detected = Script.detectLanguage(answer)
        switch question.language {
        case "zh" where detected == "en" && !answer.unicodeScalars.contains(where: { Script.isHan($0.value) })
            && answer.split(whereSeparator: \.isWhitespace).count > 3:
            return "The answer is in English; the question was asked in Chinese."
        case "en" where detected == "zh":
            return "The answer is in Chinese; the question was asked in English."
        default:
            return nil
        }
    }

    private static let numberQuestion = try! NSRegularExpression(
        pattern: #"\b(how (many|much|old)|what (percentage|proportion|fraction|number|year)|which year|in what year)\b|多少|几[个年次名位种月天岁倍]|哪一?年|何年|百分之几"#,
        options: [.caseInsensitive])

    /// True when the question asks for a quantity or a year.
    static func asksForNumber(_ question: AnalyzedQuery) -> Bool {
        let text = question.normalized
        return numberQuestion.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }

    /// A Chinese numeral next to another numeral or a counter (一九六二, 三年, 第五): not the 一 of 一般 or 统一.
    private static let chineseNumber = try! NSRegularExpression(
        pattern: #"[零〇一二三四五六七八九十百千万亿两][零〇一二三四五六七八九十百千万亿两年月日号个次名位人元岁倍种条座层米吨成%％]|第[零〇一二三四五六七八九十百千]"#)

    /// True when `text` holds a number: digits, a Chinese numeral, or an English number word.
    static func hasNumber(_ text: String) -> Bool {
        if text.contains(where: { $0.isASCII && $0.isNumber || ("０"..."９").contains($0) }) { return true }
        if chineseNumber.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil { return true }
        let words: Set<String> = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
                                  "twenty", "thirty", "hundred", "thousand", "million", "billion", "half", "once", "twice", "dozen", "several"]
        return text.lowercased().split(whereSeparator: { !$0.isLetter }).contains { words.contains(String($0)) }
    }

    /// Relevance: the question's content terms found in the answer and its cited passages, averaged with the
    /// semantic similarity of question and answer when an embedder is available.
    private func relevanceScore(question: AnalyzedQuery, questionTerms: ContentTerms, sentences: [AssessedSentence],
                                passages: [RetrievedPassage]) throws(KBError) -> Double {
        let answerText = sentences.map(\.text).joined(separator: " ")
        guard !answerText.isEmpty else { return 0 }
        let cited = Set(sentences.flatMap(\.citations)).sorted().map { passages[$0 - 1].passage.text }
        let withSources = ContentTerms(([answerText] + cited).joined(separator: "\n"))
        // Half from the answer's own words, half from the answer with the passages it cites (a short answer
        // such as "In 1889 [1]." leaves the question's words to its source).
        let lexical = questionTerms.isEmpty ? 1
            : 0.5 * questionTerms.recall(in: ContentTerms(answerText)) + 0.5 * questionTerms.recall(in: withSources)
        guard let embedder else { return lexical }
        let vectors: [[Float]]
        if let questionVector, questionVector.count == embedder.dimension {
            vectors = [questionVector] + (try embedder.embed([answerText], kind: .query).vectors)
        } else {
            vectors = try embedder.embed([question.normalized, answerText], kind: .query).vectors
        }
        guard vectors.count == 2 else { return lexical }
        let cosine = Double(zip(vectors[0], vectors[1]).reduce(Float(0)) { $0 + $1.0 * $1.1 })
        let range = Self.cosineRange(model: embedder.model)
        return 0.5 * lexical + 0.5 * min(1, max(0, (cosine - range.low) / (range.high - range.low)))
    }

    /// The typical cosine range from unrelated to closely related text for an embedding model.
    static func cosineRange(model: String) -> (low: Double, high: Double) {
        model.contains("e5") ? (0.75, 0.92) : (0.15, 0.75)
    }

    /// Lexical support of a sentence by a passage (see the type's documentation).
    /// The sentence of `passage` that contains most of the answer sentence's terms (scalar offsets), or nil when none
    /// shares a term.
    static func evidence(for sentence: ContentTerms, in passage: String) -> Range<Int>? {
        let scalars = Array(passage.unicodeScalars)
        var best: (range: Range<Int>, recall: Double)?
        for range in SentenceSplitter.split(scalars, in: 0..<scalars.count) {
            var view = String.UnicodeScalarView()
            view.append(contentsOf: scalars[range])
            let recall = sentence.recall(in: ContentTerms(String(view)))
            if recall > (best?.recall ?? 0) { best = (range, recall) }
        }
        return best?.range
    }

    static func lexicalSupport(sentence: ContentTerms, passage: ContentTerms, question: ContentTerms) -> Double {
        guard !sentence.isEmpty else { return 0 }
        let all = sentence.recall(in: passage)
        let novel = sentence.subtracting(question)
        var support = novel.isEmpty ? all : 0.25 * all + 0.75 * novel.recall(in: passage)
        // The subject the sentence shares with the question must be in the passage too: a true fact from a
        // passage about something else, attached to the question's subject, is not supported.
        let topic = sentence.intersecting(question)
        if !topic.isEmpty { support *= max(0.1, topic.recall(in: passage)) }
        if !sentence.numbers.isSubset(of: passage.numbers) { support *= 0.5 }
        return support
    }

    /// Answer sentences with the citation markers each carries. A piece that is only markers ("[2]" after
    /// the full stop) belongs to the sentence before it.
    static func sentences(_ answer: String) -> [(text: String, citations: [Int])] {
        var result: [(text: String, citations: [Int])] = []
        for var raw in SentenceSplitter.split(answer) {
            // Markers at the start of a piece ("。[1] 下一句") close the sentence before it.
            let (leading, rest) = CitationMarkers.leading(raw)
            if !leading.isEmpty && !result.isEmpty {
                result[result.count - 1].citations += leading
                raw = rest
            }
            let numbers = CitationMarkers.numbers(in: raw)
            let text = CitationMarkers.strip(raw)
            let hasWords = text.unicodeScalars.contains { Script.isWordCharacter($0) || Script.isCJK($0.value) }
            if !hasWords {
                if !result.isEmpty { result[result.count - 1].citations += numbers }
                continue
            }
            result.append((text, numbers))
        }
        return result.map { ($0.text, $0.citations.reduce(into: [Int]()) { if !$0.contains($1) { $0.append($1) } }) }
    }

    /// The checked answer as text: each sentence followed by its citations.
    static func render(_ sentences: [AssessedSentence]) -> String {
        var text = ""
        for sentence in sentences {
            var body = sentence.text
            let cjk = body.unicodeScalars.contains { Script.isCJK($0.value) }
            let markers = sentence.citations.map { "[\($0)]" }.joined()
            if !markers.isEmpty {
                // Markers go before the sentence's final punctuation.
                if let last = body.last, ".!?。！？".contains(last) {
                    body.removeLast()
                    body += (cjk ? "" : " ") + markers + String(last)
                } else {
                    body += (cjk ? "" : " ") + markers
                }
            }
            if !text.isEmpty && !cjk { text += " " }
            text += body
        }
        return text
    }

    static func round(_ value: Double) -> Double { (value * 1000).rounded() / 1000 }
}

/// The content terms of a text: stemmed words and numbers (stop words dropped), CJK characters
/// (particles dropped) and CJK bigrams.
struct ContentTerms: Equatable {
    var words: Set<String> = []
    var numbers: Set<String> = []
    var characters: Set<String> = []
    var bigrams: Set<String> = []

    private static let stopStems = Set(Stopwords.english.map { PorterStemmer.stem($0) })

    init(_ text: String) {
        let tokens = TextAnalyzer.tokenize(text)
        for (i, token) in tokens.enumerated() {
            switch token.kind {
            case .word:
                if token.term.contains(where: \.isNumber) { numbers.insert(token.term); words.insert(token.term) }
                else if !Self.stopStems.contains(token.term) && token.term.count > 1 { words.insert(token.term) }
            case .cjk:
                if !Stopwords.chineseCharacters.contains(token.term) { characters.insert(token.term) }
                if i + 1 < tokens.count, tokens[i + 1].kind == .cjk, tokens[i + 1].range.lowerBound == token.range.upperBound {
                    bigrams.insert(token.term + tokens[i + 1].term)
                }
            }
        }
    }

    private init(words: Set<String>, numbers: Set<String>, characters: Set<String>, bigrams: Set<String>) {
        self.words = words
        self.numbers = numbers
        self.characters = characters
        self.bigrams = bigrams
    }

    var isEmpty: Bool { words.isEmpty && characters.isEmpty }

    /// The terms also in `other`.
    func intersecting(_ other: ContentTerms) -> ContentTerms {
        ContentTerms(words: words.intersection(other.words), numbers: numbers.intersection(other.numbers),
                     characters: characters.intersection(other.characters), bigrams: bigrams.intersection(other.bigrams))
    }

    /// The terms not in `other`.
    func subtracting(_ other: ContentTerms) -> ContentTerms {
        ContentTerms(words: words.subtracting(other.words), numbers: numbers.subtracting(other.numbers),
                     characters: characters.subtracting(other.characters), bigrams: bigrams.subtracting(other.bigrams))
    }

    /// Share of these terms found in `other`: words by count; Chinese by characters (30%) and bigrams (70%).
    func recall(in other: ContentTerms) -> Double {
        let wordCount = Double(words.count), characterCount = Double(characters.count)
        guard wordCount + characterCount > 0 else { return 0 }
        let wordRecall = words.isEmpty ? 0 : Double(words.intersection(other.words).count) / wordCount
        var cjkRecall = 0.0
        if !characters.isEmpty {
            let unigram = Double(characters.intersection(other.characters).count) / characterCount
            let bigram = bigrams.isEmpty ? unigram : Double(bigrams.intersection(other.bigrams).count) / Double(bigrams.count)
            cjkRecall = 0.3 * unigram + 0.7 * bigram
        }
        return (wordRecall * wordCount + cjkRecall * characterCount) / (wordCount + characterCount)
    }
}
