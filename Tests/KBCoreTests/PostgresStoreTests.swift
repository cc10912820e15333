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
