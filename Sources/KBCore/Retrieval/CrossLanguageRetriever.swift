import Foundation

/// When a question is translated before it is searched (`[search] translate`).
public enum TranslationPolicy: String, Sendable, CaseIterable {
    /// Never: one search, in the question's own language.
    case off
    /// When the question is English or Chinese and the first search's candidates include passages in the other
    /// of the two languages (a mixed-language knowledge base): a monolingual one costs nothing.
    case auto
    /// Every English or Chinese question.
    case always
}

/// Translations of questions by the local language model, kept per model, language and question: the same
/// question asked again, searched again or restated by a repair is translated once. Bounded; the oldest go first.
public actor TranslationCache {
    private var entries: [String: String] = [:]
    private var order: [String] = []
    private let capacity: Int

    public init(capacity: Int = 1024) { self.capacity = max(1, capacity) }

    /// The question in `language` (`en` or `zh`), or nil when the model's reply is not a translation.
    func translate(_ question: String, into language: String, model: any LanguageModel) async throws(KBError) -> String? {
        let key = [model.backend, model.model, language, question].joined(separator: "\u{1F}")
        if let known = entries[key] { return known.isEmpty ? nil : known }
        let translated = try await QuestionTranslator(model: model).translate(question, into: language)
        if entries[key] == nil {
            order.append(key)
            if order.count > capacity { entries[order.removeFirst()] = nil }
        }
        entries[key] = translated ?? ""
        return translated
    }

    /// Translations held now.
    public var count: Int { entries.count }
}

/// Searches a question in its own language and, translated by the local language model, in the other of kb's two
/// first-class languages (English ↔ Chinese), and fuses the two rankings by reciprocal rank (k = 20). A question's
/// words match same-language passages on the keyword side and pull them up; the translation's words match the
/// passage that answers it in the other language.
public struct CrossLanguageRetriever: Retriever {
    public var mode: String { base.mode }
    let base: any Retriever
    let policy: TranslationPolicy
    let translate: @Sendable (_ question: String, _ language: String) async throws(KBError) -> String?
    /// Candidates taken from each search before fusing, at least.
    var depth = 20

    public init(base: any Retriever, policy: TranslationPolicy,
                translate: @escaping @Sendable (_ question: String, _ language: String) async throws(KBError) -> String?) {
        self.base = base
        self.policy = policy
        self.translate = translate
    }

    /// `zh` for an English question, `en` for a Chinese one, nil otherwise.
    static func otherLanguage(_ language: String) -> String? {
        switch language {
        case "en": return "zh"
        case "zh": return "en"
        default: return nil
        }
    }

    public func retrieve(_ query: AnalyzedQuery, limit: Int) async throws(KBError) -> Retrieval {
        guard policy != .off, let target = Self.otherLanguage(query.language) else { return try await base.retrieve(query, limit: limit) }
        let depth = max(self.depth, limit)
        let first = try await base.retrieve(query, limit: depth)
        if policy == .auto && !first.passages.contains(where: { Script.detectLanguage($0.passage.text) == target }) {
            return Self.cut(first, limit: limit)
        }
        // A translation that fails (no language model here, a model that does not load) leaves the first search.
        let translation: String?
        do { translation = try await translate(query.normalized, target) } catch { if Task.isCancelled { throw error }; translation = nil }
        guard let text = translation,
              let translated = try? QueryAnalyzer.analyze(text), translated.language == target else { return Self.cut(first, limit: limit) }
        let second = try await base.retrieve(translated, limit: depth)
        return Self.fuse(first, second, translation: translated.normalized, limit: limit)
    }

    static func cut(_ retrieval: Retrieval, limit: Int) -> Retrieval {
        var cut = retrieval
        cut.passages = Array(retrieval.passages.prefix(limit))
        return cut
    }

    /// Reciprocal-rank fusion of the original and the translated question's rankings; each passage keeps the
    /// explanation of the search that ranked it higher, and notes its rank under the translation.
    static func fuse(_ original: Retrieval, _ translated: Retrieval, translation: String, limit: Int) -> Retrieval {
        var scores: [Int: Double] = [:]
        var passages: [Int: RetrievedPassage] = [:]
        for (offset, hit) in original.passages.enumerated() {
            scores[hit.passage.chunkID, default: 0] += 1 / (20 + Double(offset + 1))
            passages[hit.passage.chunkID] = hit
        }
        for (offset, hit) in translated.passages.enumerated() {
            let id = hit.passage.chunkID
            scores[id, default: 0] += 1 / (20 + Double(offset + 1))
            var kept = passages[id].flatMap { $0.rank <= offset + 1 ? $0 : nil } ?? hit
            if kept.explanation == nil { kept.explanation = RetrievalExplanation() }
            kept.explanation?.translatedRank = offset + 1
            kept.explanation?.translation = translation
            passages[id] = kept
        }
        let ranked = scores.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(limit)
        var fused = original
        fused.passages = ranked.enumerated().compactMap { offset, entry in
            guard var hit = passages[entry.key] else { return nil }
            hit.rank = offset + 1
            hit.score = entry.value
            return hit
        }
        return fused
    }
}
