#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The on-disk formats of rpm's package database.
public enum RPMDatabaseFormat: String, Sendable, Hashable, CaseIterable {
    /// SQLite `rpmdb.sqlite` (rpm ≥ 4.16).
    case sqlite
    /// rpm's own "ndb" `Packages.db` (SUSE).
    case ndb
    /// Berkeley DB hash `Packages` (rpm ≤ 4.15).
    case berkeleyDB

    /// The file name rpm gives a database of this format.
    public var fileName: String {
        switch self {
        case .sqlite: "rpmdb.sqlite"
        case .ndb: "Packages.db"
        case .berkeleyDB: "Packages"
        }
    }
}

/// The packages read from one machine's rpm database, and where they came from.
public struct RPMDatabaseContents: Sendable {
    /// The database's format.
    public var format: RPMDatabaseFormat
    /// The database file, as a path inside the machine.
    public var path: String
    /// Every header in the database, `gpg-pubkey` entries included, in database order.
    public var headers: [RPMPackageHeader]

    public init(format: RPMDatabaseFormat, path: String, headers: [RPMPackageHeader]) {
        self.format = format
        self.path = path
        self.headers = headers
    }

    /// The installed packages: every header except `gpg-pubkey` entries.
    public var packages: [InstalledPackage] { headers.compactMap(\.installedPackage) }
}

/// Finds and reads the rpm package database of a machine.
public enum RPMDatabase {
    /// Directories where rpm keeps its database, in the order they are searched.
    public static let directories = ["/usr/lib/sysimage/rpm", "/var/lib/rpm", "/usr/share/rpm"]

    /// The default largest database file read: 1 GiB.
    public static let defaultSizeLimit = 1 << 30

    /// Tells a database's format from its first bytes (16 are enough), or nil when none matches.
    public static func sniff(_ prefix: some Collection<UInt8>) -> RPMDatabaseFormat? {
        let head = Array(prefix.prefix(16))
        if head.count >= 16 && head == Array("SQLite format 3\0".utf8) { return .sqlite }
        let bytes = RPMBytes(head)
        if bytes.le32(0) == RPMNDB.headerMagic { return .ndb }
        if let le = bytes.le32(12), let be = bytes.be32(12),
           [RPMBerkeleyDB.hashMagic, RPMBerkeleyDB.btreeMagic].contains(le) || [RPMBerkeleyDB.hashMagic, RPMBerkeleyDB.btreeMagic].contains(be) {
            return .berkeleyDB
        }
        return nil
    }

    /// Finds and reads the rpm database of `machine`; nil when it has none.
    ///
    /// Searches ``directories`` for `rpmdb.sqlite` first, then `Packages.db`, then `Packages`: a
    /// newer format present means the database was converted and the older file is a leftover.
    /// The file's content decides the format actually parsed. An SQLite database is copied to a
    /// private temporary file (with its `-wal` file, when there is one) and removed afterwards.
    /// Blocks while reading; the database is untrusted input.
    public static func read(from machine: some MachineFiles, sizeLimit: Int = defaultSizeLimit) throws(RPMDatabaseError) -> RPMDatabaseContents? {
        for format in RPMDatabaseFormat.allCases {
            for directory in directories {
                let path = directory + "/" + format.fileName
                guard let bytes = try readFile(machine, path, sizeLimit: sizeLimit) else { continue }
                let database = "\(machine.displayName):\(path)"
                guard let actual = sniff(bytes) else {
                    if bytes.isEmpty { continue }  // an empty placeholder file, as `rpm --initdb` leaves
                    throw RPMDatabaseError(.notADatabase, database: database, detail: "is not an SQLite, NDB or Berkeley DB file")
                }
                let headers: [RPMPackageHeader]
                if actual == .sqlite {
                    let wal = try readFile(machine, path + "-wal", sizeLimit: sizeLimit)
                    headers = try readSQLite(bytes, wal: wal, database: database)
                } else {
                    headers = try readHeaders(bytes, format: actual, database: database)
                }
                return RPMDatabaseContents(format: actual, path: path, headers: headers)
            }
        }
        return nil
    }

    /// Reads the headers of a BDB or NDB database held in memory.
    ///
    /// For SQLite use ``RPMSQLiteDB/readHeaders(atPath:immutable:database:)`` or
    /// ``readSQLite(_:wal:database:)``.
    public static func readHeaders(_ bytes: [UInt8], format: RPMDatabaseFormat, database: String) throws(RPMDatabaseError) -> [RPMPackageHeader] {
        switch format {
        case .berkeleyDB: return try RPMBerkeleyDB.readHeaders(bytes, database: database)
        case .ndb: return try RPMNDB.readHeaders(bytes, database: database)
        case .sqlite: return try readSQLite(bytes, wal: nil, database: database)
        }
    }

    /// Reads an SQLite rpm database held in memory by writing it to a private temporary directory.
    public static func readSQLite(_ bytes: [UInt8], wal: [UInt8]?, database: String) throws(RPMDatabaseError) -> [RPMPackageHeader] {
        let dir = try TemporaryDirectory(database: database)
        defer { dir.remove() }
        let path = dir.path + "/rpmdb.sqlite"
        try dir.write(bytes, to: path)
        let hasWAL = !(wal ?? []).isEmpty
        if let wal, hasWAL { try dir.write(wal, to: path + "-wal") }
        return try RPMSQLiteDB.readHeaders(atPath: path, immutable: !hasWAL, database: database)
    }

    /// Reads one machine file, turning machine errors into database errors.
    static func readFile(_ machine: some MachineFiles, _ path: String, sizeLimit: Int) throws(RPMDatabaseError) -> [UInt8]? {
        do {
            return try machine.read(path, limit: sizeLimit)
        } catch let e as MachineFilesError {
            throw RPMDatabaseError(e.code == .tooLarge ? .tooLarge : .io, database: "\(machine.displayName):\(path)", detail: e.detail)
        } catch {
            throw RPMDatabaseError(.io, database: "\(machine.displayName):\(path)", detail: "cannot be read: \(error)")
        }
    }
}

/// A private (mode 0700) directory under `$TMPDIR` (or `/tmp`) holding copies of database files.
struct TemporaryDirectory {
    let path: String
    let database: String

    init(database: String) throws(RPMDatabaseError) {
        self.database = database
        var base = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        if base.isEmpty { base = "/tmp" }
        var template = Array((base + "/imgsec-rpmdb-XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer -> Bool in
            guard let p = buffer.baseAddress else { return false }
            return mkdtemp(p) != nil
        }
        guard made else {
            throw RPMDatabaseError(.io, database: database, detail: "cannot create a temporary directory in \(base): \(String(cString: strerror(errno)))")
        }
        path = String(decoding: template.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Writes `bytes` to a new file `path` inside the directory (mode 0600).
    func write(_ bytes: [UInt8], to path: String) throws(RPMDatabaseError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw RPMDatabaseError(.io, database: database, detail: "cannot create temporary copy \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { raw in
                Glibc.write(fd, raw.baseAddress.map { $0 + written }, bytes.count - written)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw RPMDatabaseError(.io, database: database, detail: "cannot write temporary copy \(path): \(String(cString: strerror(errno)))")
            }
            written += n
        }
    }

    /// Removes the directory and everything SQLite or we put in it.
    func remove() {
        if let dir = opendir(path) {
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
                }
                if name != "." && name != ".." { unlink(path + "/" + name) }
            }
            closedir(dir)
        }
        rmdir(path)
    }
}
