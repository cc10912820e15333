import Foundation

/// The SQLite store's in-memory search indexes: one ``BM25Index`` over every chunk's terms and one
/// ``FlatVectorIndex`` per embedding model, each loaded on first use and then kept up to date from the
/// `index_changes` log (migration 3): before a search, a reader compares the log's newest entry with the last
/// one each index applied and applies only what is new — whichever process committed it. Searches share a
/// read lock; applying changes takes the write lock for as long as the changes take, not a reload.
final class SearchIndexes: @unchecked Sendable {
    private let lock = ReadWriteLock()
    private var keyword: BM25Index?
    private var keywordSeq = 0
    private var vectors: [String: (index: FlatVectorIndex, seq: Int)] = [:]
    private var cachedCoverage: (seq: Int, at: Double, value: SearchCoverage)?
    private let coverageLock = NSLock()

    /// How many full loads and incremental updates happened (tests and metrics).
    private(set) var loads = 0
    private(set) var updates = 0

    // MARK: Keyword

    /// Brings the keyword index up to the database's state as `connection` sees it.
    func refreshKeyword(_ connection: SQLiteConnection) throws(KBError) {
        let latest = try Self.latestChange(connection)
        if lock.read({ keyword != nil && keywordSeq == latest }) { return }
        try lock.write { () throws(KBError) in
            try connection.readTransaction { () throws(KBError) in
                let latest = try Self.latestChange(connection)
                if keyword != nil && keywordSeq == latest { return }
                let pruned = try Self.pruned(after: keywordSeq, connection)
                if keyword == nil || pruned {
                    var index = BM25Index()
                    try connection.forEachRow("SELECT rowid, words, cjk1, cjk2 FROM chunks_fts") { row in
                        index.add(chunkID: row.int(0), terms: Self.terms(row))
                    }
                    keyword = index
                    loads += 1
                } else {
                    try connection.forEachRow("""
                        SELECT c.chunk_id, c.change, f.rowid, f.words, f.cjk1, f.cjk2 FROM index_changes c
                        LEFT JOIN chunks_fts f ON f.rowid = c.chunk_id
                        WHERE c.seq > ? AND c.seq <= ? AND c.model IS NULL ORDER BY c.seq
                        """, [keywordSeq, latest]) { row in
                        if row.int(1) == 0 {
                            keyword!.remove(chunkID: row.int(0))
                        } else if row[2] != .null {
                            keyword!.add(chunkID: row.int(0), terms: Self.terms(SQLRow(values: [row[2], row[3], row[4], row[5]])))
                        }
                    }
                    updates += 1
                }
                keywordSeq = latest
            }
        }
    }

    /// Runs `body` with the keyword index under the read lock (call ``refreshKeyword(_:)`` first).
    func withKeyword<T>(_ body: (BM25Index) -> T) -> T {
        lock.read { body(keyword ?? BM25Index()) }
    }

    private static func terms(_ row: SQLRow) -> IndexTerms {
        IndexTerms(words: split(row.string(1)), cjk1: split(row.string(2)), cjk2: split(row.string(3)))
    }

    /// Splits an FTS column (terms separated by single spaces).
    static func split(_ column: String) -> [String] {
        column.utf8.split(separator: 0x20).map { String(Substring($0)) }
    }

    // MARK: Vectors

    /// Brings the model's vector index up to the database's state as `connection` sees it.
    func refreshVectors(model: String, _ connection: SQLiteConnection) throws(KBError) {
        let latest = try Self.latestChange(connection)
        if lock.read({ vectors[model]?.seq == latest }) { return }
        try lock.write { () throws(KBError) in
            try connection.readTransaction { () throws(KBError) in
                let latest = try Self.latestChange(connection)
                if let current = vectors[model], current.seq == latest { return }
                let pruned = try Self.pruned(after: vectors[model]?.seq ?? 0, connection)
                if let current = vectors[model], !pruned {
                    var index = current.index
                    vectors[model] = nil   // no second copy of the buffer while it changes
                    try connection.forEachRow("""
                        SELECT c.chunk_id, c.change, e.vector FROM index_changes c
                        LEFT JOIN embeddings e ON e.chunk_id = c.chunk_id AND e.model = ?
                        WHERE c.seq > ? AND c.seq <= ? AND (c.model = ? OR (c.model IS NULL AND c.change = 0)) ORDER BY c.seq
                        """, [model, current.seq, latest, model]) { row in
                        if row.int(1) == 0 {
                            index.remove(chunkID: row.int(0))
                        } else if case .blob(let blob) = row[2] {
                            index.upsert(chunkID: row.int(0), vector: blob.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) })
                        }
                    }
                    vectors[model] = (index, latest)
                    updates += 1
                } else {
                    vectors[model] = nil
                    vectors[model] = (FlatVectorIndex(try SQLiteStore.loadVectors(model: model, connection)), latest)
                    loads += 1
                }
            }
        }
    }

    /// Runs `body` with the model's vector index under the read lock (call ``refreshVectors(model:_:)`` first).
    func withVectors<T>(model: String, _ body: (FlatVectorIndex) throws(KBError) -> T) throws(KBError) -> T {
        try lock.read { () throws(KBError) -> T in
            try body(vectors[model]?.index ?? FlatVectorIndex(VectorSet(model: model, dimension: 0, ids: [], values: [])))
        }
    }

    // MARK: Coverage

    /// Chunks and vectors per model: recomputed only when the change log moved (one indexed lookup otherwise).
    func coverage(_ connection: SQLiteConnection) throws(KBError) -> SearchCoverage {
        let latest = try Self.latestChange(connection)
        let now = Date().timeIntervalSince1970
        if let cached = coverageLock.withLock({ cachedCoverage }), cached.seq == latest {
            return cached.value
        }
        let value = SearchCoverage(chunks: try connection.scalar("SELECT count(*) FROM chunks").int ?? 0,
                                   models: try connection.query("SELECT model, count(*) FROM embeddings GROUP BY model ORDER BY model").map {
                                       SearchCoverage.Model(model: $0.string(0), vectors: $0.int(1))
                                   })
        coverageLock.withLock { cachedCoverage = (latest, now, value) }
        return value
    }

    // MARK: The log

    static func latestChange(_ connection: SQLiteConnection) throws(KBError) -> Int {
        try connection.scalar("SELECT max(seq) FROM index_changes").int ?? 0
    }

    /// True when entries after `seq` were pruned (the reader must reload).
    static func pruned(after seq: Int, _ connection: SQLiteConnection) throws(KBError) -> Bool {
        guard let oldest = try connection.scalar("SELECT min(seq) FROM index_changes").int else { return false }
        return oldest > seq + 1
    }
}

/// A pthread read-write lock.
final class ReadWriteLock: @unchecked Sendable {
    private var handle = pthread_rwlock_t()

    init() { pthread_rwlock_init(&handle, nil) }
    deinit { pthread_rwlock_destroy(&handle) }

    func read<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        pthread_rwlock_rdlock(&handle)
        defer { pthread_rwlock_unlock(&handle) }
        return try body()
    }

    func write<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        pthread_rwlock_wrlock(&handle)
        defer { pthread_rwlock_unlock(&handle) }
        return try body()
    }
}
