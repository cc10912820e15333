import Foundation

/// A knowledge base: the store, its indexes and the question-answering pipeline over them.
///
/// The CLI and (later) the daemon are both thin clients of this type.
public final class KnowledgeBase: Sendable {
    public let configuration: Configuration
    let store: SQLiteStore
    let generator: any AnswerGenerator

    /// Opens the knowledge base the configuration names.
    ///
    /// - Parameter create: create the database when it does not exist (ingest does; queries do not).
    public init(configuration: Configuration, create: Bool = false, generator: any AnswerGenerator = ExtractiveGenerator()) throws(KBError) {
        self.configuration = configuration
        self.store = try SQLiteStore(path: configuration.databasePath, create: create)
        self.generator = generator
    }

    // MARK: Ingest

    /// Ingests files and folders (the configured knowledge folders when `paths` is empty).
    public func ingest(paths: [String] = [], progress: @Sendable (IngestProgress) -> Void = { _ in },
                       isCancelled: @Sendable () -> Bool = { false }) throws(KBError) -> IngestSummary {
        let roots = try Self.ingestRoots(paths, configuration: configuration)
        let ingestor = Ingestor(store: store, chunker: StructuredChunker(options: configuration.chunking),
                                maxFileSize: configuration.maxFileSize)
        return try ingestor.ingest(paths: roots, progress: progress, isCancelled: isCancelled)
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

    /// Keyword search. Throws ``KBError/Code/invalidArgument`` for an empty query.
    public func search(_ query: String, limit: Int? = nil) throws(KBError) -> SearchResponse {
        let started = Date()
        let analyzed = try QueryAnalyzer.analyze(query)
        let retriever = KeywordRetriever(index: store, store: store)
        let retrieved = try retriever.retrieve(analyzed, limit: max(1, limit ?? configuration.searchLimit))
        let matcher = TermMatcher(analyzed)
        return SearchResponse(query: analyzed.normalized, language: analyzed.language, mode: retriever.mode,
                              results: retrieved.map { Self.hit($0, matcher: matcher) },
                              seconds: Date().timeIntervalSince(started))
    }

    static func hit(_ retrieved: RetrievedPassage, matcher: TermMatcher) -> SearchHit {
        let passage = retrieved.passage
        let snippet = SnippetBuilder.snippet(passage.text, matcher: matcher)
        return SearchHit(rank: retrieved.rank, score: retrieved.score, path: passage.path,
                         chunkID: String(passage.chunkID), documentID: passage.documentID, title: passage.title,
                         heading: passage.heading, startLine: passage.startLine, endLine: passage.endLine, page: passage.page,
                         text: passage.text, snippet: snippet.text, highlights: snippet.highlights,
                         matchedTerms: retrieved.matchedTerms)
    }

    // MARK: Ask

    /// Answers a question from the knowledge base, streaming answer text through `onText`.
    public func ask(_ question: String, passages: Int? = nil, onText: @Sendable (String) -> Void = { _ in }) async throws(KBError) -> Answer {
        let started = Date()
        let analyzed = try QueryAnalyzer.analyze(question)
        let retriever = KeywordRetriever(index: store, store: store)
        let retrieved = try retriever.retrieve(analyzed, limit: max(1, passages ?? configuration.askPassages))
        let matcher = TermMatcher(analyzed)
        let hits = retrieved.map { Self.hit($0, matcher: matcher) }
        guard !retrieved.isEmpty else {
            let text = ExtractiveGenerator.notFound(language: analyzed.language)
            onText(text)
            return Answer(question: analyzed.normalized, language: analyzed.language, answer: text, abstained: true,
                          citations: [], passages: [], generator: generator.name, seconds: Date().timeIntervalSince(started))
        }
        let weights = try termWeights(for: analyzed)
        let request = GenerationRequest(question: analyzed, passages: retrieved, termWeights: weights)
        let generated = try await generator.generate(request, onText: onText)
        let citations = generated.citedPassages.compactMap { number -> Citation? in
            guard number >= 1 && number <= retrieved.count else { return nil }
            let passage = retrieved[number - 1].passage
            return Citation(id: number, path: passage.path, chunkID: String(passage.chunkID), heading: passage.heading,
                            startLine: passage.startLine, endLine: passage.endLine, page: passage.page, text: passage.text)
        }
        return Answer(question: analyzed.normalized, language: analyzed.language, answer: generated.text,
                      abstained: generated.abstained, citations: citations, passages: hits, generator: generator.name,
                      seconds: Date().timeIntervalSince(started))
    }

    /// BM25-style inverse document frequency of each query term. Terms absent from the knowledge
    /// base weigh the most, except CJK bigrams whose characters are both known: those are usually
    /// the seam between two words and weigh a third as much.
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
    public func status() throws(KBError) -> StatusReport { try store.status() }

    /// Invariants an interrupted ingest must not break; empty when the database is sound.
    public func consistencyProblems() throws(KBError) -> [String] { try store.consistencyProblems() }
}
