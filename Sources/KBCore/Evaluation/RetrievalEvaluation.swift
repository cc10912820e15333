import Foundation

/// A BEIR-format retrieval test set: a corpus, queries and graded relevance judgements.
public struct BEIRDataset: Sendable {
    public struct Document: Sendable { public var id: String; public var title: String; public var text: String }
    public var corpusPath: String
    public var documents: [Document]
    /// Queries that have judgements, in file order.
    public var queries: [(id: String, text: String)]
    /// query id → document id → grade (> 0 is relevant).
    public var judgements: [String: [String: Int]]

    /// Reads `corpus.jsonl` (`_id`, `title`, `text`), `queries.jsonl` (`_id`, `text`) and a qrels TSV
    /// (`query-id  corpus-id  score`, with or without a header line).
    public static func load(corpus: String, queries: String, qrels: String) throws(KBError) -> BEIRDataset {
        func lines(_ path: String) throws(KBError) -> [Substring] {
            guard let data = FileManager.default.contents(atPath: path) else { throw KBError.pathNotFound(path) }
            return String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline)
        }
        func object(_ line: Substring, _ path: String, _ number: Int) throws(KBError) -> [String: Any] {
            guard let value = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw KBError(.invalidArgument, "\(path):\(number): not a JSON object.")
            }
            return value
        }
        func id(_ value: Any?) -> String? {
            if let string = value as? String { return string }
            if let number = value as? NSNumber { return number.stringValue }
            return nil
        }
        var documents: [Document] = []
        for (number, line) in try lines(corpus).enumerated() {
            let json = try object(line, corpus, number + 1)
            guard let docID = id(json["_id"]) else { throw KBError(.invalidArgument, "\(corpus):\(number + 1): no _id.") }
            documents.append(Document(id: docID, title: json["title"] as? String ?? "", text: json["text"] as? String ?? ""))
        }
        var judgements: [String: [String: Int]] = [:]
        for (number, line) in try lines(qrels).enumerated() {
            let fields = line.split(whereSeparator: { $0 == "\t" || $0 == " " })
            guard fields.count >= 3, let grade = Int(fields[fields.count - 1]) else {
                if number == 0 { continue }   // header
                throw KBError(.invalidArgument, "\(qrels):\(number + 1): expected `query-id  corpus-id  score`.")
            }
            judgements[String(fields[0]), default: [:]][String(fields[fields.count - 2])] = grade
        }
        var queryList: [(id: String, text: String)] = []
        for (number, line) in try lines(queries).enumerated() {
            let json = try object(line, queries, number + 1)
            guard let queryID = id(json["_id"]), let text = json["text"] as? String else {
                throw KBError(.invalidArgument, "\(queries):\(number + 1): needs _id and text.")
            }
            if judgements[queryID] != nil { queryList.append((queryID, text)) }
        }
        guard !documents.isEmpty, !queryList.isEmpty else {
            throw KBError(.invalidArgument, "The test set has \(documents.count) documents and \(queryList.count) judged queries; both must be non-zero.")
        }
        let absolute = corpus.hasPrefix("/") ? corpus : FileManager.default.currentDirectoryPath + "/" + corpus
        return BEIRDataset(corpusPath: (absolute as NSString).standardizingPath, documents: documents, queries: queryList, judgements: judgements)
    }

    /// The path kb stores a corpus document under.
    func path(of documentID: String) -> String { "beir:" + corpusPath + "#" + documentID }
}

/// Retrieval quality over a test set, with standard definitions: nDCG@10 with linear gains (as
/// trec_eval and BEIR), recall@k over documents graded > 0, MRR@10.
public struct RetrievalMetrics: Sendable, Codable {
    public struct PerQuery: Sendable, Codable {
        public var id: String
        public var ndcg10: Double
        public var recall5: Double
        public var recall10: Double
        public var recall100: Double
        public var mrr10: Double
        /// The top 10 document ids kb returned.
        public var retrieved: [String]
        enum CodingKeys: String, CodingKey {
            case id, retrieved
            case ndcg10 = "ndcg@10", recall5 = "recall@5", recall10 = "recall@10", recall100 = "recall@100", mrr10 = "mrr@10"
        }
    }
    public var mode: String
    public var model: String?
    /// The hybrid fusion used (hybrid mode only).
    public var fusion: String?
    public var queries: Int
    public var ndcg10: Double
    public var recall5: Double
    public var recall10: Double
    public var recall100: Double
    public var mrr10: Double
    public var seconds: Double
    public var perQuery: [PerQuery]

    enum CodingKeys: String, CodingKey {
        case mode, model, fusion, queries, seconds
        case ndcg10 = "ndcg@10", recall5 = "recall@5", recall10 = "recall@10", recall100 = "recall@100", mrr10 = "mrr@10"
        case perQuery = "per_query"
    }

    /// Scores one ranking against its judgements.
    static func score(id: String, ranking: [String], judgements: [String: Int]) -> PerQuery {
        let relevant = Set(judgements.filter { $0.value > 0 }.keys)
        var dcg = 0.0
        for (index, doc) in ranking.prefix(10).enumerated() {
            let gain = Double(max(0, judgements[doc] ?? 0))
            dcg += gain / log2(Double(index) + 2)
        }
        let ideal = judgements.values.filter { $0 > 0 }.sorted(by: >).prefix(10).enumerated()
            .reduce(0.0) { $0 + Double($1.element) / log2(Double($1.offset) + 2) }
        let recall = { (k: Int) -> Double in
            relevant.isEmpty ? 0 : Double(Set(ranking.prefix(k)).intersection(relevant).count) / Double(relevant.count)
        }
        let firstRelevant = ranking.prefix(10).firstIndex { relevant.contains($0) }
        return PerQuery(id: id, ndcg10: ideal > 0 ? dcg / ideal : 0, recall5: recall(5), recall10: recall(10), recall100: recall(100),
                        mrr10: firstRelevant.map { 1 / Double($0 + 1) } ?? 0, retrieved: Array(ranking.prefix(10)))
    }
}

extension KnowledgeBase {
    /// Stores a test set's corpus as documents (incrementally: unchanged documents are kept, and so
    /// are their vectors), then embeds what is new when `embed` is true.
    public func ingest(_ dataset: BEIRDataset, embed: Bool, progress: @escaping @Sendable (IngestProgress) -> Void = { _ in },
                       isCancelled: @escaping @Sendable () -> Bool = { false }) async throws(KBError) -> IngestSummary {
        try await Self.onBlockingPool { [self] () async throws(KBError) -> IngestSummary in
            try await ingestNow(dataset, embed: embed, progress: progress, isCancelled: isCancelled)
        }
    }

    private func ingestNow(_ dataset: BEIRDataset, embed: Bool, progress: @Sendable (IngestProgress) -> Void,
                           isCancelled: @Sendable () -> Bool) async throws(KBError) -> IngestSummary {
        let lease = try await store.acquireIngestLease()
        defer { withExtendedLifetime(lease) {} }
        let started = Date()
        let chunker = StructuredChunker(options: configuration.chunking)
        let fingerprint = "beir-v1/\(chunker.fingerprint)"
        var summary = IngestSummary()
        let prefix = "beir:" + dataset.corpusPath + "#"
        let existing = Dictionary(try await store.documents().filter { $0.path.hasPrefix(prefix) }.map { ($0.path, $0) },
                                  uniquingKeysWith: { a, _ in a })
        var seen = Set<String>()
        for (index, document) in dataset.documents.enumerated() {
            if isCancelled() { summary.interrupted = true; break }
            let path = dataset.path(of: document.id)
            guard seen.insert(path).inserted else { continue }
            let hash = SHA256.hex(document.title + "\u{1F}" + document.text)
            if let stored = existing[path], stored.contentHash == hash, stored.fingerprint == fingerprint {
                summary.unchanged += 1
                continue
            }
            var builder = DocumentTextBuilder()
            builder.append(.heading, document.title, line: 1, level: 1)
            builder.append(.paragraph, document.text, line: 2)
            let extracted = ExtractedDocument(format: "beir", encoding: "utf-8", title: document.title,
                                              text: builder.text, blocks: builder.blocks)
            let drafts = chunker.chunk(extracted)
            guard !drafts.isEmpty else { summary.skipped.append(IngestSkip(path: path, reason: LoadFailure.noText.description)); continue }
            let record = DocumentRecord(id: 0, path: path, contentHash: hash, size: document.text.utf8.count, modifiedAt: 0,
                                        format: "beir", encoding: "utf-8", title: document.title, fingerprint: fingerprint,
                                        chunkCount: drafts.count, ingestedAt: Date().timeIntervalSince1970)
            let stats = try await store.saveDocument(record, chunks: drafts.map(PreparedChunk.init), replacing: existing[path]?.id)
            summary.chunksAdded += stats.inserted
            if existing[path] == nil { summary.added += 1 } else { summary.updated += 1 }
            if index % 50 == 0 || index == dataset.documents.count - 1 {
                progress(IngestProgress(done: index + 1, total: dataset.documents.count, bytesDone: index + 1,
                                        bytesTotal: dataset.documents.count, path: path, outcome: .added, detail: nil,
                                        elapsed: Date().timeIntervalSince(started)))
            }
        }
        if !summary.interrupted {
            for (path, stored) in existing where !seen.contains(path) {
                summary.chunksRemoved += try await store.removeDocument(id: stored.id)
                summary.removed += 1
            }
        }
        if embed && !summary.interrupted {
            let indexer = EmbeddingIndexer(store: store, embedder: try embedder(named: configuration.embeddingModel),
                                          batchSize: configuration.embeddingBatch)
            summary.embeddingModel = indexer.embedder.model
            let result = try await indexer.run(started: started, progress: progress, isCancelled: isCancelled)
            summary.embedded = result.embedded
            summary.embeddingTruncated = result.truncated
            summary.interrupted = result.interrupted
        }
        summary.seconds = Date().timeIntervalSince(started)
        return summary
    }

    /// Runs every judged query and scores the document rankings.
    public func evaluate(_ dataset: BEIRDataset, mode: SearchMode, progress: @Sendable (Int, Int) -> Void = { _, _ in }) async throws(KBError) -> RetrievalMetrics {
        let started = Date()
        let retriever = try await retrievalPlan(mode: mode).retriever
        let prefix = "beir:" + dataset.corpusPath + "#"
        var perQuery: [RetrievalMetrics.PerQuery] = []
        for (index, query) in dataset.queries.enumerated() {
            var ranking: [String] = []
            var seen = Set<String>()
            if let analyzed = try? QueryAnalyzer.analyze(query.text) {
                for hit in try await retriever.retrieve(analyzed, limit: 300).passages where hit.passage.path.hasPrefix(prefix) {
                    let docID = String(hit.passage.path.dropFirst(prefix.count))
                    if seen.insert(docID).inserted { ranking.append(docID) }
                    if ranking.count == 100 { break }
                }
            }
            perQuery.append(RetrievalMetrics.score(id: query.id, ranking: ranking, judgements: dataset.judgements[query.id] ?? [:]))
            if index % 20 == 0 || index == dataset.queries.count - 1 { progress(index + 1, dataset.queries.count) }
        }
        let count = Double(perQuery.count)
        func mean(_ value: (RetrievalMetrics.PerQuery) -> Double) -> Double { perQuery.map(value).reduce(0, +) / count }
        return RetrievalMetrics(mode: mode.rawValue, model: mode == .keyword ? nil : try await searchModel(),
                                fusion: mode == .hybrid ? configuration.fusion.name : nil, queries: perQuery.count,
                                ndcg10: mean(\.ndcg10), recall5: mean(\.recall5), recall10: mean(\.recall10), recall100: mean(\.recall100), mrr10: mean(\.mrr10),
                                seconds: Date().timeIntervalSince(started), perQuery: perQuery)
    }
}
