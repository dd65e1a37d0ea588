import CSQLite

/// A minimal handle on one SQLite database file, used only by the storage writer thread and at start-up.
///
/// Not thread-safe: the owner serialises access. Every failing call throws `SQLiteError` with SQLite's message.
final class SQLiteDatabase {
    private var handle: OpaquePointer?

    /// Opens (creating if needed) the database at `path`.
    init(path: String) throws(SQLiteError) {
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &handle, flags, nil)
        guard rc == SQLITE_OK else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close(handle)
            throw SQLiteError(message: "\(path): \(message)")
        }
    }

    deinit {
        sqlite3_close_v2(handle)
    }

    /// Runs one or more statements that return no rows.
    func execute(_ sql: String) throws(SQLiteError) {
        var error: UnsafeMutablePointer<CChar>?
        if sqlite3_exec(handle, sql, nil, nil, &error) != SQLITE_OK {
            let message = error.map { String(cString: $0) } ?? "unknown error"
            sqlite3_free(error)
            throw SQLiteError(message: message)
        }
    }

    /// Compiles a statement for repeated use.
    func prepare(_ sql: String) throws(SQLiteError) -> Statement {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
            throw SQLiteError(message: String(cString: sqlite3_errmsg(handle)))
        }
        return Statement(statement: statement, db: handle)
    }

    /// A compiled statement; bind with 1-based indexes, then `step`.
    final class Statement {
        private let statement: OpaquePointer
        private let db: OpaquePointer?

        fileprivate init(statement: OpaquePointer, db: OpaquePointer?) {
            self.statement = statement
            self.db = db
        }

        deinit { sqlite3_finalize(statement) }

        func bind(_ index: Int32, _ value: Int64) {
            sqlite3_bind_int64(statement, index, value)
        }

        func bind(_ index: Int32, _ value: String) {
            let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
            sqlite3_bind_text(statement, index, value, -1, transient)
        }

        func bind(_ index: Int32, _ value: [UInt8]) {
            let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
            _ = value.withUnsafeBytes {
                sqlite3_bind_blob(statement, index, $0.baseAddress, Int32($0.count), transient)
            }
        }

        /// Advances; `true` when a row is available.
        func step() throws(SQLiteError) -> Bool {
            switch sqlite3_step(statement) {
            case SQLITE_ROW: return true
            case SQLITE_DONE: return false
            default: throw SQLiteError(message: String(cString: sqlite3_errmsg(db)))
            }
        }

        /// Resets for another execution and clears bindings.
        func reset() {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }

        func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(statement, column) }

        func text(_ column: Int32) -> String {
            guard let p = sqlite3_column_text(statement, column) else { return "" }
            return String(cString: p)
        }

        func blob(_ column: Int32) -> [UInt8] {
            let count = Int(sqlite3_column_bytes(statement, column))
            guard count > 0, let p = sqlite3_column_blob(statement, column) else { return [] }
            return Array(UnsafeRawBufferPointer(start: p, count: count))
        }
    }
}

/// A failed SQLite call and SQLite's own message.
struct SQLiteError: Error, CustomStringConvertible {
    var message: String
    var description: String { "sqlite: \(message)" }
}
