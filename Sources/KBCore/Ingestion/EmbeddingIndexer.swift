import Foundation

/// Embeds the chunks that have no vector for the current model, in batches, one transaction per
/// batch. Unchanged chunks are never re-embedded; a new model is filled in beside the old one.
public struct EmbeddingIndexer: Sendable {
    let store: any KnowledgeStore
    public let embedder: any Embedder
    /// Chunks per embedding call (the embedder sorts them by length and packs them).
    var batchSize = 128

    public init(store: any KnowledgeStore, embedder: any Embedder, batchSize: Int = 128) {
        self.store = store
        self.embedder = embedder
        self.batchSize = max(1, batchSize)
    }

    struct Result { var embedded = 0; var truncated = 0; var interrupted = false }

    func run(started: Date, progress: @Sendable (IngestProgress) -> Void, isCancelled: @Sendable () -> Bool) async throws(KBError) -> Result {
        let model = embedder.model
        let have = try await store.embeddingCoverage().first { $0.model == model }?.vectors ?? 0
        let total = max(0, try await store.passageCount() - have)
        var result = Result()
        var lastID = 0
        while true {
            if isCancelled() { result.interrupted = true; break }
            let pending = try await store.chunksMissingEmbeddings(model: model, afterID: lastID, limit: batchSize)
            guard let last = pending.last else { break }
            lastID = last.id
            let batch = try embedder.embed(pending.map(\.embeddingInput), kind: .passage)
            guard batch.vectors.count == pending.count else {
                throw KBError(.model, "\(model) returned \(batch.vectors.count) vectors for \(pending.count) passages.")
            }
            try await store.saveEmbeddings(model: model, Array(zip(pending.map(\.id), batch.vectors)).map { (chunkID: $0.0, vector: $0.1) })
            result.embedded += pending.count
            result.truncated += batch.truncated
            progress(IngestProgress(phase: .embeddings, done: result.embedded, total: total, bytesDone: result.embedded,
                                    bytesTotal: total, path: model, outcome: .embedded, detail: nil,
                                    elapsed: Date().timeIntervalSince(started)))
        }
        return result
    }
}
