import Foundation

/// Turns text into token ids for a local encoder.
protocol EncoderTokenizer: Sendable {
    func encode(_ text: String, maxTokens: Int) -> (ids: [Int32], truncated: Bool)
    /// The id of the unknown token.
    var unknownID: Int32 { get }
}

extension WordPieceTokenizer: EncoderTokenizer {
    var unknownID: Int32 { unknown }
}

/// A sentence-embedding model computed in process: a tokenizer, a ``TransformerEncoder`` and
/// how the model wants its input prefixed.
public final class LocalEmbedder: Embedder {
    public let model: String
    public let dimension: Int
    public let maxTokens: Int
    let tokenizer: any EncoderTokenizer
    let encoder: TransformerEncoder
    let prefixes: [EmbeddingKind: String]
    /// Parallel workers (each runs single-threaded BLAS over its own share of the batch).
    let workers: Int
    /// Upper bound on the tokens packed into one forward pass (bounds memory).
    let tokensPerPass = 8192

    init(model: String, tokenizer: any EncoderTokenizer, weights: EncoderWeights, maxTokens: Int,
         prefixes: [EmbeddingKind: String] = [:], workers: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.model = model
        self.dimension = weights.hidden
        self.maxTokens = maxTokens
        self.tokenizer = tokenizer
        self.encoder = TransformerEncoder(weights: weights)
        self.prefixes = prefixes
        self.workers = max(1, workers)
        Kernels.setBLASThreads(1)
    }

    /// Token ids kb would feed the model (prefix applied).
    public func tokenIDs(_ text: String, kind: EmbeddingKind) -> [Int32] {
        tokenizer.encode((prefixes[kind] ?? "") + text, maxTokens: maxTokens).ids
    }

    public func unknownTokenShare(_ text: String) -> Double {
        let ids = tokenizer.encode(text, maxTokens: maxTokens).ids.dropFirst().dropLast()
        guard !ids.isEmpty else { return 0 }
        return Double(ids.filter { $0 == tokenizer.unknownID }.count) / Double(ids.count)
    }

    public func embed(_ texts: [String], kind: EmbeddingKind) throws(KBError) -> EmbeddingBatch {
        guard !texts.isEmpty else { return EmbeddingBatch(vectors: [], truncated: 0) }
        let prefix = prefixes[kind] ?? ""
        let encoded = texts.map { tokenizer.encode(prefix + $0, maxTokens: maxTokens) }
        let truncated = encoded.filter(\.truncated).count

        // Sort by length so each pass packs similar sequences, then cut passes by token count,
        // dealing them to the workers in turn.
        let order = encoded.indices.sorted { encoded[$0].ids.count < encoded[$1].ids.count }
        var passes: [[Int]] = []
        var current: [Int] = []
        var tokens = 0
        for index in order {
            let count = encoded[index].ids.count
            if !current.isEmpty && tokens + count > tokensPerPass { passes.append(current); current = []; tokens = 0 }
            current.append(index)
            tokens += count
        }
        if !current.isEmpty { passes.append(current) }
        // Enough passes for every worker to have one.
        if passes.count < workers, let largest = passes.first, passes.count == 1, largest.count >= workers {
            let size = (largest.count + workers - 1) / workers
            passes = stride(from: 0, to: largest.count, by: size).map { Array(largest[$0..<min($0 + size, largest.count)]) }
        }

        let results = ResultSlots(count: texts.count)
        let encoder = self.encoder
        let plan = passes, workers = self.workers
        DispatchQueue.concurrentPerform(iterations: min(workers, plan.count)) { worker in
            var passIndex = worker
            while passIndex < plan.count {
                let pass = plan[passIndex]
                let vectors = encoder.encode(pass.map { encoded[$0].ids })
                for (slot, vector) in zip(pass, vectors) { results.set(slot, vector) }
                passIndex += workers
            }
        }
        return EmbeddingBatch(vectors: results.values, truncated: truncated)
    }
}

/// Write-once result slots filled from several threads.
private final class ResultSlots: @unchecked Sendable {
    private var storage: [[Float]]
    private let lock = NSLock()
    init(count: Int) { storage = Array(repeating: [], count: count) }
    func set(_ index: Int, _ value: [Float]) { lock.lock(); storage[index] = value; lock.unlock() }
    var values: [[Float]] { lock.lock(); defer { lock.unlock() }; return storage }
}
