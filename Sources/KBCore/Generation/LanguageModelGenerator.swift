import Foundation

/// Answers with a language model: the passages go into the prompt (``PromptTemplate``), the model's
/// text streams out, and the `[n]` markers it wrote become the cited passages. kb then checks those
/// citations (see ``CitationVerifier``); the model is not trusted to get them right.
public struct LanguageModelGenerator: AnswerGenerator {
    public let name: String
    public let languageModel: any LanguageModel
    public var model: String? { languageModel.model }

    /// - Parameter name: `llama` for the in-process model, `openai` for a server.
    public init(name: String, languageModel: any LanguageModel) {
        self.name = name
        self.languageModel = languageModel
    }

    public func generate(_ request: GenerationRequest, onText: @escaping @Sendable (String) -> Void) async throws(KBError) -> GeneratedAnswer {
        let (messages, shown) = PromptTemplate.messages(for: request, model: languageModel)
        let (text, stats) = try await languageModel.complete(messages, sampling: request.sampling) { piece in
            onText(piece)
            return true
        }
        var cited: [Int] = []
        for number in CitationMarkers.numbers(in: text) where !cited.contains(number) { cited.append(number) }
        let abstained = Self.saysNotFound(text, language: request.question.language)
        return GeneratedAnswer(text: text.trimmingCharacters(in: .whitespacesAndNewlines), citedPassages: cited,
                               abstained: abstained, passagesShown: shown, stats: stats)
    }

    /// True when the model's reply is (mostly) the "not in the passages" sentence, or an empty reply.
    static func saysNotFound(_ text: String, language: String) -> Bool {
        let plain = CitationMarkers.strip(text).lowercased()
        if plain.isEmpty { return true }
        let phrases = ["does not contain the answer", "do not contain the answer", "doesn't contain the answer",
                       "not contain information", "no information about", "cannot find", "can't find", "could not find",
                       "couldn't find", "not found in the", "not mentioned in the passages", "passages do not mention",
                       "没有找到", "未找到", "找不到", "无法找到", "没有提到", "未提及", "没有相关信息", "无法回答", "没有提供"]
        guard phrases.contains(where: plain.contains) else { return false }
        // A refusal is short; a long answer that mentions "cannot find" in passing is still an answer.
        return TokenEstimator.count(plain) <= 40
    }
}
