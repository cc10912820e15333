import Foundation

/// How a passage ranked on each side of a search: the explanation `--explain` shows.
public struct RetrievalExplanation: Sendable, Equatable, Codable {
    public var keywordRank: Int?
    public var keywordScore: Double?
    public var vectorRank: Int?
    public var vectorScore: Double?
    public var fusedScore: Double?
    /// Hybrid only: the share of the query's IDF-weighted terms that the best keyword hit matched.
    public var keywordCoverage: Double?
    /// Hybrid only: the weights this query's fusion gave the keyword and the vector list (from the evidence).
    public var keywordWeight: Double?
    public var vectorWeight: Double?
    /// Cross-language search: the passage's rank for the question translated into the other language, and that
    /// translation (``CrossLanguageRetriever``).
    public var translatedRank: Int?
    public var translation: String?
    enum CodingKeys: String, CodingKey {
        case keywordRank = "keyword_rank", keywordScore = "keyword_score", vectorRank = "vector_rank"
        case vectorScore = "vector_score", fusedScore = "fused_score", keywordCoverage = "keyword_coverage"
        case keywordWeight = "keyword_weight", vectorWeight = "vector_weight"
        case translatedRank = "translated_rank", translation
    }
}

/// Semantic retrieval: the query's embedding against the stored vectors of the same model.
public struct VectorRetriever: Retriever {
    public let mode = "vector"
    let embedder: any Embedder
    let vectors: any VectorStore
    let store: any DocumentStore

    public init(embedder: any Embedder, vectors: any VectorStore, store: any DocumentStore) {
        self.embedder = embedder
        self.vectors = vectors
        self.store = store
    }

    public func retrieve(_ query: AnalyzedQuery, limit: Int) async throws(KBError) -> Retrieval {
        let vector = try await embed(query)
        let ranked = try await vectors.nearestChunks(model: embedder.model, to: vector, limit: limit)
        let passages = try await store.passages(ids: ranked.map(\.chunkID))
        let matcher = TermMatcher(query)
        let scores = Dictionary(ranked.map { ($0.chunkID, $0.score) }, uniquingKeysWith: { a, _ in a })
        let retrieved = passages.enumerated().map { offset, passage in
            matcher.retrieved(passage, rank: offset + 1, score: scores[passage.chunkID] ?? 0,
                              explanation: RetrievalExplanation(vectorRank: offset + 1, vectorScore: scores[passage.chunkID]))
        }
        return Retrieval(passages: retrieved, queryVector: vector, vectorModel: embedder.model)
    }

    /// The query's embedding, computed on a ``BlockingPool`` thread (the encoder is CPU-bound).
    func embed(_ query: AnalyzedQuery) async throws(KBError) -> [Float] {
        let embedder = self.embedder, text = query.normalized
        // A local model is CPU-bound: one embedding per core at a time. A remote one waits on the network.
        let pool = embedder is LocalEmbedder ? BlockingPool.compute : BlockingPool.shared
        return try await pool.run { () throws(KBError) -> [Float] in
            try embedder.embed([text], kind: .query).vectors[0]
        }
    }
}

/// How a hybrid search combines its keyword and vector lists.
public enum Fusion: Sendable, Equatable {
    /// Reciprocal-rank fusion: Σ wᵢ / (k + rankᵢ). Uses ranks only.
    case reciprocalRank(k: Double)
    /// A convex combination of min-max-normalised scores: α · keyword + (1 − α) · vector.
    case score(keywordShare: Double)
    /// Reciprocal-rank fusion whose keyword weight follows, per query, how much of the question the best keyword
    /// hit covers: 1 from 60 % of the weighted terms up, falling linearly to 0 at 20 % (a keyword side that
    /// matches only a question's common words, as for a question in the other language, stops dragging the ranking).
    case adaptive(k: Double)
    /// The sum of each list's z-scores: a score minus the mean of its list's first 50, over their standard deviation;
    /// a passage one list lacks gets that list's lowest. A side whose best hits stand out from the rest of its list
    /// (a rare name matched, a near-duplicate embedding) outweighs a side whose scores are flat, per query — where
    /// rank fusion gives both sides' first places the same weight however weak one of them is.
    case zScore

    /// kb's default, chosen on SciFact, CMRC 2018, the cross-language and the multi-hop set (README, "Retrieval quality").
    public static let `default` = Fusion.zScore

    /// Parses `z`, `rrf`, `rrf:K`, `score`, `score:ALPHA`, `adaptive` or `adaptive:K`.
    public init?(_ text: String) {
        let parts = text.lowercased().split(separator: ":", maxSplits: 1).map(String.init)
        let value = parts.count > 1 ? Double(parts[1]) : nil
        if parts.count > 1 && !(value?.isFinite ?? false) { return nil }
        switch parts.first {
        case "rrf":
            guard (value ?? 20) >= 0, (value ?? 20) <= 100_000 else { return nil }
            self = .reciprocalRank(k: value ?? 20)
        case "score":
            guard (0...1).contains(value ?? 0.5) else { return nil }
            self = .score(keywordShare: value ?? 0.5)
        case "adaptive":
            guard (value ?? 20) >= 0, (value ?? 20) <= 100_000 else { return nil }
            self = .adaptive(k: value ?? 20)
        case "z" where parts.count == 1:
            self = .zScore
        default: return nil
        }
    }

    public var name: String {
        switch self {
        case .reciprocalRank(let k): return k == k.rounded() ? "rrf:\(Int(k))" : "rrf:\(k)"
        case .score(let alpha): return "score:\(alpha)"
        case .adaptive(let k): return k == 20 ? "adaptive" : k == k.rounded() ? "adaptive:\(Int(k))" : "adaptive:\(k)"
        case .zScore: return "z"
        }
    }

    /// The keyword list's share (RRF adds both sides in full: 0.5 each, doubled below).
    var keywordShare: Double {
        switch self {
        case .reciprocalRank, .adaptive, .zScore: return 0.5
        case .score(let alpha): return alpha
        }
    }

    /// Each list entry's contribution before weighting, best first.
    func contributions(_ scores: [Double]) -> [Double] {
        switch self {
        case .reciprocalRank(let k), .adaptive(let k):
            return scores.indices.map { 2 / (k + Double($0 + 1)) }
        case .score:
            guard let high = scores.max(), let low = scores.min() else { return [] }
            return scores.map { high > low ? ($0 - low) / (high - low) : 1 }
        case .zScore:
            let head = scores.prefix(50)
            guard !head.isEmpty else { return [] }
            let mean = head.reduce(0, +) / Double(head.count)
            let variance = head.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(head.count)
            let deviation = variance > 0 ? variance.squareRoot() : 1
            return scores.map { ($0 - mean) / deviation }
        }
    }

    /// What a passage missing from a list gets from it: nothing for rank and score fusion; the list's lowest
    /// z-score for ``zScore``.
    func absentContribution(_ contributions: [Double]) -> Double {
        if case .zScore = self { return contributions.min() ?? 0 }
        return 0
    }
}

/// Hybrid retrieval: keyword (BM25) and vector lists fused — by default by the sum of each list's z-scores;
/// optionally by weighted reciprocal-rank fusion, score = Σ wᵢ / (k + rankᵢ), or a convex combination of
/// normalised scores (``Fusion``).
///
/// It notices a blind side instead of letting it drag the ranking: with no keyword hits, or a
/// query in a script the keyword analysis cannot segment (Thai, Lao, Khmer, Myanmar …), the
/// ranking is the vector list alone; when the embedding model does not know most of the query's
/// tokens (an English-only model on Chinese), the keyword list alone; when the best keyword hit
/// matches under a third of the query's weighted terms, the keyword list counts half.
public struct HybridRetriever: Retriever {
    public let mode = "hybrid"
    let keyword: KeywordRetriever
    let vector: VectorRetriever
    /// How the two lists are combined.
    public var fusion: Fusion
    /// Candidates taken from each side, at least.
    public var depth = 50

    public init(keyword: KeywordRetriever, vector: VectorRetriever, fusion: Fusion = .default) {
        self.keyword = keyword
        self.vector = vector
        self.fusion = fusion
    }

    public func retrieve(_ query: AnalyzedQuery, limit: Int) async throws(KBError) -> Retrieval {
        let depth = max(self.depth, limit)
        // The query embedding (milliseconds of CPU) and the keyword side run at the same time.
        let vectorBlindToQuery = vector.embedder.unknownTokenShare(query.normalized) >= 0.3
        async let embedding: [Float]? = vectorBlindToQuery ? nil : vector.embed(query)
        let keywordHits = try await keyword.rankedChunks(query, limit: depth)
        let queryVector: [Float]?
        do { queryVector = try await embedding } catch let error as KBError { throw error } catch { throw KBError(.model, "\(error)") }
        // A model that does not know most of the query's tokens (MiniLM on Chinese) is blind to it.
        let vectorBlind = vectorBlindToQuery && !keywordHits.isEmpty
        var vectorHits: [ScoredChunk] = []
        if !vectorBlind {
            var probe = queryVector ?? []
            if queryVector == nil { probe = try await vector.embed(query) }
            vectorHits = try await vector.vectors.nearestChunks(model: vector.embedder.model, to: probe, limit: depth)
        }
        // The best keyword hit decides whether the keyword side is trusted; fetched with the results.
        let fusedPreview = fuse(keywordHits: keywordHits, vectorHits: vectorHits, keywordWeight: 1)
        var wanted = fusedPreview.ranked.prefix(limit).map(\.key)
        if let best = keywordHits.first?.chunkID, !wanted.contains(best) { wanted.append(best) }
        var passagesByID: [Int: Passage] = [:]
        for passage in try await keyword.store.passages(ids: wanted) { passagesByID[passage.chunkID] = passage }
        let evidence = try await keywordEvidence(query, hits: keywordHits, best: keywordHits.first.flatMap { passagesByID[$0.chunkID] })
        let keywordWeight = evidence.weight

        var result = keywordWeight == 1 ? fusedPreview : fuse(keywordHits: keywordHits, vectorHits: vectorHits, keywordWeight: keywordWeight)
        result.ranked = Array(result.ranked.prefix(limit))
        let missing = result.ranked.map(\.key).filter { passagesByID[$0] == nil }
        for passage in try await keyword.store.passages(ids: missing) { passagesByID[passage.chunkID] = passage }
        let matcher = TermMatcher(query)
        var passages: [RetrievedPassage] = []
        for (id, score) in result.ranked {
            guard let passage = passagesByID[id] else { continue }   // removed since it was ranked
            var explanation = result.explanations[id] ?? RetrievalExplanation()
            explanation.fusedScore = score
            explanation.keywordCoverage = evidence.coverage
            explanation.keywordWeight = 2 * keywordWeight * fusion.keywordShare
            explanation.vectorWeight = vectorHits.isEmpty ? 0 : 2 * (1 - fusion.keywordShare)
            passages.append(matcher.retrieved(passage, rank: passages.count + 1, score: score, explanation: explanation))
        }
        return Retrieval(passages: passages, queryVector: queryVector, vectorModel: vector.embedder.model)
    }

    private struct Fused {
        var ranked: [(key: Int, value: Double)]
        var explanations: [Int: RetrievalExplanation]
    }

    private func fuse(keywordHits: [ScoredChunk], vectorHits: [ScoredChunk], keywordWeight: Double) -> Fused {
        var fused: [Int: Double] = [:]
        var explanations: [Int: RetrievalExplanation] = [:]
        let keywordContribution = fusion.contributions(keywordHits.map(\.score))
        let vectorContribution = fusion.contributions(vectorHits.map(\.score))
        for (offset, hit) in keywordHits.enumerated() {
            // A blind keyword side (weight 0) contributes nothing, not even ties; its ranks stay in the explanation.
            if keywordWeight > 0 { fused[hit.chunkID, default: 0] += keywordWeight * fusion.keywordShare * keywordContribution[offset] }
            explanations[hit.chunkID, default: RetrievalExplanation()].keywordRank = offset + 1
            explanations[hit.chunkID, default: RetrievalExplanation()].keywordScore = hit.score
        }
        for (offset, hit) in vectorHits.enumerated() {
            fused[hit.chunkID, default: 0] += (1 - fusion.keywordShare) * vectorContribution[offset]
            explanations[hit.chunkID, default: RetrievalExplanation()].vectorRank = offset + 1
            explanations[hit.chunkID, default: RetrievalExplanation()].vectorScore = hit.score
        }
        // z-scores: a passage one side did not list gets that side's lowest.
        let keywordAbsent = keywordWeight > 0 ? keywordWeight * fusion.keywordShare * fusion.absentContribution(keywordContribution) : 0
        let vectorAbsent = (1 - fusion.keywordShare) * fusion.absentContribution(vectorContribution)
        if keywordAbsent != 0 || vectorAbsent != 0 {
            for id in fused.keys {
                if explanations[id]?.keywordRank == nil { fused[id, default: 0] += keywordAbsent }
                if explanations[id]?.vectorRank == nil { fused[id, default: 0] += vectorAbsent }
            }
        }
        let ranked = fused.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
        return Fused(ranked: ranked, explanations: explanations)
    }

    /// What the keyword side's best hit says about the query: how much of it the hit covers, and the weight that
    /// follows — 1 normally; 0 when the keyword side is blind; 0.5 when its best hit matches under a third of the
    /// query's weighted terms (with ``Fusion/adaptive(k:)``, a weight that follows the coverage continuously).
    func keywordEvidence(_ query: AnalyzedQuery, hits: [ScoredChunk], best: Passage?) async throws(KBError) -> (weight: Double, coverage: Double?) {
        if hits.isEmpty || Self.keywordBlindScript(query.normalized) { return (0, hits.isEmpty ? 0 : nil) }
        let weights = try await TermWeights.compute(query, index: keyword.index)
        let total = weights.values.reduce(0, +)
        guard total > 0, let best else { return (1, nil) }
        let matched = Set(TermMatcher(query).matchedTerms(in: best.heading + "\n" + best.text))
        let coverage = weights.filter { matched.contains($0.key) }.values.reduce(0, +) / total
        if case .adaptive = fusion { return (min(1, max(0, (coverage - 0.2) / 0.4)), coverage) }
        return (coverage < 1.0 / 3 ? 0.5 : 1, coverage)
    }

    /// Scripts written without spaces that kb's keyword analysis does not segment.
    static func keywordBlindScript(_ text: String) -> Bool {
        var blind = 0, letters = 0
        for scalar in text.unicodeScalars where scalar.properties.isAlphabetic {
            letters += 1
            switch scalar.value {
            case 0x0E00...0x0EFF, 0x1780...0x17FF, 0x1000...0x109F, 0x0F00...0x0FFF: blind += 1   // Thai, Lao, Khmer, Myanmar, Tibetan
            default: break
            }
        }
        return letters > 0 && blind * 2 >= letters
    }
}
