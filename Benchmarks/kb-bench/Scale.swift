// kb-bench scale: hybrid search at 100k–1M chunks, SQLite (exact vectors in memory) against PostgreSQL
// (pgvector HNSW), and HNSW recall against exact search on the same queries.
//
//   kb-bench scale --chunks N --corpus corpus.jsonl --queries queries.jsonl --sqlite FILE --postgres URL
//                  [--model multilingual-e5-small] [--base 1000] [--probes 100] [--skip-load]
//
// The corpus (BEIR JSON lines) gives real text and real vectors; the scale comes from recombining them:
//  - chunk i is two sentences of base abstract a(i) and one sentence of another abstract, so the keyword side
//    searches real English with its real term statistics;
//  - its vector is normalize(e(a) + 0.35·e(b) + g), with e the model's embedding of abstract a and of another
//    abstract b, and g Gaussian noise (σ = 0.01 per dimension): points around the real ones, spread between
//    them, not a uniform cloud (which would make HNSW look better or worse than on text).
// Every chunk is 10 to a document. Queries are the corpus's real queries, embedded by kb as at search time.
import Foundation
import KBCore

/// A deterministic generator (splitmix64) so that both stores get the same chunks.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E3779B97F4A7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
        return z ^ (z >> 31)
    }
    /// A standard normal value (Box–Muller).
    mutating func gaussian() -> Float {
        let u = max(Double.leastNonzeroMagnitude, Double.random(in: 0..<1, using: &self)), v = Double.random(in: 0..<1, using: &self)
        return Float((-2 * log(u)).squareRoot() * cos(2 * .pi * v))
    }
}

struct ScaleCorpus {
    var sentences: [[String]]   // per base abstract
    var vectors: [[Float]]      // per base abstract
    var dimension: Int

    /// Document `d`'s chunks and vectors.
    func document(_ d: Int) -> (chunks: [PreparedChunk], vectors: [[Float]]) {
        var rng = SplitMix(state: UInt64(d) &* 0x2545F4914F6CDD1D &+ 7)
        var chunks: [PreparedChunk] = [], out: [[Float]] = []
        var offset = 0
        for ordinal in 0..<10 {
            let a = Int.random(in: 0..<sentences.count, using: &rng), b = Int.random(in: 0..<sentences.count, using: &rng)
            let own = sentences[a], other = sentences[b]
            let start = own.count > 2 ? Int.random(in: 0..<(own.count - 1), using: &rng) : 0
            let text = (own[start..<min(own.count, start + 2)] + [other[Int.random(in: 0..<other.count, using: &rng)]]).joined(separator: " ")
            let length = text.unicodeScalars.count
            chunks.append(PreparedChunk(ChunkDraft(
                ordinal: ordinal, text: text, heading: "Record \(d)", range: offset..<(offset + length), startLine: ordinal * 2 + 1,
                endLine: ordinal * 2 + 1, page: nil, tokenCount: TokenEstimator.count(text),
                contentHash: String(SHA256.hex("\(d)/\(ordinal)\u{1F}" + text).prefix(32)))))
            offset += length + 1
            var v = [Float](repeating: 0, count: dimension)
            for k in 0..<dimension { v[k] = vectors[a][k] + 0.35 * vectors[b][k] + 0.01 * rng.gaussian() }
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            out.append(v.map { $0 / norm })
        }
        return (chunks, out)
    }
}

func benchScale(_ arguments: [String]) async {
    guard let chunksArgument = option("--chunks", in: arguments).flatMap(Int.init), let corpusPath = option("--corpus", in: arguments),
          let queriesPath = option("--queries", in: arguments) else {
        fail("scale needs --chunks, --corpus and --queries (and --sqlite FILE and/or --postgres URL)")
    }
    let model = option("--model", in: arguments) ?? EmbedderCatalog.defaultModel
    let baseCount = Int(option("--base", in: arguments) ?? "1000") ?? 1000
    let probes = Int(option("--probes", in: arguments) ?? "100") ?? 100
    let skipLoad = arguments.contains("--skip-load")
    let documents = chunksArgument / 10
    do {
        let configuration = try Configuration.resolve(.init(embeddingModel: model))
        let embedder = try EmbedderCatalog(modelsFolder: configuration.modelsFolder).embedder(named: model)
        func lines(_ path: String) -> [[String: Any]] {
            guard let data = FileManager.default.contents(atPath: path) else { fail("cannot read \(path)") }
            return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
        }
        let rows = lines(corpusPath).prefix(baseCount)
        let texts = rows.map { (($0["title"] as? String) ?? "") + "\n" + (($0["text"] as? String) ?? "") }
        let sentences = rows.map { row -> [String] in
            let text = (row["text"] as? String) ?? ""
            let parts = text.components(separatedBy: ". ").map { $0.trimmingCharacters(in: .whitespaces) }.filter { $0.count > 20 }
            return parts.isEmpty ? [text] : parts
        }
        let started = Date()
        var baseVectors: [[Float]] = []
        for start in stride(from: 0, to: texts.count, by: 32) {
            baseVectors += try embedder.embed(Array(texts[start..<min(texts.count, start + 32)]), kind: .passage).vectors
        }
        let corpus = ScaleCorpus(sentences: sentences, vectors: baseVectors, dimension: baseVectors[0].count)
        let queries = Array(lines(queriesPath).compactMap { $0["text"] as? String }.prefix(probes))
        let queryVectors = try embedder.embed(queries, kind: .query).vectors
        FileHandle.standardError.write(Data("kb-bench: \(baseVectors.count) base vectors and \(queries.count) queries embedded in \(Int(Date().timeIntervalSince(started))) s\n".utf8))

        var report: [String: Any] = ["chunks": documents * 10, "documents": documents, "model": model, "base_abstracts": baseVectors.count,
                                     "queries": queries.count]
        var stores: [(name: String, location: String)] = []
        if let path = option("--sqlite", in: arguments) { stores.append(("sqlite", path)) }
        if let url = option("--postgres", in: arguments) { stores.append(("postgres", url)) }
        var exact: [[String]]?   // per query: the exact top 10, as "path#ordinal"
        for (name, location) in stores {
            var section: [String: Any] = [:]
            let store: any KnowledgeStore = name == "sqlite" ? try SQLiteStore(path: location, create: true) : try PostgresStore(url: location, create: true)
            if !skipLoad {
                let loadStart = Date()
                var pending: [(chunkID: Int, vector: [Float])] = []
                for d in 0..<documents {
                    let (chunks, vectors) = corpus.document(d)
                    let record = DocumentRecord(id: 0, path: "/bench/record-\(d).txt", contentHash: SHA256.hex("record \(d)"), size: 1000,
                                                modifiedAt: 0, format: "text", encoding: "utf-8", title: "Record \(d)", fingerprint: "bench",
                                                chunkCount: chunks.count, ingestedAt: Date().timeIntervalSince1970)
                    let stats = try await store.saveDocument(record, chunks: chunks, replacing: nil)
                    let written = try await store.documentChunks(documentID: stats.documentID)
                    for span in written { pending.append((span.chunkID, vectors[span.ordinal])) }
                    if pending.count >= 1000 {
                        try await store.saveEmbeddings(model: model, pending)
                        pending.removeAll(keepingCapacity: true)
                    }
                    if d % 5000 == 4999 {
                        FileHandle.standardError.write(Data("kb-bench: \(name): \((d + 1) * 10) chunks loaded (\(Int(Date().timeIntervalSince(loadStart))) s)\n".utf8))
                    }
                }
                if !pending.isEmpty { try await store.saveEmbeddings(model: model, pending) }
                section["load_seconds"] = Date().timeIntervalSince(loadStart)
            }
            // In process, as kb search runs: the KnowledgeBase over this store, the query embedded each time.
            var settings = configuration
            settings.databasePath = location
            settings.embeddingModel = model
            let kb = try KnowledgeBase(configuration: settings)
            _ = try await kb.search(queries[0], limit: 10, mode: .hybrid)   // opens the store, loads indexes and the model
            for mode in [SearchMode.hybrid, .vector, .keyword] {
                for query in queries.prefix(10) { _ = try await kb.search(query, limit: 10, mode: mode) }
                var times: [Double] = []
                for _ in 0..<3 {
                    for query in queries {
                        let start = DispatchTime.now().uptimeNanoseconds
                        _ = try await kb.search(query, limit: 10, mode: mode)
                        times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
                    }
                }
                times.sort()
                section[mode.rawValue] = ["p50_ms": percentile(times, 50), "p90_ms": percentile(times, 90), "p99_ms": percentile(times, 99)]
            }
            // The vector side alone, store level (no query embedding), at the two depths kb asks for: 10 (kb search
            // --mode vector) and 50 (the hybrid retriever's candidates).
            for depth in [10, 50] {
                var times: [Double] = []
                var found: [[String]] = []
                for vector in queryVectors {
                    let start = DispatchTime.now().uptimeNanoseconds
                    let hits = try await store.nearestChunks(model: model, to: vector, limit: depth)
                    times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
                    let passages = try await store.passages(ids: hits.prefix(10).map(\.chunkID))
                    found.append(passages.map { "\($0.path)#\($0.ordinal)" })
                }
                times.sort()
                var entry: [String: Any] = ["p50_ms": percentile(times, 50), "p99_ms": percentile(times, 99)]
                if name == "sqlite" && depth == 10 { exact = found }
                if let exact {
                    let recall = zip(exact, found).map { e, f in Double(Set(e).intersection(f).count) / Double(max(1, e.count)) }
                    entry["recall_at_10"] = recall.reduce(0, +) / Double(max(1, recall.count))
                }
                section["nearest_\(depth)"] = entry
            }
            report[name] = section
            FileHandle.standardError.write(Data("kb-bench: \(name) done\n".utf8))
        }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        report["peak_rss_mib"] = Double(usage.ru_maxrss) / 1024
        printJSON(report)
    } catch {
        fail("\(error)")
    }
}
