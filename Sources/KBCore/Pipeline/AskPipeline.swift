import Foundation

/// A question on its way through the ask pipeline: each stage reads what the earlier ones left and adds its part.
public struct AskState: Sendable {
    /// What was asked.
    public var request: AskInput
    /// The question after input understanding.
    public var asked: AnalyzedQuery?
    /// Earlier turns (stored conversation, then turns the caller sent).
    public var history: [AnswerRecord] = []
    /// The question kb searches with: `asked`, or the follow-up rewritten as a standalone question.
    public var standalone: AnalyzedQuery?
    public var retrieval = Retrieval(passages: [])
    /// The retriever's mode (`keyword`, `vector`, `hybrid`).
    public var retrievalMode = "keyword"
    /// The embedding model whose vectors the knowledge base holds (semantic answer check), if any.
    public var vectorModel: String?
    public var termWeights: [String: Double] = [:]
    public var confidence: (confidence: Double, keywordCoverage: Double, vectorSimilarity: Double?) = (0, 0, nil)
    public var generated: GeneratedAnswer?
    public var firstToken: Double?
    public var assessment: Assessment?
    /// Set by the stage that decides kb abstains; the content stages after it are skipped.
    public var abstainReason: String?
    public var warnings: [String] = []
    /// The first generation and the repairs after it (``RepairStage``).
    public var attempts: [AnswerAttempt] = []
    /// True once streamed text was withdrawn (``AskContext/onReplaced``).
    public var replaced = false
    public var timings = AnswerTimings()
    /// The answer, once assembled (the save stage stores it).
    public var answer: Answer?

    public init(request: AskInput) { self.request = request }

    /// The passages in prompt order.
    public var passages: [RetrievedPassage] { retrieval.passages }
}

/// What `ask` is given.
public struct AskInput: Sendable {
    public var question: String
    public var passages: Int?
    public var mode: SearchMode?
    public var conversation: String?
    /// Earlier questions and answers held by the caller (an OpenAI-style client sends the whole chat each time).
    public var priorTurns: [(question: String, answer: String)]
    /// Keep the answer in the database so it can be continued and rated.
    public var remember: Bool
    /// Who asks: a new conversation is theirs, and only their own (or, for an admin, any) can be continued.
    public var caller: Caller

    public init(question: String, passages: Int? = nil, mode: SearchMode? = nil, conversation: String? = nil,
                priorTurns: [(question: String, answer: String)] = [], remember: Bool = true, caller: Caller = .owner) {
        self.caller = caller
        self.question = question
        self.passages = passages
        self.mode = mode
        self.conversation = conversation
        self.priorTurns = priorTurns
        self.remember = remember
    }
}

/// What every stage can use: the knowledge base's components, the generator of this answer, the clock, and the
/// stream the answer text goes to.
public struct AskContext: Sendable {
    public let knowledgeBase: KnowledgeBase
    public let generator: GeneratorChoice
    public let onText: @Sendable (String) -> Void
    /// Called when the text streamed so far is withdrawn, with the reason; the replacement streams after it.
    public let onReplaced: @Sendable (String) -> Void
    let clock: Stopwatch
    /// Seconds since the question arrived.
    public var elapsed: Double { clock.seconds }
}

/// One step of answering a question. Stages are composed in ``AskPipeline/standard``; a new step (a reranker, a
/// repair loop) is a new stage inserted there.
public protocol AskStage: Sendable {
    /// Its name in `timings.stages` and `--explain`.
    var name: String { get }
    /// True for stages that run even after a stage decided to abstain (assembling and saving the answer).
    var runsAfterAbstaining: Bool { get }
    func run(_ state: inout AskState, _ context: AskContext) async throws(KBError)
}

extension AskStage {
    public var runsAfterAbstaining: Bool { false }
}

/// The stages of `ask`, in order, each timed: understand → rewrite → retrieve → rerank → gate → generate → assess →
/// repair → assemble → save.
public struct AskPipeline: Sendable {
    public var stages: [any AskStage]

    public init(stages: [any AskStage]) { self.stages = stages }

    public static let standard = AskPipeline(stages: [
        UnderstandStage(), RewriteStage(), RetrieveStage(), RerankStage(), GateStage(), GenerateStage(), AssessStage(),
        RepairStage(), AssembleStage(), SaveStage(),
    ])

    /// Inserts `stage` before the stage named `name` (at the end when there is none).
    public func inserting(_ stage: any AskStage, before name: String) -> AskPipeline {
        var copy = self
        copy.stages.insert(stage, at: stages.firstIndex { $0.name == name } ?? stages.count)
        return copy
    }

    /// Runs every stage; returns the assembled answer.
    public func run(_ request: AskInput, context: AskContext) async throws(KBError) -> Answer {
        var state = AskState(request: request)
        for stage in stages {
            if state.abstainReason != nil && !stage.runsAfterAbstaining { continue }
            try Task.checkCancellation(or: KBError(.interrupted, "The answer was cancelled."))
            let started = context.clock.seconds
            try await stage.run(&state, context)
            state.timings.stages.append(StageTiming(stage: stage.name, seconds: context.clock.seconds - started))
        }
        guard var answer = state.answer else {
            throw KBError(.internalError, "The ask pipeline ended without an answer (no assemble stage).")
        }
        answer.timings.stages = state.timings.stages
        answer.timings.total = context.clock.seconds
        return answer
    }
}

extension Task where Success == Never, Failure == Never {
    /// Throws `error` when the current task was cancelled.
    static func checkCancellation(or error: KBError) throws(KBError) {
        if Task.isCancelled { throw error }
    }
}

// MARK: The stages

/// Input understanding: normalise, detect the language, analyse the terms; load the conversation's turns.
struct UnderstandStage: AskStage {
    let name = "understand"
    func run(_ state: inout AskState, _ context: AskContext) async throws(KBError) {
        state.asked = try QueryAnalyzer.analyze(state.request.question)
        var history: [AnswerRecord] = state.request.priorTurns.enumerated().map { index, turn in
            AnswerRecord(id: "", conversationID: "", turn: index + 1, question: turn.question, standaloneQuestion: turn.question,
                         language: "", answer: turn.answer, abstained: false, generator: "", model: nil, citations: [], passages: [],
                         quality: QualityScores(groundedness: 0, citationAccuracy: nil, retrievalConfidence: 0, relevance: 0), createdAt: 0)
        }
        if let conversation = state.request.conversation {
            guard let found = try await context.knowledgeBase.store.conversation(id: conversation),
                  state.request.caller.maySee(found.user) else {
                throw KBError(.invalidArgument, "There is no conversation \(conversation) in this knowledge base; start one by asking without --conversation.",
                              details: ["conversation_id": conversation])
            }
            history = found.turns + history
        }
        state.history = history
        state.standalone = state.asked
        if let warning = context.generator.warning { state.warnings.append(warning) }
    }
}

/// A follow-up rewritten into a standalone question from the earlier turns (``QuestionRewriter``).
struct RewriteStage: AskStage {
    let name = "rewrite"
    func run(_ state: inout AskState, _ context: AskContext) async throws(KBError) {
        guard let asked = state.asked, !state.history.isEmpty else { return }
        let kb = context.knowledgeBase
        let rewriter = try kb.registry.makeRewriter(kb.configuration.pipeline.rewriter, generator: context.generator.generator)
        if let standalone = try await rewriter.rewrite(asked, history: state.history), let rewritten = try? QueryAnalyzer.analyze(standalone) {
            state.standalone = rewritten
        }
        state.timings.rewrite = context.clock.seconds
    }
}

/// Knowledge retrieval: the configured retriever (hybrid once vectors exist) for the standalone question.
struct RetrieveStage: AskStage {
    let name = "retrieve"
    func run(_ state: inout AskState, _ context: AskContext) async throws(KBError) {
        guard let question = state.standalone else { return }
        let kb = context.knowledgeBase
        let plan = try await kb.retrievalPlan(mode: state.request.mode)
        state.warnings = plan.warnings + state.warnings
        state.retrievalMode = plan.retriever.mode
        state.vectorModel = plan.vectorModel
        let limit = min(KnowledgeBase.maximumResults, max(1, state.request.passages ?? kb.configuration.askPassages))
        state.retrieval = try await plan.retriever.retrieve(question, limit: limit)
        state.termWeights = try await TermWeights.compute(question, index: kb.store)
        state.timings.retrieval = context.clock.seconds
    }
}

/// The reranking slot (``Reranker``; `identity` by default).
struct RerankStage: AskStage {
    let name = "rerank"
    func run(_ state: inout AskState, _ context: AskContext) async throws(KBError) {
        guard let question = state.standalone, !state.passages.isEmpty else { return }
        let kb = context.knowledgeBase
        let reranker = try kb.registry.makeReranker(kb.configuration.pipeline.reranker, configuration: kb.configuration)
        state.retrieval.passages = try await reranker.rerank(question, passages: state.passages)
    }
}

/// Abstains before generating when nothing was found or retrieval confidence is below the calibrated threshold.
struct GateStage: AskStage {
    let name = "gate"
    func run(_ state: inout AskState, _ context: AskContext) async throws(KBError) {
        guard let question = state.standalone else { return }
        let vectorModel = state.retrievalMode == "keyword" ? nil : state.retrieval.vectorModel
        state.confidence = RetrievalConfidence.estimate(question: question, passages: state.passages, termWeights: state.termWeights,
                                                        vectorModel: vectorModel)
        let generator = context.generator.generator
        if let model = generator.model, let info = GeneratorCatalog.models.first(where: { $0.name == model }),
           question.language != "und", !info.languages.contains(question.language) {
            state.warnings.append("\(model) does not read \(question.language == "zh" ? "Chinese" : question.language); for such questions use --model \(GeneratorCatalog.defaultModel).")
        }
        if state.passages.isEmpty {
            state.abstainReason = "No passage matches the question."
        } else if state.confidence.confidence < RetrievalConfidence.threshold {
            state.abstainReason = "Retrieval confidence \(CitationVerifier.round(state.confidence.confidence)) is below \(RetrievalConfidence.threshold): the knowledge base does not seem to cover this question."
        }
    }
}

/// Generation: the generator writes the answer from the passages, streaming its text.
struct GenerateStage: AskStage {
    let name = "generate"
    func run(_ state: inout AskState, _ context: AskContext) async throws(KBError) {
        guard let question = state.standalone else { return }
        let request = GenerationRequest(question: question, passages: state.passages, termWeights: state.termWeights,
                                        sampling: context.knowledgeBase.configuration.generation.sampling)
        let firstText = FirstTime()
        let clock = context.clock, onText = context.onText
        let generated = try await context.generator.generator.generate(request) { piece in
            firstText.mark(clock.seconds)
            onText(piece)
        }
        state.generated = generated
        state.timings.firstToken = firstText.value
        if let stats = generated.stats {
            state.timings.prompt = stats.promptSeconds
            state.timings.promptTokens = stats.promptTokens
            state.timings.generatedTokens = stats.generatedTokens
            state.timings.tokensPerSecond = stats.tokensPerSecond.map { ($0 * 100).rounded() / 100 }
        }
    }
}

/// Quality assessment: every sentence and citation checked against the passages (``AnswerAssessor``); the stored
/// vectors of the shown passages and the question's vector from retrieval are reused, not recomputed.
struct AssessStage: AskStage {
    let name = "assess"
    func run(_ state: inout AskState, _ context: AskContext) async throws(KBError) {
        guard let question = state.standalone, let generated = state.generated else { return }
        let started = context.clock.seconds
        let assessment = try await Self.assess(generated, question: question, state: state, context: context)
        state.assessment = assessment
        state.timings.assessment = context.clock.seconds - started
        if let reason = assessment.abstainReason { state.abstainReason = reason }
    }

    /// The configured assessor's verdict on `generated`, written for `question` from the state's passages.
    static func assess(_ generated: GeneratedAnswer, question: AnalyzedQuery, state: AskState,
                       context: AskContext) async throws(KBError) -> Assessment {
        let kb = context.knowledgeBase
        // The model whose vectors the knowledge base holds gives the semantic half of the check, when it loads.
        var model = state.retrieval.vectorModel
        if model == nil { model = (try? await kb.searchModel()) ?? nil }
        let embedder = model.flatMap { try? kb.embedder(named: $0) }
        var passageVectors: [Int: [Float]] = [:]
        if let model, embedder != nil {
            let shown = state.passages.prefix(max(0, generated.passagesShown)).map(\.passage.chunkID)
            passageVectors = (try? await kb.store.storedVectors(model: model, chunkIDs: Array(shown))) ?? [:]
        }
        // The query vector from retrieval is the question's only when the question is the one searched with.
        let questionVector = state.retrieval.vectorModel == model && question.normalized == state.standalone?.normalized
            ? state.retrieval.queryVector : nil
        let assessor = try kb.registry.makeAssessor(kb.configuration.pipeline.assessor,
                                                    AssessorContext(embedder: embedder, passageVectors: passageVectors,
                                                                    questionVector: questionVector))
        let passages = state.passages, confidence = state.confidence.confidence
        return try await BlockingPool.shared.run { () throws(KBError) -> Assessment in
            try assessor.assess(answer: generated.text, question: question, passages: passages, passagesShown: generated.passagesShown,
                                retrievalConfidence: confidence, generatorAbstained: generated.abstained)
        }
    }
}

/// Output: the checked answer with its citations and scores, or the abstention with the closest passages.
struct AssembleStage: AskStage {
    let name = "assemble"
    var runsAfterAbstaining: Bool { true }

    func run(_ state: inout AskState, _ context: AskContext) async throws(KBError) {
        guard let asked = state.asked, let question = state.standalone else { return }
        let matcher = TermMatcher(question)
        let hits = state.passages.map { KnowledgeBase.hit($0, matcher: matcher) }
        let generator = context.generator.generator
        let info = GeneratorInfo(name: generator.name, model: generator.model)
        var timings = state.timings
        timings.total = context.clock.seconds
        let signals = state.confidence
        var answer: Answer
        if let reason = state.abstainReason {
            let text = ExtractiveGenerator.notFound(language: question.language)
            if state.generated == nil || state.replaced { context.onText(text) }
            var quality = state.assessment?.quality ?? QualityScores(groundedness: 0, citationAccuracy: nil,
                                                                      retrievalConfidence: CitationVerifier.round(signals.confidence), relevance: 0)
            quality.keywordCoverage = CitationVerifier.round(signals.keywordCoverage)
            quality.vectorSimilarity = signals.vectorSimilarity.map(CitationVerifier.round)
            answer = Answer(answerID: KnowledgeBase.newAnswerID(), question: question.normalized, language: question.language, answer: text,
                            abstained: true, abstainReason: reason, citations: [], sentences: state.assessment?.sentences ?? [],
                            quality: quality, passages: hits, generator: info, generatedText: state.generated?.text, timings: timings,
                            warnings: state.warnings)
        } else {
            guard let assessment = state.assessment, let generated = state.generated else {
                throw KBError(.internalError, "The answer was neither generated and assessed nor abstained from.")
            }
            let retrieved = state.passages
            let finalCited = assessment.sentences.flatMap(\.citations)
            let generatorCited = assessment.sentences.flatMap(\.generatorCitations)
            var numbers: [Int] = []
            for number in finalCited + generatorCited where !numbers.contains(number) && number >= 1 && number <= retrieved.count {
                numbers.append(number)
            }
            let citations = numbers.sorted().map { number -> Citation in
                let passage = retrieved[number - 1].passage
                return Citation(id: number, path: passage.path, chunkID: String(passage.chunkID), heading: passage.heading,
                                startLine: passage.startLine, endLine: passage.endLine, page: passage.page, text: passage.text,
                                supported: finalCited.contains(number), citedByGenerator: generatorCited.contains(number),
                                locator: passage.locator, ocrConfidence: passage.ocrConfidence)
            }
            var quality = assessment.quality
            quality.keywordCoverage = CitationVerifier.round(signals.keywordCoverage)
            quality.vectorSimilarity = signals.vectorSimilarity.map(CitationVerifier.round)
            answer = Answer(answerID: KnowledgeBase.newAnswerID(), question: question.normalized, language: question.language,
                            answer: assessment.text, abstained: false, abstainReason: nil, citations: citations,
                            sentences: assessment.sentences, quality: quality, passages: hits, generator: info,
                            generatedText: generated.text, timings: timings, warnings: state.warnings)
        }
        answer.question = asked.normalized
        answer.standaloneQuestion = question.normalized
        answer.attempts = state.attempts
        answer.replaced = state.replaced
        state.answer = answer
    }
}

/// Dialogue management: the answer kept in its conversation (a new one when none was given), so it can be
/// continued and rated. A failure to save is a warning, not a lost answer.
struct SaveStage: AskStage {
    let name = "save"
    var runsAfterAbstaining: Bool { true }

    func run(_ state: inout AskState, _ context: AskContext) async throws(KBError) {
        guard state.request.remember, var answer = state.answer, let asked = state.asked else { return }
        let store = context.knowledgeBase.store
        do throws(KBError) {
            let conversationID: String
            if let conversation = state.request.conversation { conversationID = conversation } else {
                conversationID = try await store.createConversation(title: asked.normalized, user: state.request.caller.user)
            }
            answer.turn = try await store.saveAnswer(AnswerRecord(answer, conversationID: conversationID))
            answer.conversationID = conversationID
        } catch {
            answer.warnings.append("The answer was not saved (\(error.message)); it cannot be continued or rated.")
        }
        state.answer = answer
    }
}

/// One stage's share of an answer's time.
public struct StageTiming: Sendable, Equatable, Codable {
    public var stage: String
    public var seconds: Double
    public init(stage: String, seconds: Double) { self.stage = stage; self.seconds = seconds }
}
