import Foundation

/// kb's stages by name: every implementation of a stage protocol, registered with one line here, and the only
/// place that turns a configured name into an object (no `switch` on model or generator names elsewhere).
///
/// | stage | protocol | registered |
/// |---|---|---|
/// | store | ``KnowledgeStore`` (documents, keyword index, vectors, conversations) | `sqlite`, `postgres` |
/// | embedder | ``Embedder`` | `multilingual-e5-small`, `all-minilm-l6-v2`, `endpoint:MODEL` |
/// | retriever | ``Retriever`` | `keyword`, `vector`, `hybrid` |
/// | reranker | ``Reranker`` | `identity` |
/// | generator | ``AnswerGenerator`` | `llama`, `openai`, `extractive` |
/// | answer assessor | ``AnswerAssessor`` | `citation-verifier` |
/// | question rewriter | ``QuestionRewriter`` | `language-model`, `heuristic` |
///
/// Document loaders have their own registry by format (``LoaderRegistry``). A new implementation is a new type
/// and one `register` call; tests register doubles the same way.
public struct ComponentRegistry: Sendable {
    /// What a store factory gets: where the store is, and whether to create it.
    public typealias StoreFactory = @Sendable (_ location: String, _ create: Bool) throws(KBError) -> any KnowledgeStore
    public typealias EmbedderFactory = @Sendable (_ name: String, _ models: EmbedderCatalog) throws(KBError) -> any Embedder
    public typealias RetrieverFactory = @Sendable (RetrieverContext) throws(KBError) -> any Retriever
    public typealias RerankerFactory = @Sendable (Configuration) -> any Reranker
    public typealias GeneratorFactory = @Sendable (Configuration) throws(KBError) -> GeneratorChoice
    public typealias AssessorFactory = @Sendable (AssessorContext) -> any AnswerAssessor
    /// Returns nil when the rewriter cannot work with this generator (a model rewriter without a model).
    public typealias RewriterFactory = @Sendable (any AnswerGenerator) -> (any QuestionRewriter)?

    /// A store implementation: the URL schemes (or `file` for paths) it serves.
    public struct StoreEntry: Sendable {
        public var name: String
        public var handles: @Sendable (String) -> Bool
        public var make: StoreFactory
    }

    public private(set) var stores: [StoreEntry] = []
    public private(set) var embedders: [String: EmbedderFactory] = [:]
    /// Embedder names in registration order (the order error messages list them).
    public private(set) var embedderNames: [String] = []
    /// Embedders named by a prefix (`endpoint:` followed by the served model's name).
    public private(set) var embedderPrefixes: [String: EmbedderFactory] = [:]
    public private(set) var retrievers: [SearchMode: RetrieverFactory] = [:]
    public private(set) var rerankers: [String: RerankerFactory] = [:]
    public private(set) var generators: [String: GeneratorFactory] = [:]
    /// Generators in registration order, each with a one-line description for `kb models`.
    public private(set) var generatorSummaries: [(name: String, summary: @Sendable (Configuration) -> String)] = []
    public private(set) var assessors: [String: AssessorFactory] = [:]
    /// Rewriters in the order `auto` tries them.
    public private(set) var rewriters: [(name: String, make: RewriterFactory)] = []

    public init() {}

    public mutating func registerStore(_ name: String, handles: @escaping @Sendable (String) -> Bool, _ make: @escaping StoreFactory) {
        stores.removeAll { $0.name == name }
        stores.insert(StoreEntry(name: name, handles: handles, make: make), at: 0)
    }
    public mutating func registerEmbedder(_ name: String, _ make: @escaping EmbedderFactory) {
        if embedders.updateValue(make, forKey: name) == nil { embedderNames.append(name) }
    }
    public mutating func registerEmbedder(prefix: String, _ make: @escaping EmbedderFactory) { embedderPrefixes[prefix] = make }
    public mutating func registerRetriever(_ mode: SearchMode, _ make: @escaping RetrieverFactory) { retrievers[mode] = make }
    public mutating func registerReranker(_ name: String, _ make: @escaping RerankerFactory) { rerankers[name] = make }
    public mutating func registerGenerator(_ name: String, summary: @escaping @Sendable (Configuration) -> String,
                                           _ make: @escaping GeneratorFactory) {
        generators[name] = make
        generatorSummaries.removeAll { $0.name == name }
        generatorSummaries.append((name, summary))
    }
    public mutating func registerAssessor(_ name: String, _ make: @escaping AssessorFactory) { assessors[name] = make }
    public mutating func registerRewriter(_ name: String, _ make: @escaping RewriterFactory) {
        rewriters.removeAll { $0.name == name }
        rewriters.append((name, make))
    }

    // MARK: Lookups

    /// Opens the store for a database location.
    public func makeStore(_ location: String, create: Bool) throws(KBError) -> any KnowledgeStore {
        guard let entry = stores.first(where: { $0.handles(location) }) else {
            throw KBError(.configuration, "No store can open \(location); known stores: \(stores.map(\.name).joined(separator: ", ")).")
        }
        return try entry.make(location, create)
    }

    /// Loads (or connects to) an embedding model by name.
    /// Loads (or connects to) an embedding model by name; `models` says where local models live and which
    /// endpoint is configured.
    public func makeEmbedder(_ name: String, models: EmbedderCatalog) throws(KBError) -> any Embedder {
        if let make = embedders[name] { return try make(name, models) }
        if let (prefix, make) = embedderPrefixes.first(where: { name.hasPrefix($0.key) }) {
            return try make(String(name.dropFirst(prefix.count)), models)
        }
        let known = (embedderNames + embedderPrefixes.keys.sorted().map { $0 + "MODEL" }).joined(separator: ", ")
        throw KBError(.invalidArgument, "Unknown embedding model \(name). Known models: \(known). `kb models` lists them.")
    }

    public func makeRetriever(_ mode: SearchMode, _ context: RetrieverContext) throws(KBError) -> any Retriever {
        guard let make = retrievers[mode] else { throw KBError(.invalidArgument, "No retriever is registered for --mode \(mode.rawValue).") }
        return try make(context)
    }

    public func makeReranker(_ name: String, configuration: Configuration) throws(KBError) -> any Reranker {
        guard let make = rerankers[name] else {
            throw KBError(.configuration, "Unknown reranker \(name) (pipeline.reranker); known: \(rerankers.keys.sorted().joined(separator: ", ")).")
        }
        return make(configuration)
    }

    public func makeGenerator(_ name: String, configuration: Configuration) throws(KBError) -> GeneratorChoice {
        guard let make = generators[name] else {
            throw KBError(.configuration, "Unknown generator \(name); known: \(generatorSummaries.map(\.name).joined(separator: ", ")).")
        }
        return try make(configuration)
    }

    public func makeAssessor(_ name: String, _ context: AssessorContext) throws(KBError) -> any AnswerAssessor {
        guard let make = assessors[name] else {
            throw KBError(.configuration, "Unknown answer assessor \(name) (pipeline.assessor); known: \(assessors.keys.sorted().joined(separator: ", ")).")
        }
        return make(context)
    }

    /// The rewriter named (or, for `auto`, the first registered one that works with the generator).
    public func makeRewriter(_ name: String, generator: any AnswerGenerator) throws(KBError) -> any QuestionRewriter {
        if name == "auto" {
            for entry in rewriters { if let rewriter = entry.make(generator) { return rewriter } }
        } else if let entry = rewriters.first(where: { $0.name == name }) {
            if let rewriter = entry.make(generator) { return rewriter }
            throw KBError(.configuration, "The \(name) question rewriter needs a language-model generator; this one is \(generator.name).")
        }
        throw KBError(.configuration, "Unknown question rewriter \(name) (pipeline.rewriter); known: auto, \(rewriters.map(\.name).joined(separator: ", ")).")
    }
}

/// What a retriever is built from.
public struct RetrieverContext: Sendable {
    public var store: any KnowledgeStore
    /// The embedder whose vectors the store holds (vector and hybrid modes).
    public var embedder: (any Embedder)?
    public var fusion: Fusion

    public init(store: any KnowledgeStore, embedder: (any Embedder)?, fusion: Fusion) {
        self.store = store
        self.embedder = embedder
        self.fusion = fusion
    }

    func requireEmbedder(_ mode: SearchMode) throws(KBError) -> any Embedder {
        guard let embedder else { throw KBError(.invalidArgument, "--mode \(mode.rawValue) needs stored vectors and their model.") }
        return embedder
    }
}

/// What an answer assessor is built from, per answer: the embedder of the stored vectors (for semantic support),
/// the shown passages' stored vectors and the question's vector from retrieval.
public struct AssessorContext: Sendable {
    public var embedder: (any Embedder)?
    public var passageVectors: [Int: [Float]]
    public var questionVector: [Float]?
    public init(embedder: (any Embedder)?, passageVectors: [Int: [Float]] = [:], questionVector: [Float]? = nil) {
        self.embedder = embedder
        self.passageVectors = passageVectors
        self.questionVector = questionVector
    }
}

/// A generator made from the configuration, and a warning when kb fell back to another.
public struct GeneratorChoice: Sendable {
    public var generator: any AnswerGenerator
    public var warning: String?
    /// Answers this generator can write at once: 1 for an in-process model (one context), more for a server.
    public var concurrency: Int
    public init(generator: any AnswerGenerator, warning: String? = nil, concurrency: Int = 1) {
        self.generator = generator
        self.warning = warning
        self.concurrency = concurrency
    }
}

extension ComponentRegistry {
    /// Everything kb ships.
    public static let standard: ComponentRegistry = {
        var registry = ComponentRegistry()
        // Stores. A path (or file: URL) is an SQLite database.
        registry.registerStore("sqlite", handles: { !$0.contains("://") || $0.hasPrefix("file://") }) { location, create throws(KBError) in
            try SQLiteStore(path: location.hasPrefix("file://") ? String(location.dropFirst(7)) : location, create: create)
        }
        // A postgres:// URL is a PostgreSQL database with pgvector.
        registry.registerStore("postgres", handles: { $0.hasPrefix("postgres://") || $0.hasPrefix("postgresql://") }) { location, create throws(KBError) in
            try PostgresStore(url: location, create: create)
        }
        // Embedders.
        registry.registerEmbedder("multilingual-e5-small") { name, models throws(KBError) in
            let (weights, tokenizer) = try E5PackedLoader.load(file: models.modelsFolder + "/multilingual-e5-small/e5-small-q4.bin")
            return try LocalEmbedder(model: name, tokenizer: tokenizer, weights: weights, maxTokens: 512,
                                     prefixes: [.query: "query: ", .passage: "passage: "])
        }
        registry.registerEmbedder("all-minilm-l6-v2") { name, models throws(KBError) in
            let (weights, tokenizer, maxTokens) = try BertFolderLoader.load(folder: models.modelsFolder + "/all-minilm-l6-v2")
            return try LocalEmbedder(model: name, tokenizer: tokenizer, weights: weights, maxTokens: maxTokens)
        }
        registry.registerEmbedder(prefix: "endpoint:") { served, models throws(KBError) in
            guard let endpoint = models.endpoint else {
                throw KBError(.model, "endpoint:\(served) needs an embedding endpoint: set embeddings.endpoint in the config file or KB_EMBEDDING_ENDPOINT.")
            }
            return OpenAIEmbedder(endpoint: EmbeddingEndpoint(baseURL: endpoint.baseURL, model: served, apiKey: endpoint.apiKey,
                                                              timeout: endpoint.timeout))
        }
        // Retrievers.
        registry.registerRetriever(.keyword) { context in KeywordRetriever(index: context.store, store: context.store) }
        registry.registerRetriever(.vector) { context throws(KBError) in
            VectorRetriever(embedder: try context.requireEmbedder(.vector), vectors: context.store, store: context.store)
        }
        registry.registerRetriever(.hybrid) { context throws(KBError) in
            HybridRetriever(keyword: KeywordRetriever(index: context.store, store: context.store),
                            vector: VectorRetriever(embedder: try context.requireEmbedder(.hybrid), vectors: context.store, store: context.store),
                            fusion: context.fusion)
        }
        registry.registerReranker("identity") { _ in IdentityReranker() }
        // Generators, in the order `kb models` lists them.
        registry.registerGenerator("llama", summary: { configuration in
            "in-process llama.cpp on a local GGUF model (\(configuration.generation.threads) threads)"
        }) { configuration throws(KBError) in
            let settings = configuration.generation
            let (name, path) = try GeneratorCatalog.modelFile(settings.model ?? GeneratorCatalog.defaultModel,
                                                             modelsFolder: configuration.modelsFolder)
            if settings.model == nil && !FileManager.default.fileExists(atPath: path) {
                return GeneratorChoice(generator: ExtractiveGenerator(),
                                       warning: "The language model \(name) is not installed (run scripts/setup.sh); answering extractively.",
                                       concurrency: 64)
            }
            let model = try LanguageModelCache.shared.llama(path: path, name: name, contextTokens: settings.contextTokens,
                                                            threads: settings.threads)
            return GeneratorChoice(generator: LanguageModelGenerator(name: "llama", languageModel: model), concurrency: 1)
        }
        registry.registerGenerator("openai", summary: { configuration in
            "an OpenAI-compatible server" + (configuration.generation.endpoint.map { " at " + $0 } ?? " (set KB_GENERATION_ENDPOINT)")
        }) { configuration throws(KBError) in
            let settings = configuration.generation
            guard let endpoint = settings.endpoint else {
                throw KBError(.configuration, "The openai generator needs a server: set KB_GENERATION_ENDPOINT or generation.endpoint (for example http://127.0.0.1:8080/v1).")
            }
            let chat = ChatEndpoint(baseURL: endpoint, model: settings.model ?? "default", apiKey: settings.apiKey,
                                    timeout: settings.timeout, contextTokens: settings.contextTokens)
            return GeneratorChoice(generator: LanguageModelGenerator(name: "openai", languageModel: OpenAIChatModel(endpoint: chat)),
                                   concurrency: settings.concurrency)
        }
        registry.registerGenerator("extractive", summary: { _ in "no model: the passages' best sentences" }) { _ in GeneratorChoice(generator: ExtractiveGenerator(), concurrency: 64) }
        // Answer assessors.
        registry.registerAssessor("citation-verifier") { context in
            CitationVerifier(embedder: context.embedder, passageVectors: context.passageVectors, questionVector: context.questionVector)
        }
        // Question rewriters, in the order `auto` tries them.
        registry.registerRewriter("language-model") { generator in
            (generator as? LanguageModelGenerator).map { LanguageModelRewriter(model: $0.languageModel) }
        }
        registry.registerRewriter("heuristic") { _ in HeuristicRewriter() }
        return registry
    }()
}
