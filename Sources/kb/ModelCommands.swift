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
        abstract: "List the embedding models kb can use, which is the default, and their vectors in this knowledge base."
    )

    @OptionGroup var options: GlobalOptions

    func run() async throws {
        try await reportingErrors(options) {
            let configuration = try options.configuration()
            let catalog = EmbedderCatalog(modelsFolder: configuration.modelsFolder, endpoint: configuration.embeddingEndpoint)
            let models = catalog.models(defaultModel: configuration.embeddingModel)
            let coverage = (try? KnowledgeBase(configuration: configuration).embeddingCoverage()) ?? []
            if options.json {
                struct Output: Encodable {
                    var models: [EmbedderCatalog.ModelInfo]; var `default`: String; var modelsFolder: String; var vectors: [EmbeddingCoverage]
                    enum CodingKeys: String, CodingKey { case models, `default`, vectors; case modelsFolder = "models_folder" }
                }
                JSONOutput.print(Output(models: models, default: configuration.embeddingModel, modelsFolder: configuration.modelsFolder, vectors: coverage))
                return 0
            }
            print("Embedding models (folder: \(configuration.modelsFolder)):")
            for model in models {
                let vectors = coverage.first { $0.model == model.name }.map { ", \($0.vectors) vectors stored" } ?? ""
                let state = model.available ? "installed" : "not installed (run scripts/setup.sh)"
                print("\(model.isDefault ? "*" : " ") \(model.name.padding(toLength: 24, withPad: " ", startingAt: 0)) \(model.kind), \(model.dimension.map { "\($0)-d" } ?? "?-d"), \(model.languages); \(state)\(vectors)")
            }
            print("* = default (change with --embedding-model, KB_EMBEDDING_MODEL or embeddings.model in the config file)")
            return 0
        }
    }
}

extension EmbeddingKind: ExpressibleByArgument {}

extension KBError {
    static let emptyText = KBError(.invalidArgument, "The text is empty; give some text to embed.")
}
