import Foundation
import Logging
import PostgresNIO

/// kb's store on PostgreSQL with pgvector, for a knowledge base shared by a team: the same protocols as
/// ``SQLiteStore`` (and the same conformance suite), over a pool of connections (`vapor/postgres-nio`).
///
/// - Keyword search: every chunk's analysed terms are stored, as kb computed them, in one `tsvector` (weights A/B/C
///   for kb's three fields, positions in term order) with a GIN index; candidates come from the index and are
///   ranked here with the BM25 formula of ``BM25Index`` (FTS5's), from document frequencies and lengths the store
///   keeps in `term_stats` and `corpus_stats` in the same transaction as the chunk. PostgreSQL's own parser never
///   sees the text: Chinese is segmented by kb, and `ts_rank` (no IDF) is not used.
/// - Vectors: one table per embedding model, `vector(N)` with an HNSW cosine index.
/// - One ingest at a time per database: a session advisory lock.
///
/// The location is a `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE` URL; ``location`` shows it without the
/// password. With `create`, a missing database is created (when the user may) and migrations are applied.
public final class PostgresStore: KnowledgeStore, @unchecked Sendable {
    public let location: String
    let configuration: PostgresClient.Configuration
    /// The connection pool. Replaced by a fresh one once the server is back after an outage: the old pool's
    /// reconnection back-off (up to a minute) would otherwise keep requests waiting after the server returned.
    var client: PostgresClient { pool.client }
    private let pool: PoolBox
    private let ready: Readiness
    let logger: Logger
    /// Model name → (table id, dimension), learned as models are used.
    private let models = ModelTables()
    /// The last search coverage counted, with the change version it was counted at.
    private let coverage = VersionedValue<SearchCoverage>()

    /// Positions a tsvector can hold (PostgreSQL's limits: 16383, 255 per lexeme); terms past them are indexed
    /// without further positions, so term frequencies in extremely long chunks are capped.
    static let maximumPosition = 16_383
    static let maximumPositionsPerTerm = 255

    public init(url: String, create: Bool) throws(KBError) {
        let parsed = try Self.parse(url)
        location = parsed.display
        configuration = parsed.configuration
        var logger = Logger(label: "kb.postgres")
        logger.logLevel = .warning
        self.logger = logger
        let (client, runner) = Self.start(configuration, logger: logger)
        pool = PoolBox(client: client, runner: runner)
        let database = parsed.database
        let configuration = parsed.configuration
        ready = Readiness { [client, logger] in
            try await Self.prepare(client: client, configuration: configuration, database: database, create: create, logger: logger)
        }
    }

    deinit {
        pool.runner.cancel()
    }

    static func start(_ configuration: PostgresClient.Configuration, logger: Logger) -> (PostgresClient, Task<Void, Never>) {
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        let runner = Task { await client.run() }
        return (client, runner)
    }

    // MARK: Connection, URL, migrations

    struct ParsedURL {
        var configuration: PostgresClient.Configuration
        var database: String
        var display: String
    }

    static func parse(_ url: String) throws(KBError) -> ParsedURL {
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme ?? ""),
              let host = components.host, !host.isEmpty else {
            throw KBError(.configuration, "\(Self.redact(url)) is not a PostgreSQL URL; write postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE.")
        }
        let database = String(components.path.drop { $0 == "/" })
        guard !database.isEmpty else {
            throw KBError(.configuration, "\(Self.redact(url)) names no database; write postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE.")
        }
        let user = components.user?.removingPercentEncoding ?? ProcessInfo.processInfo.environment["PGUSER"] ?? "postgres"
        let password = components.password?.removingPercentEncoding ?? ProcessInfo.processInfo.environment["PGPASSWORD"]
        var configuration = PostgresClient.Configuration(host: host, port: components.port ?? 5432, username: user, password: password,
                                                         database: database, tls: .disable)
        configuration.options.minimumConnections = 0
        configuration.options.maximumConnections = 16
        let display = "postgres://\(user)@\(host):\(components.port ?? 5432)/\(database)"
        return ParsedURL(configuration: configuration, database: database, display: display)
    }

    /// The URL with its password replaced by `…`, for messages and logs.
    public static func redact(_ url: String) -> String {
        guard var components = URLComponents(string: url) else { return "The database URL" }
        if components.password != nil { components.password = "…" }
        return components.string ?? "The database URL"
    }

    /// Connects (creating the database when asked), applies pending migrations, refuses a newer schema.
    static func prepare(client: PostgresClient, configuration: PostgresClient.Configuration, database: String, create: Bool,
                        logger: Logger) async throws {
        // One direct connection first: the pool retries failed connections with back-off, while a missing database
        // or a server that is down should be said at once.
        do {
            let probe = try await connect(configuration, database: database, logger: logger)
            try? await probe.close()
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "3D000" && create {
            // The database does not exist: create it from the server's maintenance database.
            let admin = try await connect(configuration, database: "postgres", logger: logger)
            defer { Task { try? await admin.close() } }
            try await admin.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(quoteIdentifier(database))"), logger: logger)
        }
        let hasSchema = try await client.query("SELECT to_regclass('kb_schema') IS NOT NULL", logger: logger)
            .collect().first.map { try $0.decode(Bool.self) } ?? false
        var version = 0
        if hasSchema {
            version = try await client.query("SELECT max(version) FROM kb_schema", logger: logger).collect().first
                .map { try $0.decode(Int?.self) ?? 0 } ?? 0
        } else {
            let tables = try await client.query("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", logger: logger)
                .collect().first.map { try $0.decode(Int.self) } ?? 0
            guard create || tables == 0 else {
                throw KBError(.notAKnowledgeBase, "\(database) is a PostgreSQL database with other tables, not a kb knowledge base.")
            }
            guard create else {
                throw KBError(.noKnowledgeBase, "The PostgreSQL database \(database) has no knowledge base yet; run `kb ingest` first.")
            }
            guard tables == 0 else {
                throw KBError(.notAKnowledgeBase, "\(database) is a PostgreSQL database with other tables, not a kb knowledge base; use an empty database.")
            }
        }
        let newest = PostgresMigrations.all.map(\.version).max() ?? 0
        if version > newest {
            throw KBError(.schemaTooNew, "The PostgreSQL knowledge base \(database) was written by a newer kb (schema \(version); this kb knows up to \(newest)). Upgrade kb.")
        }
        guard version < newest else { return }
        try await client.withTransaction(logger: logger) { connection in
            // One migration at a time across processes.
            try await connection.query("SELECT pg_advisory_xact_lock(7478765101)", logger: logger)
            let current = try await connection.query("SELECT to_regclass('kb_schema') IS NOT NULL", logger: logger)
                .collect().first.map { try $0.decode(Bool.self) } ?? false
            let applied = current ? (try await connection.query("SELECT max(version) FROM kb_schema", logger: logger).collect().first
                .map { try $0.decode(Int?.self) ?? 0 } ?? 0) : 0
            for migration in PostgresMigrations.all where migration.version > applied {
                for statement in statements(migration.sql) {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                if migration.version == 7 { try await Self.refoldChineseVariants(connection, logger: logger) }
                try await connection.query("UPDATE kb_schema SET version = \(migration.version)", logger: logger)
            }
        }
    }

    /// A single connection (outside the pool) to `database` on the configured server.
    static func connect(_ configuration: PostgresClient.Configuration, database: String, logger: Logger) async throws -> PostgresConnection {
        try await PostgresConnection.connect(configuration: PostgresConnection.Configuration(
            host: configuration.host ?? "127.0.0.1", port: configuration.port ?? 5432, username: configuration.username,
            password: configuration.password, database: database, tls: .disable), id: Int.random(in: 1...Int(Int32.max)), logger: logger)
    }

    static func quoteIdentifier(_ name: String) -> String { "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }

    /// A migration's statements: kb's migrations end each statement with `;` at the end of a line and have no
    /// function bodies, so this split is exact for them.
    static func statements(_ sql: String) -> [String] {
        var out: [String] = [], current = ""
        for line in sql.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("--") { continue }
            current += line + "\n"
            if trimmed.hasSuffix(";") {
                out.append(current.trimmingCharacters(in: .whitespacesAndNewlines))
                current = ""
            }
        }
        let rest = current.trimmingCharacters(in: .whitespacesAndNewlines)
        if !rest.isEmpty { out.append(rest) }
        return out
    }

    /// Runs `body` once the database is ready, mapping PostgreSQL errors to ``KBError``.
    ///
    /// The connection pool waits, retrying, while the server is down; a request must not. So a request still
    /// running after ``watchInterval`` checks the server with a connection of its own, and again at that interval;
    /// when the server refuses connections, the request is cancelled and fails with
    /// ``KBError/Code/databaseUnavailable`` (a daemon answers 503). A request whose connection the server closed
    /// (a restart) fails at once the same way. Not covered: a connection that goes silent without closing (a
    /// network partition) waits for the operating system's TCP timeout.
    @discardableResult
    func run<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws(KBError) -> T {
        do {
            try await ready.wait()
            if pool.outage {
                // After an outage: answer at once while the server is still away; once it is back, a fresh pool.
                guard await reachable() else {
                    throw KBError(.databaseUnavailable, "PostgreSQL at \(location) is not accepting connections. Retry shortly.")
                }
                let (client, runner) = Self.start(configuration, logger: logger)
                pool.replace(client: client, runner: runner)
            }
            // The body runs on its own: a request stuck on a dead pool is answered (503) without waiting for it.
            let race = Race<T>()
            let work = Task { do { race.finish(.success(try await body())) } catch { race.finish(.failure(error)) } }
            let watch = Task { [self] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: Self.watchInterval)
                    if Task.isCancelled { return }
                    if await !reachable() {
                        pool.markOutage()
                        race.finish(.failure(KBError(.databaseUnavailable, "PostgreSQL at \(location) is not accepting connections; the request was abandoned (a transaction it had open is rolled back with its connection). Retry shortly.")))
                        work.cancel()
                        return
                    }
                }
            }
            defer { watch.cancel() }
            return try await withTaskCancellationHandler {
                try await race.value()
            } onCancel: {
                work.cancel()
                race.finish(.failure(CancellationError()))
            }
        } catch let error as KBError {
            if error.code == .databaseUnavailable { pool.markOutage() }
            throw error
        } catch let error as PSQLError {
            let mapped = Self.kbError(error, location: location)
            if mapped.code == .databaseUnavailable { pool.markOutage() }
            throw mapped
        } catch let error as PostgresTransactionError {
            // The error inside the transaction (BEGIN, the body, or COMMIT) says what happened.
            let inner = error.closureError ?? error.beginError ?? error.commitError
            if let inner = inner as? KBError { throw inner }
            if let inner = inner as? PSQLError {
                let mapped = Self.kbError(inner, location: location)
                if mapped.code == .databaseUnavailable { pool.markOutage() }
                throw mapped
            }
            throw KBError(.database, "PostgreSQL (\(location)): \(String(describing: inner ?? error))")
        } catch is CancellationError {
            throw KBError(.interrupted, "The request to PostgreSQL (\(location)) was cancelled.")
        } catch {
            throw KBError(.database, "PostgreSQL (\(location)): \(error)")
        }
    }

    /// How long a request runs before kb checks that the server is still there, and how often after that.
    static let watchInterval: Duration = .seconds(2)

    /// Whether a new connection to the server succeeds within two seconds.
    func reachable() async -> Bool {
        var options = PostgresConnection.Configuration.Options()
        options.connectTimeout = .seconds(2)
        var probe = PostgresConnection.Configuration(
            host: configuration.host ?? "127.0.0.1", port: configuration.port ?? 5432, username: configuration.username,
            password: configuration.password, database: configuration.database, tls: .disable)
        probe.options = options
        do {
            let connection = try await PostgresConnection.connect(configuration: probe, id: Int.random(in: 1...Int(Int32.max)), logger: logger)
            try? await connection.close()
            return true
        } catch let error as PSQLError where error.serverInfo != nil {
            return error.serverInfo?[.sqlState] != "57P03"   // the server answered (for example: too many connections), unless it is starting or stopping
        } catch {
            return false
        }
    }

    static func kbError(_ error: PSQLError, location: String) -> KBError {
        if let message = error.serverInfo?[.message] {
            let detail = error.serverInfo?[.detail].map { " (\($0))" } ?? ""
            let state = error.serverInfo?[.sqlState] ?? ""
            if state == "3D000" {
                return KBError(.noKnowledgeBase, "There is no PostgreSQL database at \(location): \(message). `kb ingest` creates it.")
            }
            // Class 08 (connection exception) and 57P01–57P03 (shutdown, crash, cannot connect now): the server
            // went away or is restarting; the request can be retried once it is back.
            if state.hasPrefix("08") || ["57P01", "57P02", "57P03", "40001"].contains(state) && (state != "40001" || message.contains("recovery")) {
                return KBError(.databaseUnavailable, "PostgreSQL at \(location) is unavailable (\(message)); nothing of this request was committed. Retry shortly.")
            }
            return KBError(.database, "PostgreSQL (\(location)): \(message)\(detail)")
        }
        switch error.code {
        case .serverClosedConnection, .clientClosedConnection, .connectionError, .uncleanShutdown, .poolClosed:
            return KBError(.databaseUnavailable, "Lost the connection to PostgreSQL at \(location) (\(error.code)); what was in flight was not committed. Retry shortly.")
        default:
            return KBError(.cannotOpenDatabase, "Cannot reach PostgreSQL at \(location): \(error.code). Is the server running?")
        }
    }

    // MARK: Documents

    public func documents() async throws(KBError) -> [DocumentRecord] {
        try await run { [self] in
            var out: [DocumentRecord] = []
            let rows = try await client.query("""
                SELECT id, path, content_hash, size, modified_at, format, encoding, title, fingerprint, chunk_count, ingested_at
                FROM documents ORDER BY path
                """, logger: logger)
            for try await (id, path, hash, size, modified, format, encoding, title, fingerprint, chunks, ingested) in
                rows.decode((Int, String, String, Int, Double, String, String?, String?, String, Int, Double).self) {
                out.append(DocumentRecord(id: id, path: path, contentHash: hash, size: size, modifiedAt: modified, format: format,
                                          encoding: encoding, title: title, fingerprint: fingerprint, chunkCount: chunks, ingestedAt: ingested))
            }
            return out
        }
    }

    public func saveDocument(_ document: DocumentRecord, chunks: [PreparedChunk], replacing existingID: Int?) async throws(KBError) -> ChunkWriteStats {
        try await run { [self] in
            try await client.withTransaction(logger: logger) { connection in
                var documentID: Int
                var reusable: [String: [Int]] = [:]
                if let existingID {
                    documentID = existingID
                    let rows = try await connection.query("SELECT id, content_hash FROM chunks WHERE document_id = \(existingID) ORDER BY ordinal",
                                                          logger: logger)
                    for try await (id, hash) in rows.decode((Int, String).self) { reusable[hash, default: []].append(id) }
                    try await connection.query("""
                        UPDATE documents SET path = \(document.path), content_hash = \(document.contentHash), size = \(document.size),
                            modified_at = \(document.modifiedAt), format = \(document.format), encoding = \(document.encoding),
                            title = \(document.title), fingerprint = \(document.fingerprint), chunk_count = \(chunks.count),
                            ingested_at = \(document.ingestedAt) WHERE id = \(existingID)
                        """, logger: logger)
                } else {
                    let rows = try await connection.query("""
                        INSERT INTO documents (path, content_hash, size, modified_at, format, encoding, title, fingerprint, chunk_count, ingested_at)
                        VALUES (\(document.path), \(document.contentHash), \(document.size), \(document.modifiedAt), \(document.format),
                                \(document.encoding), \(document.title), \(document.fingerprint), \(chunks.count), \(document.ingestedAt))
                        RETURNING id
                        """, logger: logger)
                    documentID = try await rows.collect().first!.decode(Int.self)
                }
                // Every new and every kept chunk in one statement each (not a statement per chunk).
                var kept = ChunkColumns(), added = ChunkColumns()
                var keptIDs: [Int] = []
                var addedTerms = 0
                var statFields: [Int16] = [], statTerms: [String] = []
                for chunk in chunks {
                    let d = chunk.draft
                    if var ids = reusable[d.contentHash], !ids.isEmpty {
                        keptIDs.append(ids.removeFirst())
                        reusable[d.contentHash] = ids
                        kept.append(chunk)
                    } else {
                        added.append(chunk)
                        for field in KeywordQuery.Field.allCases {
                            for term in Set(chunk.terms[field]) {
                                statFields.append(Int16(field.rawValue))
                                statTerms.append(term)
                            }
                        }
                        addedTerms += chunk.terms.length
                    }
                }
                if !keptIDs.isEmpty {
                    try await connection.query("""
                        UPDATE chunks c SET ordinal = u.ordinal, start_offset = u.start_offset, end_offset = u.end_offset,
                            start_line = u.start_line, end_line = u.end_line, page = NULLIF(u.page, -1),
                            locator = NULLIF(u.locator, ''), ocr_confidence = NULLIF(u.ocr, -1)
                        FROM unnest(\(keptIDs)::bigint[], \(kept.ordinals)::int[], \(kept.startOffsets)::int[], \(kept.endOffsets)::int[],
                                    \(kept.startLines)::int[], \(kept.endLines)::int[], \(kept.pages)::int[], \(kept.locators)::text[],
                                    \(kept.ocrConfidences)::float8[])
                             AS u(id, ordinal, start_offset, end_offset, start_line, end_line, page, locator, ocr)
                        WHERE c.id = u.id
                        """, logger: logger)
                }
                if !added.ordinals.isEmpty {
                    try await connection.query("""
                        WITH new AS (
                        INSERT INTO chunks (document_id, ordinal, content_hash, heading, text, start_offset, end_offset,
                                            start_line, end_line, page, token_count, terms, term_count, locator, ocr_confidence)
                        SELECT \(documentID), u.ordinal, u.hash, u.heading, u.text, u.start_offset, u.end_offset, u.start_line, u.end_line,
                               NULLIF(u.page, -1), u.tokens, u.terms::tsvector, u.term_count, NULLIF(u.locator, ''), NULLIF(u.ocr, -1)
                        FROM unnest(\(added.ordinals)::int[], \(added.hashes)::text[], \(added.headings)::text[], \(added.texts)::text[],
                                    \(added.startOffsets)::int[], \(added.endOffsets)::int[], \(added.startLines)::int[], \(added.endLines)::int[],
                                    \(added.pages)::int[], \(added.tokens)::int[], \(added.terms)::text[], \(added.termCounts)::int[],
                                    \(added.locators)::text[], \(added.ocrConfidences)::float8[])
                             AS u(ordinal, hash, heading, text, start_offset, end_offset, start_line, end_line, page, tokens, terms, term_count,
                                  locator, ocr)
                        ORDER BY u.ordinal
                        RETURNING id, terms, term_count)
                        INSERT INTO postings (field, term, chunk_id, tf, length)
                        SELECT CASE w WHEN 'A' THEN 0 WHEN 'B' THEN 1 ELSE 2 END::smallint, u.lexeme, new.id, count(*), new.term_count
                        FROM new, unnest(new.terms) u, unnest(u.weights) w
                        GROUP BY 1, 2, 3, 5
                        """, logger: logger)
                }
                let inserted = added.ordinals.count, reused = keptIDs.count, addedChunks = inserted
                if !statTerms.isEmpty {
                    // Sorted, so that concurrent writers lock the statistics rows in one order.
                    let order = statTerms.indices.sorted { (statFields[$0], statTerms[$0]) < (statFields[$1], statTerms[$1]) }
                    let fields = order.map { statFields[$0] }, terms = order.map { statTerms[$0] }
                    try await connection.query("""
                        INSERT INTO term_stats (field, term, chunks)
                        SELECT f, t, count(*) FROM unnest(\(fields)::smallint[], \(terms)::text[]) AS u(f, t) GROUP BY f, t ORDER BY f, t
                        ON CONFLICT (field, term) DO UPDATE SET chunks = term_stats.chunks + excluded.chunks
                        """, logger: logger)
                }
                if addedChunks > 0 {
                    try await connection.query("UPDATE corpus_stats SET chunks = chunks + \(addedChunks), terms = terms + \(addedTerms), version = version + 1",
                                               logger: logger)
                }
                let gone = Array(reusable.values.joined())
                if !gone.isEmpty { try await Self.deleteChunks(gone, connection, logger: logger) }
                try await connection.query("DELETE FROM ingest_failures WHERE path = \(document.path)", logger: logger)
                return ChunkWriteStats(documentID: documentID, inserted: inserted, reused: reused, removed: gone.count)
            }
        }
    }

    /// Migration 7's data step: the keyword terms (tsvector, postings, statistics) of every chunk holding traditional
    /// Chinese are analysed again, now folded to simplified (``ChineseVariants``).
    static func refoldChineseVariants(_ connection: PostgresConnection, logger: Logger) async throws {
        var ids: [Int] = [], vectors: [String] = [], counts: [Int] = []
        let rows = try await connection.query("SELECT id, heading, text FROM chunks", logger: logger)
        for try await (id, heading, text) in rows.decode((Int, String, String).self) {
            guard ChineseVariants.containsTraditional(heading) || ChineseVariants.containsTraditional(text) else { continue }
            let terms = PreparedChunk.terms(heading: heading, text: text)
            ids.append(id)
            vectors.append(tsvector(terms))
            counts.append(terms.length)
        }
        guard !ids.isEmpty else { return }
        // The old terms out of the statistics, as for a deleted chunk.
        try await subtractTermStatistics(ids, connection, logger: logger)
        try await connection.query("""
            UPDATE corpus_stats SET terms = terms - s.t FROM (SELECT coalesce(sum(term_count), 0) AS t FROM chunks WHERE id = ANY(\(ids)::bigint[])) s
            """, logger: logger)
        try await connection.query("DELETE FROM term_stats WHERE chunks <= 0", logger: logger)
        try await connection.query("DELETE FROM postings WHERE chunk_id = ANY(\(ids)::bigint[])", logger: logger)
        // The new terms in.
        try await connection.query("""
            UPDATE chunks c SET terms = u.terms::tsvector, term_count = u.term_count
            FROM unnest(\(ids)::bigint[], \(vectors)::text[], \(counts)::int[]) AS u(id, terms, term_count) WHERE c.id = u.id
            """, logger: logger)
        try await connection.query("""
            INSERT INTO postings (field, term, chunk_id, tf, length)
            SELECT CASE w WHEN 'A' THEN 0 WHEN 'B' THEN 1 ELSE 2 END::smallint, u.lexeme, c.id, count(*), c.term_count
            FROM chunks c, unnest(c.terms) u, unnest(u.weights) w WHERE c.id = ANY(\(ids)::bigint[])
            GROUP BY 1, 2, 3, 5
            """, logger: logger)
        try await connection.query("""
            INSERT INTO term_stats (field, term, chunks)
            SELECT CASE w WHEN 'A' THEN 0 WHEN 'B' THEN 1 ELSE 2 END::smallint, u.lexeme, count(DISTINCT c.id)
            FROM chunks c, unnest(c.terms) u, unnest(u.weights) w WHERE c.id = ANY(\(ids)::bigint[])
            GROUP BY 1, 2 ORDER BY 1, 2
            ON CONFLICT (field, term) DO UPDATE SET chunks = term_stats.chunks + excluded.chunks
            """, logger: logger)
        try await connection.query("""
            UPDATE corpus_stats SET terms = terms + s.t, version = version + 1
            FROM (SELECT coalesce(sum(term_count), 0) AS t FROM chunks WHERE id = ANY(\(ids)::bigint[])) s
            """, logger: logger)
    }

    /// Takes the terms of the chunks `ids` out of the per-term chunk counts (rows reaching 0 are left for the caller).
    static func subtractTermStatistics(_ ids: [Int], _ connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("""
            UPDATE term_stats t SET chunks = t.chunks - g.n
            FROM (SELECT CASE w WHEN 'A' THEN 0 WHEN 'B' THEN 1 ELSE 2 END::smallint AS field, lexeme, count(DISTINCT c.id) AS n
                  FROM chunks c, unnest(c.terms) u, unnest(u.weights) w
                  WHERE c.id = ANY(\(ids)::bigint[]) GROUP BY 1, 2 ORDER BY 1, 2) g
            WHERE t.field = g.field AND t.term = g.lexeme
            """, logger: logger)
    }

    /// Deletes chunks and takes their terms out of the BM25 statistics (in the caller's transaction).
    static func deleteChunks(_ ids: [Int], _ connection: PostgresConnection, logger: Logger) async throws {
        guard !ids.isEmpty else { return }
        try await subtractTermStatistics(ids, connection, logger: logger)
        try await connection.query("""
            UPDATE corpus_stats SET chunks = chunks - s.n, terms = terms - s.t, version = version + 1
            FROM (SELECT count(*) AS n, coalesce(sum(term_count), 0) AS t FROM chunks WHERE id = ANY(\(ids)::bigint[])) s
            """, logger: logger)
        try await connection.query("DELETE FROM term_stats WHERE chunks <= 0", logger: logger)
        try await connection.query("DELETE FROM chunks WHERE id = ANY(\(ids)::bigint[])", logger: logger)
    }

    /// A chunk's terms as a tsvector literal: one lexeme per distinct term, positions in term order (words, then
    /// CJK characters, then CJK bigrams), weight A/B/C by field.
    static func tsvector(_ terms: IndexTerms) -> String {
        var positions: [String: [String]] = [:]
        var order: [String] = []
        var position = 0
        for field in KeywordQuery.Field.allCases {
            let weight = ["A", "B", "C"][field.rawValue]
            for term in terms[field] where !term.isEmpty {
                position = min(position + 1, maximumPosition)
                if positions[term] == nil { order.append(term) }
                if positions[term, default: []].count < maximumPositionsPerTerm { positions[term, default: []].append("\(position)\(weight)") }
            }
        }
        return order.map { "\(quote($0)):\(positions[$0]!.joined(separator: ","))" }.joined(separator: " ")
    }

    /// A lexeme quoted for tsvector and tsquery literals.
    static func quote(_ term: String) -> String {
        "'" + term.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "''") + "'"
    }

    public func moveDocument(id: Int, to path: String, modifiedAt: Double) async throws(KBError) {
        try await run { [self] in
            try await client.withTransaction(logger: logger) { connection in
                try await connection.query("UPDATE documents SET path = \(path), modified_at = \(modifiedAt) WHERE id = \(id)", logger: logger)
                try await connection.query("DELETE FROM ingest_failures WHERE path = \(path)", logger: logger)
            }
        }
    }

    public func touchDocument(id: Int, size: Int, modifiedAt: Double) async throws(KBError) {
        try await run { [self] in try await client.query("UPDATE documents SET size = \(size), modified_at = \(modifiedAt) WHERE id = \(id)", logger: logger) }
    }

    @discardableResult
    public func removeDocument(id: Int) async throws(KBError) -> Int {
        try await run { [self] in
            try await client.withTransaction(logger: logger) { connection in
                var ids: [Int] = []
                for try await chunk in try await connection.query("SELECT id FROM chunks WHERE document_id = \(id)", logger: logger).decode(Int.self) {
                    ids.append(chunk)
                }
                try await Self.deleteChunks(ids, connection, logger: logger)
                try await connection.query("DELETE FROM documents WHERE id = \(id)", logger: logger)
                return ids.count
            }
        }
    }

    public func passages(ids: [Int]) async throws(KBError) -> [Passage] {
        guard !ids.isEmpty else { return [] }
        return try await run { [self] in
            var byID: [Int: Passage] = [:]
            let rows = try await client.query("""
                SELECT c.id, c.document_id, d.path, d.title, c.heading, c.text, c.start_line, c.end_line, c.page, c.ordinal,
                       c.locator, c.ocr_confidence
                FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.id = ANY(\(ids)::bigint[])
                """, logger: logger)
            for try await (id, document, path, title, heading, text, start, end, page, ordinal, locator, ocr) in
                rows.decode((Int, Int, String, String?, String, String, Int, Int, Int?, Int, String?, Double?).self) {
                byID[id] = Passage(chunkID: id, documentID: document, path: path, title: title, heading: heading, text: text,
                                   startLine: start, endLine: end, page: page, ordinal: ordinal, locator: locator, ocrConfidence: ocr)
            }
            return ids.compactMap { byID[$0] }
        }
    }

    public func documentChunks(documentID: Int) async throws(KBError) -> [ChunkSpan] {
        try await run { [self] in
            var out: [ChunkSpan] = []
            let rows = try await client.query("""
                SELECT id, ordinal, heading, text, start_offset, end_offset, start_line, end_line, page, locator, ocr_confidence
                FROM chunks WHERE document_id = \(documentID) ORDER BY ordinal
                """, logger: logger)
            for try await (id, ordinal, heading, text, start, end, first, last, page, locator, ocr) in
                rows.decode((Int, Int, String, String, Int, Int, Int, Int, Int?, String?, Double?).self) {
                out.append(ChunkSpan(chunkID: id, ordinal: ordinal, heading: heading, text: text, startOffset: start, endOffset: end,
                                     startLine: first, endLine: last, page: page, locator: locator, ocrConfidence: ocr))
            }
            return out
        }
    }

    public func passageCount() async throws(KBError) -> Int {
        try await run { [self] in try await scalar("SELECT count(*) FROM chunks") }
    }

    func scalar(_ query: PostgresQuery) async throws -> Int {
        try await client.query(query, logger: logger).collect().first.map { try $0.decode(Int?.self) ?? 0 } ?? 0
    }

    // MARK: Ingest lease, runs, failures

    public func acquireIngestLease() async throws(KBError) -> any IngestLease {
        try await run { [self] in
            // A connection of its own holds a session advisory lock for as long as the lease lives. A lease just
            // released by another handle may take a moment to be given up on the server: try for a little while.
            let connection = try await Self.connect(configuration, database: configuration.database ?? "", logger: logger)
            let deadline = Date().addingTimeInterval(1.5)
            while true {
                let got = try await connection.query("SELECT pg_try_advisory_lock(7478765102)", logger: logger).collect().first?.decode(Bool.self) ?? false
                if got { return PostgresIngestLease(connection: connection) }
                if Date() > deadline { break }
                try await Task.sleep(nanoseconds: 50_000_000)
            }
            try? await connection.close()
            throw KBError(.ingestInProgress, "Another `kb ingest` is writing to \(location). Wait for it to finish, then run this one again.")
        }
    }

    public func beginIngestRun(roots: [String]) async throws(KBError) -> Int {
        let rootsJSON = (try? JSONEncoder().encode(roots)).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
        return try await run { [self] in
            try await client.withTransaction(logger: logger) { connection in
                try await connection.query("UPDATE ingest_runs SET status = 'interrupted' WHERE status = 'running'", logger: logger)
                return try await connection.query("""
                    INSERT INTO ingest_runs (started_at, status, roots) VALUES (\(Date().timeIntervalSince1970), 'running', \(rootsJSON)) RETURNING id
                    """, logger: logger).collect().first!.decode(Int.self)
            }
        }
    }

    public func finishIngestRun(id: Int, counts: IngestRunCounts, status: String) async throws(KBError) {
        try await run { [self] in
            try await client.query("""
                UPDATE ingest_runs SET finished_at = \(Date().timeIntervalSince1970), status = \(status), added = \(counts.added),
                    updated = \(counts.updated), unchanged = \(counts.unchanged), moved = \(counts.moved), removed = \(counts.removed),
                    skipped = \(counts.skipped), failed = \(counts.failed) WHERE id = \(id)
                """, logger: logger)
        }
    }

    public func recordFailure(path: String, reason: String, runID: Int) async throws(KBError) {
        try await run { [self] in
            try await client.query("""
                INSERT INTO ingest_failures (path, run_id, reason, failed_at) VALUES (\(path), \(runID), \(reason), \(Date().timeIntervalSince1970))
                ON CONFLICT (path) DO UPDATE SET run_id = excluded.run_id, reason = excluded.reason, failed_at = excluded.failed_at
                """, logger: logger)
        }
    }

    public func clearFailures(paths: [String]) async throws(KBError) {
        guard !paths.isEmpty else { return }
        try await run { [self] in try await client.query("DELETE FROM ingest_failures WHERE path = ANY(\(paths)::text[])", logger: logger) }
    }

    public func failures() async throws(KBError) -> [IngestFailure] {
        try await run { [self] in try await failureList() }
    }

    func failureList() async throws -> [IngestFailure] {
        var out: [IngestFailure] = []
        for try await (path, reason) in try await client.query("SELECT path, reason FROM ingest_failures ORDER BY path", logger: logger)
            .decode((String, String).self) {
            out.append(IngestFailure(path: path, error: reason))
        }
        return out
    }

    public func status() async throws(KBError) -> StatusReport {
        try await run { [self] in
            let documents = try await scalar("SELECT count(*) FROM documents")
            let chunks = try await scalar("SELECT count(*) FROM chunks")
            let version = try await scalar("SELECT max(version) FROM kb_schema")
            let bytes = try await scalar("SELECT pg_database_size(current_database())")
            var formats: [String: Int] = [:]
            for try await (format, count) in try await client.query("SELECT format, count(*) FROM documents GROUP BY format", logger: logger)
                .decode((String, Int).self) {
                formats[format] = count
            }
            var last: StatusReport.LastIngest?
            for try await (started, finished, status, added, updated, unchanged, removed, failed) in try await client.query("""
                SELECT started_at, finished_at, status, added, updated, unchanged, removed, failed FROM ingest_runs ORDER BY id DESC LIMIT 1
                """, logger: logger).decode((Double, Double?, String, Int, Int, Int, Int, Int).self) {
                last = StatusReport.LastIngest(startedAt: SQLiteStore.iso8601(started), finishedAt: finished.map(SQLiteStore.iso8601),
                                               status: status, added: added, updated: updated, unchanged: unchanged, removed: removed, failed: failed)
            }
            let embeddings = try await embeddingCoverageRows().reduce(0) { $0 + $1.vectors }
            return StatusReport(database: location, schemaVersion: version, documents: documents, chunks: chunks, embeddings: embeddings,
                                databaseBytes: bytes, formats: formats, lastIngest: last, failed: try await failureList())
        }
    }

    public func consistencyProblems() async throws(KBError) -> [String] {
        try await run { [self] in
            var problems: [String] = []
            let wrongCounts = try await scalar("""
                SELECT count(*) FROM documents d WHERE d.chunk_count <> (SELECT count(*) FROM chunks c WHERE c.document_id = d.id)
                """)
            if wrongCounts > 0 { problems.append("\(wrongCounts) documents whose chunk_count does not match their chunks") }
            let stats = try await client.query("""
                SELECT s.chunks, s.terms, (SELECT count(*) FROM chunks), (SELECT coalesce(sum(term_count), 0) FROM chunks)::bigint FROM corpus_stats s
                """, logger: logger).collect().first!.decode((Int, Int, Int, Int).self)
            if stats.0 != stats.2 || stats.1 != stats.3 {
                problems.append("corpus statistics (\(stats.0) chunks, \(stats.1) terms) differ from the chunks (\(stats.2), \(stats.3))")
            }
            let unposted = try await scalar("SELECT count(*) FROM chunks c WHERE c.term_count > 0 AND NOT EXISTS (SELECT 1 FROM postings p WHERE p.chunk_id = c.id)")
            if unposted > 0 { problems.append("\(unposted) chunks with terms but no postings") }
            let negative = try await scalar("SELECT count(*) FROM term_stats WHERE chunks < 0")
            if negative > 0 { problems.append("\(negative) terms with a negative chunk count") }
            return problems
        }
    }

    // MARK: Keyword search

    public func keywordSearch(_ query: KeywordQuery, limit: Int) async throws(KBError) -> [ScoredChunk] {
        guard limit > 0, !query.isEmpty else { return [] }
        return try await run { [self] in
            let letters = ["A", "B", "C"]
            let clauses = query.clauses
            let tsquery = clauses.map { clause in
                clause.map { "\(Self.quote($0.text)):\(letters[$0.field.rawValue])" }.joined(separator: " <-> ")
            }.joined(separator: " | ")
            let lexemes = Array(Set(clauses.joined().map(\.text)))
            if clauses.allSatisfy({ $0.count == 1 }) {
                return try await singleTermSearch(query, limit: limit)
            }
            // Phrases: candidates from the GIN index, with the positions and fields of the query's terms in each,
            // scored here (a phrase's frequency needs the positions).
            struct Candidate { var length: Int; var terms: [String: [(position: Int, field: Int)]] = [:] }
            var candidates: [Int: Candidate] = [:]
            let rows = try await client.query("""
                SELECT c.id, c.term_count, u.lexeme, u.positions, u.weights
                FROM chunks c, unnest(c.terms) u
                WHERE c.terms @@ \(tsquery)::tsquery AND u.lexeme = ANY(\(lexemes)::text[])
                """, logger: logger)
            for try await (id, length, lexeme, positions, weights) in rows.decode((Int, Int, String, [Int16], [String]).self) {
                var candidate = candidates[id] ?? Candidate(length: length)
                candidate.terms[lexeme] = zip(positions, weights).map { (Int($0), letters.firstIndex(of: $1) ?? 3) }
                candidates[id] = candidate
            }
            guard !candidates.isEmpty else { return [] }
            let (n, totalTerms) = try await client.query("SELECT chunks, terms FROM corpus_stats", logger: logger).collect().first!
                .decode((Int, Int).self)
            let frequencies = try await documentFrequencies(query.terms)
            let chunks = Double(n)
            let averageLength = Double(max(1, totalTerms)) / max(1, chunks)
            func idf(_ hits: Int) -> Double {
                let value = log((chunks - Double(hits) + 0.5) / (Double(hits) + 0.5))
                return value > 0 ? value : 1e-6
            }
            var scores: [Int: Double] = [:]
            func add(_ id: Int, _ candidate: Candidate, frequency: Double, idf: Double) {
                let share = BM25Index.k1 * (1 - BM25Index.b + BM25Index.b * Double(candidate.length) / averageLength)
                scores[id, default: 0] += idf * (frequency * (BM25Index.k1 + 1)) / (frequency + share)
            }
            for clause in clauses {
                let weight = clause[0].field.weight
                if clause.count == 1 {
                    let term = clause[0]
                    let termIDF = idf(frequencies[term] ?? 0)
                    for (id, candidate) in candidates {
                        let tf = candidate.terms[term.text]?.filter { $0.field == term.field.rawValue }.count ?? 0
                        if tf > 0 { add(id, candidate, frequency: weight * Double(tf), idf: termIDF) }
                    }
                } else {
                    // A phrase: occurrences of consecutive positions, counted per candidate; its IDF from the chunks that have it.
                    var matches: [(Int, Candidate, Int)] = []
                    for (id, candidate) in candidates {
                        let lists = clause.map { term in Set((candidate.terms[term.text] ?? []).filter { $0.field == term.field.rawValue }.map(\.position)) }
                        guard let first = lists.first, !first.isEmpty else { continue }
                        let count = first.filter { start in lists.indices.allSatisfy { lists[$0].contains(start + $0) } }.count
                        if count > 0 { matches.append((id, candidate, count)) }
                    }
                    let phraseIDF = idf(matches.count)
                    for (id, candidate, count) in matches { add(id, candidate, frequency: weight * Double(count), idf: phraseIDF) }
                }
            }
            return scores.map { ScoredChunk(chunkID: $0.key, score: $0.value) }
                .sorted { $0.score != $1.score ? $0.score > $1.score : $0.chunkID < $1.chunkID }
                .prefix(limit).map { $0 }
        }
    }

    /// BM25 computed by the server from the posting lists of the query's terms, for a query of single terms (every
    /// English query; Chinese ones without a run of three characters): only the best `limit` chunks come back. The
    /// same formula and statistics as the phrase path and the SQLite store.
    func singleTermSearch(_ query: KeywordQuery, limit: Int) async throws -> [ScoredChunk] {
        let (n, totalTerms) = try await client.query("SELECT chunks, terms FROM corpus_stats", logger: logger).collect().first!
            .decode((Int, Int).self)
        let frequencies = try await documentFrequencies(query.terms)
        let chunks = Double(n)
        let averageLength = Double(max(1, totalTerms)) / max(1, chunks)
        var multiplicity: [KeywordQuery.Term: Int] = [:]
        for clause in query.clauses { multiplicity[clause[0], default: 0] += 1 }
        let terms = query.terms
        let idfs = terms.map { term -> Double in
            let hits = Double(frequencies[term] ?? 0)
            let value = log((chunks - hits + 0.5) / (hits + 0.5))
            return value > 0 ? value : 1e-6
        }
        var binds = PostgresBindings()
        binds.append(terms.map { Int16($0.field.rawValue) })
        binds.append(terms.map(\.text))
        binds.append(idfs)
        binds.append(terms.map(\.field.weight))
        binds.append(terms.map { Double(multiplicity[$0] ?? 1) })
        binds.append(BM25Index.k1)
        binds.append(BM25Index.b)
        binds.append(averageLength)
        binds.append(limit)
        let rows = try await client.query(PostgresQuery(unsafeSQL: """
            SELECT p.chunk_id, sum(q.m * q.idf * (q.w * p.tf * ($6 + 1)) / (q.w * p.tf + $6 * (1 - $7 + $7 * p.length / $8)))::float8 AS score
            FROM unnest($1::smallint[], $2::text[], $3::float8[], $4::float8[], $5::float8[]) AS q(field, term, idf, w, m)
            JOIN postings p ON p.field = q.field AND p.term = q.term
            GROUP BY p.chunk_id ORDER BY score DESC, p.chunk_id LIMIT $9
            """, binds: binds), logger: logger)
        var out: [ScoredChunk] = []
        for try await (id, score) in rows.decode((Int, Double).self) { out.append(ScoredChunk(chunkID: id, score: score)) }
        return out
    }

    func documentFrequencies(_ terms: [KeywordQuery.Term]) async throws -> [KeywordQuery.Term: Int] {
        guard !terms.isEmpty else { return [:] }
        let fields = terms.map { Int16($0.field.rawValue) }, texts = terms.map(\.text)
        var out: [KeywordQuery.Term: Int] = [:]
        for term in terms { out[term] = 0 }
        let rows = try await client.query("""
            SELECT t.field, t.term, t.chunks FROM term_stats t JOIN unnest(\(fields)::smallint[], \(texts)::text[]) AS q(f, w)
            ON t.field = q.f AND t.term = q.w
            """, logger: logger)
        for try await (field, text, chunks) in rows.decode((Int16, String, Int).self) {
            if let field = KeywordQuery.Field(rawValue: Int(field)) { out[KeywordQuery.Term(field, text)] = chunks }
        }
        return out
    }

    public func termStatistics(_ terms: [KeywordQuery.Term]) async throws(KBError) -> TermStatistics {
        try await run { [self] in
            let chunks = try await scalar("SELECT chunks FROM corpus_stats")
            return TermStatistics(passages: chunks, documentFrequencies: try await documentFrequencies(terms))
        }
    }

    // MARK: Vectors

    /// The vector table of a model (nil when it has none yet).
    func table(_ model: String) async throws -> (id: Int, dimension: Int)? {
        if let known = models[model] { return known }
        let row = try await client.query("SELECT id, dimension FROM embedding_models WHERE model = \(model)", logger: logger).collect().first
        guard let row else { return nil }
        let found = try row.decode((Int, Int).self)
        models[model] = (found.0, found.1)
        return (found.0, found.1)
    }

    public func chunksMissingEmbeddings(model: String, afterID: Int, limit: Int) async throws(KBError) -> [PendingChunk] {
        try await run { [self] in
            let sql: String
            if let table = try await table(model) {
                sql = """
                    SELECT c.id, c.heading, c.text FROM chunks c
                    WHERE c.id > $1 AND NOT EXISTS (SELECT 1 FROM vectors_\(table.id) v WHERE v.chunk_id = c.id) ORDER BY c.id LIMIT $2
                    """
            } else {
                sql = "SELECT c.id, c.heading, c.text FROM chunks c WHERE c.id > $1 ORDER BY c.id LIMIT $2"
            }
            var binds = PostgresBindings()
            binds.append(afterID)
            binds.append(limit)
            var out: [PendingChunk] = []
            for try await (id, heading, text) in try await client.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger)
                .decode((Int, String, String).self) {
                out.append(PendingChunk(id: id, heading: heading, text: text))
            }
            return out
        }
    }

    public func saveEmbeddings(model: String, _ vectors: [(chunkID: Int, vector: [Float])]) async throws(KBError) {
        guard let dimension = vectors.first?.vector.count else { return }
        try await run { [self] in
            var table = try await table(model)
            if table == nil {
                try await client.withTransaction(logger: logger) { connection in
                    try await connection.query("SELECT pg_advisory_xact_lock(7478765103)", logger: logger)
                    let id = try await connection.query("""
                        INSERT INTO embedding_models (model, dimension) VALUES (\(model), \(dimension))
                        ON CONFLICT (model) DO UPDATE SET model = excluded.model RETURNING id
                        """, logger: logger).collect().first!.decode(Int.self)
                    try await connection.query(PostgresQuery(unsafeSQL: """
                        CREATE TABLE IF NOT EXISTS vectors_\(id) (
                            chunk_id   bigint PRIMARY KEY REFERENCES chunks (id) ON DELETE CASCADE,
                            embedding  vector(\(dimension)) NOT NULL,
                            created_at double precision NOT NULL)
                        """), logger: logger)
                    try await connection.query(PostgresQuery(unsafeSQL: """
                        CREATE INDEX IF NOT EXISTS vectors_\(id)_hnsw ON vectors_\(id) USING hnsw (embedding vector_cosine_ops)
                        """), logger: logger)
                }
                table = try await self.table(model)
            }
            guard let table else { throw KBError(.database, "The vector table of \(model) could not be created.") }
            if table.dimension != dimension {
                throw KBError(.model, "The database holds \(table.dimension)-dimensional vectors for \(model), but the model now gives \(dimension). Use another model name, or remove the old vectors.")
            }
            var binds = PostgresBindings()
            binds.append(vectors.map(\.chunkID))
            binds.append(vectors.map { Self.literal($0.vector) })
            binds.append(Date().timeIntervalSince1970)
            // Chunks deleted since they were read (a concurrent re-ingest) are skipped.
            try await client.query(PostgresQuery(unsafeSQL: """
                WITH written AS (
                    INSERT INTO vectors_\(table.id) (chunk_id, embedding, created_at)
                    SELECT u.id, u.v::vector, $3 FROM unnest($1::bigint[], $2::text[]) AS u(id, v) WHERE EXISTS (SELECT 1 FROM chunks c WHERE c.id = u.id)
                    ON CONFLICT (chunk_id) DO UPDATE SET embedding = excluded.embedding, created_at = excluded.created_at
                    RETURNING 1)
                UPDATE corpus_stats SET version = version + 1 WHERE EXISTS (SELECT 1 FROM written)
                """, binds: binds), logger: logger)
        }
    }

    /// A vector in pgvector's text form.
    static func literal(_ vector: [Float]) -> String {
        "[" + vector.map { String($0) }.joined(separator: ",") + "]"
    }

    static func parseVector(_ text: String) -> [Float] {
        text.trimmingCharacters(in: CharacterSet(charactersIn: "[]")).split(separator: ",").compactMap { Float($0) }
    }

    func embeddingCoverageRows() async throws -> [EmbeddingCoverage] {
        var models: [(String, Int, Int)] = []
        for try await (model, id, dimension) in try await client.query("SELECT model, id, dimension FROM embedding_models ORDER BY model", logger: logger)
            .decode((String, Int, Int).self) {
            models.append((model, id, dimension))
        }
        var out: [EmbeddingCoverage] = []
        for (model, id, dimension) in models {
            let row = try await client.query(PostgresQuery(unsafeSQL: "SELECT count(*), coalesce(max(created_at), 0) FROM vectors_\(id)"), logger: logger)
                .collect().first!.decode((Int, Double).self)
            if row.0 > 0 { out.append(EmbeddingCoverage(model: model, dimension: dimension, vectors: row.0, updatedAt: row.1)) }
        }
        return out
    }

    public func embeddingCoverage() async throws(KBError) -> [EmbeddingCoverage] {
        try await run { [self] in try await embeddingCoverageRows() }
    }

    public func searchCoverage() async throws(KBError) -> SearchCoverage {
        try await run { [self] in
            // Recounted only when a change was committed since the last count (by this process or another).
            let (chunks, version) = try await client.query("SELECT chunks, version FROM corpus_stats", logger: logger).collect().first!
                .decode((Int, Int).self)
            if let cached = coverage.value(at: version) { return cached }
            let counted = SearchCoverage(chunks: chunks, models: try await embeddingCoverageRows().map { .init(model: $0.model, vectors: $0.vectors) })
            coverage.store(counted, at: version)
            return counted
        }
    }

    public func nearestChunks(model: String, to query: [Float], limit: Int) async throws(KBError) -> [ScoredChunk] {
        guard limit > 0 else { return [] }
        return try await run { [self] in
            guard let table = try await table(model), table.dimension == query.count else { return [] }
            return try await client.withTransaction(logger: logger) { connection in
                // Enough candidates for the limit (recall@10 measured in README, "Benchmarks > PostgreSQL"), and
                // filtered scans that keep going until they have them.
                try await connection.query(PostgresQuery(unsafeSQL: "SET LOCAL hnsw.ef_search = \(Self.efSearch(limit: limit))"), logger: logger)
                try await connection.query("SET LOCAL hnsw.iterative_scan = relaxed_order", logger: logger)
                var binds = PostgresBindings()
                binds.append(Self.literal(query))
                binds.append(limit)
                var out: [ScoredChunk] = []
                for try await (id, score) in try await connection.query(PostgresQuery(unsafeSQL: """
                    SELECT chunk_id, 1 - (embedding <=> $1::vector) FROM vectors_\(table.id) ORDER BY embedding <=> $1::vector LIMIT $2
                    """, binds: binds), logger: logger).decode((Int, Double).self) {
                    out.append(ScoredChunk(chunkID: id, score: score))
                }
                // relaxed_order may return neighbours slightly out of order; fusion ranks them, so sort.
                return out.sorted { $0.score != $1.score ? $0.score > $1.score : $0.chunkID < $1.chunkID }
            }
        }
    }

    /// `hnsw.ef_search` for a search of `limit` neighbours: 20 candidates per neighbour asked for, at least 400
    /// (pgvector's default is 40) and at most 1000, so the hybrid retriever's 50 get 1000. On the crowded synthetic
    /// 100k set of `scripts/bench-postgres.sh` recall@10 was 0.57 at 40, 0.70 at 100, 0.90 at 400, 0.975 at 1000,
    /// for about 5 ms more per search than at 100.
    static func efSearch(limit: Int) -> Int { max(400, min(1000, limit * 20)) }

    public func storedVectors(model: String, chunkIDs: [Int]) async throws(KBError) -> [Int: [Float]] {
        guard !chunkIDs.isEmpty else { return [:] }
        return try await run { [self] in
            guard let table = try await table(model) else { return [:] }
            var binds = PostgresBindings()
            binds.append(chunkIDs)
            var out: [Int: [Float]] = [:]
            for try await (id, text) in try await client.query(PostgresQuery(unsafeSQL: """
                SELECT chunk_id, embedding::text FROM vectors_\(table.id) WHERE chunk_id = ANY($1::bigint[])
                """, binds: binds), logger: logger).decode((Int, String).self) {
                out[id] = Self.parseVector(text)
            }
            return out
        }
    }

    // MARK: Conversations and feedback

    public func createConversation(title: String, user: String?) async throws(KBError) -> String {
        let id = "c_" + randomHex(8)
        let now = Date().timeIntervalSince1970
        try await run { [self] in
            try await client.query("""
                INSERT INTO conversations (id, title, created_at, updated_at, user_name) VALUES (\(id), \(String(title.prefix(80))), \(now), \(now), \(user))
                """, logger: logger)
        }
        return id
    }

    public func conversations(limit: Int, user: String?) async throws(KBError) -> [ConversationSummary] {
        try await run { [self] in
            var out: [ConversationSummary] = []
            for try await (id, title, created, updated, turns, owner) in try await client.query("""
                SELECT c.id, c.title, c.created_at, c.updated_at, (SELECT count(*) FROM answers a WHERE a.conversation_id = c.id), c.user_name
                FROM conversations c WHERE \(user)::text IS NULL OR c.user_name = \(user)
                ORDER BY c.updated_at DESC, c.id LIMIT \(max(0, limit))
                """, logger: logger).decode((String, String, Double, Double, Int, String?).self) {
                out.append(ConversationSummary(id: id, title: title, createdAt: created, updatedAt: updated, turns: turns, user: owner))
            }
            return out
        }
    }

    static let answerColumns = """
        SELECT id, conversation_id, turn, question, standalone_question, language, answer, abstained, generator, model,
               citations::text, passages::text, quality::text, created_at, attempts::text FROM answers
        """

    func answers(_ query: PostgresQuery) async throws -> [AnswerRecord] {
        let rows = try await client.query(query, logger: logger)
        var out: [AnswerRecord] = []
        let decoder = JSONDecoder()
        func decode<T: Decodable>(_ type: T.Type, _ text: String, _ fallback: T) -> T {
            (try? decoder.decode(type, from: Data(text.utf8))) ?? fallback
        }
        for try await row in rows {
            let (id, conversation, turn, question, standalone, language, answer, abstained, generator, model, citations, passages, quality, created,
                 attempts) = try row.decode((String, String, Int, String, String, String, String, Bool, String, String?, String, String, String, Double,
                                             String).self)
            out.append(AnswerRecord(
                id: id, conversationID: conversation, turn: turn, question: question, standaloneQuestion: standalone, language: language,
                answer: answer, abstained: abstained, generator: generator, model: model,
                citations: decode([AnswerRecord.Source].self, citations, []), passages: decode([AnswerRecord.Source].self, passages, []),
                quality: decode(QualityScores.self, quality, QualityScores(groundedness: 0, citationAccuracy: nil, retrievalConfidence: 0, relevance: 0)),
                createdAt: created, attempts: decode([AnswerAttempt].self, attempts, [])))
        }
        return out
    }

    public func conversation(id: String) async throws(KBError) -> Conversation? {
        try await run { [self] in
            guard let row = try await client.query("SELECT id, title, created_at, updated_at, user_name FROM conversations WHERE id = \(id)", logger: logger)
                .collect().first else { return nil }
            let (cid, title, created, updated, owner) = try row.decode((String, String, Double, Double, String?).self)
            let turns = try await answers(PostgresQuery(unsafeSQL: Self.answerColumns + " WHERE conversation_id = $1 ORDER BY turn",
                                                        binds: { var b = PostgresBindings(); b.append(id); return b }()))
            return Conversation(id: cid, title: title, createdAt: created, updatedAt: updated, turns: turns, user: owner)
        }
    }

    @discardableResult
    public func saveAnswer(_ answer: AnswerRecord) async throws(KBError) -> Int {
        let (citations, passages, quality, attempts) = answer.jsonColumns
        return try await run { [self] in
            try await client.withTransaction(logger: logger) { connection in
                // Turns of one conversation are numbered one at a time.
                guard try await connection.query("SELECT id FROM conversations WHERE id = \(answer.conversationID) FOR UPDATE", logger: logger)
                    .collect().count == 1 else {
                    throw KBError(.invalidArgument, "There is no conversation \(answer.conversationID); start one without --conversation.")
                }
                let turn = (try await connection.query("SELECT max(turn) FROM answers WHERE conversation_id = \(answer.conversationID)", logger: logger)
                    .collect().first?.decode(Int?.self) ?? 0) + 1
                try await connection.query("""
                    INSERT INTO answers (id, conversation_id, turn, question, standalone_question, language, answer, abstained,
                                         generator, model, citations, passages, quality, created_at, attempts)
                    VALUES (\(answer.id), \(answer.conversationID), \(turn), \(answer.question), \(answer.standaloneQuestion), \(answer.language),
                            \(answer.answer), \(answer.abstained), \(answer.generator), \(answer.model), \(citations)::jsonb, \(passages)::jsonb,
                            \(quality)::jsonb, \(answer.createdAt), \(attempts)::jsonb)
                    """, logger: logger)
                try await connection.query("UPDATE conversations SET updated_at = \(answer.createdAt) WHERE id = \(answer.conversationID)", logger: logger)
                return turn
            }
        }
    }

    public func saveFeedback(answerID: String, rating: Int, comment: String?, user: String?) async throws(KBError) {
        guard rating == 1 || rating == -1 else { throw KBError(.invalidArgument, "A rating is up (+1) or down (−1).") }
        try await run { [self] in
            guard try await scalar("SELECT count(*) FROM answers WHERE id = \(answerID)") == 1 else {
                throw KBError(.invalidArgument, "There is no answer \(answerID) in this knowledge base; answer ids are printed by `kb ask` (--json: answer_id).")
            }
            let text = comment.flatMap { $0.isEmpty ? nil : $0 }
            try await client.query("""
                INSERT INTO feedback (answer_id, rating, comment, created_at, user_name)
                VALUES (\(answerID), \(Int16(rating)), \(text), \(Date().timeIntervalSince1970), \(user))
                """, logger: logger)
        }
    }

    public func feedbackReport(worst limit: Int) async throws(KBError) -> FeedbackReport {
        try await run { [self] in
            let answers = try await scalar("SELECT count(*) FROM answers")
            let totals = try await client.query("""
                SELECT count(DISTINCT answer_id), count(*) FILTER (WHERE rating = 1), count(*) FILTER (WHERE rating = -1) FROM feedback
                """, logger: logger).collect().first!.decode((Int, Int, Int).self)
            var days: [FeedbackReport.Day] = []
            for try await (day, up, down) in try await client.query("""
                SELECT to_char(to_timestamp(created_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day,
                       count(*) FILTER (WHERE rating = 1), count(*) FILTER (WHERE rating = -1)
                FROM feedback GROUP BY day ORDER BY day
                """, logger: logger).decode((String, Int, Int).self) {
                days.append(FeedbackReport.Day(date: day, up: up, down: down))
            }
            var worst: [FeedbackReport.RatedAnswer] = []
            var rated: [(String, Int, Int, [String])] = []
            for try await (id, up, down, comments) in try await client.query("""
                SELECT answer_id, count(*) FILTER (WHERE rating = 1), count(*) FILTER (WHERE rating = -1),
                       coalesce(array_agg(comment ORDER BY id) FILTER (WHERE comment IS NOT NULL), '{}')
                FROM feedback GROUP BY answer_id HAVING count(*) FILTER (WHERE rating = -1) > 0
                ORDER BY sum(rating) ASC, count(*) FILTER (WHERE rating = -1) DESC, max(created_at) DESC LIMIT \(max(0, limit))
                """, logger: logger).decode((String, Int, Int, [String]).self) {
                rated.append((id, up, down, comments))
            }
            for (id, up, down, comments) in rated {
                var binds = PostgresBindings()
                binds.append(id)
                guard let answer = try await self.answers(PostgresQuery(unsafeSQL: Self.answerColumns + " WHERE id = $1", binds: binds)).first else { continue }
                worst.append(FeedbackReport.RatedAnswer(answer: answer, up: up, down: down, comments: comments))
            }
            return FeedbackReport(answers: answers, rated: totals.0, up: totals.1, down: totals.2, days: days, worst: worst)
        }
    }

    /// Drops a database (for tests and benchmarks that make scratch databases). The URL names the database.
    public static func dropDatabase(_ url: String) async throws(KBError) {
        let parsed = try parse(url)
        do {
            let admin = try await connect(parsed.configuration, database: "postgres", logger: Logger(label: "kb.postgres"))
            defer { Task { try? await admin.close() } }
            try await admin.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(quoteIdentifier(parsed.database)) WITH (FORCE)"),
                                  logger: Logger(label: "kb.postgres"))
        } catch {
            throw KBError(.database, "Could not drop \(parsed.display): \(String(reflecting: error))")
        }
    }
}

/// Chunks as columns, for one multi-row statement (`unnest` of arrays); a missing page or OCR confidence is -1, a
/// missing locator "".
struct ChunkColumns {
    var ordinals: [Int] = [], hashes: [String] = [], headings: [String] = [], texts: [String] = []
    var startOffsets: [Int] = [], endOffsets: [Int] = [], startLines: [Int] = [], endLines: [Int] = [], pages: [Int] = []
    var tokens: [Int] = [], terms: [String] = [], termCounts: [Int] = []
    var locators: [String] = [], ocrConfidences: [Double] = []

    mutating func append(_ chunk: PreparedChunk) {
        let d = chunk.draft
        ordinals.append(d.ordinal); hashes.append(d.contentHash); headings.append(d.heading); texts.append(d.text)
        startOffsets.append(d.range.lowerBound); endOffsets.append(d.range.upperBound)
        startLines.append(d.startLine); endLines.append(d.endLine); pages.append(d.page ?? -1)
        locators.append(d.locator ?? ""); ocrConfidences.append(d.ocrConfidence ?? -1)
        tokens.append(d.tokenCount); terms.append(PostgresStore.tsvector(chunk.terms)); termCounts.append(chunk.terms.length)
    }
}

/// An ingest lease: a session advisory lock on a connection of its own, given up when the lease goes.
final class PostgresIngestLease: IngestLease, @unchecked Sendable {
    let connection: PostgresConnection
    init(connection: PostgresConnection) { self.connection = connection }
    deinit {
        let connection = self.connection
        Task { try? await connection.close() }
    }
}

/// Whether the database is ready: prepared once; a failed preparation (the server down, the knowledge base not
/// created yet) is tried again by the next call rather than remembered.
actor Readiness {
    private let prepare: @Sendable () async throws -> Void
    private var done = false
    private var running: Task<Void, any Error>?

    init(_ prepare: @escaping @Sendable () async throws -> Void) { self.prepare = prepare }

    func wait() async throws {
        if done { return }
        let task = running ?? Task { try await prepare() }
        running = task
        do {
            try await task.value
            done = true
        } catch {
            running = nil
            throw error
        }
    }
}

/// Model name → vector table, shared by a store's calls.
final class ModelTables: @unchecked Sendable {
    private let lock = NSLock()
    private var tables: [String: (id: Int, dimension: Int)] = [:]
    subscript(model: String) -> (id: Int, dimension: Int)? {
        get { lock.withLock { tables[model] } }
        set { lock.withLock { tables[model] = newValue } }
    }
}

/// A value remembered with the change version it belongs to.
final class VersionedValue<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: (version: Int, value: Value)?
    func value(at version: Int) -> Value? { lock.withLock { stored?.version == version ? stored?.value : nil } }
    func store(_ value: Value, at version: Int) { lock.withLock { stored = (version, value) } }
}

/// The store's connection pool and the task running it, replaced after an outage.
final class PoolBox: @unchecked Sendable {
    private let lock = NSLock()
    private var current: (client: PostgresClient, runner: Task<Void, Never>)
    private var down = false

    init(client: PostgresClient, runner: Task<Void, Never>) { current = (client, runner) }

    var client: PostgresClient { lock.withLock { current.client } }
    var runner: Task<Void, Never> { lock.withLock { current.runner } }
    /// A request found the server gone.
    var outage: Bool { lock.withLock { down } }
    func markOutage() { lock.withLock { down = true } }

    /// Puts a fresh pool in place (once per outage, whoever gets here first) and stops the old one.
    func replace(client: PostgresClient, runner: Task<Void, Never>) {
        let old: Task<Void, Never>? = lock.withLock {
            guard down else { return nil }
            down = false
            let previous = current.runner
            current = (client, runner)
            return previous
        }
        if let old { old.cancel() } else { runner.cancel() }   // someone else replaced it: drop ours
    }
}

/// The first of several outcomes, awaited once.
final class Race<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Result<T, any Error>?
    private var waiter: CheckedContinuation<T, any Error>?

    func finish(_ outcome: Result<T, any Error>) {
        let resume: CheckedContinuation<T, any Error>? = lock.withLock {
            guard result == nil else { return nil }
            result = outcome
            defer { waiter = nil }
            return waiter
        }
        resume?.resume(with: outcome)
    }

    func value() async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let ready: Result<T, any Error>? = lock.withLock {
                if let result { return result }
                waiter = continuation
                return nil
            }
            if let ready { continuation.resume(with: ready) }
        }
    }
}
