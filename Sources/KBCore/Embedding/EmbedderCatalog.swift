import Foundation

/// The embedding models kb knows: the two local models it computes in process, and any
/// OpenAI-compatible `/v1/embeddings` endpoint the user configures.
public struct EmbedderCatalog: Sendable {
    /// The default model, chosen by measurement (README, "Retrieval quality"): it handles Chinese.
    public static let defaultModel = "multilingual-e5-small"

    /// A model kb can use.
    public struct ModelInfo: Sendable, Codable, Equatable {
        public var name: String
        public var kind: String          // "local" or "endpoint"
        public var dimension: Int?
        public var languages: String
        public var available: Bool
        public var location: String
        public var isDefault: Bool
        enum CodingKeys: String, CodingKey {
            case name, kind, dimension, languages, available, location
            case isDefault = "default"
        }
    }

    /// Local models and the folder (under the models folder) each lives in.
    static let local: [(name: String, folder: String, dimension: Int, languages: String)] = [
        ("multilingual-e5-small", "multilingual-e5-small", 384, "~100 languages, Chinese and English"),
        ("all-minilm-l6-v2", "all-minilm-l6-v2", 384, "English"),
    ]

    public let modelsFolder: String
    public let endpoint: EmbeddingEndpoint?

    public init(modelsFolder: String, endpoint: EmbeddingEndpoint? = nil) {
        self.modelsFolder = modelsFolder
        self.endpoint = endpoint
    }

    /// Every model, with whether its files (or endpoint) are configured.
    public func models(defaultModel: String = EmbedderCatalog.defaultModel) -> [ModelInfo] {
        var out = Self.local.map { model in
            let path = modelsFolder + "/" + model.folder
            return ModelInfo(name: model.name, kind: "local", dimension: model.dimension, languages: model.languages,
                             available: FileManager.default.fileExists(atPath: path + "/.complete")
                                || FileManager.default.fileExists(atPath: path + "/config.json"),
                             location: path, isDefault: model.name == defaultModel)
        }
        if let endpoint {
            let name = "endpoint:" + endpoint.model
            out.append(ModelInfo(name: name, kind: "endpoint", dimension: nil, languages: "as served",
                                 available: true, location: endpoint.baseURL, isDefault: name == defaultModel))
        }
        return out
    }

    /// Loads (or connects to) a model by name, through the standard ``ComponentRegistry``.
    public func embedder(named name: String) throws(KBError) -> any Embedder {
        try ComponentRegistry.standard.makeEmbedder(name, models: self)
    }

    /// The models folder: `KB_MODELS`, then the config file's `models_folder`, then a `models`
    /// folder beside the sources the binary was built from (found by walking up from the executable),
    /// then `./models`.
    public static func locateModelsFolder(configured: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let value = environment["KB_MODELS"], !value.isEmpty { return value }
        if let configured { return configured }
        var folder = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath().deletingLastPathComponent()
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            folder = URL(fileURLWithPath: exe).deletingLastPathComponent()
        }
        for _ in 0..<6 {
            let candidate = folder.appendingPathComponent("models")
            if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("multilingual-e5-small").path)
                || FileManager.default.fileExists(atPath: candidate.appendingPathComponent("all-minilm-l6-v2").path) {
                return candidate.path
            }
            folder = folder.deletingLastPathComponent()
        }
        return FileManager.default.currentDirectoryPath + "/models"
    }
}
