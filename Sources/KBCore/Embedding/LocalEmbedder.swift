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
         prefixes: [EmbeddingKind: String] = [:], workers: Int = ProcessInfo.processInfo.activeProcessorCount) throws(KBError) {
        _ = try BLAS.require()
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

        let plan = Self.plan(lengths: encoded.map(\.ids.count), workers: workers, tokensPerPass: tokensPerPass)
        let results = ResultSlots(count: texts.count)
        let encoder = self.encoder
        let work: @Sendable (Int) -> Void = { worker in
            for pass in plan[worker] {
                let vectors = encoder.encode(pass.map { encoded[$0].ids })
                for (slot, vector) in zip(pass, vectors) { results.set(slot, vector) }
            }
        }
        if kind == .passage && texts.count > 1 {
            // An ingest's bulk embedding: on the low-priority threads, so that searches (query embeddings
            // included) are served first when both want the cores.
            BlockingPool.background.perform(iterations: plan.count, work)
        } else {
            DispatchQueue.concurrentPerform(iterations: plan.count, execute: work)
        }
        return EmbeddingBatch(vectors: results.values, truncated: truncated)
    }
}

extension LocalEmbedder {
    /// Splits a batch into passes for the workers: texts sorted by length (so a pass packs similar
    /// sequences), cut into passes of about equal token count (at most `tokensPerPass`, and at least
    /// one per worker), then dealt longest-first to the least-loaded worker. Cost counts attention's
    /// quadratic term, so long sequences weigh more.
    static func plan(lengths: [Int], workers: Int, tokensPerPass: Int) -> [[[Int]]] {
        let order = lengths.indices.sorted { lengths[$0] < lengths[$1] }
        let total = lengths.reduce(0, +)
        guard total > 0 else { return [[order]] }
        let rounds = max(1, Int((Double(total) / Double(workers * tokensPerPass)).rounded(.up)))
        let target = max(1, total / (workers * rounds))
        var passes: [[Int]] = []
        var current: [Int] = []
        var tokens = 0
        for index in order {
            if !current.isEmpty && tokens + lengths[index] > target { passes.append(current); current = []; tokens = 0 }
            current.append(index)
            tokens += lengths[index]
        }
        if !current.isEmpty { passes.append(current) }
        func cost(_ pass: [Int]) -> Double { pass.reduce(0) { $0 + Double(lengths[$1]) * (1 + Double(lengths[$1]) / 2300) } }
        let workerCount = min(workers, passes.count)
        var assigned = [[[Int]]](repeating: [], count: workerCount)
        var load = [Double](repeating: 0, count: workerCount)
        for pass in passes.sorted(by: { cost($0) > cost($1) }) {
            let worker = load.indices.min { load[$0] < load[$1] }!
            assigned[worker].append(pass)
            load[worker] += cost(pass)
        }
        return assigned
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
