import ArgumentParser
import Foundation
import KBCore

struct EmbedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Print the vector kb would store or search with for a text.",
        discussion: "Prefixes are applied as the model requires (e5: `query: ` / `passage: `). Output: {\"model\",\"dimension\",\"vector\"} with --json."
    )

    @OptionGroup var options: GlobalOptions

    @Argument(help: "The text to embed.")
    var text: [String] = []

    @Option(name: .long, help: "query or passage (default passage).")
    var kind: EmbeddingKind = .passage

    func run() async throws {
        try await reportingErrors(options) {
            let input = text.joined(separator: " ")
            guard !input.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw KBError.emptyText }
            let configuration = try options.configuration()
            let embedder = try EmbedderCatalog(modelsFolder: configuration.modelsFolder, endpoint: configuration.embeddingEndpoint)
                .embedder(named: configuration.embeddingModel)
            let batch = try embedder.embed([input], kind: kind)
            let vector = batch.vectors[0]
            if options.json {
                struct Output: Encodable { var model: String; var dimension: Int; var kind: String; var truncated: Bool; var vector: [Float] }
                JSONOutput.print(Output(model: embedder.model, dimension: vector.count, kind: kind.rawValue, truncated: batch.truncated > 0, vector: vector))
            } else {
                print("\(embedder.model) (\(vector.count) dimensions, \(kind.rawValue))" + (batch.truncated > 0 ? ", truncated" : ""))
                print(vector.map { String(format: "%.6f", $0) }.joined(separator: " "))
            }
            return 0
        }
    }
}

struct ModelsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "List the embedding models, generators and language models kb can use, and which are the defaults."
    )

    @OptionGroup var options: GlobalOptions

    func run() async throws {
        try await reportingErrors(options) {
            let configuration = try options.configuration()
            let catalog = EmbedderCatalog(modelsFolder: configuration.modelsFolder, endpoint: configuration.embeddingEndpoint)
            let models = catalog.models(defaultModel: configuration.embeddingModel)
            var coverage: [EmbeddingCoverage] = []
            if let kb = try? KnowledgeBase(configuration: configuration) { coverage = (try? await kb.embeddingCoverage()) ?? [] }
            let generation = configuration.generation
            let languageModels = GeneratorCatalog.models.map { info in
                LanguageModelEntry(name: info.name, file: configuration.modelsFolder + "/" + info.file, languages: info.languages,
                                   summary: info.summary, installed: GeneratorCatalog.isInstalled(info, modelsFolder: configuration.modelsFolder),
                                   isDefault: (generation.model ?? GeneratorCatalog.defaultModel) == info.name)
            }
            let generators = ComponentRegistry.standard.generatorSummaries.map { entry in
                GeneratorEntry(name: entry.name, summary: entry.summary(configuration), isDefault: generation.generator == entry.name)
            }
            if options.json {
                struct Output: Encodable {
                    var models: [EmbedderCatalog.ModelInfo]; var `default`: String; var modelsFolder: String; var vectors: [EmbeddingCoverage]
                    var generators: [GeneratorEntry]; var languageModels: [LanguageModelEntry]
                    enum CodingKeys: String, CodingKey {
                        case models, `default`, vectors, generators
                        case modelsFolder = "models_folder", languageModels = "language_models"
                    }
                }
                JSONOutput.print(Output(models: models, default: configuration.embeddingModel, modelsFolder: configuration.modelsFolder,
                                        vectors: coverage, generators: generators, languageModels: languageModels))
                return 0
            }
            print("Embedding models (folder: \(configuration.modelsFolder)):")
            for model in models {
                let vectors = coverage.first { $0.model == model.name }.map { ", \($0.vectors) vectors stored" } ?? ""
                let state = model.available ? "installed" : "not installed (run scripts/setup.sh)"
                print("\(model.isDefault ? "*" : " ") \(model.name.padding(toLength: 24, withPad: " ", startingAt: 0)) \(model.kind), \(model.dimension.map { "\($0)-d" } ?? "?-d"), \(model.languages); \(state)\(vectors)")
            }
            print("\nGenerators:")
            for generator in generators {
                print("\(generator.isDefault ? "*" : " ") \(generator.name.padding(toLength: 24, withPad: " ", startingAt: 0)) \(generator.summary)")
            }
            print("\nLanguage models (for --generator llama):")
            for model in languageModels {
                print("\(model.isDefault ? "*" : " ") \(model.name.padding(toLength: 24, withPad: " ", startingAt: 0)) \(model.summary); \(model.installed ? "installed" : "not installed (run scripts/setup.sh)")")
            }
            print("\n* = default (change with --embedding-model / KB_EMBEDDING_MODEL, --generator / KB_GENERATOR, --model / KB_GENERATION_MODEL, or the config file)")
            return 0
        }
    }
}

struct GeneratorEntry: Encodable {
    var name: String
    var summary: String
    var isDefault: Bool
    enum CodingKeys: String, CodingKey { case name, summary; case isDefault = "default" }
}

struct LanguageModelEntry: Encodable {
    var name: String
    var file: String
    var languages: [String]
    var summary: String
    var installed: Bool
    var isDefault: Bool
    enum CodingKeys: String, CodingKey { case name, file, languages, summary, installed; case isDefault = "default" }
}

extension EmbeddingKind: ExpressibleByArgument {}

extension KBError {
    static let emptyText = KBError(.invalidArgument, "The text is empty; give some text to embed.")
}
