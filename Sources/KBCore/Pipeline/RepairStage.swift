import Foundation

/// A way to try an answer again after kb's check rejected it (``RepairStage``).
public enum RepairStrategy: String, Sendable, Equatable, CaseIterable, Codable {
    /// The best passage alone with a one-sentence prompt: small models answer far better from one passage
    /// than from five.
    case bestPassage = "best-passage"
    /// The model copies the answering sentence of the best passages word for word.
    case quote
    /// The question translated by the model into the best passage's language, then answered — and checked — in
    /// that language, so that kb can verify the answer against the passage word for word (only when the two
    /// languages differ).
    case restated
    /// kb's extractive answer, no model: the passage sentences that cover the question best, labelled as quoted.
    case extractive

    /// The order kb tries them in by default. `extractive` is not among them: on the SQuAD-2.0-style SciFact set
    /// 12 of its 17 rescues answered unanswerable questions, and the right ones scored F1 0.1–0.4 (README,
    /// "Answers that repair themselves").
    public static let defaultOrder: [RepairStrategy] = [.bestPassage, .restated, .quote]

    /// False for the strategy that needs no language model.
    public var usesModel: Bool { self != .extractive }
}

/// Output optimisation: when the assessment would withhold a generated answer although retrieval was confident
/// enough to generate, kb tries again — the strategies of ``RepairOptions`` in order, within its attempts and
/// seconds — and keeps the first attempt its check accepts. Every attempt is recorded (``AnswerAttempt``). What
/// streamed and was then withdrawn is announced through ``AskContext/onReplaced``, followed by the text that
/// replaces it (the repaired answer, or the "not found" sentence).
struct RepairStage: AskStage {
    let name = "repair"
    var runsAfterAbstaining: Bool { true }

    func run(_ state: inout AskState, _ context: AskContext) async throws(KBError) {
        guard let question = state.standalone, let generated = state.generated, let assessment = state.assessment else { return }
        let initialSeconds = state.timings.stages.filter { $0.stage == "generate" }.map(\.seconds).reduce(0, +) + state.timings.assessment
        state.attempts = [AnswerAttempt(strategy: "initial", passages: Array(stride(from: 1, through: generated.passagesShown, by: 1)),
                                        question: question.normalized, text: generated.text, rejected: assessment.abstainReason,
                                        groundedness: assessment.quality.groundedness, relevance: assessment.quality.relevance,
                                        seconds: CitationVerifier.round(initialSeconds))]
        guard let firstReason = assessment.abstainReason, state.abstainReason == firstReason else { return }

        let options = context.knowledgeBase.configuration.repair
        let generator = context.generator.generator
        let model = (generator as? LanguageModelGenerator)?.languageModel
        let started = context.clock.seconds
        // `attempts` bounds the model's attempts; the extractive answer takes milliseconds and is always allowed
        // while repair is on. An extractive generator has nothing to repair with.
        var modelAttempts = options.attempts
        let repairing = options.attempts > 0 && generator.name != "extractive"
        for strategy in options.strategies where repairing && Self.applies(strategy, question: question, passages: state.passages) {
            if strategy.usesModel && (model == nil || modelAttempts == 0 || context.clock.seconds - started >= options.seconds) { continue }
            try Task.checkCancellation(or: KBError(.interrupted, "The answer was cancelled."))
            let attemptStarted = context.clock.seconds
            // A model strategy spends an attempt even when it comes to nothing (a translation that did not work).
            if strategy.usesModel { modelAttempts -= 1 }
            guard let plan = try await plan(strategy, question: question, state: state, model: model, options: options,
                                            sampling: context.knowledgeBase.configuration.generation.sampling,
                                            translations: context.knowledgeBase.translations) else { continue }
            let answerer: any AnswerGenerator = strategy == .extractive ? ExtractiveGenerator() : generator
            let attempt = try await answerer.generate(plan.request) { _ in }
            let checked = try await AssessStage.assess(attempt, question: plan.request.question, state: state, context: context)
            let rejected = checked.abstainReason
            state.attempts.append(AnswerAttempt(
                strategy: strategy.rawValue, passages: Array(stride(from: 1, through: attempt.passagesShown, by: 1)),
                question: plan.request.question.normalized, text: attempt.text, rejected: rejected,
                groundedness: checked.quality.groundedness, relevance: checked.quality.relevance,
                seconds: CitationVerifier.round(context.clock.seconds - attemptStarted)))
            guard rejected == nil else { continue }
            state.generated = attempt
            state.assessment = checked
            state.abstainReason = nil
            state.replaced = true
            context.onReplaced(firstReason)
            context.onText(checked.text)
            return
        }
        // Nothing kb can stand behind. An answer that streamed is withdrawn (assemble streams the "not found"
        // sentence after it); a refusal that streamed already says so and stays.
        if !generated.abstained {
            state.replaced = true
            context.onReplaced(firstReason)
        }
    }

    /// False for a strategy that cannot help this question: `restated` when the best passage is in the question's
    /// language (or in one kb cannot translate into).
    static func applies(_ strategy: RepairStrategy, question: AnalyzedQuery, passages: [RetrievedPassage]) -> Bool {
        guard !passages.isEmpty else { return false }
        guard strategy == .restated else { return true }
        let target = Script.detectLanguage(passages[0].passage.text)
        return target != question.language && (target == "zh" || target == "en")
    }

    struct Plan { var request: GenerationRequest }

    /// The request a strategy makes, or nil when it does not apply to this question.
    func plan(_ strategy: RepairStrategy, question: AnalyzedQuery, state: AskState, model: (any LanguageModel)?,
              options: RepairOptions, sampling: SamplingOptions, translations: TranslationCache) async throws(KBError) -> Plan? {
        var sampling = sampling
        sampling.maxTokens = min(sampling.maxTokens, options.maxTokens)
        let passages = state.passages
        guard !passages.isEmpty else { return nil }
        switch strategy {
        case .bestPassage:
            return Plan(request: GenerationRequest(question: question, passages: Array(passages.prefix(1)), termWeights: state.termWeights,
                                                   sampling: sampling, style: .focused))
        case .quote:
            return Plan(request: GenerationRequest(question: question, passages: Array(passages.prefix(3)), termWeights: state.termWeights,
                                                   sampling: sampling, style: .quote))
        case .extractive:
            return Plan(request: GenerationRequest(question: question, passages: passages, termWeights: state.termWeights, sampling: sampling))
        case .restated:
            let target = Script.detectLanguage(passages[0].passage.text)
            guard let model, let translated = try await translations.translate(question.normalized, into: target, model: model),
                  let restated = try? QueryAnalyzer.analyze(translated), restated.language == target else { return nil }
            return Plan(request: GenerationRequest(question: restated, passages: Array(passages.prefix(2)), termWeights: state.termWeights,
                                                   sampling: sampling, style: .focused))
        }
    }
}

/// Translates a question with the answering model (greedy, one line), for the `restated` repair and cross-language
/// search (through ``TranslationCache``).
struct QuestionTranslator {
    let model: any LanguageModel

    func translate(_ question: String, into language: String) async throws(KBError) -> String? {
        let target = language == "zh" ? "Simplified Chinese (简体中文)" : "English"
        let messages = [
            ChatMessage(role: "system", content: "Translate the user's question into \(target). Reply with the translated question only, nothing else."),
            ChatMessage(role: "user", content: PromptTemplate.defuse(question)),
        ]
        let reply = try await model.complete(messages, sampling: SamplingOptions(maxTokens: 64)) { _ in true }.text
        let line = reply.split(whereSeparator: \.isNewline).first.map(String.init)?
            .trimmingCharacters(in: CharacterSet.whitespaces.union(CharacterSet(charactersIn: "\"“”「」"))) ?? ""
        return line.isEmpty ? nil : line
    }
}
