internal import CSQLite

/// Why an SQLite database could not be opened, read or written.
public struct SQLiteError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The SQLite result code (`SQLITE_CANTOPEN`, `SQLITE_CORRUPT`, `SQLITE_NOTADB`, …).
    public var resultCode: Int32
    /// The database file.
    public var path: String
    /// SQLite's own message (`sqlite3_errmsg`), or ours when SQLite gave none.
    public var message: String
    /// The statement being prepared or stepped, if any.
    public var sql: String?

    public init(resultCode: Int32, path: String, message: String, sql: String? = nil) {
        self.resultCode = resultCode
        self.path = path
        self.message = message
        self.sql = sql
    }

    public var description: String {
        var s = "SQLite database \(path): \(message) (code \(resultCode))"
        if let sql { s += " in `\(sql)`" }
        return s + "."
    }
}

/// One open SQLite database connection; closes it when released.
///
/// Not `Sendable`, and opened with `SQLITE_OPEN_NOMUTEX`: use a connection from one task or thread at a
/// time — in practice, one connection per actor (``SQLiteUpdateStore`` owns one and runs it on its own
/// serial queue). Several connections, in one process or several, may share a database file: SQLite's
/// file locks and the busy timeout serialise their writes.
/// The corresponding SQLite calls are `sqlite3_open_v2` and `sqlite3_close_v2`.
public final class SQLiteConnection {
    /// The database file this connection reads (and, when opened read-write, writes).
    public let path: String
    let handle: OpaquePointer

    /// How hard SQLite works to make a commit survive a power loss (`PRAGMA synchronous`).
    public enum Synchronous: String, Sendable {
        /// With WAL: commits are atomic and the database stays consistent after a crash of the process or
        /// the machine; a power loss may roll back the last commits (they are in the OS's cache, not yet
        /// synced). A killed process loses nothing it committed. SQLite's recommended setting for WAL.
        case normal = "NORMAL"
        /// Also syncs the WAL on every commit: a commit survives a power loss, at one fsync per transaction.
        case full = "FULL"
    }

    /// Opens `path` read-write, creating it (and nothing else: the directory must exist) if needed.
    ///
    /// The connection is set up for a store many processes may share: `journal_mode=WAL` (readers never
    /// block the writer), `synchronous` as given, `foreign_keys=ON`, a busy timeout so that a second
    /// writer waits for the first instead of failing at once, a 64 MiB page cache and 256 MiB of mmap.
    ///
    /// `synchronous` defaults to ``Synchronous/normal``: with WAL that keeps the store consistent
    /// after any crash and keeps every commit of a killed process; what it gives up is the last commits
    /// on power loss, and everything the store holds (imports, caches, results) can be recomputed.
    public init(path: String, synchronous: Synchronous = .normal, busyTimeout: Duration = .seconds(10)) throws(SQLiteError) {
        self.path = path
        var db: OpaquePointer?
        let rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
            if let db { sqlite3_close_v2(db) }
            throw SQLiteError(resultCode: rc, path: path, message: message)
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
        let (seconds, attoseconds) = busyTimeout.components
        sqlite3_busy_timeout(db, Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000))
        let mode = try scalarText("PRAGMA journal_mode=WAL")
        guard mode?.lowercased() == "wal" else {
            throw SQLiteError(resultCode: SQLITE_ERROR, path: path,
                              message: "cannot switch to WAL journal mode (it stays \(mode ?? "unknown"))",
                              sql: "PRAGMA journal_mode=WAL")
        }
        // A larger page cache than SQLite's 2 MiB default, and reads through mmap: a store of 1,000
        // machines is ~60 MB, and re-reading its pages through pread dominated imports.
        try execute("""
            PRAGMA synchronous=\(synchronous.rawValue); PRAGMA foreign_keys=ON;
            PRAGMA cache_size=-65536; PRAGMA mmap_size=268435456; PRAGMA temp_store=MEMORY
            """)
    }

    /// Opens `path` read-only (`SQLITE_OPEN_READONLY`); never creates or writes it.
    ///
    /// With `immutable: true` SQLite is told, through the URI `file:PATH?immutable=1`, that nobody
    /// changes the file while it is open: no locks, no journal or WAL lookups. Use it for copies
    /// and images. The file may be untrusted; SQLite reports a damaged one as an error.
    ///
    /// With `untrusted: true` (a database from a guest image) the connection also runs none of the
    /// file's own SQL: `SQLITE_DBCONFIG_DEFENSIVE` on, triggers and views disabled
    /// (`SQLITE_DBCONFIG_ENABLE_TRIGGER`/`_VIEW` off), `trusted_schema=OFF` (schema expressions may only
    /// call innocuous functions), extension loading off, `query_only` and `cell_size_check` on.
    public init(readOnlyAt path: String, immutable: Bool = false, untrusted: Bool = false) throws(SQLiteError) {
        self.path = path
        var db: OpaquePointer?
        var flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX
        let name: String
        if immutable {
            flags |= SQLITE_OPEN_URI
            name = "file:" + Self.uriEscaped(path) + "?immutable=1"
        } else {
            name = path
        }
        let rc = sqlite3_open_v2(name, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
            if let db { sqlite3_close_v2(db) }
            throw SQLiteError(resultCode: rc, path: path, message: message)
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
        if untrusted {
            let settings: [(Int32, Int32, String)] = [
                (SQLITE_DBCONFIG_DEFENSIVE, 1, "SQLITE_DBCONFIG_DEFENSIVE"),
                (SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, "SQLITE_DBCONFIG_TRUSTED_SCHEMA"),
                (SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, "SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION"),
                (SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, "SQLITE_DBCONFIG_ENABLE_TRIGGER"),
                (SQLITE_DBCONFIG_ENABLE_VIEW, 0, "SQLITE_DBCONFIG_ENABLE_VIEW"),
            ]
            for (op, value, name) in settings {
                var now: Int32 = -1
                let rc = csqlite_db_config_bool(db, op, value, &now)
                guard rc == SQLITE_OK, now == value else {
                    throw SQLiteError(resultCode: rc == SQLITE_OK ? SQLITE_ERROR : rc, path: path,
                                      message: "cannot set \(name) to \(value) (this SQLite leaves it at \(now))")
                }
            }
            try execute("PRAGMA trusted_schema=OFF; PRAGMA query_only=ON; PRAGMA cell_size_check=ON")
        }
    }

    deinit {
        sqlite3_close_v2(handle)
    }

    /// Prepares one SQL statement. The corresponding SQLite call is `sqlite3_prepare_v2`.
    public func prepare(_ sql: String) throws(SQLiteError) -> SQLiteStatement {
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v2(handle, sql, -1, &stmt, nil)
        guard rc == SQLITE_OK, let stmt else {
            throw error(rc, sql: sql)
        }
        return SQLiteStatement(connection: self, handle: stmt, sql: sql)
    }

    /// Runs one or more SQL statements that return no rows of interest (DDL, pragmas, `DELETE …`).
    /// The corresponding SQLite call is `sqlite3_exec`.
    public func execute(_ sql: String) throws(SQLiteError) {
        var message: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &message)
        guard rc == SQLITE_OK else {
            let text = message.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_free(message)
            throw SQLiteError(resultCode: rc, path: path, message: text, sql: sql)
        }
    }

    /// Prepares `sql`, binds `values` to its parameters `?1…`, and steps it to the end.
    /// Returns the number of rows it changed (`sqlite3_changes64`).
    @discardableResult
    public func run(_ sql: String, _ values: [SQLiteValue] = []) throws(SQLiteError) -> Int {
        let stmt = try prepare(sql)
        try stmt.bind(values)
        while try stmt.step() {}
        return Int(sqlite3_changes64(handle))
    }

    /// The first column of the first row of `sql`, as text; nil when there is no row or it is NULL.
    public func scalarText(_ sql: String, _ values: [SQLiteValue] = []) throws(SQLiteError) -> String? {
        let stmt = try prepare(sql)
        try stmt.bind(values)
        return try stmt.step() ? stmt.text(0) : nil
    }

    /// The first column of the first row of `sql`, as an integer; nil when there is no row or it is NULL.
    public func scalarInt(_ sql: String, _ values: [SQLiteValue] = []) throws(SQLiteError) -> Int64? {
        let stmt = try prepare(sql)
        try stmt.bind(values)
        return try stmt.step() && !stmt.isNull(0) ? stmt.int(0) : nil
    }

    /// The row id of the last successful `INSERT` on this connection (`sqlite3_last_insert_rowid`).
    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// Runs `body` in a write transaction: `BEGIN IMMEDIATE` (takes the write lock at once, waiting up to
    /// the busy timeout), `COMMIT` when `body` returns, `ROLLBACK` when it throws (the error is rethrown).
    ///
    /// A process killed inside `body` leaves the database as it was before `BEGIN`. Transactions do
    /// not nest: calling this inside `body` fails with SQLite's "cannot start a transaction within a
    /// transaction".
    @discardableResult
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        let value: T
        do {
            value = try body()
        } catch {
            if sqlite3_get_autocommit(handle) == 0 { try? execute("ROLLBACK") }
            throw error
        }
        do {
            try execute("COMMIT")
        } catch {
            if sqlite3_get_autocommit(handle) == 0 { try? execute("ROLLBACK") }
            throw error
        }
        return value
    }

    /// Whether the database has a table with this name.
    public func hasTable(_ name: String) throws(SQLiteError) -> Bool {
        let stmt = try prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1")
        try stmt.bind(text: name, at: 1)
        return try stmt.step()
    }

    /// The typed error for result code `rc`, with SQLite's current message.
    func error(_ rc: Int32, sql: String?) -> SQLiteError {
        SQLiteError(resultCode: rc, path: path, message: String(cString: sqlite3_errmsg(handle)), sql: sql)
    }

    /// Percent-escapes the characters that would end or change a `file:` URI path.
    static func uriEscaped(_ path: String) -> String {
        var out = ""
        for byte in path.utf8 {
            switch byte {
            case UInt8(ascii: "%"), UInt8(ascii: "?"), UInt8(ascii: "#"), 0..<0x20, 0x7f...:
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            default:
                out.unicodeScalars.append(Unicode.Scalar(byte))
            }
        }
        return out
    }
}

/// One prepared statement of a ``SQLiteConnection``; finalized when released.
public final class SQLiteStatement {
    /// The connection; kept alive as long as the statement is.
    public let connection: SQLiteConnection
    /// The SQL text, for messages.
    public let sql: String
    let handle: OpaquePointer

    init(connection: SQLiteConnection, handle: OpaquePointer, sql: String) {
        self.connection = connection
        self.handle = handle
        self.sql = sql
    }

    deinit {
        sqlite3_finalize(handle)
    }

    /// Binds a text parameter (1-based). The corresponding SQLite call is `sqlite3_bind_text`.
    public func bind(text: String, at index: Int32) throws(SQLiteError) {
        let rc = sqlite3_bind_text(handle, index, text, -1, csqlite_transient())
        guard rc == SQLITE_OK else { throw connection.error(rc, sql: sql) }
    }

    /// Binds an integer parameter (1-based). The corresponding SQLite call is `sqlite3_bind_int64`.
    public func bind(int: Int64, at index: Int32) throws(SQLiteError) {
        let rc = sqlite3_bind_int64(handle, index, int)
        guard rc == SQLITE_OK else { throw connection.error(rc, sql: sql) }
    }

    /// Binds a floating-point parameter (1-based). The corresponding SQLite call is `sqlite3_bind_double`.
    public func bind(double: Double, at index: Int32) throws(SQLiteError) {
        let rc = sqlite3_bind_double(handle, index, double)
        guard rc == SQLITE_OK else { throw connection.error(rc, sql: sql) }
    }

    /// Binds a blob parameter (1-based); SQLite copies the bytes. The corresponding SQLite call is
    /// `sqlite3_bind_blob64`.
    public func bind(blob: [UInt8], at index: Int32) throws(SQLiteError) {
        let rc = blob.withUnsafeBytes { buffer in
            // A zero-length blob needs a non-NULL pointer, or SQLite binds NULL.
            sqlite3_bind_blob64(handle, index, buffer.baseAddress ?? UnsafeRawPointer(bitPattern: 1),
                                sqlite3_uint64(buffer.count), csqlite_transient())
        }
        guard rc == SQLITE_OK else { throw connection.error(rc, sql: sql) }
    }

    /// Binds NULL (1-based). The corresponding SQLite call is `sqlite3_bind_null`.
    public func bindNull(at index: Int32) throws(SQLiteError) {
        let rc = sqlite3_bind_null(handle, index)
        guard rc == SQLITE_OK else { throw connection.error(rc, sql: sql) }
    }

    /// Binds one value (1-based).
    public func bind(_ value: SQLiteValue, at index: Int32) throws(SQLiteError) {
        switch value {
        case .null: try bindNull(at: index)
        case .int(let v): try bind(int: v, at: index)
        case .double(let v): try bind(double: v, at: index)
        case .text(let v): try bind(text: v, at: index)
        case .blob(let v): try bind(blob: v, at: index)
        }
    }

    /// Rewinds the statement and binds `values` to parameters `?1`, `?2`, … in order.
    public func bind(_ values: [SQLiteValue]) throws(SQLiteError) {
        reset()
        sqlite3_clear_bindings(handle)
        for (i, value) in values.enumerated() {
            try bind(value, at: Int32(i + 1))
        }
    }

    /// Rewinds, binds `values` and steps to the end: for `INSERT`, `UPDATE` and `DELETE` run many times.
    public func run(_ values: [SQLiteValue]) throws(SQLiteError) {
        try bind(values)
        while try step() {}
    }

    /// Advances to the next row: true when there is one, false when done.
    /// The corresponding SQLite call is `sqlite3_step`.
    public func step() throws(SQLiteError) -> Bool {
        let rc = sqlite3_step(handle)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw connection.error(rc, sql: sql)
        }
    }

    /// Rewinds the statement to run it again. The corresponding SQLite call is `sqlite3_reset`.
    public func reset() {
        sqlite3_reset(handle)
    }

    /// Whether column `index` (0-based) of the current row is NULL.
    public func isNull(_ index: Int32) -> Bool {
        sqlite3_column_type(handle, index) == SQLITE_NULL
    }

    /// Column `index` (0-based) of the current row as an integer (NULL reads as 0).
    public func int(_ index: Int32) -> Int64 {
        sqlite3_column_int64(handle, index)
    }

    /// Column `index` (0-based) of the current row as an integer, or nil when NULL.
    public func optionalInt(_ index: Int32) -> Int64? {
        isNull(index) ? nil : int(index)
    }

    /// Column `index` (0-based) of the current row as a double (NULL reads as 0).
    public func double(_ index: Int32) -> Double {
        sqlite3_column_double(handle, index)
    }

    /// Column `index` (0-based) of the current row as text, or nil when NULL.
    public func text(_ index: Int32) -> String? {
        guard let p = sqlite3_column_text(handle, index) else { return nil }
        let n = Int(sqlite3_column_bytes(handle, index))
        return String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self)
    }

    /// Column `index` (0-based) of the current row as bytes (NULL and empty read as `[]`).
    public func blob(_ index: Int32) -> [UInt8] {
        let p = sqlite3_column_blob(handle, index)
        let n = Int(sqlite3_column_bytes(handle, index))
        guard let p, n > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: p, count: n))
    }
}

/// A value bound to a statement parameter.
public enum SQLiteValue: Sendable, Hashable {
    case null
    case int(Int64)
    case double(Double)
    case text(String)
    case blob([UInt8])

    /// Text, or NULL for nil.
    public static func nullable(_ value: String?) -> SQLiteValue { value.map { .text($0) } ?? .null }
    /// An integer, or NULL for nil.
    public static func nullable(_ value: Int?) -> SQLiteValue { value.map { .int(Int64($0)) } ?? .null }
    /// A double, or NULL for nil.
    public static func nullable(_ value: Double?) -> SQLiteValue { value.map { .double($0) } ?? .null }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
