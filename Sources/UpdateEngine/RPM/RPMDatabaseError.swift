/// Why an RPM package database could not be read.
public struct RPMDatabaseError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What went wrong, stable for programs to match on.
    public enum Code: String, Sendable {
        /// The file is not a database of a known format (bad magic).
        case notADatabase
        /// A format or format variant this reader does not handle (BDB btree, unknown version).
        case unsupported
        /// The file ends before the data it announces.
        case truncated
        /// Inconsistent structure: an offset or count out of range, a bad checksum, a page cycle.
        case corrupt
        /// One package header blob is damaged.
        case corruptHeader
        /// The file is larger than the configured limit.
        case tooLarge
        /// The file could not be read or copied.
        case io
        /// SQLite refused the database.
        case sqlite
    }

    public var code: Code
    /// The database file (a path inside the machine, or on the host), or a name given by the caller.
    public var database: String
    /// The record (BDB key, NDB package index, SQLite `hnum`) when the problem is in one record.
    public var record: UInt32?
    /// What was wrong, as the end of a sentence.
    public var detail: String

    public init(_ code: Code, database: String, record: UInt32? = nil, detail: String) {
        self.code = code
        self.database = database
        self.record = record
        self.detail = detail
    }

    public var description: String {
        if let record { return "RPM database \(database), record \(record): \(detail)." }
        return "RPM database \(database): \(detail)."
    }
}

/// Bounds-checked reads of fixed-size integers in untrusted bytes. Each returns nil when
/// the value does not lie wholly inside the buffer, so no read ever traps.
struct RPMBytes {
    let bytes: [UInt8]

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var count: Int { bytes.count }

    /// The big-endian `UInt32` at `offset`, or nil when out of range.
    func be32(_ offset: Int) -> UInt32? {
        guard offset >= 0, offset <= bytes.count - 4 else { return nil }
        return UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16
            | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
    }

    /// The little-endian `UInt32` at `offset`, or nil when out of range.
    func le32(_ offset: Int) -> UInt32? {
        guard offset >= 0, offset <= bytes.count - 4 else { return nil }
        return UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8
            | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
    }

    /// The `UInt32` at `offset` in the given byte order, or nil when out of range.
    func u32(_ offset: Int, bigEndian: Bool) -> UInt32? {
        bigEndian ? be32(offset) : le32(offset)
    }

    /// The `UInt16` at `offset` in the given byte order, or nil when out of range.
    func u16(_ offset: Int, bigEndian: Bool) -> UInt16? {
        guard offset >= 0, offset <= bytes.count - 2 else { return nil }
        let a = UInt16(bytes[offset]), b = UInt16(bytes[offset + 1])
        return bigEndian ? a << 8 | b : b << 8 | a
    }

    /// The byte at `offset`, or nil when out of range.
    func u8(_ offset: Int) -> UInt8? {
        offset >= 0 && offset < bytes.count ? bytes[offset] : nil
    }
}
