import Foundation

/// The SQLite knowledge store: one database file in WAL mode, schema from `Schemas/sqlite`.
public final class SQLiteStore: KnowledgeStore, KeywordIndex, VectorStore, @unchecked Sendable {
    /// `PRAGMA application_id` of kb databases ("kb01").
    static let applicationID: Int32 = 0x6B62_3031

    public let location: String
    let connection: SQLiteConnection
    private let lock = NSLock()

    /// Opens the database at `path`, applying pending migrations.
    ///
    /// - Parameter create: create the file (and its folder) when missing; otherwise a missing
    ///   database is a ``KBError/Code/noKnowledgeBase`` error.
    public init(path: String, create: Bool) throws(KBError) {
        location = path
        let fileManager = FileManager.default
        if !fileManager.fileExists(atPath: path) {
            guard create else {
                throw KBError(.noKnowledgeBase, "No knowledge base at \(path). Run `kb ingest PATH` first, or point --db / KB_DB at an existing one.")
            }
            let folder = (path as NSString).deletingLastPathComponent
            if !folder.isEmpty {
                do { try fileManager.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
                    throw KBError(.cannotOpenDatabase, "Cannot create the folder \(folder) for the database: \(error.localizedDescription).")
                }
            }
        } else {
            try Self.checkHeader(path)
        }
        connection = try SQLiteConnection(path: path, create: create)
        try configure()
    }

    /// A non-empty file must start with SQLite's header.
    private static func checkHeader(_ path: String) throws(KBError) {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw KBError(.cannotOpenDatabase, "Cannot read the database \(path); check its permissions.")
        }
        defer { try? handle.close() }
        let header = (try? handle.read(upToCount: 16)) ?? Data()
        if !header.isEmpty && !header.starts(with: Array("SQLite format 3".utf8)) {
            throw KBError(.notAKnowledgeBase, "\(path) is not a kb database (it is not an SQLite file). Point --db or KB_DB at a kb database, or at a new path.")
        }
    }

    private func configure() throws(KBError) {
        try connection.execute("PRAGMA foreign_keys = ON")
        let appID = Int32(truncatingIfNeeded: try connection.scalar("PRAGMA application_id").int ?? 0)
        let version = try connection.scalar("PRAGMA user_version").int ?? 0
        let tables = try connection.scalar("SELECT count(*) FROM sqlite_master").int ?? 0
        if tables > 0 && appID != Self.applicationID {
            throw KBError(.notAKnowledgeBase, "\(location) is an SQLite database but not a kb database. Point --db or KB_DB at a kb database, or at a new path.")
        }
        let latest = SchemaMigrations.all.last?.version ?? 0
        if version > latest {
            throw KBError(.schemaTooNew, "\(location) was written by a newer kb (schema version \(version); this kb knows up to \(latest)). Upgrade kb to use it.")
        }
        let mode = try connection.scalar("PRAGMA journal_mode = WAL").string ?? ""
        if mode.lowercased() != "wal" {
            throw KBError(.cannotOpenDatabase, "Cannot switch \(location) to WAL mode (got \(mode)); is the file on a network drive?")
        }
        try connection.execute("PRAGMA synchronous = NORMAL")
        for migration in SchemaMigrations.all where migration.version > version {
            try connection.transaction { () throws(KBError) in
                // Another process may have applied it while this one waited for the write lock.
                guard (try connection.scalar("PRAGMA user_version").int ?? 0) < migration.version else { return }
                try connection.execute(migration.sql)
                try connection.execute("PRAGMA application_id = \(Self.applicationID)")
                try connection.execute("PRAGMA user_version = \(migration.version)")
            }
        }
    }

    /// The schema version of the open database.
    public func schemaVersion() throws(KBError) -> Int {
        try locked { () throws(KBError) in try connection.scalar("PRAGMA user_version").int ?? 0 }
    }

    @discardableResult
    func locked<T>(_ body: () throws(KBError) -> T) throws(KBError) -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    // MARK: Documents

    public func documents() throws(KBError) -> [DocumentRecord] {
        try locked { () throws(KBError) in
            try connection.query("""
                SELECT id, path, content_hash, size, modified_at, format, encoding, title, fingerprint, chunk_count, ingested_at
                FROM documents ORDER BY path
                """).map { row in
                DocumentRecord(id: row.int(0), path: row.string(1), contentHash: row.string(2), size: row.int(3),
                               modifiedAt: row.double(4), format: row.string(5), encoding: row.optionalString(6),
                               title: row.optionalString(7), fingerprint: row.string(8), chunkCount: row.int(9),
                               ingestedAt: row.double(10))
            }
        }
    }

    public func saveDocument(_ document: DocumentRecord, chunks: [PreparedChunk], replacing existingID: Int?) throws(KBError) -> ChunkWriteStats {
        try locked { () throws(KBError) in
            try connection.transaction { () throws(KBError) in
                var documentID: Int
                var reusable: [String: [Int]] = [:]
                if let existingID {
                    documentID = existingID
                    try connection.forEachRow("SELECT id, content_hash FROM chunks WHERE document_id = ? ORDER BY ordinal", [existingID]) { row in
                        reusable[row.string(1), default: []].append(row.int(0))
                    }
                    try connection.query("""
                        UPDATE documents SET path = ?, content_hash = ?, size = ?, modified_at = ?, format = ?, encoding = ?,
                            title = ?, fingerprint = ?, chunk_count = ?, ingested_at = ? WHERE id = ?
                        """, [document.path, document.contentHash, document.size, document.modifiedAt, document.format,
                              document.encoding, document.title, document.fingerprint, chunks.count, document.ingestedAt, existingID])
                } else {
                    try connection.query("""
                        INSERT INTO documents (path, content_hash, size, modified_at, format, encoding, title, fingerprint, chunk_count, ingested_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """, [document.path, document.contentHash, document.size, document.modifiedAt, document.format,
                              document.encoding, document.title, document.fingerprint, chunks.count, document.ingestedAt])
                    documentID = connection.lastInsertRowID
                }
                var inserted = 0, reused = 0
                for chunk in chunks {
                    let d = chunk.draft
                    if var ids = reusable[d.contentHash], !ids.isEmpty {
                        let id = ids.removeFirst()
                        reusable[d.contentHash] = ids
                        try connection.query("""
                            UPDATE chunks SET ordinal = ?, start_offset = ?, end_offset = ?, start_line = ?, end_line = ?, page = ?
                            WHERE id = ?
                            """, [d.ordinal, d.range.lowerBound, d.range.upperBound, d.startLine, d.endLine, d.page, id])
                        reused += 1
                    } else {
                        try connection.query("""
                            INSERT INTO chunks (document_id, ordinal, content_hash, heading, text, start_offset, end_offset,
                                                start_line, end_line, page, token_count)
                            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                            """, [documentID, d.ordinal, d.contentHash, d.heading, d.text, d.range.lowerBound, d.range.upperBound,
                                  d.startLine, d.endLine, d.page, d.tokenCount])
                        let chunkID = connection.lastInsertRowID
                        try connection.query("INSERT INTO chunks_fts (rowid, words, cjk1, cjk2) VALUES (?, ?, ?, ?)",
                                             [chunkID, chunk.words, chunk.unigrams, chunk.bigrams])
                        inserted += 1
                    }
                }
                var removed = 0
                for id in reusable.values.joined() {
                    try connection.query("DELETE FROM chunks WHERE id = ?", [id])
                    removed += 1
                }
                try connection.query("DELETE FROM ingest_failures WHERE path = ?", [document.path])
                return ChunkWriteStats(documentID: documentID, inserted: inserted, reused: reused, removed: removed)
            }
        }
    }

    public func moveDocument(id: Int, to path: String, modifiedAt: Double) throws(KBError) {
        try locked { () throws(KBError) in
            try connection.transaction { () throws(KBError) in
                try connection.query("UPDATE documents SET path = ?, modified_at = ? WHERE id = ?", [path, modifiedAt, id])
                try connection.query("DELETE FROM ingest_failures WHERE path = ?", [path])
            }
        }
    }

    public func touchDocument(id: Int, size: Int, modifiedAt: Double) throws(KBError) {
        try locked { () throws(KBError) in
            try connection.query("UPDATE documents SET size = ?, modified_at = ? WHERE id = ?", [size, modifiedAt, id])
        }
    }

    @discardableResult
    public func removeDocument(id: Int) throws(KBError) -> Int {
        try locked { () throws(KBError) in
            try connection.transaction { () throws(KBError) in
                let count = try connection.scalar("SELECT count(*) FROM chunks WHERE document_id = ?", [id]).int ?? 0
                try connection.query("DELETE FROM documents WHERE id = ?", [id])
                return count
            }
        }
    }

    // MARK: Ingest runs and failures

    public func beginIngestRun(roots: [String]) throws(KBError) -> Int {
        let rootsJSON = (try? JSONEncoder().encode(roots)).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
        return try locked { () throws(KBError) in
            try connection.transaction { () throws(KBError) in
                try connection.query("UPDATE ingest_runs SET status = 'interrupted' WHERE status = 'running'")
                try connection.query("INSERT INTO ingest_runs (started_at, status, roots) VALUES (?, 'running', ?)",
                                     [Date().timeIntervalSince1970, rootsJSON])
                return connection.lastInsertRowID
            }
        }
    }

    public func finishIngestRun(id: Int, counts: IngestRunCounts, status: String) throws(KBError) {
        try locked { () throws(KBError) in
            try connection.query("""
                UPDATE ingest_runs SET finished_at = ?, status = ?, added = ?, updated = ?, unchanged = ?, moved = ?,
                    removed = ?, skipped = ?, failed = ? WHERE id = ?
                """, [Date().timeIntervalSince1970, status, counts.added, counts.updated, counts.unchanged, counts.moved,
                      counts.removed, counts.skipped, counts.failed, id])
        }
    }

    public func recordFailure(path: String, reason: String, runID: Int) throws(KBError) {
        try locked { () throws(KBError) in
            try connection.query("""
                INSERT INTO ingest_failures (path, run_id, reason, failed_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (path) DO UPDATE SET run_id = excluded.run_id, reason = excluded.reason, failed_at = excluded.failed_at
                """, [path, runID, reason, Date().timeIntervalSince1970])
        }
    }

    public func clearFailures(paths: [String]) throws(KBError) {
        guard !paths.isEmpty else { return }
        try locked { () throws(KBError) in
            try connection.transaction { () throws(KBError) in
                for path in paths { try connection.query("DELETE FROM ingest_failures WHERE path = ?", [path]) }
            }
        }
    }

    public func failures() throws(KBError) -> [IngestFailure] {
        try locked { () throws(KBError) in
            try connection.query("SELECT path, reason FROM ingest_failures ORDER BY path").map {
                IngestFailure(path: $0.string(0), error: $0.string(1))
            }
        }
    }

    // MARK: Reading

    public func passages(ids: [Int]) throws(KBError) -> [Passage] {
        guard !ids.isEmpty else { return [] }
        let placeholders = Array(repeating: "?", count: ids.count).joined(separator: ",")
        let rows = try locked { () throws(KBError) in
            try connection.query("""
                SELECT c.id, c.document_id, d.path, d.title, c.heading, c.text, c.start_line, c.end_line, c.page, c.ordinal
                FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.id IN (\(placeholders))
                """, ids)
        }
        var byID: [Int: Passage] = [:]
        for row in rows {
            byID[row.int(0)] = Passage(chunkID: row.int(0), documentID: row.int(1), path: row.string(2), title: row.optionalString(3),
                                       heading: row.string(4), text: row.string(5), startLine: row.int(6), endLine: row.int(7),
                                       page: row.optionalInt(8), ordinal: row.int(9))
        }
        return ids.compactMap { byID[$0] }
    }

    public func keywordSearch(_ expression: String, limit: Int) throws(KBError) -> [(chunkID: Int, score: Double)] {
        try locked { () throws(KBError) in
            try connection.query("SELECT rowid, rank FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY rank LIMIT ?",
                                 [expression, limit]).map { (chunkID: $0.int(0), score: -$0.double(1)) }
        }
    }

    public func documentFrequencies(_ terms: [String]) throws(KBError) -> [String: Int] {
        guard !terms.isEmpty else { return [:] }
        let unique = Array(Set(terms))
        let placeholders = Array(repeating: "?", count: unique.count).joined(separator: ",")
        return try locked { () throws(KBError) in
            var out: [String: Int] = [:]
            try connection.forEachRow("SELECT term, doc FROM chunks_fts_vocab WHERE term IN (\(placeholders))", unique) { row in
                out[row.string(0), default: 0] += row.int(1)
            }
            return out
        }
    }

    public func passageCount() throws(KBError) -> Int {
        try locked { () throws(KBError) in try connection.scalar("SELECT count(*) FROM chunks").int ?? 0 }
    }

    public func status() throws(KBError) -> StatusReport {
        let (documents, chunks, embeddings, version, formats, last) = try locked { () throws(KBError) in
            let documents = try connection.scalar("SELECT count(*) FROM documents").int ?? 0
            let chunks = try connection.scalar("SELECT count(*) FROM chunks").int ?? 0
            let embeddings = try connection.scalar("SELECT count(*) FROM embeddings").int ?? 0
            let version = try connection.scalar("PRAGMA user_version").int ?? 0
            var formats: [String: Int] = [:]
            try connection.forEachRow("SELECT format, count(*) FROM documents GROUP BY format") { formats[$0.string(0)] = $0.int(1) }
            let last = try connection.query("""
                SELECT started_at, finished_at, status, added, updated, unchanged, removed, failed
                FROM ingest_runs ORDER BY id DESC LIMIT 1
                """).first.map { row in
                StatusReport.LastIngest(startedAt: Self.iso8601(row.double(0)), finishedAt: row[1] == .null ? nil : Self.iso8601(row.double(1)),
                                        status: row.string(2), added: row.int(3), updated: row.int(4), unchanged: row.int(5),
                                        removed: row.int(6), failed: row.int(7))
            }
            return (documents, chunks, embeddings, version, formats, last)
        }
        var bytes = 0
        for suffix in ["", "-wal", "-shm"] {
            if let size = (try? FileManager.default.attributesOfItem(atPath: location + suffix))?[.size] as? NSNumber {
                bytes += size.intValue
            }
        }
        return StatusReport(database: location, schemaVersion: version, documents: documents, chunks: chunks, embeddings: embeddings,
                            databaseBytes: bytes, formats: formats, lastIngest: last, failed: try failures())
    }

    static func iso8601(_ seconds: Double) -> String {
        ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: seconds))
    }

    // MARK: Embeddings

    public func chunksMissingEmbeddings(model: String, afterID: Int, limit: Int) throws(KBError) -> [PendingChunk] {
        try locked { () throws(KBError) in
            try connection.query("""
                SELECT c.id, c.heading, c.text FROM chunks c
                WHERE c.id > ? AND NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.chunk_id = c.id AND e.model = ?)
                ORDER BY c.id LIMIT ?
                """, [afterID, model, limit]).map { PendingChunk(id: $0.int(0), heading: $0.string(1), text: $0.string(2)) }
        }
    }

    public func saveEmbeddings(model: String, _ vectors: [(chunkID: Int, vector: [Float])]) throws(KBError) {
        guard let dimension = vectors.first?.vector.count else { return }
        try locked { () throws(KBError) in
            if let stored = try connection.query("SELECT dimension FROM embeddings WHERE model = ? LIMIT 1", [model]).first?.int(0),
               stored != dimension {
                throw KBError(.model, "The database holds \(stored)-dimensional vectors for \(model), but the model now gives \(dimension). Use another model name, or remove the old vectors.")
            }
            let now = Date().timeIntervalSince1970
            try connection.transaction { () throws(KBError) in
                for (chunkID, vector) in vectors {
                    // Chunks deleted since they were read (a concurrent re-ingest) are skipped.
                    let data = vector.withUnsafeBufferPointer { Data(buffer: $0) }
                    try connection.query("""
                        INSERT INTO embeddings (chunk_id, model, dimension, vector, created_at)
                        SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM chunks WHERE id = ?)
                        ON CONFLICT (chunk_id, model) DO UPDATE SET vector = excluded.vector, dimension = excluded.dimension,
                            created_at = excluded.created_at
                        """, [chunkID, model, vector.count, data, now, chunkID])
                }
            }
        }
    }

    public func embeddingCoverage() throws(KBError) -> [EmbeddingCoverage] {
        try locked { () throws(KBError) in
            try connection.query("SELECT model, max(dimension), count(*), max(created_at) FROM embeddings GROUP BY model ORDER BY model").map {
                EmbeddingCoverage(model: $0.string(0), dimension: $0.int(1), vectors: $0.int(2), updatedAt: $0.double(3))
            }
        }
    }

    public func loadVectors(model: String) throws(KBError) -> VectorSet {
        try locked { () throws(KBError) in
            var ids: [Int] = []
            var values: [Float] = []
            var dimension = 0
            try connection.forEachRow("SELECT chunk_id, dimension, vector FROM embeddings WHERE model = ? ORDER BY chunk_id", [model]) { row throws(KBError) in
                guard case .blob(let blob) = row[2] else { return }
                let rowDimension = row.int(1)
                if dimension == 0 { dimension = rowDimension; values.reserveCapacity(dimension * 1024) }
                guard rowDimension == dimension, blob.count == dimension * 4 else {
                    throw KBError(.databaseCorrupt, "The vector of chunk \(row.int(0)) for \(model) has \(blob.count) bytes, expected \(dimension * 4). Run `kb ingest` to re-embed it after removing it.")
                }
                ids.append(row.int(0))
                blob.withUnsafeBytes { raw in values.append(contentsOf: raw.bindMemory(to: Float.self)) }
            }
            return VectorSet(model: model, dimension: dimension, ids: ids, values: values)
        }
    }

    // MARK: Consistency

    /// Checks the invariants an interrupted ingest must never break; returns the problems found (empty when sound).
    public func consistencyProblems() throws(KBError) -> [String] {
        try locked { () throws(KBError) in
            var problems: [String] = []
            let integrity = try connection.query("PRAGMA integrity_check").map { $0.string(0) }
            if integrity != ["ok"] { problems.append("integrity_check: \(integrity.joined(separator: "; "))") }
            let orphans = try connection.scalar("SELECT count(*) FROM chunks WHERE document_id NOT IN (SELECT id FROM documents)").int ?? 0
            if orphans > 0 { problems.append("\(orphans) chunks without a document") }
            let chunkCount = try connection.scalar("SELECT count(*) FROM chunks").int ?? 0
            let ftsCount = try connection.scalar("SELECT count(*) FROM chunks_fts").int ?? 0
            if chunkCount != ftsCount { problems.append("\(chunkCount) chunks but \(ftsCount) keyword-index rows") }
            let missing = try connection.scalar("SELECT count(*) FROM chunks WHERE id NOT IN (SELECT rowid FROM chunks_fts)").int ?? 0
            if missing > 0 { problems.append("\(missing) chunks missing from the keyword index") }
            let mismatched = try connection.scalar("""
                SELECT count(*) FROM documents d WHERE d.chunk_count != (SELECT count(*) FROM chunks c WHERE c.document_id = d.id)
                """).int ?? 0
            if mismatched > 0 { problems.append("\(mismatched) documents whose chunk_count disagrees with their chunks") }
            let duplicates = try connection.scalar("""
                SELECT count(*) FROM (SELECT document_id, ordinal FROM chunks GROUP BY document_id, ordinal HAVING count(*) > 1)
                """).int ?? 0
            if duplicates > 0 { problems.append("\(duplicates) duplicated chunk positions") }
            let strayVectors = try connection.scalar("SELECT count(*) FROM embeddings WHERE chunk_id NOT IN (SELECT id FROM chunks)").int ?? 0
            if strayVectors > 0 { problems.append("\(strayVectors) vectors without a chunk") }
            let badVectors = try connection.scalar("SELECT count(*) FROM embeddings WHERE length(vector) != 4 * dimension").int ?? 0
            if badVectors > 0 { problems.append("\(badVectors) vectors whose length disagrees with their dimension") }
            do { try connection.execute("INSERT INTO chunks_fts (chunks_fts) VALUES ('integrity-check')") } catch {
                problems.append("keyword index integrity check: \((error as? KBError)?.message ?? "\(error)")")
            }
            return problems
        }
    }

    /// The live schema (`sqlite_master` SQL), for drift tests.
    func schemaSQL() throws(KBError) -> [String] {
        try locked { () throws(KBError) in
            try connection.query("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name").map { $0.string(0) }
        }
    }
}
