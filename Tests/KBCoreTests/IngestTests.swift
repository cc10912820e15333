import Foundation
import Testing
@testable import KBCore
import KBTestSupport

@Suite struct IngestTests {
    @Test func incrementalIngestTracksUnchangedChangedDeletedAndMoved() async throws {
        let folder = TemporaryFolder()
        folder.write("docs/a.md", "# A\n\nFirst section about apples.\n\n# B\n\nSecond section about bananas.\n")
        folder.write("docs/b.txt", "Cherries are red.\n")
        folder.write("docs/sub/c.html", "<html><head><title>C</title></head><body><p>Dates are sweet.</p></body></html>")
        folder.write("docs/.hidden/secret.md", "hidden")
        folder.write("docs/image.gif", Data(Array("GIF89a".utf8)))
        let kb = try folder.knowledgeBase()

        let first = try await kb.ingest(embed: false)
        #expect(first.added == 3)
        #expect(first.failed.isEmpty)
        #expect(first.skipped.map { ($0.path as NSString).lastPathComponent } == ["image.gif"])
        await #expect(try kb.status().documents == 3)

        // Unchanged: nothing is read.
        let second = try await kb.ingest(embed: false)
        #expect(second.unchanged == 3 && second.added == 0 && second.updated == 0)
        #expect(second.bytesRead == 0)

        // Touched but identical: read, hashed, not re-chunked.
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: 60)], ofItemAtPath: folder.path + "/docs/b.txt")
        let touched = try await kb.ingest(embed: false)
        #expect(touched.unchanged == 3 && touched.updated == 0)

        // Changed: the unchanged chunk keeps its id.
        let beforeIDs = try await kb.search("apples").results.map(\.chunkID)
        folder.write("docs/a.md", "# A\n\nFirst section about apples.\n\n# B\n\nSecond section about blueberries.\n")
        let changed = try await kb.ingest(embed: false)
        #expect(changed.updated == 1)
        #expect(changed.chunksReused == 1 && changed.chunksAdded == 1 && changed.chunksRemoved == 1)
        await #expect(try kb.search("apples").results.map(\.chunkID) == beforeIDs)
        await #expect(try kb.search("bananas").results.isEmpty)
        await #expect(try kb.search("blueberries").results.count == 1)

        // Moved: recognised by hash, chunk ids kept.
        let cherryIDs = try await kb.search("cherries").results.map(\.chunkID)
        folder.move("docs/b.txt", "docs/sub/moved.txt")
        let moved = try await kb.ingest(embed: false)
        #expect(moved.moved == 1 && moved.added == 0 && moved.removed == 0)
        let afterMove = try await kb.search("cherries").results
        #expect(afterMove.map(\.chunkID) == cherryIDs)
        #expect(afterMove.first?.path == folder.path + "/docs/sub/moved.txt")

        // Deleted.
        folder.remove("docs/sub/c.html")
        let deleted = try await kb.ingest(embed: false)
        #expect(deleted.removed == 1)
        await #expect(try kb.search("dates").results.isEmpty)
        await #expect(try kb.status().documents == 2)
        await #expect(try kb.consistencyProblems().isEmpty)
    }

    @Test func badFilesAreReportedAndTheRunContinues() async throws {
        let folder = TemporaryFolder()
        folder.write("docs/good.md", "Good content here.\n")
        folder.write("docs/picture.txt", Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + Array(repeating: 0, count: 40)))
        folder.write("docs/empty.txt", "")
        folder.write("docs/big.txt", String(repeating: "x", count: 2000))
        folder.write("docs/locked.txt", "secret")
        chmod(folder.path + "/docs/locked.txt", 0)
        defer { chmod(folder.path + "/docs/locked.txt", 0o644) }
        let kb = try KnowledgeBase(configuration: Configuration(databasePath: folder.path + "/kb.sqlite",
                                                                knowledgeFolders: [folder.path + "/docs"], maxFileSize: 1000), create: true)
        let summary = try await kb.ingest(embed: false)
        #expect(summary.added == (getuid() == 0 ? 2 : 1))
        let reasons = Dictionary(uniqueKeysWithValues: summary.failed.map { (($0.path as NSString).lastPathComponent, $0.error) })
        #expect(reasons["picture.txt"] == "binary content (PNG image) under a text file extension")
        #expect(reasons["big.txt"] == "file is too large (2.0 KiB; the limit is 1000 B, see --max-file-size)")
        if getuid() != 0 { #expect(reasons["locked.txt"] == "cannot read the file: permission denied") }
        #expect(summary.skipped.map(\.reason) == ["no text (empty or white space only)"])
        let status = try await kb.status()
        #expect(status.failed.count == summary.failed.count)

        // Fixing a file clears its failure.
        folder.write("docs/big.txt", "small now")
        let again = try await kb.ingest(embed: false)
        #expect(again.added == 1)
        await #expect(try kb.status().failed.count == summary.failed.count - 1)
    }

    @Test func missingPathIsAnError() async throws {
        let folder = TemporaryFolder()
        let kb = try folder.knowledgeBase()
        await expectKBError(.pathNotFound) { try await kb.ingest(paths: [folder.path + "/nope"]) }
    }

    @Test func interruptedIngestIsConsistentAndResumes() async throws {
        let folder = TemporaryFolder()
        for i in 0..<30 { folder.write("docs/file\(String(format: "%02d", i)).md", "# Doc \(i)\n\nUnique word token\(i) appears here.\n") }
        let kb = try folder.knowledgeBase()
        let counter = Counter()
        let partial = try await kb.ingest(embed: false, progress: { _ in counter.increment() }, isCancelled: { counter.value >= 10 })
        #expect(partial.interrupted)
        #expect(partial.added == 10)
        await #expect(try kb.consistencyProblems().isEmpty)
        await #expect(try kb.status().lastIngest?.status == "interrupted")

        let resumed = try await kb.ingest(embed: false)
        #expect(resumed.added == 20)
        #expect(resumed.unchanged == 10)
        await #expect(try kb.status().documents == 30)
        await #expect(try kb.consistencyProblems().isEmpty)
    }

    @Test func secondConcurrentIngestIsRefused() async throws {
        let folder = TemporaryFolder()
        folder.write("docs/a.md", "text")
        let kb = try folder.knowledgeBase()
        let lock = try IngestLock(path: folder.path + "/.kb/kb.sqlite.lock")
        defer { withExtendedLifetime(lock) {} }
        await expectKBError(.ingestInProgress) { try await kb.ingest(embed: false) }
    }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func increment() { lock.lock(); count += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}
