import Foundation

/// A knowledge base: its store and the stages that answer from it, composed in one place from the configuration
/// through the ``ComponentRegistry``.
///
/// The front ends (CLI, REST and OpenAI-compatible API) call it through ``KnowledgeService``, the transport-free
/// service layer; `KnowledgeBase` itself is the composition root and the library API for embedding kb.
public final class KnowledgeBase: Sendable {
    public let configuration: Configuration
    /// The named implementations stages are made from.
    public let registry: ComponentRegistry
    /// The ask pipeline's stages (``AskPipeline/standard`` unless given).
    public let pipeline: AskPipeline
    let store: any KnowledgeStore
    /// A generator given explicitly (tests, embedding applications); nil means the configured one.
    let generatorOverride: (any AnswerGenerator)?
    let models = ModelCache()
    /// Documents read back lately (an agent reading on through a long PDF does not parse it again per call).
    let documentTexts = RecentDocumentTexts()
    /// Questions translated for cross-language search and the `restated` repair.
    let translations = TranslationCache()

    /// Opens the knowledge base the configuration names.
    ///
    /// - Parameters:
    ///   - create: create the database when it does not exist (ingest does; queries do not).
    ///   - generator: answer with this generator instead of the configured one.
    ///   - registry: where stage implementations come from (tests register doubles).
    ///   - readReplica: send searches to ``Configuration/readDatabase`` when one is configured (`kb serve`); other
    ///     commands read and write the primary only.
    public init(configuration: Configuration, create: Bool = false, generator: (any AnswerGenerator)? = nil,
                registry: ComponentRegistry = .standard, pipeline: AskPipeline = .standard, readReplica: Bool = false) throws(KBError) {
        self.configuration = configuration
        self.registry = registry
        self.pipeline = pipeline
        let primary = try registry.makeStore(configuration.databasePath, create: create)
        if readReplica, let replica = configuration.readDatabase {
            self.store = ReadReplicaStore(primary: primary, replica: try registry.makeStore(replica, create: false))
        } else {
            self.store = primary
        }
        self.generatorOverride = generator
    }

    /// Where the store lives.
    public var location: String { store.location }

    // MARK: Ingest

    /// Ingests files and folders (the configured knowledge folders when `paths` is empty), then
    /// embeds new chunks with the configured model when `embed` is true and the model is installed
    /// (otherwise the summary carries a warning and search stays keyword-only).
    ///
    /// The whole job (reading, parsing, embedding) runs on ``BlockingPool`` threads.
    public func ingest(paths: [String] = [], embed: Bool = true, progress: @escaping @Sendable (IngestProgress) -> Void = { _ in },
                       isCancelled: @escaping @Sendable () -> Bool = { false }) async throws(KBError) -> IngestSummary {
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
                                maxFileSize: configuration.maxFileSize, embedding: indexer, ocr: configuration.ocr)
        var summary = try await Self.onBlockingPool { () async throws(KBError) -> IngestSummary in
            try await ingestor.ingest(paths: roots, progress: progress, isCancelled: isCancelled)
        }
        summary.warnings = warnings + summary.warnings
        return summary
    }

    /// Embeds the chunks that have no vector for the configured model (what ingest does after reading files).
    public func embedMissing(progress: @escaping @Sendable (IngestProgress) -> Void = { _ in },
                             isCancelled: @escaping @Sendable () -> Bool = { false }) async throws(KBError) -> (embedded: Int, truncated: Int) {
        let lease = try await store.acquireIngestLease()
        defer { withExtendedLifetime(lease) {} }
        let indexer = EmbeddingIndexer(store: store, embedder: try embedder(named: configuration.embeddingModel),
                                       batchSize: configuration.embeddingBatch)
        let result = try await Self.onBlockingPool { () async throws(KBError) -> EmbeddingIndexer.Result in
            try await indexer.run(started: Date(), progress: progress, isCancelled: isCancelled)
        }
        return (result.embedded, result.truncated)
    }

    /// Runs an asynchronous job whose steps block (parsing, BLAS) with ``BlockingPool`` as its executor.
    static func onBlockingPool<T: Sendable>(_ body: @escaping @Sendable () async throws(KBError) -> T) async throws(KBError) -> T {
        let result: Result<T, KBError> = await withTaskExecutorPreference(BlockingPool.shared.executor) {
            do throws(KBError) { return .success(try await body()) } catch { return .failure(error) }
        }
        return try result.get()
    }

    // MARK: Models

    /// The embedder for a model name, loaded once per knowledge base.
    public func embedder(named name: String) throws(KBError) -> any Embedder {
        try models.embedder(name) { () throws(KBError) in try registry.makeEmbedder(name, models: modelCatalog()) }
    }

    /// Makes `embedder` the one used for its model name in this knowledge base (tests use deterministic embedders).
    public func use(_ embedder: any Embedder) { models.insert(embedder) }

    /// The models kb can use, with vector counts in this knowledge base.
    public func modelCatalog() -> EmbedderCatalog {
        EmbedderCatalog(modelsFolder: configuration.modelsFolder, endpoint: configuration.embeddingEndpoint)
    }

    /// Vector counts per model.
    public func embeddingCoverage() async throws(KBError) -> [EmbeddingCoverage] { try await store.embeddingCoverage() }

    /// The model whose vectors search uses: the configured one once all chunks have vectors; until
    /// then a model that has vectors for every chunk (so switching models never degrades search
    /// while the new vectors are computed); else whichever has the most.
    public func searchModel() async throws(KBError) -> String? {
        Self.searchModel(try await store.searchCoverage(), preferred: configuration.embeddingModel)?.model
    }

    static func searchModel(_ coverage: SearchCoverage, preferred: String) -> SearchCoverage.Model? {
        let models = coverage.models, chunks = coverage.chunks
        if let mine = models.first(where: { $0.model == preferred }), mine.vectors >= chunks { return mine }
        if let complete = models.filter({ $0.vectors >= chunks }).max(by: { $0.vectors < $1.vectors }) { return complete }
        if let mine = models.first(where: { $0.model == preferred }), mine.vectors > 0 { return mine }
        return models.max(by: { $0.vectors < $1.vectors })
    }

    /// How a search or an ask retrieves: the retriever for the mode (nil: hybrid when vectors exist, keyword
    /// otherwise), why the default fell back to keywords when it did, and the model of the stored vectors.
    public struct RetrievalPlan: Sendable {
        public var retriever: any Retriever
        public var warnings: [String]
        public var vectorModel: String?
    }

    /// The retriever for a mode, made by the registry.
    public func retrievalPlan(mode: SearchMode?) async throws(KBError) -> RetrievalPlan {
        let plan = try await singleLanguagePlan(mode: mode)
        guard configuration.translation != .off else { return plan }
        let retriever = CrossLanguageRetriever(base: plan.retriever, policy: configuration.translation) { [self] question, language throws(KBError) in
            try await translate(question, into: language)
        }
        return RetrievalPlan(retriever: retriever, warnings: plan.warnings, vectorModel: plan.vectorModel)
    }

    /// The question in `language` (`en` or `zh`), translated by the configured language model and cached; nil when
    /// the generator is not a language model or its reply is not a translation.
    func translate(_ question: String, into language: String) async throws(KBError) -> String? {
        let choice = try await BlockingPool.shared.run { [self] () throws(KBError) -> GeneratorChoice in try generatorChoice() }
        guard let model = (choice.generator as? LanguageModelGenerator)?.languageModel else { return nil }
        return try await translations.translate(question, into: language, model: model)
    }

    private func singleLanguagePlan(mode: SearchMode?) async throws(KBError) -> RetrievalPlan {
        if mode == .keyword {
            return RetrievalPlan(retriever: try registry.makeRetriever(.keyword, context(embedder: nil)), warnings: [], vectorModel: nil)
        }
        let chosen = Self.searchModel(try await store.searchCoverage(), preferred: configuration.embeddingModel)
        guard let chosen, chosen.vectors > 0 else {
            if let mode {
                throw KBError(.invalidArgument, "No vectors in \(store.location) yet, so --mode \(mode.rawValue) cannot run. Run `kb ingest` with an embedding model installed (scripts/setup.sh), or use --mode keyword.",
                              details: ["field": "mode"])
            }
            return RetrievalPlan(retriever: try registry.makeRetriever(.keyword, context(embedder: nil)), warnings: [], vectorModel: chosen?.model)
        }
        do {
            let embedder = try embedder(named: chosen.model)
            let retriever = try registry.makeRetriever(mode ?? .hybrid, context(embedder: embedder))
            return RetrievalPlan(retriever: retriever, warnings: [], vectorModel: chosen.model)
        } catch where mode == nil && (error.code == .model || error.code == .endpoint || error.code == .invalidArgument) {
            // Vectors exist but their model cannot be used here: keyword search still answers.
            return RetrievalPlan(retriever: try registry.makeRetriever(.keyword, context(embedder: nil)),
                                 warnings: ["Searched by keywords only: \(error.message)"], vectorModel: nil)
        }
    }

    private func context(embedder: (any Embedder)?) -> RetrieverContext {
        RetrieverContext(store: store, embedder: embedder, fusion: configuration.fusion)
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
    public func search(_ query: String, limit: Int? = nil, mode: SearchMode? = nil) async throws(KBError) -> SearchResponse {
        let clock = Stopwatch()
        let analyzed = try QueryAnalyzer.analyze(query)
        let plan = try await retrievalPlan(mode: mode)
        let retrieved = try await plan.retriever.retrieve(analyzed, limit: min(Self.maximumResults, max(1, limit ?? configuration.searchLimit)))
        let matcher = TermMatcher(analyzed)
        return SearchResponse(query: analyzed.normalized, language: analyzed.language, mode: plan.retriever.mode,
                              results: retrieved.passages.map { Self.hit($0, matcher: matcher) },
                              seconds: clock.seconds, warnings: plan.warnings)
    }

    static func hit(_ retrieved: RetrievedPassage, matcher: TermMatcher) -> SearchHit {
        let passage = retrieved.passage
        let snippet = SnippetBuilder.snippet(passage.text, matcher: matcher, spans: retrieved.textSpans)
        return SearchHit(rank: retrieved.rank, score: retrieved.score, path: passage.path,
                         chunkID: String(passage.chunkID), documentID: passage.documentID, title: passage.title,
                         heading: passage.heading, startLine: passage.startLine, endLine: passage.endLine, page: passage.page,
                         text: passage.text, snippet: snippet.text, highlights: snippet.highlights,
                         matchedTerms: retrieved.matchedTerms, explanation: retrieved.explanation,
                         locator: passage.locator, ocrConfidence: passage.ocrConfidence)
    }

    // MARK: Ask

    /// Answers a question through the ask pipeline (``AskPipeline``): understand → rewrite → retrieve → rerank →
    /// gate (abstain when retrieval is not confident) → generate, streaming text through `onText` → assess every
    /// sentence against the passages → repair an answer the check would withhold (announcing withdrawn text through
    /// `onReplaced`, then streaming its replacement) → the checked answer with citations, quality scores and timings, or the
    /// "not found" message with the closest passages → save.
    ///
    /// - Parameters:
    ///   - conversation: continue this conversation: a follow-up question is rewritten into a standalone one
    ///     from the earlier turns (see ``QuestionRewriter``) before retrieval.
    ///   - remember: keep the answer in the database (in `conversation`, or a new one) so it can be
    ///     continued and rated.
    ///   - priorTurns: earlier questions and answers held by the caller (an OpenAI-style client sends the whole
    ///     chat each time), used like a stored conversation's turns.
    ///   - caller: who asks (see ``Caller``); the answer's conversation is kept for them.
    public func ask(_ question: String, passages: Int? = nil, mode: SearchMode? = nil, conversation: String? = nil,
                    priorTurns: [(question: String, answer: String)] = [], remember: Bool = true, caller: Caller = .owner,
                    onText: @escaping @Sendable (String) -> Void = { _ in },
                    onReplaced: @escaping @Sendable (String) -> Void = { _ in }) async throws(KBError) -> Answer {
        let clock = Stopwatch()
        let input = AskInput(question: question, passages: passages, mode: mode, conversation: conversation,
                             priorTurns: priorTurns, remember: remember, caller: caller)
        _ = try QueryAnalyzer.analyze(question)   // an empty question fails before a model is loaded
        // Loading a language model reads hundreds of megabytes: not on the cooperative pool.
        let generator = try await BlockingPool.shared.run { [self] () throws(KBError) -> GeneratorChoice in try generatorChoice() }
        let context = AskContext(knowledgeBase: self, generator: generator, onText: onText, onReplaced: onReplaced, clock: clock)
        return try await pipeline.run(input, context: context)
    }

    /// The generator the configuration names (through the registry), or the one given at init.
    public func generatorChoice() throws(KBError) -> GeneratorChoice {
        if let injected = generatorOverride { return GeneratorChoice(generator: injected, concurrency: 1) }
        return try registry.makeGenerator(configuration.generation.generator, configuration: configuration)
    }

    /// The configured generator and a warning when kb fell back to another.
    public func configuredGenerator() throws(KBError) -> (generator: any AnswerGenerator, warning: String?) {
        let choice = try generatorChoice()
        return (choice.generator, choice.warning)
    }

    /// A new answer id: `a_` and 16 random hex digits.
    static func newAnswerID() -> String { "a_" + randomHex(8) }

    // MARK: Conversations and feedback

    /// A conversation with its turns (only the caller's own, unless the caller is an admin or the owner).
    public func conversation(id: String, caller: Caller = .owner) async throws(KBError) -> Conversation {
        guard let found = try await store.conversation(id: id), caller.maySee(found.user) else {
            throw KBError(.invalidArgument, "There is no conversation \(id) in this knowledge base.", details: ["conversation_id": id])
        }
        return found
    }

    /// Rates an answer: `up` or `down`, with an optional comment.
    public func rate(answerID: String, up: Bool, comment: String? = nil, caller: Caller = .owner) async throws(KBError) {
        try await store.saveFeedback(answerID: answerID, rating: up ? 1 : -1, comment: comment, user: caller.user)
    }

    /// Ratings over time and the worst-rated answers with their sources and scores.
    public func feedbackReport(worst: Int = 10) async throws(KBError) -> FeedbackReport {
        try await store.feedbackReport(worst: max(0, worst))
    }

    func termWeights(for query: AnalyzedQuery) async throws(KBError) -> [String: Double] {
        try await TermWeights.compute(query, index: store)
    }

    // MARK: Status

    /// Counts, the last ingest and failed files.
    public func status() async throws(KBError) -> StatusReport {
        var report = try await store.status()
        report.embeddingModels = try await store.embeddingCoverage()
        return report
    }

    /// Invariants an interrupted ingest must not break; empty when the database is sound.
    public func consistencyProblems() async throws(KBError) -> [String] { try await store.consistencyProblems() }

    /// The documents in the knowledge base, by path.
    public func documents() async throws(KBError) -> [DocumentRecord] { try await store.documents() }

    /// Removes a document (and its chunks and vectors) from the index. The file itself is left alone; a later
    /// ingest of its folder adds it again unless it was deleted.
    public func removeDocument(id: Int) async throws(KBError) -> DocumentRecord {
        guard let document = try await store.documents().first(where: { $0.id == id }) else {
            throw KBError(.pathNotFound, "There is no document \(id) in the knowledge base.", details: ["document_id": String(id)])
        }
        try await store.removeDocument(id: id)
        return document
    }

    /// Resolves a path a remote client asks to ingest: relative paths are taken inside the first knowledge
    /// folder; after resolving `..` and symbolic links it must still lie inside one of the knowledge folders.
    public func pathInsideKnowledgeFolders(_ path: String) throws(KBError) -> String {
        guard !path.isEmpty, !path.contains("\u{0}") else { throw KBError(.invalidArgument, "The path is empty.", details: ["field": "path"]) }
        let folders = configuration.knowledgeFolders.map { URL(fileURLWithPath: $0).resolvingSymlinksInPath().standardizedFileURL.path }
        guard let first = folders.first else { throw KBError(.invalidArgument, "No knowledge folders are configured.") }
        let candidate = path.hasPrefix("/") ? path : (first as NSString).appendingPathComponent(path)
        guard FileManager.default.fileExists(atPath: candidate) else { throw KBError.pathNotFound(path) }
        let resolved = URL(fileURLWithPath: candidate).resolvingSymlinksInPath().standardizedFileURL.path
        guard folders.contains(where: { resolved == $0 || resolved.hasPrefix($0.hasSuffix("/") ? $0 : $0 + "/") }) else {
            throw KBError(.outsideKnowledgeFolders, "\(path) is outside the knowledge folders (\(folders.joined(separator: ", "))); only files inside them can be ingested.",
                          details: ["path": path])
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

/// Loaded embedders, shared by the searches of one process.
final class ModelCache: @unchecked Sendable {
    private let lock = NSLock()
    private var embedders: [String: any Embedder] = [:]

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
}
