import CSQLite
import Foundation

/// A value bound to or read from an SQLite statement.
enum SQLValue: Sendable, Equatable {
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob(Data)
    case null

    var int: Int? { if case .integer(let v) = self { return Int(v) }; if case .real(let v) = self { return Int(v) }; return nil }
    var double: Double? { if case .real(let v) = self { return v }; if case .integer(let v) = self { return Double(v) }; return nil }
    var string: String? { if case .text(let v) = self { return v }; return nil }
}

protocol SQLBindable { var sqlValue: SQLValue { get } }
extension Int: SQLBindable { var sqlValue: SQLValue { .integer(Int64(self)) } }
extension Int64: SQLBindable { var sqlValue: SQLValue { .integer(self) } }
extension Double: SQLBindable { var sqlValue: SQLValue { .real(self) } }
extension String: SQLBindable { var sqlValue: SQLValue { .text(self) } }
extension Data: SQLBindable { var sqlValue: SQLValue { .blob(self) } }
extension Optional: SQLBindable where Wrapped: SQLBindable { var sqlValue: SQLValue { self?.sqlValue ?? .null } }

/// One result row, read by column index.
struct SQLRow: Sendable {
    var values: [SQLValue]
    subscript(_ index: Int) -> SQLValue { values[index] }
    func int(_ index: Int) -> Int { values[index].int ?? 0 }
    func double(_ index: Int) -> Double { values[index].double ?? 0 }
    func string(_ index: Int) -> String { values[index].string ?? "" }
    func optionalString(_ index: Int) -> String? { values[index].string }
    func optionalInt(_ index: Int) -> Int? { values[index].int }
    func optionalDouble(_ index: Int) -> Double? { values[index].double }
}

/// A single SQLite connection. Not thread-safe: its owner serialises access.
final class SQLiteConnection {
    let path: String
    private(set) var handle: OpaquePointer?
    private var statements: [String: OpaquePointer] = [:]

    /// Opens (and with `create`, creates) the database file.
    init(path: String, create: Bool, readOnly: Bool = false) throws(KBError) {
        self.path = path
        // One thread at a time uses a connection (its owner sees to it), so SQLite's own mutexes are not needed.
        var flags = SQLITE_OPEN_NOMUTEX
        flags |= readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE
        if create && !readOnly { flags |= SQLITE_OPEN_CREATE }
        var db: OpaquePointer?
        let status = sqlite3_open_v2(path, &db, flags, nil)
        handle = db
        if status != SQLITE_OK {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(db)
            handle = nil
            throw KBError(.cannotOpenDatabase, "Cannot open the database \(path): \(message). Check the path and its permissions, or choose another with --db.")
        }
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, 5000)
    }

    deinit { close() }

    func close() {
        for (_, statement) in statements { sqlite3_finalize(statement) }
        statements.removeAll()
        if let handle { sqlite3_close_v2(handle) }
        handle = nil
    }

    /// Runs one or more statements without results.
    func execute(_ sql: String) throws(KBError) {
        var error: UnsafeMutablePointer<CChar>?
        let status = sqlite3_exec(handle, sql, nil, nil, &error)
        if status != SQLITE_OK {
            let message = error.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(handle))
            sqlite3_free(error)
            throw mapError(status, message)
        }
    }

    /// Runs a statement with arguments; returns all rows.
    @discardableResult
    func query(_ sql: String, _ arguments: [any SQLBindable] = []) throws(KBError) -> [SQLRow] {
        var rows: [SQLRow] = []
        try forEachRow(sql, arguments) { rows.append($0) }
        return rows
    }

    /// Runs a statement and calls `body` for each row.
    func forEachRow(_ sql: String, _ arguments: [any SQLBindable] = [], _ body: (SQLRow) throws(KBError) -> Void) throws(KBError) {
        let statement = try prepared(sql)
        defer { sqlite3_reset(statement); sqlite3_clear_bindings(statement) }
        for (index, argument) in arguments.enumerated() { try bind(statement, Int32(index + 1), argument.sqlValue) }
        while true {
            let status = sqlite3_step(statement)
            if status == SQLITE_DONE { break }
            guard status == SQLITE_ROW else { throw mapError(status, String(cString: sqlite3_errmsg(handle))) }
            let columns = sqlite3_column_count(statement)
            var values: [SQLValue] = []
            values.reserveCapacity(Int(columns))
            for column in 0..<columns { values.append(readColumn(statement, column)) }
            try body(SQLRow(values: values))
        }
    }

    /// Runs a statement expected to return one value in one row.
    func scalar(_ sql: String, _ arguments: [any SQLBindable] = []) throws(KBError) -> SQLValue {
        try query(sql, arguments).first?.values.first ?? .null
    }

    /// Runs `body` in an immediate (write) transaction; rolls back if it throws.
    func transaction<T>(_ body: () throws(KBError) -> T) throws(KBError) -> T {
        try inTransaction("BEGIN IMMEDIATE", body)
    }

    /// Runs `body` in a deferred (read) transaction: every statement in it sees one snapshot of the database.
    func readTransaction<T>(_ body: () throws(KBError) -> T) throws(KBError) -> T {
        try inTransaction("BEGIN", body)
    }

    private func inTransaction<T>(_ begin: String, _ body: () throws(KBError) -> T) throws(KBError) -> T {
        try execute(begin)
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    var lastInsertRowID: Int { Int(sqlite3_last_insert_rowid(handle)) }
    var changes: Int { Int(sqlite3_changes(handle)) }

    private func prepared(_ sql: String) throws(KBError) -> OpaquePointer {
        if let statement = statements[sql] { return statement }
        var statement: OpaquePointer?
        let status = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard status == SQLITE_OK, let statement else {
            throw mapError(status, String(cString: sqlite3_errmsg(handle)))
        }
        statements[sql] = statement
        return statement
    }

    private func bind(_ statement: OpaquePointer, _ index: Int32, _ value: SQLValue) throws(KBError) {
        let status: Int32
        switch value {
        case .integer(let v): status = sqlite3_bind_int64(statement, index, v)
        case .real(let v): status = sqlite3_bind_double(statement, index, v)
        case .text(let v): status = kb_sqlite3_bind_text_transient(statement, index, v, -1)
        case .blob(let v):
            status = v.withUnsafeBytes { kb_sqlite3_bind_blob_transient(statement, index, $0.baseAddress, Int32($0.count)) }
        case .null: status = sqlite3_bind_null(statement, index)
        }
        if status != SQLITE_OK { throw mapError(status, String(cString: sqlite3_errmsg(handle))) }
    }

    private func readColumn(_ statement: OpaquePointer, _ column: Int32) -> SQLValue {
        switch sqlite3_column_type(statement, column) {
        case SQLITE_INTEGER: return .integer(sqlite3_column_int64(statement, column))
        case SQLITE_FLOAT: return .real(sqlite3_column_double(statement, column))
        case SQLITE_TEXT:
            guard let text = sqlite3_column_text(statement, column) else { return .text("") }
            return .text(String(cString: text))
        case SQLITE_BLOB:
            let count = Int(sqlite3_column_bytes(statement, column))
            guard count > 0, let bytes = sqlite3_column_blob(statement, column) else { return .blob(Data()) }
            return .blob(Data(bytes: bytes, count: count))
        default: return .null
        }
    }

    /// Maps an SQLite status to a ``KBError`` with advice.
    func mapError(_ status: Int32, _ message: String) -> KBError {
        switch status & 0xFF {
        case SQLITE_BUSY, SQLITE_LOCKED:
            return KBError(.databaseLocked, "The database \(path) is locked by another process (\(message)). Wait for it to finish and try again.")
        case SQLITE_NOTADB:
            return KBError(.notAKnowledgeBase, "\(path) is not a kb database (it is not an SQLite file). Point --db or KB_DB at a kb database, or at a new path.")
        case SQLITE_CORRUPT:
            return KBError(.databaseCorrupt, "The database \(path) is damaged (\(message)). Move it aside and run `kb ingest` again to rebuild it.")
        case SQLITE_FULL:
            return KBError(.io, "The disk holding \(path) is full. Free some space and run the command again; nothing was lost.")
        case SQLITE_READONLY, SQLITE_CANTOPEN, SQLITE_PERM:
            return KBError(.cannotOpenDatabase, "Cannot write to the database \(path) (\(message)). Check its permissions, or choose another with --db.")
        case SQLITE_IOERR:
            return KBError(.io, "Input/output error on the database \(path): \(message).")
        default:
            return KBError(.database, "Database error on \(path): \(message).")
        }
    }
}
