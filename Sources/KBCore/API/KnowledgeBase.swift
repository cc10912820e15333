import Foundation

/// A knowledge base: the store, its indexes and the question-answering pipeline over them.
///
/// The CLI and (later) the daemon are both thin clients of this type.
public final class KnowledgeBase: Sendable {
    public let configuration: Configuration
    let store: SQLiteStore
    /// A generator given explicitly (tests, embedding applications); nil means the configured one.
    let generatorOverride: (any AnswerGenerator)?
    let models = ModelCache()

    /// Opens the knowledge base the configuration names.
    ///
    /// - Parameters:
    ///   - create: create the database when it does not exist (ingest does; queries do not).
    ///   - generator: answer with this generator instead of the configured one.
    public init(configuration: Configuration, create: Bool = false, generator: (any AnswerGenerator)? = nil) throws(KBError) {
        self.configuration = configuration
        self.store = try SQLiteStore(path: configuration.databasePath, create: create)
        self.generatorOverride = generator
    }

    // MARK: Ingest

    /// Ingests files and folders (the configured knowledge folders when `paths` is empty), then
    /// embeds new chunks with the configured model when `embed` is true and the model is installed
    /// (otherwise the summary carries a warning and search stays keyword-only).
    public func ingest(paths: [String] = [], embed: Bool = true, progress: @Sendable (IngestProgress) -> Void = { _ in },
                       isCancelled: @Sendable () -> Bool = { false }) throws(KBError) -> IngestSummary {
        let roots = try Self.ingestRoots(paths, configuration: configuration)
        var indexer: EmbeddingIndexer?
        var warnings: [String] = []
        if embed {
            do {
                indexer = EmbeddingIndexer(store: store, embedder: try embedder(named: configuration.embeddingModel),
                                          batchSize: configuration.embeddingBatch)
            } catch where error.code == .model {
                warnings.append("Not embedding: \(error.message) Search stays keyword-only until the model is available.")
            }
        }
        let ingestor = Ingestor(store: store, chunker: StructuredChunker(options: configuration.chunking),
                                maxFileSize: configuration.maxFileSize, embedding: indexer)
        var summary = try ingestor.ingest(paths: roots, progress: progress, isCancelled: isCancelled)
        summary.warnings = warnings + summary.warnings
        return summary
    }

    /// Embeds the chunks that have no vector for the configured model (what ingest does after reading files).
    public func embedMissing(progress: @Sendable (IngestProgress) -> Void = { _ in },
                             isCancelled: @Sendable () -> Bool = { false }) throws(KBError) -> (embedded: Int, truncated: Int) {
        let lock = try IngestLock(path: store.location + ".lock")
        defer { withExtendedLifetime(lock) {} }
        let result = try EmbeddingIndexer(store: store, embedder: try embedder(named: configuration.embeddingModel),
                                          batchSize: configuration.embeddingBatch)
            .run(started: Date(), progress: progress, isCancelled: isCancelled)
        return (result.embedded, result.truncated)
    }

    // MARK: Models

    /// The embedder for a model name, loaded once per knowledge base.
    public func embedder(named name: String) throws(KBError) -> any Embedder {
        try models.embedder(name) { () throws(KBError) in
            try EmbedderCatalog(modelsFolder: configuration.modelsFolder, endpoint: configuration.embeddingEndpoint).embedder(named: name)
        }
    }

    /// Makes `embedder` the one used for its model name in this knowledge base (tests use deterministic embedders).
    func use(_ embedder: any Embedder) { models.insert(embedder) }

    /// The models kb can use, with vector counts in this knowledge base.
    public func modelCatalog() -> EmbedderCatalog {
        EmbedderCatalog(modelsFolder: configuration.modelsFolder, endpoint: configuration.embeddingEndpoint)
    }

    /// Vector counts per model.
    public func embeddingCoverage() throws(KBError) -> [EmbeddingCoverage] { try store.embeddingCoverage() }

    /// The model whose vectors search uses: the configured one once all chunks have vectors; until
    /// then a model that has vectors for every chunk (so switching models never degrades search
    /// while the new vectors are computed); else whichever has the most.
    public func searchModel() throws(KBError) -> String? {
        try searchModel(coverage: try store.embeddingCoverage())?.model
    }

    private func searchModel(coverage: [EmbeddingCoverage]) throws(KBError) -> EmbeddingCoverage? {
        let chunks = try store.passageCount()
        let preferred = configuration.embeddingModel
        if let mine = coverage.first(where: { $0.model == preferred }), mine.vectors >= chunks { return mine }
        if let complete = coverage.filter({ $0.vectors >= chunks }).max(by: { $0.vectors < $1.vectors }) { return complete }
        if let mine = coverage.first(where: { $0.model == preferred }), mine.vectors > 0 { return mine }
        return coverage.max(by: { $0.vectors < $1.vectors })
    }

    /// The retriever for a mode; nil mode means hybrid when vectors exist, keyword otherwise.
    func retriever(mode: SearchMode?) throws(KBError) -> any Retriever {
        try retrieverAndWarnings(mode: mode).retriever
    }

    /// The retriever, and why the default fell back to keywords when it did.
    func retrieverAndWarnings(mode: SearchMode?) throws(KBError) -> (retriever: any Retriever, warnings: [String]) {
        let keyword = KeywordRetriever(index: store, store: store)
        if mode == .keyword { return (keyword, []) }
        do {
            return (try vectorRetriever(mode: mode, keyword: keyword), [])
        } catch where mode == nil && (error.code == .model || error.code == .endpoint || error.code == .invalidArgument) {
            // Vectors exist but their model cannot be used here: keyword search still answers.
            return (keyword, ["Searched by keywords only: \(error.message)"])
        }
    }

    private func vectorRetriever(mode: SearchMode?, keyword: KeywordRetriever) throws(KBError) -> any Retriever {
        guard let chosen = try searchModel(coverage: try store.embeddingCoverage()) else {
            if mode == nil { return keyword }
            throw KBError(.invalidArgument, "No vectors in \(store.location) yet, so --mode \(mode!.rawValue) cannot run. Run `kb ingest` with an embedding model installed (scripts/setup.sh), or use --mode keyword.")
        }
        let model = chosen.model
        let embedder = try embedder(named: model)
        let index = try models.index(model, state: "\(chosen.vectors)@\(chosen.updatedAt)") { () throws(KBError) in
            FlatVectorIndex(try store.loadVectors(model: model))
        }
        let vector = VectorRetriever(embedder: embedder, index: index, store: store)
        if mode == .vector { return vector }
        let weights: @Sendable (AnalyzedQuery) throws(KBError) -> [String: Double] = { [self] query throws(KBError) in try self.termWeights(for: query) }
        return HybridRetriever(keyword: keyword, vector: vector, fusion: configuration.fusion, termWeights: weights)
    }

    /// Absolute, standardised ingest roots for `paths` (the configured knowledge folders when empty).
    /// Throws ``KBError/Code/pathNotFound`` for a path that does not exist, before anything is written.
    public static func ingestRoots(_ paths: [String], configuration: Configuration) throws(KBError) -> [String] {
        let cwd = FileManager.default.currentDirectoryPath
        let roots = (paths.isEmpty ? configuration.knowledgeFolders : paths).map { path -> String in
            let expanded = (path as NSString).expandingTildeInPath
            let absolute = expanded.hasPrefix("/") ? expanded : (cwd as NSString).appendingPathComponent(expanded)
            var standardized = (absolute as NSString).standardizingPath
            while standardized.count > 1 && standardized.hasSuffix("/") { standardized.removeLast() }
            return standardized
        }
        for root in roots where !FileManager.default.fileExists(atPath: root) { throw KBError.pathNotFound(root) }
        return roots
    }

    // MARK: Search

    /// The most results one search returns, whatever is asked.
    public static let maximumResults = 1000

    /// Searches: keyword (BM25), vector, or hybrid (the default once vectors exist).
    /// Throws ``KBError/Code/invalidArgument`` for an empty query.
    public func search(_ query: String, limit: Int? = nil, mode: SearchMode? = nil) throws(KBError) -> SearchResponse {
        let started = Date()
        let analyzed = try QueryAnalyzer.analyze(query)
        let (retriever, warnings) = try retrieverAndWarnings(mode: mode)
        let retrieved = try retriever.retrieve(analyzed, limit: min(Self.maximumResults, max(1, limit ?? configuration.searchLimit)))
        let matcher = TermMatcher(analyzed)
        return SearchResponse(query: analyzed.normalized, language: analyzed.language, mode: retriever.mode,
                              results: retrieved.map { Self.hit($0, matcher: matcher) },
                              seconds: Date().timeIntervalSince(started), warnings: warnings)
    }

    static func hit(_ retrieved: RetrievedPassage, matcher: TermMatcher) -> SearchHit {
        let passage = retrieved.passage
        let snippet = SnippetBuilder.snippet(passage.text, matcher: matcher)
        return SearchHit(rank: retrieved.rank, score: retrieved.score, path: passage.path,
                         chunkID: String(passage.chunkID), documentID: passage.documentID, title: passage.title,
                         heading: passage.heading, startLine: passage.startLine, endLine: passage.endLine, page: passage.page,
                         text: passage.text, snippet: snippet.text, highlights: snippet.highlights,
                         matchedTerms: retrieved.matchedTerms, explanation: retrieved.explanation)
    }

    // MARK: Ask

    /// Answers a question from the knowledge base, streaming answer text through `onText`.
    /// Answers a question: retrieve → (abstain when retrieval is not confident) → generate, streaming text
    /// through `onText` → check every sentence against the passages (``CitationVerifier``) → the checked
    /// answer with citations, quality scores and timings, or the "not found" message with the closest passages.
    ///
    /// - Parameters:
    ///   - conversation: continue this conversation: a follow-up question is rewritten into a standalone one
    ///     from the earlier turns (see ``QuestionRewriter``) before retrieval.
    ///   - remember: keep the answer in the database (in `conversation`, or a new one) so it can be
    ///     continued and rated.
    ///   - priorTurns: earlier questions and answers held by the caller (an OpenAI-style client sends the whole
    ///     chat each time), used like a stored conversation's turns.
    public func ask(_ question: String, passages: Int? = nil, mode: SearchMode? = nil, conversation: String? = nil,
                    priorTurns: [(question: String, answer: String)] = [], remember: Bool = true,
                    onText: @escaping @Sendable (String) -> Void = { _ in }) async throws(KBError) -> Answer {
        let clock = Stopwatch()
        let asked = try QueryAnalyzer.analyze(question)
        let (generator, generatorWarning) = try configuredGenerator()
        var history: [AnswerRecord] = priorTurns.enumerated().map { index, turn in
            AnswerRecord(id: "", conversationID: "", turn: index + 1, question: turn.question, standaloneQuestion: turn.question,
                         language: "", answer: turn.answer, abstained: false, generator: "", model: nil, citations: [], passages: [],
                         quality: QualityScores(groundedness: 0, citationAccuracy: nil, retrievalConfidence: 0, relevance: 0), createdAt: 0)
        }
        if let conversation {
            guard let found = try store.conversation(id: conversation) else {
                throw KBError(.invalidArgument, "There is no conversation \(conversation) in this knowledge base; start one by asking without --conversation.")
            }
            history = found.turns + history
        }
        var analyzed = asked
        if !history.isEmpty {
            let rewriter: any QuestionRewriter = (generator as? LanguageModelGenerator).map { LanguageModelRewriter(model: $0.languageModel) }
                ?? HeuristicRewriter()
            if let standalone = try await rewriter.rewrite(asked, history: history), let rewritten = try? QueryAnalyzer.analyze(standalone) {
                analyzed = rewritten
            }
        }
        let rewriteSeconds = history.isEmpty ? nil : clock.seconds
        var answer = try await answer(analyzed, generator: generator, generatorWarning: generatorWarning, passages: passages,
                                      mode: mode, clock: clock, onText: onText)
        answer.question = asked.normalized
        answer.standaloneQuestion = analyzed.normalized
        answer.timings.rewrite = rewriteSeconds
        if remember {
            do throws(KBError) {
                let conversationID: String
                if let conversation { conversationID = conversation } else { conversationID = try store.createConversation(title: asked.normalized) }
                let record = AnswerRecord(answer, conversationID: conversationID)
                answer.turn = try store.saveAnswer(record)
                answer.conversationID = conversationID
            } catch {
                answer.warnings.append("The answer was not saved (\(error.message)); it cannot be continued or rated.")
            }
        }
        return answer
    }

    /// The pipeline after input understanding: retrieval, confidence, generation, assessment.
    private func answer(_ analyzed: AnalyzedQuery, generator: any AnswerGenerator, generatorWarning: String?, passages: Int?,
                        mode: SearchMode?, clock: Stopwatch, onText: @escaping @Sendable (String) -> Void) async throws(KBError) -> Answer {
        let (retriever, retrievalWarnings) = try retrieverAndWarnings(mode: mode)
        let retrieved = try retriever.retrieve(analyzed, limit: min(Self.maximumResults, max(1, passages ?? configuration.askPassages)))
        var timings = AnswerTimings()
        timings.retrieval = clock.seconds
        let matcher = TermMatcher(analyzed)
        let hits = retrieved.map { Self.hit($0, matcher: matcher) }
        let weights = try termWeights(for: analyzed)
        // The model whose vectors the knowledge base holds: for retrieval confidence (when vectors were
        // searched) and for the semantic half of the answer check (always, when it loads).
        let modelWithVectors = (try? searchModel()) ?? nil
        let vectorModel = retriever.mode == "keyword" ? nil : modelWithVectors
        let signals = RetrievalConfidence.estimate(question: analyzed, passages: retrieved, termWeights: weights,
                                                   vectorModel: vectorModel)
        let confidence = signals.confidence
        var warnings = retrievalWarnings + (generatorWarning.map { [$0] } ?? [])
        if let model = generator.model, let info = GeneratorCatalog.models.first(where: { $0.name == model }),
           analyzed.language != "und", !info.languages.contains(analyzed.language) {
            warnings.append("\(model) does not read \(analyzed.language == "zh" ? "Chinese" : analyzed.language); for such questions use --model \(GeneratorCatalog.defaultModel).")
        }
        let info = GeneratorInfo(name: generator.name, model: generator.model)

        func abstaining(_ reason: String, generated: GeneratedAnswer? = nil, assessment: Assessment? = nil) -> Answer {
            let text = ExtractiveGenerator.notFound(language: analyzed.language)
            if generated == nil { onText(text) }
            timings.total = clock.seconds
            var quality = assessment?.quality ?? QualityScores(groundedness: 0, citationAccuracy: nil,
                                                                retrievalConfidence: CitationVerifier.round(confidence), relevance: 0)
            quality.keywordCoverage = CitationVerifier.round(signals.keywordCoverage)
            quality.vectorSimilarity = signals.vectorSimilarity.map(CitationVerifier.round)
            return Answer(answerID: Self.newAnswerID(), question: analyzed.normalized, language: analyzed.language, answer: text,
                          abstained: true, abstainReason: reason, citations: [], sentences: assessment?.sentences ?? [],
                          quality: quality, passages: hits, generator: info, generatedText: generated?.text, timings: timings,
                          warnings: warnings)
        }
        guard !retrieved.isEmpty else { return abstaining("No passage matches the question.") }
        guard confidence >= RetrievalConfidence.threshold else {
            return abstaining("Retrieval confidence \(CitationVerifier.round(confidence)) is below \(RetrievalConfidence.threshold): the knowledge base does not seem to cover this question.")
        }

        let request = GenerationRequest(question: analyzed, passages: retrieved, termWeights: weights,
                                        sampling: configuration.generation.sampling)
        let firstText = FirstTime()
        let generated = try await generator.generate(request) { piece in
            firstText.mark(clock.seconds)
            onText(piece)
        }
        timings.firstToken = firstText.value
        if let stats = generated.stats {
            timings.prompt = stats.promptSeconds
            timings.promptTokens = stats.promptTokens
            timings.generatedTokens = stats.generatedTokens
            timings.tokensPerSecond = stats.tokensPerSecond.map { ($0 * 100).rounded() / 100 }
        }
        let assessStarted = clock.seconds
        let checkingEmbedder = modelWithVectors.flatMap { try? embedder(named: $0) }
        let assessment = try CitationVerifier(embedder: checkingEmbedder)
            .assess(answer: generated.text, question: analyzed, passages: retrieved, passagesShown: generated.passagesShown,
                    retrievalConfidence: confidence, generatorAbstained: generated.abstained)
        timings.assessment = clock.seconds - assessStarted
        if let reason = assessment.abstainReason { return abstaining(reason, generated: generated, assessment: assessment) }

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
                            supported: finalCited.contains(number), citedByGenerator: generatorCited.contains(number))
        }
        timings.total = clock.seconds
        var quality = assessment.quality
        quality.keywordCoverage = CitationVerifier.round(signals.keywordCoverage)
        quality.vectorSimilarity = signals.vectorSimilarity.map(CitationVerifier.round)
        return Answer(answerID: Self.newAnswerID(), question: analyzed.normalized, language: analyzed.language,
                      answer: assessment.text, abstained: false, abstainReason: nil, citations: citations,
                      sentences: assessment.sentences, quality: quality, passages: hits, generator: info,
                      generatedText: generated.text, timings: timings, warnings: warnings)
    }

    /// A new answer id: `a_` and 16 random hex digits.
    static func newAnswerID() -> String { "a_" + randomHex(8) }

    // MARK: Conversations and feedback

    /// A conversation with its turns.
    public func conversation(id: String) throws(KBError) -> Conversation {
        guard let found = try store.conversation(id: id) else {
            throw KBError(.invalidArgument, "There is no conversation \(id) in this knowledge base.")
        }
        return found
    }

    /// Rates an answer: `up` or `down`, with an optional comment.
    public func rate(answerID: String, up: Bool, comment: String? = nil) throws(KBError) {
        try store.saveFeedback(answerID: answerID, rating: up ? 1 : -1, comment: comment)
    }

    /// Ratings over time and the worst-rated answers with their sources and scores.
    public func feedbackReport(worst: Int = 10) throws(KBError) -> FeedbackReport {
        try store.feedbackReport(worst: max(0, worst))
    }

    func termWeights(for query: AnalyzedQuery) throws(KBError) -> [String: Double] {
        let terms = query.searchTerms
        let characters = terms.filter { $0.unicodeScalars.count == 2 && $0.unicodeScalars.allSatisfy { Script.isCJK($0.value) } }
            .flatMap { $0.map(String.init) }
        let frequencies = try store.documentFrequencies(terms + characters)
        let total = Double(max(1, try store.passageCount()))
        func idf(_ df: Int) -> Double { log(1 + (total - Double(df) + 0.5) / (Double(df) + 0.5)) }
        var weights: [String: Double] = [:]
        for term in terms {
            let df = frequencies[term] ?? 0
            var weight = idf(df)
            if df == 0, term.unicodeScalars.count == 2, term.unicodeScalars.allSatisfy({ Script.isCJK($0.value) }),
               term.allSatisfy({ (frequencies[String($0)] ?? 0) > 0 }) {
                weight /= 3
            }
            weights[term] = weight
        }
        return weights
    }

    // MARK: Status

    /// Counts, the last ingest and failed files.
    public func status() throws(KBError) -> StatusReport {
        var report = try store.status()
        report.embeddingModels = try store.embeddingCoverage()
        return report
    }

    /// Invariants an interrupted ingest must not break; empty when the database is sound.
    public func consistencyProblems() throws(KBError) -> [String] { try store.consistencyProblems() }

    /// The documents in the knowledge base, by path.
    public func documents() throws(KBError) -> [DocumentRecord] { try store.documents() }

    /// Removes a document (and its chunks and vectors) from the index. The file itself is left alone; a later
    /// ingest of its folder adds it again unless it was deleted.
    public func removeDocument(id: Int) throws(KBError) -> DocumentRecord {
        guard let document = try store.documents().first(where: { $0.id == id }) else {
            throw KBError(.pathNotFound, "There is no document \(id) in the knowledge base.")
        }
        try store.removeDocument(id: id)
        return document
    }

    /// Resolves a path a remote client asks to ingest: relative paths are taken inside the first knowledge
    /// folder; after resolving `..` and symbolic links it must still lie inside one of the knowledge folders.
    public func pathInsideKnowledgeFolders(_ path: String) throws(KBError) -> String {
        guard !path.isEmpty, !path.contains("\u{0}") else { throw KBError(.invalidArgument, "The path is empty.") }
        let folders = configuration.knowledgeFolders.map { URL(fileURLWithPath: $0).resolvingSymlinksInPath().standardizedFileURL.path }
        guard let first = folders.first else { throw KBError(.invalidArgument, "No knowledge folders are configured.") }
        let candidate = path.hasPrefix("/") ? path : (first as NSString).appendingPathComponent(path)
        guard FileManager.default.fileExists(atPath: candidate) else { throw KBError.pathNotFound(path) }
        let resolved = URL(fileURLWithPath: candidate).resolvingSymlinksInPath().standardizedFileURL.path
        guard folders.contains(where: { resolved == $0 || resolved.hasPrefix($0.hasSuffix("/") ? $0 : $0 + "/") }) else {
            throw KBError(.outsideKnowledgeFolders, "\(path) is outside the knowledge folders (\(folders.joined(separator: ", "))); only files inside them can be ingested.")
        }
        return resolved
    }
}

/// Seconds since creation, monotonic.
struct Stopwatch: Sendable {
    private let start = DispatchTime.now().uptimeNanoseconds
    var seconds: Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
}

/// The first time something happened, recorded from any thread.
final class FirstTime: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Double?
    func mark(_ seconds: Double) { lock.withLock { if stored == nil { stored = seconds } } }
    var value: Double? { lock.withLock { stored } }
}

/// How `kb search` retrieves.
public enum SearchMode: String, Sendable, CaseIterable, Codable {
    case keyword, vector, hybrid
}

/// Loaded embedders and vector indexes, shared by the searches of one process.
final class ModelCache: @unchecked Sendable {
    private let lock = NSLock()
    private var embedders: [String: any Embedder] = [:]
    private var indexes: [String: (state: String, index: FlatVectorIndex)] = [:]

    func embedder(_ name: String, load: () throws(KBError) -> any Embedder) throws(KBError) -> any Embedder {
        lock.lock(); defer { lock.unlock() }
        if let cached = embedders[name] { return cached }
        let loaded = try load()
        embedders[name] = loaded
        return loaded
    }

    func insert(_ embedder: any Embedder) {
        lock.lock(); embedders[embedder.model] = embedder; lock.unlock()
    }

    /// The index for a model, reloaded when its vectors changed (their number or the newest write).
    func index(_ model: String, state: String, load: () throws(KBError) -> FlatVectorIndex) throws(KBError) -> FlatVectorIndex {
        lock.lock(); defer { lock.unlock() }
        if let cached = indexes[model], cached.state == state { return cached.index }
        let loaded = try load()
        indexes[model] = (state, loaded)
        return loaded
    }
}
