import Foundation

/// kb's settings, resolved with the precedence flag → environment → config file → default.
public struct Configuration: Sendable, Equatable {
    /// The database: a SQLite file, or a `postgres://` URL.
    public var databasePath: String
    /// A read replica of a PostgreSQL database (`--read-db`, `KB_READ_DB`, `read_database`): searches go there,
    /// writes to ``databasePath``. Nil: everything uses ``databasePath``.
    public var readDatabase: String?
    /// Folders `kb ingest` reads when given no paths.
    public var knowledgeFolders: [String]
    /// Files larger than this many bytes are reported, not read.
    public var maxFileSize: Int
    /// Chunk size and overlap.
    public var chunking: ChunkingOptions
    /// Results `kb search` returns by default.
    public var searchLimit: Int
    /// Passages `kb ask` retrieves by default.
    public var askPassages: Int
    /// The config file that was read, if any.
    public var configFile: String?
    /// The embedding model ingest embeds with and search prefers.
    public var embeddingModel: String = EmbedderCatalog.defaultModel
    /// Where the local models live (see ``EmbedderCatalog/locateModelsFolder(configured:environment:)``).
    public var modelsFolder: String = EmbedderCatalog.locateModelsFolder(configured: nil)
    /// An OpenAI-compatible embeddings endpoint, when configured.
    public var embeddingEndpoint: EmbeddingEndpoint?
    /// Chunks per embedding call and per vector-saving transaction.
    public var embeddingBatch: Int = 128
    /// How hybrid search fuses its keyword and vector lists.
    public var fusion: Fusion = .default
    /// When a question is also searched translated into the other of English and Chinese (`[search] translate`,
    /// `KB_TRANSLATE`, `--translate`).
    public var translation: TranslationPolicy = .off
    /// Which generator answers questions, and how.
    public var generation = GenerationSettings()
    /// `kb serve`'s address, token and queue.
    public var server = ServerOptions()
    /// Which implementation fills each replaceable stage of the ask pipeline (names in ``ComponentRegistry``).
    public var pipeline = PipelineChoices()
    /// OCR of scanned PDF pages and images (`[ocr]` in the config file, `KB_OCR=0`, `kb ingest --no-ocr`).
    public var ocr = OCROptions()
    /// Repairing an answer the check would withhold (`[repair]` in the config file).
    public var repair = RepairOptions()

    /// Default file-size limit: 32 MiB.
    public static let defaultMaxFileSize = 32 * 1024 * 1024

    public init(databasePath: String, knowledgeFolders: [String] = ["KnowledgeBase"], maxFileSize: Int = Configuration.defaultMaxFileSize,
                chunking: ChunkingOptions = ChunkingOptions(), searchLimit: Int = 10, askPassages: Int = 5, configFile: String? = nil) {
        self.databasePath = databasePath
        self.knowledgeFolders = knowledgeFolders
        self.maxFileSize = maxFileSize
        self.chunking = chunking
        self.searchLimit = searchLimit
        self.askPassages = askPassages
        self.configFile = configFile
    }

    /// Settings given on the command line; nil means "not given".
    public struct Overrides: Sendable {
        public var databasePath: String?
        public var configFile: String?
        public var maxFileSize: Int?
        public var embeddingModel: String?
        public var fusion: String?
        /// `--translate`: off, auto or always.
        public var translate: String?
        /// `--generator`, `--model` (the language model), `--temperature`, `--max-tokens`, `--threads`.
        public var generator: String?
        public var generationModel: String?
        public var temperature: Double?
        public var maxTokens: Int?
        public var threads: Int?
        public init(databasePath: String? = nil, configFile: String? = nil, maxFileSize: Int? = nil, embeddingModel: String? = nil,
                    fusion: String? = nil, generator: String? = nil, generationModel: String? = nil, temperature: Double? = nil,
                    maxTokens: Int? = nil, threads: Int? = nil, translate: String? = nil) {
            self.databasePath = databasePath
            self.translate = translate
            self.configFile = configFile
            self.maxFileSize = maxFileSize
            self.embeddingModel = embeddingModel
            self.fusion = fusion
            self.generator = generator
            self.generationModel = generationModel
            self.temperature = temperature
            self.maxTokens = maxTokens
            self.threads = threads
        }
    }

    /// Resolves the configuration for a process.
    ///
    /// Database: `--db` → `KB_DB` → `database` in the config file → the nearest `.kb/kb.sqlite`
    /// in the current folder or a parent → `./.kb/kb.sqlite`.
    /// Config file: `--config` → `KB_CONFIG` → the nearest `.kb/config.toml` → `~/.config/kb/config.toml`.
    public static func resolve(_ overrides: Overrides = Overrides(),
                               environment: [String: String] = ProcessInfo.processInfo.environment,
                               currentDirectory: String = FileManager.default.currentDirectoryPath) throws(KBError) -> Configuration {
        let fileManager = FileManager.default
        func absolute(_ path: String, relativeTo base: String) -> String {
            // A database URL (postgres://…) is taken as written.
            if path.contains("://") && !path.hasPrefix("file://") { return path }
            let expanded = (path as NSString).expandingTildeInPath
            return expanded.hasPrefix("/") ? (expanded as NSString).standardizingPath
                : ((base as NSString).appendingPathComponent(expanded) as NSString).standardizingPath
        }

        // The nearest .kb folder, walking up.
        var projectRoot: String?
        var folder = (currentDirectory as NSString).standardizingPath
        while true {
            if fileManager.fileExists(atPath: (folder as NSString).appendingPathComponent(".kb")) { projectRoot = folder; break }
            let parent = (folder as NSString).deletingLastPathComponent
            if parent == folder || parent.isEmpty { break }
            folder = parent
        }

        var configPath: String?
        if let flag = overrides.configFile ?? environment["KB_CONFIG"], !flag.isEmpty {
            configPath = absolute(flag, relativeTo: currentDirectory)
            guard fileManager.fileExists(atPath: configPath!) else {
                throw KBError(.configuration, "The config file \(configPath!) does not exist. Fix --config / KB_CONFIG, or create it.")
            }
        } else if let root = projectRoot, fileManager.fileExists(atPath: root + "/.kb/config.toml") {
            configPath = root + "/.kb/config.toml"
        } else {
            let xdg = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? (NSHomeDirectory() + "/.config")
            let candidate = xdg + "/kb/config.toml"
            if fileManager.fileExists(atPath: candidate) { configPath = candidate }
        }

        var file: [String: TOMLValue] = [:]
        var fileBase = currentDirectory
        if let configPath {
            file = try TOMLSubset.parse(fileAt: configPath)
            let directory = (configPath as NSString).deletingLastPathComponent
            fileBase = (directory as NSString).lastPathComponent == ".kb" ? (directory as NSString).deletingLastPathComponent : directory
        }
        func fileString(_ key: String) throws(KBError) -> String? {
            guard let value = file[key] else { return nil }
            guard case .string(let s) = value else { throw KBError(.configuration, "\(configPath!): `\(key)` must be a string.") }
            return s
        }
        func fileInt(_ key: String) throws(KBError) -> Int? {
            guard let value = file[key] else { return nil }
            guard case .integer(let i) = value else { throw KBError(.configuration, "\(configPath!): `\(key)` must be an integer.") }
            return i
        }
        func envInt(_ key: String) throws(KBError) -> Int? {
            guard let raw = environment[key], !raw.isEmpty else { return nil }
            guard let value = Int(raw) else { throw KBError(.configuration, "\(key)=\(raw) is not an integer.") }
            return value
        }

        let database: String
        if let flag = overrides.databasePath ?? environment["KB_DB"].flatMap({ $0.isEmpty ? nil : $0 }) {
            database = absolute(flag, relativeTo: currentDirectory)
        } else if let fromFile = try fileString("database") {
            database = absolute(fromFile, relativeTo: fileBase)
        } else {
            database = (projectRoot ?? currentDirectory) + "/.kb/kb.sqlite"
        }

        var folders = ["KnowledgeBase"].map { absolute($0, relativeTo: projectRoot ?? currentDirectory) }
        if let value = file["knowledge_folders"] {
            guard case .array(let items) = value else {
                throw KBError(.configuration, "\(configPath!): `knowledge_folders` must be an array of strings.")
            }
            folders = try items.map { (item: TOMLValue) throws(KBError) -> String in
                guard case .string(let s) = item else {
                    throw KBError(.configuration, "\(configPath!): `knowledge_folders` must be an array of strings.")
                }
                return absolute(s, relativeTo: fileBase)
            }
        }

        var maxFileSize = defaultMaxFileSize
        var rawSize: String?
        if case .integer(let bytes)? = file["max_file_size"] { rawSize = String(bytes) } else { rawSize = try fileString("max_file_size") }
        if let raw = rawSize {
            guard let parsed = ByteCount.parse(raw) else { throw KBError(.configuration, "\(configPath!): max_file_size \"\(raw)\" is not a size like \"32MiB\".") }
            maxFileSize = parsed
        }
        if let raw = environment["KB_MAX_FILE_SIZE"], !raw.isEmpty {
            guard let parsed = ByteCount.parse(raw) else { throw KBError(.configuration, "KB_MAX_FILE_SIZE=\(raw) is not a size like 32MiB.") }
            maxFileSize = parsed
        }
        if let flag = overrides.maxFileSize { maxFileSize = flag }

        let envTokens = try envInt("KB_CHUNK_TOKENS"), fileTokens = try fileInt("chunking.max_tokens")
        let envOverlap = try envInt("KB_CHUNK_OVERLAP"), fileOverlap = try fileInt("chunking.overlap_tokens")
        let maxTokens = envTokens ?? fileTokens ?? ChunkingOptions().maxTokens
        let overlap = envOverlap ?? fileOverlap ?? ChunkingOptions().overlapTokens
        let searchLimit = try fileInt("search.limit") ?? 10
        let askPassages = try fileInt("ask.passages") ?? 5

        var configuration = Configuration(databasePath: database, knowledgeFolders: folders, maxFileSize: maxFileSize,
                                          chunking: ChunkingOptions(maxTokens: maxTokens, overlapTokens: overlap),
                                          searchLimit: searchLimit, askPassages: askPassages, configFile: configPath)
        let fileModel = try fileString("embeddings.model")
        configuration.embeddingModel = overrides.embeddingModel ?? environment["KB_EMBEDDING_MODEL"].flatMap { $0.isEmpty ? nil : $0 }
            ?? fileModel ?? EmbedderCatalog.defaultModel
        if let batch = try fileInt("embeddings.batch") { configuration.embeddingBatch = max(1, batch) }
        let fileFusion = try fileString("search.fusion")
        if let text = overrides.fusion ?? environment["KB_FUSION"].flatMap({ $0.isEmpty ? nil : $0 }) ?? fileFusion {
            guard let fusion = Fusion(text) else {
                throw KBError(.configuration, "Fusion \"\(text)\" is not z, rrf, rrf:K, score, score:ALPHA, adaptive or adaptive:K.")
            }
            configuration.fusion = fusion
        }
        let fileTranslate = try fileString("search.translate")
        if let text = overrides.translate ?? environment["KB_TRANSLATE"].flatMap({ $0.isEmpty ? nil : $0 }) ?? fileTranslate {
            guard let policy = TranslationPolicy(rawValue: text.lowercased()) else {
                throw KBError(.configuration, "Translate \"\(text)\" is not off, auto or always.")
            }
            configuration.translation = policy
        }
        let fileModels = try fileString("models_folder").map { absolute($0, relativeTo: fileBase) }
        configuration.modelsFolder = EmbedderCatalog.locateModelsFolder(configured: fileModels, environment: environment)
        let fileEndpoint = try fileString("embeddings.endpoint"), fileEndpointModel = try fileString("embeddings.endpoint_model")
        let endpointURL = environment["KB_EMBEDDING_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 } ?? fileEndpoint
        if let endpointURL {
            let endpointModel = environment["KB_EMBEDDING_ENDPOINT_MODEL"] ?? fileEndpointModel ?? "default"
            let key = environment["KB_EMBEDDING_API_KEY"] ?? environment["OPENAI_API_KEY"]
            configuration.embeddingEndpoint = EmbeddingEndpoint(baseURL: endpointURL, model: endpointModel, apiKey: key)
        }
        configuration.generation = try GenerationSettings.resolve(overrides, environment: environment, file: file, source: configPath)
        if let host = try fileString("server.host") { configuration.server.host = host }
        if let port = try fileInt("server.port") { configuration.server.port = port }
        if let queue = try fileInt("server.queue") { configuration.server.queue = queue }
        switch file["server.watch_interval"] {
        case .integer(let seconds)?: configuration.server.watchInterval = Double(seconds)
        case .double(let seconds)?: configuration.server.watchInterval = seconds
        case nil: break
        default: throw KBError(.configuration, "\(configPath ?? "config"): `server.watch_interval` must be a number of seconds.")
        }
        func fileNumber(_ key: String) throws(KBError) -> Double? {
            switch file[key] {
            case nil: return nil
            case .integer(let i)?: return Double(i)
            case .double(let d)?: return d
            default: throw KBError(.configuration, "\(configPath ?? "config"): `\(key)` must be a number.")
            }
        }
        switch file["ocr.enabled"] {
        case .bool(let on)?: configuration.ocr.enabled = on
        case nil: break
        default: throw KBError(.configuration, "\(configPath ?? "config"): `ocr.enabled` must be true or false.")
        }
        if let raw = environment["KB_OCR"], !raw.isEmpty {
            switch raw.lowercased() {
            case "0", "false", "off", "no": configuration.ocr.enabled = false
            case "1", "true", "on", "yes": configuration.ocr.enabled = true
            default: throw KBError(.configuration, "KB_OCR=\(raw) is not on or off (1 or 0).")
            }
        }
        if let seconds = try fileNumber("ocr.seconds_per_page") { configuration.ocr.secondsPerPage = max(1, seconds) }
        if let pages = try fileInt("ocr.max_pages") { configuration.ocr.maxPages = max(1, pages) }
        if let confidence = try fileNumber("ocr.min_confidence") { configuration.ocr.minimumConfidence = min(1, max(0, confidence)) }
        if let dpi = try fileInt("ocr.resolution") { configuration.ocr.resolution = min(600, max(72, dpi)) }
        if let attempts = try fileInt("repair.attempts") { configuration.repair.attempts = max(0, attempts) }
        if let raw = environment["KB_REPAIR_ATTEMPTS"], !raw.isEmpty {
            guard let attempts = Int(raw), attempts >= 0 else { throw KBError(.configuration, "KB_REPAIR_ATTEMPTS=\(raw) is not a whole number ≥ 0.") }
            configuration.repair.attempts = attempts
        }
        if let seconds = try fileNumber("repair.seconds") { configuration.repair.seconds = max(0, seconds) }
        if let value = file["repair.strategies"] {
            guard case .array(let items) = value else {
                throw KBError(.configuration, "\(configPath ?? "config"): `repair.strategies` must be an array of strategy names.")
            }
            configuration.repair.strategies = try items.map { (item: TOMLValue) throws(KBError) -> RepairStrategy in
                guard case .string(let name) = item, let strategy = RepairStrategy(rawValue: name) else {
                    throw KBError(.configuration, "\(configPath ?? "config"): `repair.strategies` holds \(item); the strategies are "
                                  + RepairStrategy.allCases.map(\.rawValue).joined(separator: ", ") + ".")
                }
                return strategy
            }
        }
        if let reranker = try fileString("pipeline.reranker") { configuration.pipeline.reranker = reranker }
        if let assessor = try fileString("pipeline.assessor") { configuration.pipeline.assessor = assessor }
        if let rewriter = try fileString("pipeline.rewriter") { configuration.pipeline.rewriter = rewriter }
        if let replica = environment["KB_READ_DB"].flatMap({ $0.isEmpty ? nil : $0 }) {
            configuration.readDatabase = absolute(replica, relativeTo: currentDirectory)
        } else if let replica = try fileString("read_database") {
            configuration.readDatabase = absolute(replica, relativeTo: fileBase)
        }
        let fileToken = try fileString("server.token")
        configuration.server.token = environment["KB_API_TOKEN"].flatMap { $0.isEmpty ? nil : $0 } ?? fileToken
        return configuration
    }
}

/// `kb serve`'s settings from the environment and the config file (flags override them).
public struct ServerOptions: Sendable, Equatable {
    public var host = "127.0.0.1"
    public var port = 8080
    /// `KB_API_TOKEN`, then `server.token`.
    public var token: String?
    public var queue = 4
    /// Seconds between looks at the knowledge folders (`server.watch_interval`); 0: no watching.
    public var watchInterval = 2.0
    public init() {}
}

/// Which generator answers, with which model and sampling settings.
///
/// Precedence as everywhere: flag → environment → `[generation]` in the config file → default.
public struct GenerationSettings: Sendable, Equatable {
    /// `llama` (in-process llama.cpp, the default), `openai` (an OpenAI-compatible server) or `extractive`.
    public var generator = "llama"
    /// For `llama`: a name from `kb models` or a path to a `.gguf` file. For `openai`: the server's model name.
    public var model: String?
    public var sampling = SamplingOptions()
    /// CPU threads for the in-process model.
    public var threads = GenerationSettings.defaultThreads
    /// The context window to allocate (prompt plus answer), in tokens.
    public var contextTokens = 4096
    /// The OpenAI-compatible server's base URL, for example `http://127.0.0.1:8080/v1`.
    public var endpoint: String?
    public var apiKey: String?
    /// Seconds without data before a server request is abandoned.
    public var timeout = 120.0
    /// Answers an OpenAI-compatible server is asked for at once (the in-process model writes one at a time).
    public var concurrency = 4

    public init() {}

    /// One thread per core, leaving one core free on machines with more than two.
    public static var defaultThreads: Int {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        return cores <= 2 ? cores : min(8, cores - 1)
    }

    /// The generators kb knows (those of the standard registry).
    public static var generators: [String] { ComponentRegistry.standard.generatorSummaries.map(\.name) }

    static func resolve(_ overrides: Configuration.Overrides, environment: [String: String], file: [String: TOMLValue],
                        source: String?) throws(KBError) -> GenerationSettings {
        var settings = GenerationSettings()
        func env(_ key: String) -> String? { environment[key].flatMap { $0.isEmpty ? nil : $0 } }
        func fileValue(_ key: String) -> TOMLValue? { file["generation." + key] }
        func fileString(_ key: String) throws(KBError) -> String? {
            guard let value = fileValue(key) else { return nil }
            guard case .string(let s) = value else { throw KBError(.configuration, "\(source ?? "config"): `generation.\(key)` must be a string.") }
            return s
        }
        func fileNumber(_ key: String) throws(KBError) -> Double? {
            switch fileValue(key) {
            case nil: return nil
            case .integer(let i)?: return Double(i)
            case .double(let d)?: return d
            default: throw KBError(.configuration, "\(source ?? "config"): `generation.\(key)` must be a number.")
            }
        }
        func envNumber(_ key: String) throws(KBError) -> Double? {
            guard let raw = env(key) else { return nil }
            guard let value = Double(raw) else { throw KBError(.configuration, "\(key)=\(raw) is not a number.") }
            return value
        }

        let fileGenerator = try fileString("generator"), fileModel = try fileString("model")
        let fileEndpoint = try fileString("endpoint"), fileKey = try fileString("api_key")
        let generator = overrides.generator ?? env("KB_GENERATOR") ?? fileGenerator ?? "llama"
        guard generators.contains(generator) else {
            throw KBError(.configuration, "Unknown generator \"\(generator)\"; choose \(generators.joined(separator: ", ")).")
        }
        settings.generator = generator
        settings.model = overrides.generationModel ?? env("KB_GENERATION_MODEL") ?? fileModel
        settings.endpoint = env("KB_GENERATION_ENDPOINT") ?? fileEndpoint
        settings.apiKey = env("KB_GENERATION_API_KEY") ?? env("OPENAI_API_KEY") ?? fileKey
        func number(_ flag: Double?, _ envKey: String, _ fileKey: String) throws(KBError) -> Double? {
            if let flag { return flag }
            if let value = try envNumber(envKey) { return value }
            return try fileNumber(fileKey)
        }
        if let temperature = try number(overrides.temperature, "KB_TEMPERATURE", "temperature") {
            guard temperature >= 0 && temperature <= 5 else { throw KBError(.configuration, "Temperature \(temperature) is outside 0…5 (0 is greedy).") }
            settings.sampling.temperature = temperature
        }
        if let maxTokens = try number(overrides.maxTokens.map(Double.init), "KB_MAX_TOKENS", "max_tokens") {
            guard maxTokens >= 1 && maxTokens <= 32768 else { throw KBError(.configuration, "max tokens \(Int(maxTokens)) is outside 1…32768.") }
            settings.sampling.maxTokens = Int(maxTokens)
        }
        if let threads = try number(overrides.threads.map(Double.init), "KB_THREADS", "threads") {
            guard threads >= 1 && threads <= 256 else { throw KBError(.configuration, "threads \(Int(threads)) is outside 1…256.") }
            settings.threads = Int(threads)
        }
        if let context = try number(nil, "KB_CONTEXT", "context") {
            guard context >= 512 else { throw KBError(.configuration, "generation.context \(Int(context)) is below 512 tokens.") }
            settings.contextTokens = Int(context)
        }
        if let topK = try fileNumber("top_k") { settings.sampling.topK = max(0, Int(topK)) }
        if let topP = try fileNumber("top_p") {
            guard topP > 0 && topP <= 1 else { throw KBError(.configuration, "generation.top_p \(topP) is outside (0, 1].") }
            settings.sampling.topP = topP
        }
        if let seed = try number(nil, "KB_SEED", "seed") { settings.sampling.seed = UInt32(truncatingIfNeeded: Int(seed)) }
        if let timeout = try fileNumber("timeout") { settings.timeout = max(1, timeout) }
        if let concurrency = try number(nil, "KB_GENERATION_CONCURRENCY", "concurrency") {
            guard concurrency >= 1 && concurrency <= 1024 else { throw KBError(.configuration, "generation.concurrency \(Int(concurrency)) is outside 1…1024.") }
            settings.concurrency = Int(concurrency)
        }
        return settings
    }
}

/// How kb repairs an answer its check would withhold (``RepairStage``).
public struct RepairOptions: Sendable, Equatable {
    /// At most this many repair attempts per answer; 0 turns repair off.
    public var attempts = 2
    /// No attempt that needs the language model starts after this many seconds of repairing (the extractive
    /// answer, which takes milliseconds, still may).
    public var seconds = 6.0
    /// The strategies, tried in this order.
    public var strategies: [RepairStrategy] = RepairStrategy.defaultOrder
    /// Tokens a repair attempt may generate (its answer is one sentence).
    public var maxTokens = 96
    public init() {}
}

/// The implementations chosen for the ask pipeline's replaceable stages (`[pipeline]` in the config file).
public struct PipelineChoices: Sendable, Equatable {
    /// `identity` (keep the retriever's order).
    public var reranker = "identity"
    /// `citation-verifier`.
    public var assessor = "citation-verifier"
    /// `auto` (the answering model when there is one, else the heuristic), `language-model` or `heuristic`.
    public var rewriter = "auto"
    public init() {}
}

/// A value in kb's config file.
enum TOMLValue: Equatable {
    case string(String), integer(Int), double(Double), bool(Bool), array([TOMLValue])
}

/// A small TOML subset: `[table]` headers, `key = value` with strings, integers, floats, booleans
/// and one-line arrays, and `#` comments. Keys come back as `table.key`.
enum TOMLSubset {
    static func parse(fileAt path: String) throws(KBError) -> [String: TOMLValue] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw KBError(.configuration, "Cannot read the config file \(path).")
        }
        return try parse(String(decoding: data, as: UTF8.self), source: path)
    }

    static func parse(_ text: String, source: String) throws(KBError) -> [String: TOMLValue] {
        var values: [String: TOMLValue] = [:]
        var table = ""
        for (number, rawLine) in text.components(separatedBy: "\n").enumerated() {
            let line = stripComment(rawLine).trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            func fail(_ why: String) -> KBError {
                KBError(.configuration, "\(source):\(number + 1): \(why). kb reads a TOML subset: [tables], key = \"string\" | 123 | 1.5 | true | [\"a\", \"b\"].")
            }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]"), !line.hasPrefix("[[") else { throw fail("malformed table header") }
                table = line.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
                continue
            }
            guard let equals = line.firstIndex(of: "=") else { throw fail("expected key = value") }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            let raw = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            guard !key.isEmpty else { throw fail("empty key") }
            guard let value = parseValue(raw) else { throw fail("cannot read the value `\(raw)`") }
            values[table.isEmpty ? key : table + "." + key] = value
        }
        return values
    }

    private static func stripComment(_ line: String) -> String {
        var inString: Character?
        for (offset, character) in line.enumerated() {
            if let quote = inString { if character == quote { inString = nil } }
            else if character == "\"" || character == "'" { inString = character }
            else if character == "#" { return String(line.prefix(offset)) }
        }
        return line
    }

    private static func parseValue(_ raw: String) -> TOMLValue? {
        if raw.count >= 2, let first = raw.first, first == "\"" || first == "'", raw.last == first {
            var inner = String(raw.dropFirst().dropLast())
            if first == "\"" {
                inner = inner.replacingOccurrences(of: "\\\\", with: "\u{0}").replacingOccurrences(of: "\\\"", with: "\"")
                    .replacingOccurrences(of: "\\n", with: "\n").replacingOccurrences(of: "\\t", with: "\t")
                    .replacingOccurrences(of: "\u{0}", with: "\\")
            }
            return .string(inner)
        }
        if raw == "true" { return .bool(true) }
        if raw == "false" { return .bool(false) }
        if let int = Int(raw.replacingOccurrences(of: "_", with: "")) { return .integer(int) }
        if let double = Double(raw) { return .double(double) }
        if raw.hasPrefix("["), raw.hasSuffix("]") {
            let inner = raw.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
            if inner.isEmpty { return .array([]) }
            var items: [TOMLValue] = []
            for part in splitTopLevel(inner) {
                let trimmed = part.trimmingCharacters(in: .whitespaces)
                if trimmed.isEmpty { continue }
                guard let item = parseValue(trimmed) else { return nil }
                items.append(item)
            }
            return .array(items)
        }
        return nil
    }

    private static func splitTopLevel(_ text: String) -> [String] {
        var parts: [String] = []
        var current = ""
        var inString: Character?
        for character in text {
            if let quote = inString {
                if character == quote { inString = nil }
                current.append(character)
            } else if character == "\"" || character == "'" {
                inString = character; current.append(character)
            } else if character == "," {
                parts.append(current); current = ""
            } else {
                current.append(character)
            }
        }
        parts.append(current)
        return parts
    }
}
