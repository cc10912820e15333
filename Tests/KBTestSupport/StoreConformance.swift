import Foundation
@testable import KBCore

/// The behaviour every ``KnowledgeStore`` must have, whatever database is behind it. Each check opens stores
/// through a factory (the SQLite store on a temporary file; the PostgreSQL store on a scratch database) and throws
/// ``StoreConformance/Failure`` with what went wrong. A test target runs every check against its store:
///
///     @Test(arguments: StoreConformance.checks) func sqlite(_ check: StoreConformance.Check) async throws {
///         try await check.run(factory)
///     }
public enum StoreConformance {
    /// Opens a store at one fixed location; `true` creates it. Calling it twice gives two independent handles on
    /// the same data (as two processes would have).
    public typealias Factory = @Sendable (_ create: Bool) async throws -> any KnowledgeStore

    /// A failed expectation.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// One named check.
    public struct Check: Sendable, CustomStringConvertible {
        public var name: String
        public var run: @Sendable (Factory) async throws -> Void
        public var description: String { name }
    }

    public static let checks: [Check] = [
        Check(name: "documents and passages round-trip", run: documentsRoundTrip),
        Check(name: "unchanged chunks keep their ids", run: chunkReuse),
        Check(name: "keyword search ranks with BM25, English and Chinese", run: keywordRanking),
        Check(name: "removed and replaced chunks leave every index", run: removal),
        Check(name: "moves keep chunks and vectors", run: moves),
        Check(name: "vectors: exact nearest, coverage, missing", run: vectors),
        Check(name: "a second handle sees every commit", run: secondHandle),
        Check(name: "searches run while a writer commits", run: concurrentReadersAndWriter),
        Check(name: "one ingest at a time", run: ingestLease),
        Check(name: "ingest runs and failures", run: ingestRuns),
        Check(name: "conversations and feedback", run: conversations),
        Check(name: "users and token hashes", run: users),
        Check(name: "locators and OCR confidence round-trip", run: locators),
    ]

    // MARK: Fixtures

    static func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws {
        if !condition { throw Failure(description: message()) }
    }

    /// A document record for `path`.
    public static func document(_ path: String, hash: String = "h", chunks: Int) -> DocumentRecord {
        DocumentRecord(id: 0, path: path, contentHash: hash, size: 100, modifiedAt: 1_700_000_000, format: "markdown",
                       encoding: "utf-8", title: (path as NSString).lastPathComponent, fingerprint: "f1",
                       chunkCount: chunks, ingestedAt: Date().timeIntervalSince1970)
    }

    /// Prepared chunks, one per text, with hashes of their text.
    public static func chunks(_ texts: [String], heading: String = "") -> [PreparedChunk] {
        var offset = 0
        return texts.enumerated().map { ordinal, text in
            let count = text.unicodeScalars.count
            defer { offset += count + 1 }
            return PreparedChunk(ChunkDraft(ordinal: ordinal, text: text, heading: heading, range: offset..<(offset + count),
                                            startLine: ordinal + 1, endLine: ordinal + 1, page: nil, tokenCount: count / 4 + 1,
                                            contentHash: SHA256.hex(Data((heading + "\u{1F}" + text).utf8))))
        }
    }

    static func keywords(_ text: String) throws -> KeywordQuery { KeywordQuery(try QueryAnalyzer.analyze(text)) }

    static func ids(_ store: any KnowledgeStore, _ query: String, limit: Int = 10) async throws -> [Int] {
        try await store.keywordSearch(try keywords(query), limit: limit).map(\.chunkID)
    }

    /// The chunk ids of a document, in order.
    static func chunkIDs(_ store: any KnowledgeStore, path: String) async throws -> [Int] {
        guard let document = try await store.documents().first(where: { $0.path == path }) else {
            throw Failure(description: "no document \(path)")
        }
        let all = try await store.passages(ids: Array(1...max(1, try await store.passageCount() * 4 + 8)))
        return all.filter { $0.documentID == document.id }.map(\.chunkID)
    }

    static func unit(_ values: [Float]) -> [Float] {
        let norm = values.map { $0 * $0 }.reduce(0, +).squareRoot()
        return values.map { $0 / norm }
    }

    // MARK: Checks

    static func documentsRoundTrip(_ open: Factory) async throws {
        let store = try await open(true)
        let texts = ["Apples grow on trees in the orchard.", "Bananas are yellow.", "苹果是一种水果。"]
        let stats = try await store.saveDocument(document("/kb/fruit.md", chunks: 3), chunks: chunks(texts, heading: "Fruit"), replacing: nil)
        try expect(stats.inserted == 3 && stats.reused == 0 && stats.removed == 0, "first save: \(stats)")
        let documents = try await store.documents()
        try expect(documents.map(\.path) == ["/kb/fruit.md"], "documents: \(documents.map(\.path))")
        try expect(documents[0].id == stats.documentID && documents[0].chunkCount == 3, "document record: \(documents[0])")
        try expect(try await store.passageCount() == 3, "passage count")
        let ids = try await chunkIDs(store, path: "/kb/fruit.md")
        try expect(ids.count == 3, "chunk ids \(ids)")
        // In the order asked for; unknown ids are left out.
        let passages = try await store.passages(ids: [ids[2], 999_999, ids[0]])
        try expect(passages.map(\.chunkID) == [ids[2], ids[0]], "passages in request order: \(passages.map(\.chunkID))")
        try expect(passages[0].text == texts[2] && passages[0].heading == "Fruit" && passages[0].path == "/kb/fruit.md",
                   "passage content: \(passages[0])")
        try expect(passages[1].startLine == 1, "lines kept")
        // A document's chunks in order, with their offsets; another document's are not among them.
        _ = try await store.saveDocument(document("/kb/other.md", chunks: 1), chunks: chunks(["Other text."]), replacing: nil)
        let spans = try await store.documentChunks(documentID: stats.documentID)
        try expect(spans.map(\.chunkID) == ids && spans.map(\.ordinal) == [0, 1, 2], "document chunks: \(spans.map(\.chunkID)) vs \(ids)")
        try expect(spans.map(\.text) == texts && spans[1].startOffset == texts[0].unicodeScalars.count + 1
                   && spans[1].endOffset == spans[1].startOffset + texts[1].unicodeScalars.count && spans[2].startLine == 3,
                   "chunk spans: \(spans)")
        try expect(try await store.documentChunks(documentID: 999_999).isEmpty, "unknown document has no chunks")
        try await store.removeDocument(id: try await store.documents().first { $0.path == "/kb/other.md" }!.id)
        let problems = try await store.consistencyProblems()
        try expect(problems.isEmpty, "consistency: \(problems)")
        let status = try await store.status()
        try expect(status.documents == 1 && status.chunks == 3, "status: \(status)")
    }

    static func locators(_ open: Factory) async throws {
        let store = try await open(true)
        var prepared = chunks(["Quarterly results rose.", "Scanned page about bridges.", "Plain text."])
        prepared[0].draft.locator = "slide 3"
        prepared[1].draft.locator = "p. 2, OCR, 91% confidence"
        prepared[1].draft.ocrConfidence = 0.91
        let first = try await store.saveDocument(document("/kb/deck.pptx", chunks: 3), chunks: prepared, replacing: nil)
        let ids = try await chunkIDs(store, path: "/kb/deck.pptx")
        let passages = try await store.passages(ids: ids)
        try expect(passages.map(\.locator) == ["slide 3", "p. 2, OCR, 91% confidence", nil], "passage locators: \(passages.map(\.locator))")
        try expect(passages.map(\.ocrConfidence) == [nil, 0.91, nil], "OCR confidence: \(passages.map(\.ocrConfidence))")
        let spans = try await store.documentChunks(documentID: first.documentID)
        try expect(spans.map(\.locator) == ["slide 3", "p. 2, OCR, 91% confidence", nil] && spans[1].ocrConfidence == 0.91,
                   "chunk span locators: \(spans.map(\.locator))")
        // A kept chunk (same text) that moved to another slide takes its new locator.
        var moved = chunks(["Plain text.", "Quarterly results rose."])
        moved[1].draft.locator = "slide 1"
        let second = try await store.saveDocument(document("/kb/deck.pptx", hash: "h2", chunks: 2), chunks: moved, replacing: first.documentID)
        try expect(second.reused == 2, "re-save reuses: \(second)")
        let after = try await store.passages(ids: try await chunkIDs(store, path: "/kb/deck.pptx"))
        try expect(Set(after.map { "\($0.text)|\($0.locator ?? "-")" }) == ["Plain text.|-", "Quarterly results rose.|slide 1"],
                   "locators after reuse: \(after.map { ($0.text, $0.locator) })")
    }

    static func chunkReuse(_ open: Factory) async throws {
        let store = try await open(true)
        let first = try await store.saveDocument(document("/kb/a.md", chunks: 3), chunks: chunks(["one alpha", "two beta", "three gamma"]), replacing: nil)
        let before = try await chunkIDs(store, path: "/kb/a.md")
        let second = try await store.saveDocument(document("/kb/a.md", hash: "h2", chunks: 3),
                                                  chunks: chunks(["one alpha", "two beta", "four delta"]), replacing: first.documentID)
        try expect(second.reused == 2 && second.inserted == 1 && second.removed == 1, "re-save: \(second)")
        let after = try await chunkIDs(store, path: "/kb/a.md")
        try expect(Set(after).intersection(before).count == 2, "unchanged chunks keep their ids: \(before) → \(after)")
        try expect(try await ids(store, "gamma").isEmpty, "the replaced chunk is not found")
        try expect(try await ids(store, "delta").count == 1, "the new chunk is found")
        try expect(try await store.documents().count == 1, "still one document")
    }

    static func keywordRanking(_ open: Factory) async throws {
        let store = try await open(true)
        _ = try await store.saveDocument(document("/kb/en.md", chunks: 3), chunks: chunks([
            "Solar panels convert sunlight into electricity. Solar power is renewable.",
            "Wind turbines convert wind into electricity.",
            "The history of the printing press in Europe.",
        ]), replacing: nil)
        _ = try await store.saveDocument(document("/kb/zh.md", chunks: 2), chunks: chunks([
            "太阳能电池板把阳光转化为电能。",
            "北京是中国的首都，也是文化中心。",
        ]), replacing: nil)
        let solar = try await store.keywordSearch(try keywords("solar electricity"), limit: 10)
        let passages = try await store.passages(ids: solar.map(\.chunkID))
        try expect(passages.first?.text.hasPrefix("Solar panels") == true, "the passage with both words and more of them ranks first: \(passages.map(\.text))")
        try expect(passages.count == 2, "OR semantics: a passage with one of the words is found too: \(passages.map(\.text))")
        try expect(solar[0].score > solar[1].score && solar.allSatisfy { $0.score > 0 }, "scores positive, descending: \(solar)")
        let capital = try await store.passages(ids: try await ids(store, "中国的首都在哪里"))
        try expect(capital.first?.text.hasPrefix("北京") == true, "Chinese without spaces: \(capital.map(\.text))")
        try expect(try await ids(store, "printing", limit: 0).isEmpty, "limit 0")
        try expect(try await ids(store, "zeppelin").isEmpty, "unknown word: nothing")
        let stats = try await store.termStatistics([KeywordQuery.Term(.words, "convert"), KeywordQuery.Term(.cjk2, "首都"), KeywordQuery.Term(.words, "zeppelin")])
        try expect(stats.passages == 5, "term statistics count passages: \(stats.passages)")
        try expect(stats.documentFrequencies[KeywordQuery.Term(.words, "convert")] == 2, "df(convert): \(stats.documentFrequencies)")
        try expect(stats.documentFrequencies[KeywordQuery.Term(.cjk2, "首都")] == 1, "df(首都): \(stats.documentFrequencies)")
        try expect((stats.documentFrequencies[KeywordQuery.Term(.words, "zeppelin")] ?? 0) == 0, "df(zeppelin)")
    }

    static func removal(_ open: Factory) async throws {
        let store = try await open(true)
        let keep = try await store.saveDocument(document("/kb/keep.md", chunks: 1), chunks: chunks(["Keep this lighthouse passage."]), replacing: nil)
        let gone = try await store.saveDocument(document("/kb/gone.md", chunks: 2), chunks: chunks(["The lighthouse keeper", "lighthouse lamps"]), replacing: nil)
        let keepIDs = try await chunkIDs(store, path: "/kb/keep.md"), goneIDs = try await chunkIDs(store, path: "/kb/gone.md")
        try await store.saveEmbeddings(model: "m", (keepIDs + goneIDs).enumerated().map { ($1, unit([1, Float($0), 0.5])) })
        // Load the indexes before the removal so that it must be applied to them.
        try expect(try await ids(store, "lighthouse").count == 3, "all three found before removal")
        try expect(try await store.nearestChunks(model: "m", to: unit([1, 1, 0.5]), limit: 10).count == 3, "three vectors")
        let removed = try await store.removeDocument(id: gone.documentID)
        try expect(removed == 2, "removeDocument returns the chunks removed: \(removed)")
        try expect(try await ids(store, "lighthouse") == keepIDs, "keyword search never returns removed chunks")
        let nearest = try await store.nearestChunks(model: "m", to: unit([1, 1, 0.5]), limit: 10).map(\.chunkID)
        try expect(nearest == keepIDs, "vector search never returns removed chunks: \(nearest)")
        try expect(try await store.storedVectors(model: "m", chunkIDs: goneIDs).isEmpty, "no stored vectors of removed chunks")
        try expect(try await store.passages(ids: goneIDs).isEmpty, "no passages of removed chunks")
        let coverage = try await store.searchCoverage()
        try expect(coverage.chunks == 1 && coverage.models == [SearchCoverage.Model(model: "m", vectors: 1)], "coverage after removal: \(coverage)")
        try expect(try await store.embeddingCoverage().map(\.vectors) == [1], "embedding coverage after removal")
        try expect(try await store.consistencyProblems().isEmpty, "consistency after removal")
        _ = keep
    }

    static func moves(_ open: Factory) async throws {
        let store = try await open(true)
        let saved = try await store.saveDocument(document("/kb/old.md", chunks: 1), chunks: chunks(["A moved document about owls."]), replacing: nil)
        let before = try await chunkIDs(store, path: "/kb/old.md")
        try await store.saveEmbeddings(model: "m", [(before[0], unit([0, 1]))])
        try await store.moveDocument(id: saved.documentID, to: "/kb/new/owls.md", modifiedAt: 1_800_000_000)
        try expect(try await store.documents().map(\.path) == ["/kb/new/owls.md"], "moved path")
        try expect(try await chunkIDs(store, path: "/kb/new/owls.md") == before, "chunks kept their ids")
        try expect(try await store.passages(ids: before).first?.path == "/kb/new/owls.md", "passages carry the new path")
        try expect(try await store.storedVectors(model: "m", chunkIDs: before).count == 1, "vector kept")
        try await store.touchDocument(id: saved.documentID, size: 321, modifiedAt: 1_900_000_000)
        let touched = try await store.documents()[0]
        try expect(touched.size == 321 && touched.modifiedAt == 1_900_000_000, "touch: \(touched)")
    }

    static func vectors(_ open: Factory) async throws {
        let store = try await open(true)
        _ = try await store.saveDocument(document("/kb/v.md", chunks: 4), chunks: chunks(["v one", "v two", "v three", "v four"]), replacing: nil)
        let ids = try await chunkIDs(store, path: "/kb/v.md")
        let missing = try await store.chunksMissingEmbeddings(model: "m", afterID: 0, limit: 10)
        try expect(missing.map(\.id) == ids, "all chunks miss vectors: \(missing.map(\.id))")
        try expect(missing[1].embeddingInput == "v two", "embedding input")
        let vectors: [[Float]] = [[1, 0, 0], [0.8, 0.6, 0], [0, 1, 0], [0, 0, 1]].map(unit)
        try await store.saveEmbeddings(model: "m", Array(zip(ids, vectors).prefix(3)).map { ($0.0, $0.1) })
        try expect(try await store.chunksMissingEmbeddings(model: "m", afterID: 0, limit: 10).map(\.id) == [ids[3]], "one still missing")
        try expect(try await store.chunksMissingEmbeddings(model: "m", afterID: ids[3], limit: 10).isEmpty, "afterID")
        let coverage = try await store.searchCoverage()
        try expect(coverage.chunks == 4 && coverage.models == [SearchCoverage.Model(model: "m", vectors: 3)], "coverage: \(coverage)")
        let nearest = try await store.nearestChunks(model: "m", to: unit([1, 0.1, 0]), limit: 2)
        try expect(nearest.map(\.chunkID) == [ids[0], ids[1]], "exact top 2 by cosine: \(nearest)")
        try expect(abs(nearest[0].score - Double(unit([1, 0.1, 0])[0])) < 1e-5, "cosine score: \(nearest[0].score)")
        // A later vector for the same chunk and model replaces the earlier one.
        try await store.saveEmbeddings(model: "m", [(ids[3], vectors[3]), (ids[0], unit([0, 0, 1]))])
        let again = try await store.nearestChunks(model: "m", to: unit([0, 0, 1]), limit: 4)
        try expect(Set(again.prefix(2).map(\.chunkID)) == [ids[0], ids[3]], "replaced vector is searched: \(again)")
        try expect(again.count == 4, "four vectors, no duplicates: \(again)")
        let stored = try await store.storedVectors(model: "m", chunkIDs: [ids[0], ids[2]])
        try expect(stored[ids[0]].map { abs($0[2] - 1) < 1e-6 } == true && stored[ids[2]] != nil, "stored vectors: \(stored)")
        // Models live side by side.
        try await store.saveEmbeddings(model: "other", [(ids[0], [1, 0])])
        let models = try await store.embeddingCoverage().map { "\($0.model):\($0.vectors):\($0.dimension)" }
        try expect(models == ["m:4:3", "other:1:2"], "two models: \(models)")
        try expect(try await store.nearestChunks(model: "nothing", to: [1], limit: 3).isEmpty, "a model without vectors finds nothing")
    }

    static func secondHandle(_ open: Factory) async throws {
        let writer = try await open(true)
        let reader = try await open(false)
        _ = try await writer.saveDocument(document("/kb/1.md", chunks: 1), chunks: chunks(["first walrus"]), replacing: nil)
        try expect(try await ids(reader, "walrus").count == 1, "the reader sees the first commit")
        try expect(try await reader.nearestChunks(model: "m", to: [1, 0], limit: 5).isEmpty, "no vectors yet")
        let second = try await writer.saveDocument(document("/kb/2.md", chunks: 1), chunks: chunks(["second walrus"]), replacing: nil)
        let ids2 = try await chunkIDs(writer, path: "/kb/2.md")
        try await writer.saveEmbeddings(model: "m", [(ids2[0], [1, 0])])
        try expect(try await ids(reader, "walrus").count == 2, "the reader's keyword index follows the writer")
        try expect(try await reader.nearestChunks(model: "m", to: [1, 0], limit: 5).map(\.chunkID) == ids2, "the reader's vectors follow")
        try await writer.removeDocument(id: second.documentID)
        try expect(try await ids(reader, "walrus").count == 1, "the reader drops what the writer removed")
        try expect(try await reader.nearestChunks(model: "m", to: [1, 0], limit: 5).isEmpty, "and its vectors")
        try expect(try await reader.searchCoverage().chunks == 1, "coverage follows")
    }

    static func concurrentReadersAndWriter(_ open: Factory) async throws {
        let store = try await open(true)
        _ = try await store.saveDocument(document("/kb/base.md", chunks: 1), chunks: chunks(["base heron"]), replacing: nil)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for i in 0..<40 {
                    _ = try await store.saveDocument(document("/kb/w\(i).md", chunks: 2),
                                                     chunks: chunks(["heron number \(i)", "egret \(i)"]), replacing: nil)
                }
            }
            for _ in 0..<6 {
                group.addTask {
                    var last = 0
                    for _ in 0..<40 {
                        let found = try await ids(store, "heron", limit: 100).count
                        try expect(found >= last, "a reader went back in time: \(found) after \(last)")
                        last = found
                    }
                }
            }
            try await group.waitForAll()
        }
        try expect(try await ids(store, "heron", limit: 100).count == 41, "every committed chunk is found")
        try expect(try await store.consistencyProblems().isEmpty, "consistent after concurrent use")
    }

    static func ingestLease(_ open: Factory) async throws {
        let store = try await open(true)
        let other = try await open(false)
        var lease: (any IngestLease)? = try await store.acquireIngestLease()
        do {
            _ = try await other.acquireIngestLease()
            throw Failure(description: "a second lease was granted while the first is held")
        } catch let error as KBError {
            try expect(error.code == .ingestInProgress, "second lease: \(error)")
        }
        try expect(lease != nil, "lease held")
        lease = nil
        _ = try await other.acquireIngestLease()
    }

    static func ingestRuns(_ open: Factory) async throws {
        let store = try await open(true)
        let run = try await store.beginIngestRun(roots: ["/kb"])
        try await store.recordFailure(path: "/kb/broken.pdf", reason: "damaged", runID: run)
        try expect(try await store.failures().map(\.path) == ["/kb/broken.pdf"], "failure recorded")
        try await store.finishIngestRun(id: run, counts: IngestRunCounts(), status: "completed")
        try await store.clearFailures(paths: ["/kb/broken.pdf"])
        try expect(try await store.failures().isEmpty, "failure cleared")
        // A run left running by a killed process is marked interrupted by the next one.
        let killed = try await store.beginIngestRun(roots: ["/kb"])
        let next = try await store.beginIngestRun(roots: ["/kb"])
        try expect(next > killed, "run ids increase")
        try await store.finishIngestRun(id: next, counts: IngestRunCounts(), status: "completed")
        let status = try await store.status()
        try expect(status.lastIngest?.status == "completed", "last run: \(String(describing: status.lastIngest))")
    }

    static func conversations(_ open: Factory) async throws {
        let store = try await open(true)
        let id = try await store.createConversation(title: "When did it open?", user: nil)
        let conversation = try await store.conversation(id: id)
        try expect(conversation?.title == "When did it open?" && conversation?.turns.isEmpty == true, "new conversation: \(String(describing: conversation))")
        try expect(try await store.conversation(id: "c_missing") == nil, "unknown conversation is nil")
        let second = try await store.createConversation(title: "Who built it?", user: "ana")
        let third = try await store.createConversation(title: "Why?", user: "bo")
        let listed = try await store.conversations(limit: 2, user: nil)
        try expect(listed.count == 2 && Set(listed.map(\.id)).isSubset(of: [id, second, third]) && listed.allSatisfy { $0.turns == 0 },
                   "conversation list: \(listed)")
        try expect(Set(try await store.conversations(limit: 10, user: nil).map(\.id)) == [id, second, third], "all conversations listed")
        let anas = try await store.conversations(limit: 10, user: "ana")
        try expect(anas.map(\.id) == [second] && anas.first?.user == "ana", "one user's conversations: \(anas)")
        let bos = try await store.conversation(id: third), owners = try await store.conversation(id: id)
        try expect(bos?.user == "bo" && owners?.user == nil, "a conversation keeps its user")
        let report = try await store.feedbackReport(worst: 5)
        try expect(report.answers == 0 && report.rated == 0, "empty feedback report: \(report)")
        do {
            try await store.saveFeedback(answerID: "a_missing", rating: 1, comment: nil, user: "ana")
            throw Failure(description: "feedback on an unknown answer was accepted")
        } catch let error as KBError {
            try expect(error.code == .invalidArgument && error.message.contains("a_missing"), "unknown answer: \(error)")
        }
        // An answer keeps how it was reached: its attempts come back as saved, and through an import (kb migrate).
        let attempts = [
            AnswerAttempt(strategy: "initial", passages: [1, 2], question: "When did it open?", text: "It opened in 1890 [3].",
                          rejected: "cites a passage it was not shown", groundedness: 0.25, relevance: 0.9, seconds: 1.5),
            AnswerAttempt(strategy: "best-passage", passages: [1], question: "When did it open?", text: "It opened in 1894 [1].",
                          rejected: nil, groundedness: 0.95, relevance: 0.875, seconds: 0.75),
        ]
        let record = AnswerRecord(
            id: "a_attempts", conversationID: id, turn: 0, question: "When did it open?", standaloneQuestion: "When did it open?",
            language: "en", answer: "It opened in 1894 [1].", abstained: false, generator: "extractive", model: nil, citations: [], passages: [],
            quality: QualityScores(groundedness: 0.95, citationAccuracy: 1, retrievalConfidence: 0.5, relevance: 0.875),
            createdAt: 1_700_000_100, attempts: attempts)
        let turn = try await store.saveAnswer(record)
        var saved = record
        saved.turn = turn
        let turns = try await store.conversation(id: id)?.turns
        try expect(turn == 1 && turns == [saved] && turns?.first?.attempts == attempts,
                   "saved answer with attempts: \(String(describing: turns))")
        var imported = saved
        imported.id = "a_imported"
        imported.conversationID = "c_imported"
        try await store.importConversation(Conversation(id: "c_imported", title: "Imported", createdAt: 1_700_000_000,
                                                        updatedAt: 1_700_000_100, turns: [imported], user: "ana"))
        let importedTurns = try await open(false).conversation(id: "c_imported")?.turns
        try expect(importedTurns == [imported] && importedTurns?.first?.attempts == attempts,
                   "imported answer with attempts: \(String(describing: importedTurns))")
    }

    static func users(_ open: Factory) async throws {
        let store = try await open(true)
        let none = try await store.users()
        try expect(try await store.checkToken(hash: nil) == .noUsers && none.isEmpty, "no users at first")
        try await store.createUser(name: "ana", role: .reader, tokenHash: "h-ana")
        try await store.createUser(name: "bo", role: .admin, tokenHash: "h-bo")
        do {
            try await store.createUser(name: "ana", role: .writer, tokenHash: "h-other")
            throw Failure(description: "a second user of the same name was accepted")
        } catch let error as KBError {
            try expect(error.code == .conflict && error.message.contains("ana"), "duplicate user: \(error)")
        }
        let users = try await store.users()
        try expect(users.map(\.name) == ["ana", "bo"] && users.map(\.role) == [.reader, .admin] && users.allSatisfy { $0.createdAt > 0 },
                   "users by name: \(users)")
        guard case .user(let ana) = try await store.checkToken(hash: "h-ana"), ana.name == "ana", ana.role == .reader else {
            throw Failure(description: "token of ana not found")
        }
        try expect(try await store.checkToken(hash: "h-nobody") == .unknown, "unknown token")
        try expect(try await store.checkToken(hash: nil) == .unknown, "no token once users exist")
        // A second handle (another daemon) sees a revocation at once.
        let other = try await open(false)
        try expect(try await other.revokeUser(name: "ana"), "revoked")
        try expect(!(try await other.revokeUser(name: "ana")), "revoking twice")
        try expect(try await store.checkToken(hash: "h-ana") == .unknown, "revoked token refused by the first handle")
        _ = try await store.revokeUser(name: "bo")
        try expect(try await store.checkToken(hash: "h-bo") == .noUsers, "no users after the last is revoked")
    }
}
