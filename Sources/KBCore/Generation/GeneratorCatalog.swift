import Foundation

/// A GGUF chat model kb knows by name (fetched by scripts/setup.sh into `models/gguf/`).
public struct LanguageModelInfo: Sendable, Equatable, Codable {
    public var name: String
    public var file: String
    public var languages: [String]
    public var summary: String
}

/// The generators and the local language models, and how a configuration becomes a generator.
public enum GeneratorCatalog {
    /// The default in-process model: the one that reads Chinese as well as English.
    public static let defaultModel = "qwen2.5-coder-0.5b"

    public static let models: [LanguageModelInfo] = [
        LanguageModelInfo(name: "qwen2.5-coder-0.5b", file: "gguf/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", languages: ["zh", "en"],
                          summary: "Qwen2.5-Coder-0.5B-Instruct, Q4_K_M (491 MB): Chinese and English"),
        LanguageModelInfo(name: "smollm2-135m", file: "gguf/smollm2-135m-instruct-q4_1.gguf", languages: ["en"],
                          summary: "SmolLM2-135M-Instruct, Q4_1 (98 MB): English only, fast, weak"),
    ]

    /// The GGUF file for a model name or path.
    public static func modelFile(_ name: String, modelsFolder: String) throws(KBError) -> (name: String, path: String) {
        if name.hasSuffix(".gguf") || name.contains("/") {
            let path = (name as NSString).expandingTildeInPath
            return (((path as NSString).lastPathComponent as NSString).deletingPathExtension, path)
        }
        guard let info = models.first(where: { $0.name == name }) else {
            throw KBError(.invalidArgument, "Unknown language model \(name). Known: \(models.map(\.name).joined(separator: ", ")), or a path to a .gguf file.")
        }
        return (info.name, modelsFolder + "/" + info.file)
    }

    /// True when the model's file is present.
    public static func isInstalled(_ info: LanguageModelInfo, modelsFolder: String) -> Bool {
        FileManager.default.fileExists(atPath: modelsFolder + "/" + info.file)
    }
}

/// Loaded language models, one per (file, context, threads), shared by a process.
final class LanguageModelCache: @unchecked Sendable {
    private let lock = NSLock()
    private var models: [String: LlamaLanguageModel] = [:]

    func llama(path: String, name: String, contextTokens: Int, threads: Int) throws(KBError) -> LlamaLanguageModel {
        lock.lock(); defer { lock.unlock() }
        let key = "\(path)|\(contextTokens)|\(threads)"
        if let cached = models[key] { return cached }
        let model = try LlamaLanguageModel(path: path, name: name, contextTokens: contextTokens, threads: threads)
        models[key] = model
        return model
    }

    static let shared = LanguageModelCache()
}

