internal import CSQLite

/// Why an SQLite database could not be opened or read.
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
/// Not `Sendable`: use a connection from one task or thread at a time.
/// The corresponding SQLite calls are `sqlite3_open_v2` and `sqlite3_close_v2`.
public final class SQLiteConnection {
    /// The database file this connection reads.
    public let path: String
    let handle: OpaquePointer

    /// Opens `path` read-only (`SQLITE_OPEN_READONLY`); never creates or writes it.
    ///
    /// With `immutable: true` SQLite is told, through the URI `file:PATH?immutable=1`, that nobody
    /// changes the file while it is open: no locks, no journal or WAL lookups. Use it for copies
    /// and images. The file may be untrusted; SQLite reports a damaged one as an error.
    public init(readOnlyAt path: String, immutable: Bool = false) throws(SQLiteError) {
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

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
