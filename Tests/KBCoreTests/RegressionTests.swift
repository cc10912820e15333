import Foundation
import Testing
@testable import KBCore
import KBTestSupport

/// Cases found in review: each would have lost data, crashed, or misled.
@Suite struct RegressionTests {
    @Test func onlyAMissingFileCountsAsDeleted() async throws {
        let folder = TemporaryFolder()
        let path = folder.write("a.txt", "x")
        #expect(!FileInfo.isMissing(path))
        #expect(FileInfo.isMissing(folder.path + "/gone.txt"))
        #expect(FileInfo.isMissing(path + "/not-a-folder/x"))   // ENOTDIR
    }

    @Test(.enabled(if: getuid() != 0, "root reads every folder; permissions cannot be tested"))
    func anUnsearchableFolderDoesNotEmptyTheIndex() async throws {
        let folder = TemporaryFolder()
        folder.write("docs/sub/a.md", "Apples.\n")
        let kb = try folder.knowledgeBase()
        _ = try await kb.ingest(embed: false)
        chmod(folder.path + "/docs/sub", 0o644)   // listable, but its files cannot be examined
        defer { chmod(folder.path + "/docs/sub", 0o755) }
        let summary = try await kb.ingest(embed: false)
        #expect(summary.removed == 0)
        await #expect(try kb.status().documents == 1)
    }

    @Test func aRenamedFileIsRechunkedKeepingUnchangedChunks() async throws {
        let folder = TemporaryFolder()
        folder.write("docs/old.swift", "// Adds numbers.\nfunc add(a: Int, b: Int) -> Int {\n    return a + b\n}\n")
        let kb = try folder.knowledgeBase()
        _ = try await kb.ingest(embed: false)
        folder.move("docs/old.swift", "docs/new.swift")
        let summary = try await kb.ingest(embed: false)
        #expect(summary.moved == 1 && summary.added == 0 && summary.removed == 0)
        let hit = try await #require(try kb.search("adds numbers").results.first)
        #expect(hit.heading == "new.swift › func add")
        #expect(hit.path.hasSuffix("new.swift"))
        await #expect(try kb.status().documents == 1)
        await #expect(try kb.consistencyProblems().isEmpty)
    }

    @Test func hugeLimitsDoNotCrash() async throws {
        let folder = TemporaryFolder()
        folder.write("docs/a.md", "Apples grow on trees.\n")
        var configuration = Configuration(databasePath: folder.path + "/kb.sqlite", knowledgeFolders: [folder.path + "/docs"])
        configuration.embeddingModel = "hashing-test"
        let kb = try KnowledgeBase(configuration: configuration, create: true)
        kb.use(HashingEmbedder())
        _ = try await kb.ingest()
        await #expect(try kb.search("apples", limit: Int.max, mode: .hybrid).results.count == 1)
        await #expect(try kb.search("apples", limit: Int.max, mode: .vector).results.count == 1)
        var heap = TopK(capacity: Int.max)
        heap.offer(1, 0)
        #expect(heap.sorted().count == 1)
    }

    @Test func fusionSettingsAreValidated() async throws {
        for bad in ["rrf:nan", "rrf:inf", "rrf:-1", "rrf:abc", "score:2", "score:nan", "score:x", "borda"] {
            #expect(Fusion(bad) == nil, "\(bad) should be refused")
        }
        #expect(Fusion("rrf") == .reciprocalRank(k: 20))
        #expect(Fusion("rrf:60")?.name == "rrf:60")
        #expect(Fusion("rrf:2.5")?.name == "rrf:2.5")
        #expect(Fusion("score:0.3") == .score(keywordShare: 0.3))
    }

    @Test func braceCountingHandlesEscapesAndLifetimes() async throws {
        #expect(SourceCodeLoader.braceBalance(#"if (s.endsWith("\\")) {"#) == 1)
        #expect(SourceCodeLoader.braceBalance("fn f<'a>(x: &'a str) -> &'a str {") == 1)
        #expect(SourceCodeLoader.braceBalance("let c = '{'; let d = '\\'';") == 0)
        #expect(SourceCodeLoader.braceBalance("x = \"}\" // {") == 0)
    }
}
