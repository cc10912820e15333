import Foundation
import Testing
@testable import KBCore
import KBTestSupport

/// The SQLite store against the store conformance suite (KBTestSupport/StoreConformance.swift).
@Suite struct SQLiteStoreConformanceTests {
    @Test(arguments: StoreConformance.checks)
    func sqlite(_ check: StoreConformance.Check) async throws {
        let folder = TemporaryFolder()
        let path = folder.path + "/kb.sqlite"
        try await check.run { create in try SQLiteStore(path: path, create: create) }
        withExtendedLifetime(folder) {}
    }

    /// A stored answer written by a kb from before attempts were kept (no `attempts` key) decodes with none.
    @Test func answerRecordWithoutAttemptsDecodes() throws {
        let record = AnswerRecord(
            id: "a_1", conversationID: "c_1", turn: 1, question: "When?", standaloneQuestion: "When?", language: "en", answer: "In 1894.",
            abstained: false, generator: "extractive", model: nil, citations: [], passages: [],
            quality: QualityScores(groundedness: 1, citationAccuracy: nil, retrievalConfidence: 0.5, relevance: 1), createdAt: 1_700_000_000,
            attempts: [AnswerAttempt(strategy: "initial", passages: [1], question: "When?", text: "In 1894.", rejected: nil,
                                     groundedness: 1, relevance: 1, seconds: 0.5)])
        let data = try JSONEncoder().encode(record)
        #expect(try JSONDecoder().decode(AnswerRecord.self, from: data) == record)
        var object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let removed = object.removeValue(forKey: "attempts")
        #expect(removed != nil)
        let old = try JSONDecoder().decode(AnswerRecord.self, from: try JSONSerialization.data(withJSONObject: object))
        var expected = record
        expected.attempts = []
        #expect(old == expected)
    }
}

/// The in-memory BM25 engine ranks exactly as SQLite FTS5's `bm25()` does on the same terms (the keyword index the
/// store keeps on disk), so replacing FTS5 queries with it changed no ranking.
@Suite struct KeywordEngineAgreementTests {
    /// Deterministic pseudo-random numbers.
    struct Generator {
        var state: UInt64
        mutating func next(_ bound: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(bound))
        }
    }

    /// FTS5 syntax for a query: each clause a column-filtered phrase, ORed (what kb sent to FTS5 before).
    static func match(_ query: KeywordQuery) -> String {
        query.clauses.map { clause in
            let column = ["words", "cjk1", "cjk2"][clause[0].field.rawValue]
            return "\(column) : \"" + clause.map { $0.text.replacingOccurrences(of: "\"", with: "\"\"") }.joined(separator: " ") + "\""
        }.joined(separator: " OR ")
    }

    /// A corpus with skewed term frequencies and varied lengths, English and Chinese, some chunks mixed, and queries
    /// over it: random terms of each field, repeated terms, bigram phrases taken from the corpus, analysed questions.
    static func corpusAndQueries() throws -> (documents: [[PreparedChunk]], queries: [KeywordQuery]) {
        let english = ["river", "bridge", "stone", "merchant", "harbour", "lantern", "winter", "garden", "market", "silk",
                       "tower", "engine", "railway", "station", "copper", "salt", "temple", "scholar", "festival", "ferry"]
        let hanzi = Array("石桥建于商人出资修建河流港口灯笼冬天花园市场丝绸塔发动机铁路车站铜盐寺庙学者节日渡船")
        var random = Generator(state: 42)
        var allTerms: [IndexTerms] = []
        var documents: [[PreparedChunk]] = []
        for _ in 0..<30 {
            var texts: [String] = []
            for _ in 0..<(4 + random.next(6)) {
                var parts: [String] = []
                for _ in 0..<(3 + random.next(40)) {
                    // Zipf-like: low indexes far more often.
                    let rank = min(random.next(english.count), random.next(english.count))
                    if random.next(3) == 0 {
                        let start = min(random.next(hanzi.count - 4), random.next(hanzi.count - 4))
                        parts.append(String(hanzi[start..<(start + 2 + random.next(3))]))
                    } else {
                        parts.append(english[rank])
                    }
                }
                texts.append(parts.joined(separator: random.next(2) == 0 ? " " : "，"))
            }
            let chunks = StoreConformance.chunks(texts)
            allTerms += chunks.map(\.terms)
            documents.append(chunks)
        }
        var queries: [KeywordQuery] = []
        for _ in 0..<60 {
            var clauses: [[KeywordQuery.Term]] = []
            for _ in 0..<(1 + random.next(4)) {
                let source = allTerms[random.next(allTerms.count)]
                switch random.next(4) {
                case 0 where !source.cjk1.isEmpty: clauses.append([.init(.cjk1, source.cjk1[random.next(source.cjk1.count)])])
                case 1 where source.cjk2.count >= 3:
                    let start = random.next(source.cjk2.count - 2)
                    let phrase = source.cjk2[start..<(start + 2)].map { KeywordQuery.Term(.cjk2, $0) }
                    clauses.append(phrase)
                    clauses.append(contentsOf: phrase.map { [$0] })
                case 2 where !source.cjk2.isEmpty: clauses.append([.init(.cjk2, source.cjk2[random.next(source.cjk2.count)])])
                default: if !source.words.isEmpty { clauses.append([.init(.words, source.words[random.next(source.words.count)])]) }
                }
            }
            queries.append(KeywordQuery(clauses: clauses))
        }
        for text in ["When was the stone bridge built?", "石桥是哪一年建的", "railway station 车站", "merchant silk market"] {
            queries.append(KeywordQuery(try QueryAnalyzer.analyze(text)))
        }
        return (documents, queries.filter { !$0.isEmpty })
    }

    /// Loads the corpus into a store and removes a few documents (so that removals are exercised too).
    static func load(_ store: any KnowledgeStore, _ documents: [[PreparedChunk]]) async throws {
        for (d, chunks) in documents.enumerated() {
            _ = try await store.saveDocument(StoreConformance.document("/kb/d\(d).md", chunks: chunks.count), chunks: chunks, replacing: nil)
        }
        for document in try await store.documents().prefix(3) { try await store.removeDocument(id: document.id) }
    }

    @Test func rankingsAndScoresMatchFTS5() async throws {
        let folder = TemporaryFolder()
        let path = folder.path + "/kb.sqlite"
        let store = try SQLiteStore(path: path, create: true)
        let (documents, queries) = try Self.corpusAndQueries()
        try await Self.load(store, documents)

        let fts = try SQLiteConnection(path: path, create: false)
        var compared = 0, withHits = 0
        for query in queries {
            let mine = try await store.keywordSearch(query, limit: 20)
            let theirs = try fts.query("SELECT rowid, bm25(chunks_fts, 1.0, 0.4, 1.0) FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY 2, rowid LIMIT 20",
                                       [Self.match(query)]).map { ScoredChunk(chunkID: $0.int(0), score: -$0.double(1)) }
            #expect(mine.count == theirs.count, "\(Self.match(query)): \(mine.count) vs \(theirs.count) hits")
            for (a, b) in zip(mine, theirs) {
                #expect(abs(a.score - b.score) <= 1e-9 * max(1, abs(b.score)), "\(Self.match(query)): score \(a.score) vs FTS5 \(b.score)")
            }
            // Same chunks at every score (ties may be ordered differently).
            let mineByScore = Dictionary(grouping: mine, by: { ($0.score * 1e6).rounded() }).mapValues { Set($0.map(\.chunkID)) }
            let theirsByScore = Dictionary(grouping: theirs, by: { ($0.score * 1e6).rounded() }).mapValues { Set($0.map(\.chunkID)) }
            if let lowest = theirs.last?.score {
                let cut = (lowest * 1e6).rounded()
                #expect(mineByScore.filter { $0.key > cut } == theirsByScore.filter { $0.key > cut }, "\(Self.match(query)): different chunks")
            }
            compared += 1
            if !theirs.isEmpty { withHits += 1 }
        }
        #expect(compared >= 60)
        #expect(withHits >= 55, "most queries must match something for the comparison to mean anything")
    }
}
