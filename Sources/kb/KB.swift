import ArgumentParser
import KBCore

/// The `kb` command: a thin layer over KBCore. Each subcommand parses its flags, calls the
/// library and prints the result.
@main
struct KB: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kb",
        abstract: "A local knowledge assistant: ingest a folder of documents, search it, ask it questions.",
        discussion: """
            Exit status: 0 success; 3 ingest finished but some files failed; 64 bad usage or empty query; \
            65 not a kb database, or a damaged one; 66 path or knowledge base not found; 69 embedding endpoint \
            failed; 70 database error; \
            73 cannot open or create the database; 74 I/O error; 75 database busy (another ingest running); \
            78 bad configuration; 130 interrupted.
            """,
        version: "0.1.0",
        subcommands: [IngestCommand.self, SearchCommand.self, AskCommand.self, ChatCommand.self, FeedbackCommand.self, ServeCommand.self,
                      MCPCommand.self, StatusCommand.self, EmbedCommand.self, ModelsCommand.self, EvalCommand.self, TokenCommand.self, MigrateCommand.self]
    )
}

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The database file (default: $KB_DB, then the config file, then the nearest .kb/kb.sqlite).", valueName: "path"))
    var db: String?

    @Option(name: .long, help: ArgumentHelp("The config file (default: $KB_CONFIG, then the nearest .kb/config.toml, then ~/.config/kb/config.toml).", valueName: "path"))
    var config: String?

    @Option(name: .customLong("embedding-model"), help: ArgumentHelp("The embedding model (default: $KB_EMBEDDING_MODEL, then embeddings.model in the config file, then multilingual-e5-small). `kb models` lists them.", valueName: "name"))
    var embeddingModel: String?

    @Option(name: .long, help: ArgumentHelp("Hybrid fusion: z (the default: z-scores summed), rrf[:K], score[:ALPHA] or adaptive[:K] (default $KB_FUSION, then search.fusion, then z).", valueName: "fusion"))
    var fusion: String?

    @Option(name: .long, help: ArgumentHelp("Also search an English or Chinese question translated into the other language by the local model: off, auto (when the first search finds passages in the other language) or always (default $KB_TRANSLATE, then search.translate, then off).", valueName: "when"))
    var translate: String?

    @Flag(name: .long, help: "Print machine-readable JSON on standard output.")
    var json = false

    func configuration(maxFileSize: Int? = nil, generation: GenerationOptions? = nil) throws(KBError) -> Configuration {
        try Configuration.resolve(Configuration.Overrides(databasePath: db, configFile: config, maxFileSize: maxFileSize,
                                                          embeddingModel: embeddingModel, fusion: fusion,
                                                          generator: generation?.generator, generationModel: generation?.model,
                                                          temperature: generation?.temperature, maxTokens: generation?.maxTokens,
                                                          threads: generation?.threads, translate: translate))
    }
}

/// Options of the commands that generate answers.
struct GenerationOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("llama (in-process llama.cpp, the default), openai (an OpenAI-compatible server: KB_GENERATION_ENDPOINT) or extractive (no model). Default: $KB_GENERATOR, then generation.generator.", valueName: "name"))
    var generator: String?

    @Option(name: .long, help: ArgumentHelp("The language model: a name from `kb models` or a .gguf path for llama, the server's model name for openai. Default: $KB_GENERATION_MODEL, then generation.model, then qwen2.5-coder-0.5b.", valueName: "name"))
    var model: String?

    @Option(name: .long, help: ArgumentHelp("Sampling temperature; 0 (the default) is greedy and repeatable.", valueName: "t"))
    var temperature: Double?

    @Option(name: .long, help: ArgumentHelp("Most tokens to generate (default 256).", valueName: "n"))
    var maxTokens: Int?

    @Option(name: .long, help: ArgumentHelp("CPU threads for the in-process model (default: one per core, up to 8; $KB_THREADS).", valueName: "n"))
    var threads: Int?
}

/// Runs a command body, turning a ``KBError`` into a message and the documented exit status.
func reportingErrors(_ options: GlobalOptions, _ body: () async throws -> Int32) async throws {
    let status: Int32
    do {
        status = try await body()
    } catch let error as KBError {
        Terminal.printError(error.message)
        if options.json { JSONOutput.printError(message: error.message, type: error.code.name) }
        throw ExitCode(exitStatus(for: error.code))
    }
    if status != 0 { throw ExitCode(status) }
}

/// The documented exit status (sysexits-style) for each kind of library error: mapped here, at the CLI's edge.
func exitStatus(for code: KBError.Code) -> Int32 {
    switch code {
    case .invalidArgument, .outsideKnowledgeFolders, .conflict: return 64
    case .forbidden, .unauthorized: return 77
    case .notAKnowledgeBase, .databaseCorrupt, .schemaTooNew: return 65
    case .pathNotFound, .noKnowledgeBase, .notFound: return 66
    case .endpoint, .generation, .databaseUnavailable: return 69
    case .database, .internalError: return 70
    case .cannotOpenDatabase: return 73
    case .io: return 74
    case .databaseLocked, .ingestInProgress: return 75
    case .configuration, .model: return 78
    case .interrupted: return 130
    default: return 70
    }
}
