import Foundation
import Testing
@testable import KBCore
import KBTestSupport

/// The PostgreSQL store against the same conformance suite as the SQLite store.
@Suite(.serialized) struct PostgresStoreConformanceTests {
    @Test(arguments: StoreConformance.checks)
    func postgres(_ check: StoreConformance.Check) async throws {
        guard let url = TestPostgres.scratch() else { return }
        try await check.run { create in try PostgresStore(url: url, create: create) }
        try await PostgresStore.dropDatabase(url)
    }

    /// Both stores rank the same corpus alike: the same chunks with the same BM25 scores (to 1e-9).
    @Test func ranksAsTheSQLiteStore() async throws {
        guard let url = TestPostgres.scratch() else { return }
        let folder = TemporaryFolder()
        let sqlite = try SQLiteStore(path: folder.path + "/kb.sqlite", create: true)
        let postgres = try PostgresStore(url: url, create: true)
        let (documents, queries) = try KeywordEngineAgreementTests.corpusAndQueries()
        try await KeywordEngineAgreementTests.load(sqlite, documents)
        try await KeywordEngineAgreementTests.load(postgres, documents)
        var withHits = 0
        for query in queries {
            let mine = try await postgres.keywordSearch(query, limit: 20)
            let theirs = try await sqlite.keywordSearch(query, limit: 20)
            #expect(mine.count == theirs.count, "\(query.clauses): \(mine.count) vs \(theirs.count)")
            // Chunk ids differ between the stores; scores in rank order must not.
            for (a, b) in zip(mine, theirs) {
                #expect(abs(a.score - b.score) <= 1e-9 * max(1, abs(b.score)), "\(query.clauses): \(a.score) vs \(b.score)")
            }
            if !theirs.isEmpty { withHits += 1 }
        }
        #expect(withHits >= 55)
        let terms = queries.flatMap(\.terms)
        let a = try await postgres.termStatistics(terms), b = try await sqlite.termStatistics(terms)
        #expect(a == b, "term statistics agree")
        #expect(try await postgres.consistencyProblems().isEmpty)
        try await PostgresStore.dropDatabase(url)
        withExtendedLifetime(folder) {}
    }

    @Test func badURLsAndMissingKnowledgeBases() async throws {
        #expect(throws: KBError.self) { try PostgresStore(url: "postgres://localhost", create: false) }
        guard let url = TestPostgres.scratch() else { return }
        let store = try PostgresStore(url: url, create: false)
        await #expect(throws: KBError.self) { try await store.documents() }
        let created = try PostgresStore(url: url, create: true)
        #expect(try await created.documents().isEmpty)
        #expect(created.location.contains("kbtest_") && !created.location.contains(":" + "@"))
        try await PostgresStore.dropDatabase(url)
    }
}

/// A database written by a newer kb is refused with a clear message; a database with other tables is not taken over.
@Suite(.serialized) struct PostgresSchemaTests {
    @Test func newerAndForeignDatabasesAreRefused() async throws {
        guard let url = TestPostgres.scratch() else { return }
        let store = try PostgresStore(url: url, create: true)
        _ = try await store.documents()
        try await store.client.query("UPDATE kb_schema SET version = 99")
        let newer = try PostgresStore(url: url, create: false)
        do {
            _ = try await newer.documents()
            Issue.record("a schema from a newer kb was accepted")
        } catch {
            #expect(error.code == .schemaTooNew && error.message.contains("newer kb"), "\(error)")
        }
        try await PostgresStore.dropDatabase(url)

        guard let other = TestPostgres.scratch() else { return }
        let first = try PostgresStore(url: other, create: true)
        _ = try await first.documents()
        try await first.client.query("DROP TABLE kb_schema")
        let foreign = try PostgresStore(url: other, create: true)
        do {
            _ = try await foreign.documents()
            Issue.record("a database with other tables was taken over")
        } catch {
            #expect(error.code == .notAKnowledgeBase, "\(error)")
        }
        try await PostgresStore.dropDatabase(other)
    }
}

/// `kb migrate`: SQLite → PostgreSQL → SQLite keeps what a knowledge base is.
@Suite(.serialized) struct MigrationTests {
    @Test func aKnowledgeBaseSurvivesTheRoundTrip() async throws {
        guard let url = TestPostgres.scratch() else { return }
        let folder = TemporaryFolder()
        folder.write("docs/rome.md", "# Colosseum\n\nThe Colosseum in Rome opened in 80 AD under emperor Titus.\n\n## Later\n\nIt closed as an arena in the 6th century.\n")
        folder.write("docs/桥.md", "# 石桥\n\n这座石桥建于一六二三年，由当地商人出资修建。\n")
        func open(_ database: String, create: Bool) throws -> KnowledgeBase {
            var configuration = Configuration(databasePath: database, knowledgeFolders: [folder.path + "/docs"])
            configuration.embeddingModel = "hashing-test"
            let kb = try KnowledgeBase(configuration: configuration, create: create, generator: ExtractiveGenerator())
            kb.use(HashingEmbedder())
            return kb
        }
        let original = try open(folder.path + "/kb.sqlite", create: true)
        _ = try await original.ingest()
        let answer = try await original.ask("When did the Colosseum in Rome open?", caller: Caller(user: "ana", role: .reader))
        let conversation = try #require(answer.conversationID)
        try await original.rate(answerID: answer.answerID, up: false, comment: "too short", caller: Caller(user: "ana", role: .reader))
        let issued = try await original.createToken(name: "ana", role: .reader)

        let counts = try await original.migrate(to: url)
        #expect(counts.documents == 2 && counts.vectors == counts.chunks && counts.conversations == 1 && counts.answers == 1
                && counts.feedback == 1 && counts.users == 1, "\(counts)")
        let onPostgres = try open(url, create: false)
        await #expect(throws: KBError.self) { _ = try await original.migrate(to: url) }   // the target is not empty now

        let back = try open(folder.path + "/back.sqlite", create: true)
        _ = back
        let returned = try await onPostgres.migrate(to: folder.path + "/back.sqlite")
        #expect(returned == StoreCopier.Counts(documents: 2, chunks: counts.chunks, vectors: counts.vectors, conversations: 1, answers: 1,
                                                feedback: 1, users: 1, seconds: returned.seconds))
        for kb in [onPostgres, back] {
            for (query, mode) in [("Colosseum Titus", SearchMode.keyword), ("石桥 商人", .keyword), ("when did it open", .vector), ("arena closed", .hybrid)] {
                let a = try await original.search(query, mode: mode).results, b = try await kb.search(query, mode: mode).results
                #expect(a.map(\.path) == b.map(\.path) && a.map(\.heading) == b.map(\.heading), "\(kb.location) \(query)")
                for (x, y) in zip(a, b) { #expect(abs(x.score - y.score) < 1e-6, "\(query): \(x.score) vs \(y.score)") }
            }
            let copied = try await kb.conversation(id: conversation)
            #expect(copied.user == "ana" && copied.turns.map(\.answer) == [answer.answer] && copied.turns.first?.id == answer.answerID)
            // Stored sources point at the copy's chunks: each opens the same text.
            for source in copied.turns[0].citations + copied.turns[0].passages {
                let excerpt = try await kb.read(ReadRequest(chunkID: Int(source.chunkID)))
                #expect(excerpt.path == source.path && excerpt.startLine == source.startLine, "\(source)")
            }
            let report = try await kb.feedbackReport()
            #expect(report.down == 1 && report.worst.first?.comments == ["too short"])
            #expect(try await kb.authenticate(bearer: issued.token, ownerToken: nil) == Caller(user: "ana", role: .reader))
            #expect(try await kb.consistencyProblems().isEmpty)
        }
        try await PostgresStore.dropDatabase(url)
    }
}
