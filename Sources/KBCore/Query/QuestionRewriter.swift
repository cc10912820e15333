import Foundation

/// Input understanding for conversations: turns a follow-up ("and when did it close?", "它的作者是谁？")
/// into a question that can be searched on its own.
public protocol QuestionRewriter: Sendable {
    /// The standalone question, or nil to search with the question as asked.
    func rewrite(_ question: AnalyzedQuery, history: [AnswerRecord]) async throws(KBError) -> String?
}

/// The heuristic rewriter, used when no language model is available (and as the model's fallback).
///
/// A question is a follow-up when it has earlier turns and either refers back — English pronouns (it,
/// they, he, she, this, that, there …) or an opening "and", "what about", "how about"; Chinese 它, 他, 她,
/// 其, 这个, 那个, 该 or an opening 那, 那么, 还有 — or has at most one content term of its own. Then:
/// - Chinese: the topic of the previous standalone question — its first run of Chinese characters, cut
///   before the first particle or question word (是, 在, 有, 的, 谁, 什么 …) — replaces the first pronoun
///   (它/他/她/其/该, 这个 …), so "它的作者是谁？" after "红楼梦是什么时候写的？" becomes "红楼梦的作者是谁？";
///   without a pronoun the topic is put in front;
/// - other languages: the names in the previous standalone question (capitalised words other than its
///   first), or else its content words, that the question lacks are appended in parentheses ("and when did
///   it close? (Colosseum Rome)"), which is what retrieval needs.
public struct HeuristicRewriter: QuestionRewriter {
    public init() {}

    static let englishPronouns: Set<String> = ["it", "its", "they", "them", "their", "he", "him", "his", "she", "her",
                                               "this", "that", "these", "those", "there", "one", "ones"]
    static let englishOpenings = ["and ", "what about ", "how about ", "also ", "then ", "but "]
    static let chinesePronouns: [Character] = ["它", "他", "她", "其", "该"]
    static let chineseReferences = ["这个", "那个", "这些", "那些", "它们", "他们", "她们"]
    static let chineseOpenings = ["那么", "那", "还有", "另外", "并且"]

    public func rewrite(_ question: AnalyzedQuery, history: [AnswerRecord]) async throws(KBError) -> String? {
        rewriteNow(question, history: history)
    }

    func rewriteNow(_ question: AnalyzedQuery, history: [AnswerRecord]) -> String? {
        guard let previous = history.last, Self.isFollowUp(question) else { return nil }
        guard let context = try? QueryAnalyzer.analyze(previous.standaloneQuestion) else { return nil }
        let text = question.normalized
        if question.language == "zh" {
            guard let topic = Self.chineseTopic(previous.standaloneQuestion), !text.contains(topic) else { return nil }
            for reference in Self.chineseReferences where text.contains(reference) {
                return text.replacingOccurrences(of: reference, with: topic, options: [], range: text.range(of: reference))
            }
            if let index = text.firstIndex(where: { Self.chinesePronouns.contains($0) }) {
                return text.replacingCharacters(in: index...index, with: topic)
            }
            var body = Substring(text)
            for opening in Self.chineseOpenings where body.hasPrefix(opening) { body = body.dropFirst(opening.count); break }
            return topic + body.trimmingCharacters(in: CharacterSet(charactersIn: "，, "))
        }
        let own = Set(question.concepts.flatMap(\.terms))
        let words = previous.standaloneQuestion.split(whereSeparator: { !$0.isLetter && !$0.isNumber && $0 != "-" }).map(String.init)
        let names = words.dropFirst().filter { $0.first?.isUppercase == true }
        let candidates = names.isEmpty ? context.searchConcepts.map(\.surface) : names
        var carried: [String] = []
        for word in candidates {
            let terms = (try? QueryAnalyzer.analyze(word))?.concepts.flatMap(\.terms) ?? []
            if !terms.isEmpty, !terms.allSatisfy(own.contains), !carried.contains(word) { carried.append(word) }
        }
        guard !carried.isEmpty else { return nil }
        return text + " (" + carried.prefix(8).joined(separator: " ") + ")"
    }

    static let chineseTopicEnds: Set<Character> = ["是", "在", "有", "的", "为", "于", "和", "与", "被", "把", "从", "谁", "哪", "什",
                                                   "怎", "如", "多", "几", "吗", "呢", "么", "是", "會", "会", "能", "可"]

    /// The first run of Chinese characters in `question`, up to the first particle or question word.
    static func chineseTopic(_ question: String) -> String? {
        var run = ""
        for character in question {
            let isCJK = character.unicodeScalars.allSatisfy { Script.isCJK($0.value) }
            if isCJK {
                if run.count >= 2 && chineseTopicEnds.contains(character) { break }
                run.append(character)
            } else if !run.isEmpty {
                if run.count >= 2 { break }
                run = ""
            }
        }
        return run.count >= 2 ? run : nil
    }

    /// True when the question seems to lean on the conversation.
    static func isFollowUp(_ question: AnalyzedQuery) -> Bool {
        let content = question.concepts.filter { !$0.isStopword }
        let ownTerms = content.reduce(0) { $0 + max(1, $1.terms.count) }
        if question.language == "zh" {
            let text = question.normalized
            return text.contains(where: { chinesePronouns.contains($0) }) || chineseReferences.contains(where: text.contains)
                || chineseOpenings.contains(where: text.hasPrefix) || ownTerms <= 1
        }
        let lowered = question.normalized.lowercased()
        let words = lowered.split(whereSeparator: { !$0.isLetter && !$0.isNumber && $0 != "'" }).map(String.init)
        return words.contains(where: englishPronouns.contains) || englishOpenings.contains(where: lowered.hasPrefix) || ownTerms <= 1
    }
}

/// Rewrites follow-ups with the language model that answers, checking what it returns; falls back to the
/// heuristic when the model's rewrite is empty, rambling or not a question in the same language.
public struct LanguageModelRewriter: QuestionRewriter {
    public let model: any LanguageModel
    public init(model: any LanguageModel) { self.model = model }

    static let system = """
        Rewrite the user's last question so that it can be understood without the conversation: replace \
        pronouns and references with what they refer to. Keep the question's language and meaning. Reply with \
        the rewritten question only.
        """

    public func rewrite(_ question: AnalyzedQuery, history: [AnswerRecord]) async throws(KBError) -> String? {
        let heuristic = HeuristicRewriter()
        guard !history.isEmpty, HeuristicRewriter.isFollowUp(question) else { return nil }
        var transcript = ""
        for turn in history.suffix(3) {
            transcript += "Q: \(PromptTemplate.defuse(turn.standaloneQuestion))\nA: \(PromptTemplate.defuse(String(CitationMarkers.strip(turn.answer).prefix(400))))\n"
        }
        transcript += "Last question: \(PromptTemplate.defuse(question.normalized))\nStandalone question:"
        let messages = [ChatMessage(role: "system", content: Self.system), ChatMessage(role: "user", content: transcript)]
        let reply: String
        do {
            reply = try await model.complete(messages, sampling: SamplingOptions(maxTokens: 64)) { _ in true }.text
        } catch {
            return heuristic.rewriteNow(question, history: history)
        }
        var candidate = reply.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        candidate = candidate.trimmingCharacters(in: CharacterSet(charactersIn: " \"'“”「」`*"))
        for prefix in ["Standalone question:", "Rewritten question:", "Question:", "问题："] where candidate.hasPrefix(prefix) {
            candidate = String(candidate.dropFirst(prefix.count)).trimmingCharacters(in: .whitespaces)
        }
        // Accept only a question in the same language that keeps the question's own terms and brings in
        // something from the conversation; anything else (an answer, a refusal, a ramble) is not a rewrite.
        guard let analyzed = try? QueryAnalyzer.analyze(candidate), analyzed.language == question.language || question.language == "und",
              candidate.count <= question.normalized.count * 3 + 60, candidate != question.normalized else {
            return heuristic.rewriteNow(question, history: history)
        }
        let terms = Set(analyzed.concepts.flatMap(\.terms))
        let own = Set(question.searchConcepts.filter { !$0.isStopword }.flatMap(\.terms))
        let earlier = Set(history.suffix(3).compactMap { try? QueryAnalyzer.analyze($0.standaloneQuestion) }
            .flatMap { $0.searchConcepts.flatMap(\.terms) })
        guard own.isEmpty || !terms.isDisjoint(with: own), !terms.isDisjoint(with: earlier.subtracting(own)) else {
            return heuristic.rewriteNow(question, history: history)
        }
        return candidate
    }
}
