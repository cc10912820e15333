import Foundation
import Testing
@testable import KBCore
import KBTestSupport

@Suite struct VectorIndexTests {
    @Test func flatIndexReturnsTheExactTopK() async throws {
        var state: UInt64 = 42
        func random() -> Float { state = state &* 6364136223846793005 &+ 1; return Float(Int64(bitPattern: state >> 11) % 2000) / 1000 - 1 }
        let dimension = 37, count = 500
        let values = (0..<(dimension * count)).map { _ in random() }
        let index = FlatVectorIndex(VectorSet(model: "m", dimension: dimension, ids: Array(1000..<(1000 + count)), values: values))
        let query = (0..<dimension).map { _ in random() }
        let brute = (0..<count).map { row in (1000 + row, zip(values[(row * dimension)..<((row + 1) * dimension)], query).reduce(Float(0)) { $0 + $1.0 * $1.1 }) }
            .sorted { $0.1 > $1.1 }.prefix(10)
        let found = index.nearest(query, limit: 10)
        #expect(found.map(\.chunkID) == brute.map(\.0))
        for (a, b) in zip(found, brute) { #expect(abs(a.score - b.1) < 1e-4) }
        #expect(index.nearest(query, limit: 0).isEmpty)
        #expect(index.nearest([1, 2], limit: 5).isEmpty)   // wrong dimension
        #expect(index.nearest(query, limit: 10_000).count == count)
    }
}

@Suite struct HybridRetrievalTests {
    static func knowledgeBase(_ folder: TemporaryFolder, embedder: HashingEmbedder) throws -> KnowledgeBase {
        var configuration = Configuration(databasePath: folder.path + "/kb.sqlite", knowledgeFolders: [folder.path + "/docs"])
        configuration.embeddingModel = embedder.model
        let kb = try KnowledgeBase(configuration: configuration, create: true)
        kb.use(embedder)
        return kb
    }

    @Test func ingestEmbedsOnlyNewChunksAndSearchFuses() async throws {
        let folder = TemporaryFolder()
        folder.write("docs/a.md", "# Apples\n\nApples grow on trees in orchards.\n")
        folder.write("docs/b.md", "# Rivers\n\nRivers flow to the sea through valleys.\n")
        let embedder = HashingEmbedder()
        let kb = try Self.knowledgeBase(folder, embedder: embedder)

        let first = try await kb.ingest()
        #expect(first.embedded == 2 && first.embeddingModel == "hashing-test")
        await #expect(try kb.consistencyProblems().isEmpty)
        // Unchanged: nothing re-embedded. Changed file: only its new chunk.
        await #expect(try kb.ingest().embedded == 0)
        folder.write("docs/b.md", "# Rivers\n\nRivers flow to the sea through valleys.\n\n# Lakes\n\nLakes are still water.\n")
        let changed = try await kb.ingest()
        #expect(changed.embedded == 1)
        #expect(embedder.embeddedTexts == 3)

        let hybrid = try await kb.search("apples orchards")
        #expect(hybrid.mode == "hybrid")
        let top = try #require(hybrid.results.first)
        #expect(top.heading == "Apples")
        #expect(top.explanation?.keywordRank == 1 && top.explanation?.vectorRank == 1)
        // z-scores, each side weighted a half: alone on the keyword side (z 0); on the vector side, its cosine's
        // distance from the mean of all three chunks' in standard deviations.
        let cosines = hybrid.results.compactMap { $0.explanation?.vectorScore }
        #expect(cosines.count == 3)
        let mean = cosines.reduce(0, +) / 3
        let deviation = (cosines.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 3).squareRoot()
        let expected = 0.5 * ((top.explanation?.vectorScore ?? 0) - mean) / deviation
        #expect(abs((top.explanation?.fusedScore ?? 0) - expected) < 1e-9)
        #expect(top.explanation?.keywordWeight == 1 && top.explanation?.vectorWeight == 1)
        #expect(abs((top.explanation?.keywordCoverage ?? 0) - 1) < 1e-9)

        await #expect(try kb.search("orchards", mode: .keyword).mode == "keyword")
        let vector = try await kb.search("apples", mode: .vector)
        #expect(vector.results.first?.heading == "Apples")
        #expect(vector.results.first?.explanation?.keywordRank == nil)
    }

    @Test func aBlindKeywordSideDoesNotDragTheRanking() async throws {
        let folder = TemporaryFolder()
        folder.write("docs/a.md", "Alpha beta gamma.\n")
        folder.write("docs/b.md", "Delta epsilon zeta.\n")
        let kb = try Self.knowledgeBase(folder, embedder: HashingEmbedder())
        _ = try await kb.ingest()
        // Thai has no keyword segmentation: the vector list alone decides.
        #expect(HybridRetriever.keywordBlindScript("สวัสดีครับ"))
        #expect(!HybridRetriever.keywordBlindScript("hello 你好"))
        // No keyword hits at all: results still come from the vector side.
        let results = try await kb.search("omega", mode: .hybrid).results
        #expect(results.count == 2)
        #expect(results.allSatisfy { $0.explanation?.keywordRank == nil && $0.explanation?.vectorRank != nil })
    }

    @Test func aBlindVectorSideLeavesTheKeywordRanking() async throws {
        let folder = TemporaryFolder()
        folder.write("docs/a.md", "北京是中国的首都。\n")
        folder.write("docs/b.md", "上海是港口城市。\n")
        folder.write("docs/c.md", "首都机场很大。北京的首都功能。\n")
        let kb = try Self.knowledgeBase(folder, embedder: HashingEmbedder(unknownShare: 0.9))
        _ = try await kb.ingest()
        let keyword = try await kb.search("北京首都", mode: .keyword).results.map(\.chunkID)
        let hybrid = try await kb.search("北京首都", mode: .hybrid).results
        #expect(hybrid.map(\.chunkID) == keyword)
        #expect(hybrid.allSatisfy { $0.explanation?.vectorRank == nil })
    }

    @Test func switchingModelsKeepsTheOldVectorsUntilTheNewOnesAreComplete() async throws {
        let folder = TemporaryFolder()
        for i in 0..<6 { folder.write("docs/\(i).md", "Document number \(i) about topic \(i).\n") }
        let old = HashingEmbedder(model: "old-model")
        let kb = try Self.knowledgeBase(folder, embedder: old)
        _ = try await kb.ingest()
        await #expect(try kb.searchModel() == "old-model")

        var configuration = kb.configuration
        configuration.embeddingModel = "new-model"
        configuration.embeddingBatch = 2
        let switched = try KnowledgeBase(configuration: configuration)
        let new = HashingEmbedder(model: "new-model", dimension: 32)
        switched.use(new)
        switched.use(old)
        let counter = Counter()
        let partial = try await switched.ingest(progress: { if $0.phase == .embeddings { counter.increment() } },
                                          isCancelled: { counter.value >= 1 })
        #expect(partial.interrupted)
        // New vectors incomplete: search keeps using the complete old ones.
        await #expect(try switched.searchModel() == "old-model")
        _ = try await switched.ingest()
        await #expect(try switched.searchModel() == "new-model")
        let coverage = try await switched.embeddingCoverage()
        #expect(coverage.map(\.model) == ["new-model", "old-model"])
        #expect(coverage.allSatisfy { $0.vectors == 6 })
    }

    @Test func aMissingModelFallsBackToKeywordsWithAWarning() async throws {
        let folder = TemporaryFolder()
        folder.write("docs/a.md", "Apples grow on trees.\n")
        let kb = try Self.knowledgeBase(folder, embedder: HashingEmbedder())
        _ = try await kb.ingest()
        // A new process without that model: the default search still answers, by keywords.
        var configuration = kb.configuration
        configuration.modelsFolder = folder.path + "/no-models"
        let later = try KnowledgeBase(configuration: configuration)
        let response = try await later.search("apples")
        #expect(response.mode == "keyword")
        #expect(response.results.count == 1)
        #expect(response.warnings.first?.hasPrefix("Searched by keywords only: Unknown embedding model hashing-test") == true)
        // Asking for vectors explicitly is an error that says why.
        await expectKBError(.invalidArgument) { try await later.search("apples", mode: .vector) }
    }

    @Test func dimensionMismatchIsRefusedAndNothingIsLost() async throws {
        let folder = TemporaryFolder()
        folder.write("docs/a.md", "Some text.\n")
        let kb = try Self.knowledgeBase(folder, embedder: HashingEmbedder(model: "m", dimension: 16))
        _ = try await kb.ingest()
        folder.write("docs/b.md", "More text.\n")
        let other = try KnowledgeBase(configuration: kb.configuration)
        other.use(HashingEmbedder(model: "m", dimension: 8))
        let error = await expectKBError(.model) { try await other.ingest() }
        #expect(error?.message.contains("16-dimensional vectors for m, but the model now gives 8") == true)
        await #expect(try other.embeddingCoverage().first?.vectors == 1)
        await #expect(try other.consistencyProblems().isEmpty)
    }
}

@Suite struct MetricTests {
    @Test func standardDefinitions() async throws {
        let judged = ["d1": 2, "d2": 1, "d3": 0]
        let perfect = RetrievalMetrics.score(id: "q", ranking: ["d1", "d2", "x"], judgements: judged)
        #expect(abs(perfect.ndcg10 - 1) < 1e-12)
        #expect(perfect.mrr10 == 1 && perfect.recall10 == 1)
        let swapped = RetrievalMetrics.score(id: "q", ranking: ["x", "d2", "d1"], judgements: judged)
        let dcg = 1 / log2(3.0) + 2 / log2(4.0), ideal = 2 / log2(2.0) + 1 / log2(3.0)
        #expect(abs(swapped.ndcg10 - dcg / ideal) < 1e-12)
        #expect(swapped.mrr10 == 0.5)
        let missing = RetrievalMetrics.score(id: "q", ranking: ["x", "y"], judgements: judged)
        #expect(missing.ndcg10 == 0 && missing.recall100 == 0 && missing.mrr10 == 0)
        let half = RetrievalMetrics.score(id: "q", ranking: ["d2"], judgements: judged)
        #expect(half.recall10 == 0.5)
    }

    @Test func evaluatesABEIRSetEndToEnd() async throws {
        let folder = TemporaryFolder()
        let corpus = folder.write("corpus.jsonl", """
            {"_id": "1", "title": "Apples", "text": "Apples grow on trees."}
            {"_id": "2", "title": "Rivers", "text": "Rivers flow to the sea."}
            {"_id": "3", "title": "北京", "text": "北京是中国的首都。"}
            """)
        let queries = folder.write("queries.jsonl", """
            {"_id": "q1", "text": "Where do apples grow?"}
            {"_id": "q2", "text": "中国的首都"}
            {"_id": "q3", "text": "unjudged query"}
            """)
        let qrels = folder.write("qrels.tsv", "query-id\tcorpus-id\tscore\nq1\t1\t1\nq2\t3\t1\n")
        let dataset = try BEIRDataset.load(corpus: corpus, queries: queries, qrels: qrels)
        #expect(dataset.queries.map(\.id) == ["q1", "q2"])
        let kb = try KnowledgeBase(configuration: Configuration(databasePath: folder.path + "/kb.sqlite"), create: true)
        let summary = try await kb.ingest(dataset, embed: false)
        #expect(summary.added == 3)
        await #expect(try kb.ingest(dataset, embed: false).unchanged == 3)
        let metrics = try await kb.evaluate(dataset, mode: .keyword)
        #expect(metrics.queries == 2)
        #expect(metrics.ndcg10 == 1 && metrics.mrr10 == 1 && metrics.recall100 == 1)
        #expect(metrics.perQuery.map { $0.retrieved.first } == ["1", "3"])
    }
}
