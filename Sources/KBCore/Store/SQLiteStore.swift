import Foundation

/// The SQLite knowledge store: one database file in WAL mode, schema from `Schemas/sqlite`.
///
/// One writer connection (writes are serialised, as SQLite requires) and a pool of reader connections, so
/// searches run in parallel with each other and with an ingest. Every call runs on ``BlockingPool`` threads,
/// never on Swift's cooperative pool. Keyword and vector search use in-memory indexes (``SearchIndexes``) that
/// follow the `index_changes` log, so they see what any process commits without reloading.
public final class SQLiteStore: KnowledgeStore, @unchecked Sendable {
    /// `PRAGMA application_id` of kb databases ("kb01").
    static let applicationID: Int32 = 0x6B62_3031

    public let location: String
    private let writer: SQLiteConnection
    private let writeLock = NSLock()
    private let readers: ConnectionPool
    let indexes = SearchIndexes()
    let pool: BlockingPool

    /// Opens the database at `path`, applying pending migrations.
    ///
    /// - Parameters:
    ///   - create: create the file (and its folder) when missing; otherwise a missing
    ///     database is a ``KBError/Code/noKnowledgeBase`` error.
    ///   - readers: the most reader connections open at once (searches beyond wait for one).
    public init(path: String, create: Bool, readers: Int = max(4, 2 * ProcessInfo.processInfo.activeProcessorCount),
                pool: BlockingPool = .shared) throws(KBError) {
        location = path
        self.pool = pool
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
        writer = try SQLiteConnection(path: path, create: create)
        self.readers = ConnectionPool(path: path, limit: max(1, readers))
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
        let connection = writer
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
                if migration.version == 7 { try Self.refoldChineseVariants(connection) }
                try connection.execute("PRAGMA application_id = \(Self.applicationID)")
                try connection.execute("PRAGMA user_version = \(migration.version)")
            }
        }
    }

    /// Migration 7's data step: the keyword terms of every chunk holding traditional Chinese are analysed again,
    /// now folded to simplified (``ChineseVariants``), so that a database indexed before finds them from either script.
    static func refoldChineseVariants(_ connection: SQLiteConnection) throws(KBError) {
        var refolded: [(id: Int, terms: IndexTerms)] = []
        try connection.forEachRow("SELECT id, heading, text FROM chunks") { row in
            let heading = row.string(1), text = row.string(2)
            guard ChineseVariants.containsTraditional(heading) || ChineseVariants.containsTraditional(text) else { return }
            refolded.append((row.int(0), PreparedChunk.terms(heading: heading, text: text)))
        }
        for chunk in refolded {
            try connection.query("UPDATE chunks_fts SET words = ?, cjk1 = ?, cjk2 = ? WHERE rowid = ?",
                                 [chunk.terms.words.joined(separator: " "), chunk.terms.cjk1.joined(separator: " "),
                                  chunk.terms.cjk2.joined(separator: " "), chunk.id])
            // Logged like any change, so a process that already holds the keyword index picks it up.
            try connection.query("INSERT INTO index_changes (chunk_id, model, change) VALUES (?, NULL, 0), (?, NULL, 1)", [chunk.id, chunk.id])
        }
    }

    // MARK: Running statements

    /// Runs `body` with the writer connection, on a pool thread.
    @discardableResult
    func write<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws(KBError) -> T) async throws(KBError) -> T {
        try await pool.run { [self] () throws(KBError) -> T in try writeNow(body) }
    }

    /// Runs `body` with the writer connection on the calling thread (which must not be a cooperative one).
    func writeNow<T>(_ body: (SQLiteConnection) throws(KBError) -> T) throws(KBError) -> T {
        writeLock.lock()
        defer { writeLock.unlock() }
        return try body(writer)
    }

    /// Runs `body` with a reader connection, on a pool thread.
    func read<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws(KBError) -> T) async throws(KBError) -> T {
        try await pool.run { [readers] () throws(KBError) -> T in try readers.with(body) }
    }

    /// The schema version of the open database.
    public func schemaVersion() async throws(KBError) -> Int {
        try await read { connection throws(KBError) in try connection.scalar("PRAGMA user_version").int ?? 0 }
    }

    // MARK: Documents

    public func documents() async throws(KBError) -> [DocumentRecord] {
        try await read { connection throws(KBError) in
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

    public func saveDocument(_ document: DocumentRecord, chunks: [PreparedChunk], replacing existingID: Int?) async throws(KBError) -> ChunkWriteStats {
        try await write { connection throws(KBError) in
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
                            UPDATE chunks SET ordinal = ?, start_offset = ?, end_offset = ?, start_line = ?, end_line = ?, page = ?,
                                locator = ?, ocr_confidence = ?
                            WHERE id = ?
                            """, [d.ordinal, d.range.lowerBound, d.range.upperBound, d.startLine, d.endLine, d.page, d.locator,
                                  d.ocrConfidence, id])
                        reused += 1
                    } else {
                        try connection.query("""
                            INSERT INTO chunks (document_id, ordinal, content_hash, heading, text, start_offset, end_offset,
                                                start_line, end_line, page, token_count, locator, ocr_confidence)
                            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                            """, [documentID, d.ordinal, d.contentHash, d.heading, d.text, d.range.lowerBound, d.range.upperBound,
                                  d.startLine, d.endLine, d.page, d.tokenCount, d.locator, d.ocrConfidence])
                        let chunkID = connection.lastInsertRowID
                        // The keyword index's terms (FTS5 columns: space-separated, as kb analysed them).
                        try connection.query("INSERT INTO chunks_fts (rowid, words, cjk1, cjk2) VALUES (?, ?, ?, ?)",
                                             [chunkID, chunk.terms.words.joined(separator: " "), chunk.terms.cjk1.joined(separator: " "),
                                              chunk.terms.cjk2.joined(separator: " ")])
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

    public func moveDocument(id: Int, to path: String, modifiedAt: Double) async throws(KBError) {
        try await write { connection throws(KBError) in
            try connection.transaction { () throws(KBError) in
                try connection.query("UPDATE documents SET path = ?, modified_at = ? WHERE id = ?", [path, modifiedAt, id])
                try connection.query("DELETE FROM ingest_failures WHERE path = ?", [path])
            }
        }
    }

    public func touchDocument(id: Int, size: Int, modifiedAt: Double) async throws(KBError) {
        try await write { connection throws(KBError) in
            try connection.query("UPDATE documents SET size = ?, modified_at = ? WHERE id = ?", [size, modifiedAt, id])
        }
    }

    @discardableResult
    public func removeDocument(id: Int) async throws(KBError) -> Int {
        try await write { connection throws(KBError) in
            try connection.transaction { () throws(KBError) in
                let count = try connection.scalar("SELECT count(*) FROM chunks WHERE document_id = ?", [id]).int ?? 0
                try connection.query("DELETE FROM documents WHERE id = ?", [id])
                return count
            }
        }
    }

    // MARK: Ingest runs and failures

    public func acquireIngestLease() async throws(KBError) -> any IngestLease {
        try IngestLock(path: location + ".lock")
    }

    public func beginIngestRun(roots: [String]) async throws(KBError) -> Int {
        let rootsJSON = (try? JSONEncoder().encode(roots)).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
        return try await write { connection throws(KBError) in
            try connection.transaction { () throws(KBError) in
                try connection.query("UPDATE ingest_runs SET status = 'interrupted' WHERE status = 'running'")
                try connection.query("INSERT INTO ingest_runs (started_at, status, roots) VALUES (?, 'running', ?)",
                                     [Date().timeIntervalSince1970, rootsJSON])
                return connection.lastInsertRowID
            }
        }
    }

    /// Entries of `index_changes` kept after an ingest; a reader further behind reloads its indexes in full.
    static let keptChanges = 200_000

    public func finishIngestRun(id: Int, counts: IngestRunCounts, status: String) async throws(KBError) {
        try await write { connection throws(KBError) in
            try connection.query("""
                UPDATE ingest_runs SET finished_at = ?, status = ?, added = ?, updated = ?, unchanged = ?, moved = ?,
                    removed = ?, skipped = ?, failed = ? WHERE id = ?
                """, [Date().timeIntervalSince1970, status, counts.added, counts.updated, counts.unchanged, counts.moved,
                      counts.removed, counts.skipped, counts.failed, id])
            try connection.query("DELETE FROM index_changes WHERE seq <= (SELECT max(seq) FROM index_changes) - ?", [Self.keptChanges])
        }
    }

    public func recordFailure(path: String, reason: String, runID: Int) async throws(KBError) {
        try await write { connection throws(KBError) in
            try connection.query("""
                INSERT INTO ingest_failures (path, run_id, reason, failed_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (path) DO UPDATE SET run_id = excluded.run_id, reason = excluded.reason, failed_at = excluded.failed_at
                """, [path, runID, reason, Date().timeIntervalSince1970])
        }
    }

    public func clearFailures(paths: [String]) async throws(KBError) {
        guard !paths.isEmpty else { return }
        try await write { connection throws(KBError) in
            try connection.transaction { () throws(KBError) in
                for path in paths { try connection.query("DELETE FROM ingest_failures WHERE path = ?", [path]) }
            }
        }
    }

    public func failures() async throws(KBError) -> [IngestFailure] {
        try await read { connection throws(KBError) in try Self.failures(connection) }
    }

    private static func failures(_ connection: SQLiteConnection) throws(KBError) -> [IngestFailure] {
        try connection.query("SELECT path, reason FROM ingest_failures ORDER BY path").map {
            IngestFailure(path: $0.string(0), error: $0.string(1))
        }
    }

    // MARK: Reading

    public func passages(ids: [Int]) async throws(KBError) -> [Passage] {
        guard !ids.isEmpty else { return [] }
        return try await read { connection throws(KBError) in try Self.passages(ids: ids, connection) }
    }

    public func documentChunks(documentID: Int) async throws(KBError) -> [ChunkSpan] {
        try await read { connection throws(KBError) in
            try connection.query("""
                SELECT id, ordinal, heading, text, start_offset, end_offset, start_line, end_line, page, locator, ocr_confidence
                FROM chunks WHERE document_id = ? ORDER BY ordinal
                """, [documentID]).map { row in
                ChunkSpan(chunkID: row.int(0), ordinal: row.int(1), heading: row.string(2), text: row.string(3),
                          startOffset: row.int(4), endOffset: row.int(5), startLine: row.int(6), endLine: row.int(7),
                          page: row.optionalInt(8), locator: row.optionalString(9), ocrConfidence: row.optionalDouble(10))
            }
        }
    }

    static func passages(ids: [Int], _ connection: SQLiteConnection) throws(KBError) -> [Passage] {
        guard !ids.isEmpty else { return [] }
        // One statement per batch size class keeps the prepared-statement cache small.
        let width = ids.count <= 10 ? 10 : ids.count <= 50 ? 50 : ids.count
        let placeholders = Array(repeating: "?", count: width).joined(separator: ",")
        var arguments: [any SQLBindable] = ids
        while arguments.count < width { arguments.append(-1) }
        var byID: [Int: Passage] = [:]
        try connection.forEachRow("""
            SELECT c.id, c.document_id, d.path, d.title, c.heading, c.text, c.start_line, c.end_line, c.page, c.ordinal,
                   c.locator, c.ocr_confidence
            FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.id IN (\(placeholders))
            """, arguments) { row in
            byID[row.int(0)] = Passage(chunkID: row.int(0), documentID: row.int(1), path: row.string(2), title: row.optionalString(3),
                                       heading: row.string(4), text: row.string(5), startLine: row.int(6), endLine: row.int(7),
                                       page: row.optionalInt(8), ordinal: row.int(9), locator: row.optionalString(10),
                                       ocrConfidence: row.optionalDouble(11))
        }
        return ids.compactMap { byID[$0] }
    }

    public func passageCount() async throws(KBError) -> Int {
        try await read { connection throws(KBError) in try connection.scalar("SELECT count(*) FROM chunks").int ?? 0 }
    }

    public func status() async throws(KBError) -> StatusReport {
        let location = self.location
        return try await read { connection throws(KBError) in
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
            var bytes = 0
            for suffix in ["", "-wal", "-shm"] {
                if let size = (try? FileManager.default.attributesOfItem(atPath: location + suffix))?[.size] as? NSNumber {
                    bytes += size.intValue
                }
            }
            return StatusReport(database: location, schemaVersion: version, documents: documents, chunks: chunks, embeddings: embeddings,
                                databaseBytes: bytes, formats: formats, lastIngest: last, failed: try Self.failures(connection))
        }
    }

    static func iso8601(_ seconds: Double) -> String {
        ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: seconds))
    }

    // MARK: Keyword search

    public func keywordSearch(_ query: KeywordQuery, limit: Int) async throws(KBError) -> [ScoredChunk] {
        guard limit > 0, !query.isEmpty else { return [] }
        return try await read { [indexes] connection throws(KBError) in
            try indexes.refreshKeyword(connection)
            return indexes.withKeyword { $0.search(query, limit: limit) }
        }
    }

    public func termStatistics(_ terms: [KeywordQuery.Term]) async throws(KBError) -> TermStatistics {
        try await read { [indexes] connection throws(KBError) in
            try indexes.refreshKeyword(connection)
            return indexes.withKeyword { TermStatistics(passages: $0.count, documentFrequencies: $0.documentFrequencies(terms)) }
        }
    }

    // MARK: Embeddings

    public func chunksMissingEmbeddings(model: String, afterID: Int, limit: Int) async throws(KBError) -> [PendingChunk] {
        try await read { connection throws(KBError) in
            try connection.query("""
                SELECT c.id, c.heading, c.text FROM chunks c
                WHERE c.id > ? AND NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.chunk_id = c.id AND e.model = ?)
                ORDER BY c.id LIMIT ?
                """, [afterID, model, limit]).map { PendingChunk(id: $0.int(0), heading: $0.string(1), text: $0.string(2)) }
        }
    }

    public func saveEmbeddings(model: String, _ vectors: [(chunkID: Int, vector: [Float])]) async throws(KBError) {
        guard let dimension = vectors.first?.vector.count else { return }
        let rows = vectors.map { (chunkID: $0.chunkID, data: $0.vector.withUnsafeBufferPointer { Data(buffer: $0) }, count: $0.vector.count) }
        try await write { connection throws(KBError) in
            if let stored = try connection.query("SELECT dimension FROM embeddings WHERE model = ? LIMIT 1", [model]).first?.int(0),
               stored != dimension {
                throw KBError(.model, "The database holds \(stored)-dimensional vectors for \(model), but the model now gives \(dimension). Use another model name, or remove the old vectors.")
            }
            let now = Date().timeIntervalSince1970
            try connection.transaction { () throws(KBError) in
                for row in rows {
                    // Chunks deleted since they were read (a concurrent re-ingest) are skipped.
                    try connection.query("""
                        INSERT INTO embeddings (chunk_id, model, dimension, vector, created_at)
                        SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM chunks WHERE id = ?)
                        ON CONFLICT (chunk_id, model) DO UPDATE SET vector = excluded.vector, dimension = excluded.dimension,
                            created_at = excluded.created_at
                        """, [row.chunkID, model, row.count, row.data, now, row.chunkID])
                }
            }
        }
    }

    public func embeddingCoverage() async throws(KBError) -> [EmbeddingCoverage] {
        try await read { connection throws(KBError) in try Self.coverage(connection) }
    }

    static func coverage(_ connection: SQLiteConnection) throws(KBError) -> [EmbeddingCoverage] {
        try connection.query("SELECT model, max(dimension), count(*), max(created_at) FROM embeddings GROUP BY model ORDER BY model").map {
            EmbeddingCoverage(model: $0.string(0), dimension: $0.int(1), vectors: $0.int(2), updatedAt: $0.double(3))
        }
    }

    public func searchCoverage() async throws(KBError) -> SearchCoverage {
        try await read { [indexes] connection throws(KBError) in try indexes.coverage(connection) }
    }

    public func nearestChunks(model: String, to query: [Float], limit: Int) async throws(KBError) -> [ScoredChunk] {
        try await read { [indexes] connection throws(KBError) in
            try indexes.refreshVectors(model: model, connection)
            return try indexes.withVectors(model: model) { index throws(KBError) in
                guard index.count == 0 || query.count == index.dimension else {
                    throw KBError(.model, "The query vector has \(query.count) dimensions but the stored \(model) vectors have \(index.dimension). Re-ingest with the same model.")
                }
                return index.nearest(query, limit: limit).map { ScoredChunk(chunkID: $0.chunkID, score: Double($0.score)) }
            }
        }
    }

    public func storedVectors(model: String, chunkIDs: [Int]) async throws(KBError) -> [Int: [Float]] {
        guard !chunkIDs.isEmpty else { return [:] }
        return try await read { [indexes] connection throws(KBError) in
            try indexes.refreshVectors(model: model, connection)
            return try indexes.withVectors(model: model) { index throws(KBError) in
                var out: [Int: [Float]] = [:]
                for id in chunkIDs { out[id] = index.vector(for: id) }
                return out
            }
        }
    }

    /// Loads every vector of a model (benchmarks and tools; search uses ``nearestChunks(model:to:limit:)``).
    public func loadVectors(model: String) async throws(KBError) -> VectorSet {
        try await read { connection throws(KBError) in try Self.loadVectors(model: model, connection) }
    }

    static func loadVectors(model: String, _ connection: SQLiteConnection) throws(KBError) -> VectorSet {
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

    // MARK: Consistency

    /// Checks the invariants an interrupted ingest must never break; returns the problems found (empty when sound).
    public func consistencyProblems() async throws(KBError) -> [String] {
        try await write { connection throws(KBError) in
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
    func schemaSQL() async throws(KBError) -> [String] {
        try await read { connection throws(KBError) in
            try connection.query("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name").map { $0.string(0) }
        }
    }
}

extension IngestLock: IngestLease {}

/// Reader connections, opened on demand up to a limit; a caller beyond the limit waits for one.
final class ConnectionPool: @unchecked Sendable {
    private let path: String
    private let limit: Int
    private let condition = NSCondition()
    private var free: [SQLiteConnection] = []
    private var opened = 0

    init(path: String, limit: Int) {
        self.path = path
        self.limit = limit
    }

    /// Runs `body` with a connection of its own.
    func with<T>(_ body: (SQLiteConnection) throws(KBError) -> T) throws(KBError) -> T {
        let connection = try take()
        defer { give(connection) }
        return try body(connection)
    }

    private func take() throws(KBError) -> SQLiteConnection {
        condition.lock()
        while free.isEmpty && opened >= limit { condition.wait() }
        if let connection = free.popLast() {
            condition.unlock()
            return connection
        }
        opened += 1
        condition.unlock()
        do {
            let connection = try SQLiteConnection(path: path, create: false)
            try connection.execute("PRAGMA query_only = 1")
            return connection
        } catch {
            condition.lock(); opened -= 1; condition.signal(); condition.unlock()
            throw error
        }
    }

    private func give(_ connection: SQLiteConnection) {
        condition.lock()
        free.append(connection)
        condition.signal()
        condition.unlock()
    }
}
