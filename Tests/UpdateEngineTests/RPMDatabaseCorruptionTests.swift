import Foundation
import Testing
@testable import UpdateEngine

/// Damaged databases end in a typed error, in bounded time, never a crash or a hang.
@Suite("RPM damaged databases give typed errors")
struct RPMDatabaseCorruptionTests {
    static let dive = RPMDatabaseFixture(file: "bdb/syft-dive-single/Packages", format: .berkeleyDB, goldens: [])
    static let sles = RPMDatabaseFixture(file: "ndb/snyk-sles15-3pkgs/Packages.db", format: .ndb, goldens: [])

    /// Writes a little-endian `UInt32` into `bytes` at `offset`.
    static func poke(_ bytes: inout [UInt8], _ offset: Int, _ value: UInt32) {
        for i in 0..<4 { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * i)) }
    }

    /// The offset of the first page of `type` that links to a next page, in a little-endian 4 KiB-page BDB fixture.
    static func firstPage(ofType type: UInt8, in bytes: [UInt8], pageSize: Int) -> Int? {
        stride(from: pageSize, to: bytes.count, by: pageSize).first { bytes[$0 + 25] == type && bytes[($0 + 16)..<($0 + 20)] != [0, 0, 0, 0] }
    }

    /// An SQLite rpm database built from the misc fixture's header blobs; `schema` creates its tables and
    /// `insert` is the statement that stores one `(?1 hnum, ?2 blob)`.
    static func guestSQLite(schema: String, insert: String) throws -> (bytes: [UInt8], count: Int) {
        let records = try RPMSQLiteDB.records(atPath: Fixtures.url("rpmdb/sqlite/rpm-testsuite-misc/rpmdb.sqlite").path)
        let dir = NSTemporaryDirectory() + "imgsec-guestdb-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/rpmdb.sqlite"
        do {
            let db = try SQLiteConnection(path: path)
            try db.execute(schema)
            for (hnum, blob) in records { try db.run(insert, [.int(Int64(hnum)), .blob(blob)]) }
            _ = try db.scalarText("PRAGMA journal_mode=DELETE")
        }
        return ([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))), records.count)
    }

    @Test("RPM SQLite database with triggers and views calling functions still reads its packages")
    func sqliteTriggersAndViewsAreNotRun() throws {
        let (bytes, count) = try Self.guestSQLite(schema: """
            CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL);
            CREATE TRIGGER t AFTER UPDATE ON Packages BEGIN SELECT load_extension('/nonexistent/evil.so'); END;
            CREATE VIEW v AS SELECT load_extension('/nonexistent/evil.so') AS x, randomblob(16) AS y;
            """, insert: "INSERT INTO Packages(hnum, blob) VALUES (?1, ?2)")
        #expect(count > 0)
        let headers = try RPMDatabase.readSQLite(bytes, wal: nil, database: "guest:/var/lib/rpm/rpmdb.sqlite")
        #expect(headers.count == count)
    }

    @Test("RPM SQLite database whose Packages blob is computed by guest SQL is refused, not evaluated", arguments: [
        "CREATE TABLE raw (hnum INTEGER PRIMARY KEY, data BLOB); CREATE VIEW Packages AS SELECT hnum, data AS blob FROM raw",
        "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, data BLOB, blob BLOB GENERATED ALWAYS AS (substr(data, 1)) VIRTUAL)",
        "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, data BLOB, blob BLOB AS (coalesce(data, x'')) STORED)",
    ])
    func sqliteComputedPackagesAreRefused(_ schema: String) throws {
        let insert = schema.contains("CREATE TABLE raw") ? "INSERT INTO raw(hnum, data) VALUES (?1, ?2)"
                                                          : "INSERT INTO Packages(hnum, data) VALUES (?1, ?2)"
        let (bytes, _) = try Self.guestSQLite(schema: schema, insert: insert)
        do {
            let headers = try RPMDatabase.readSQLite(bytes, wal: nil, database: "guest:/var/lib/rpm/rpmdb.sqlite")
            Issue.record("guest SQL computed \(headers.count) package headers")
        } catch {
            #expect(error.code == .notADatabase || error.code == .unsupported)
            #expect(error.database == "guest:/var/lib/rpm/rpmdb.sqlite")
            #expect(error.description.contains("Packages"))
        }
    }

    @Test("RPM truncated Berkeley DB is a truncated-file error")
    func truncatedBDB() throws {
        let bytes = try Self.dive.bytes()
        let error = #expect(throws: RPMDatabaseError.self) {
            try RPMBerkeleyDB.readHeaders(Array(bytes.prefix(bytes.count - 100)), database: "Packages")
        }
        #expect(error?.code == .truncated)
        #expect(error?.database == "Packages")
    }

    @Test("RPM database cut at any length never crashes", arguments: [
        "bdb/syft-dive-single/Packages", "ndb/snyk-sles15-3pkgs/Packages.db",
    ])
    func cutAnywhere(_ file: String) throws {
        let bytes = try RPMDatabaseFixture(file: file, format: .berkeleyDB, goldens: []).bytes()
        let format = try #require(RPMDatabase.sniff(bytes))
        for length in stride(from: 0, to: bytes.count, by: 97) {
            #expect(throws: RPMDatabaseError.self) {
                try RPMDatabase.readHeaders(Array(bytes.prefix(length)), format: format, database: file)
            }
        }
    }

    @Test("RPM Berkeley DB with a page cycle is a corrupt-database error")
    func bdbPageCycle() throws {
        var bytes = try RPMDatabaseFixture(file: "bdb/libuuid-el8/Packages", format: .berkeleyDB, goldens: []).bytes()
        let pageSize = 4096
        // Point an overflow page's next-page link back at itself.
        let page = try #require(Self.firstPage(ofType: 7, in: bytes, pageSize: pageSize))
        Self.poke(&bytes, page + 16, UInt32(page / pageSize))
        var error = #expect(throws: RPMDatabaseError.self) { try RPMBerkeleyDB.readHeaders(bytes, database: "Packages") }
        #expect(error?.code == .corrupt)

        // And a bucket's hash page whose next-page link is itself.
        bytes = try Self.dive.bytes()
        let hash = try #require(stride(from: pageSize, to: bytes.count, by: pageSize).first { bytes[$0 + 25] == 13 })
        Self.poke(&bytes, hash + 16, UInt32(hash / pageSize))
        error = #expect(throws: RPMDatabaseError.self) { try RPMBerkeleyDB.readHeaders(bytes, database: "Packages") }
        #expect(error?.code == .corrupt)
        #expect(error?.detail.contains("cycle") == true)
    }

    @Test("RPM header blob with an out-of-range offset is a corrupt-header error naming the record")
    func headerOffsetOutOfRange() throws {
        let (record, blob) = try #require(try RPMBerkeleyDB.records(Self.dive.bytes(), database: "Packages").first)
        var bad = blob
        // Entry 1 (after the region tag): offset far past the data store.
        for (i, b) in [UInt8(0x7f), 0xff, 0xff, 0xf0].enumerated() { bad[8 + 16 + 8 + i] = b }
        let error = #expect(throws: RPMDatabaseError.self) { try RPMHeader.parse(bad, record: record, database: "Packages") }
        #expect(error?.code == .corruptHeader)
        #expect(error?.record == record)
        #expect(error?.description.contains("Packages, record \(record)") == true)

        // An index count larger than the blob, and an empty blob.
        var huge = blob
        for i in 0..<4 { huge[i] = 0x00 }
        huge[2] = 0xff
        #expect(throws: RPMDatabaseError.self) { try RPMHeader.parse(huge, record: record, database: "Packages") }
        #expect(throws: RPMDatabaseError.self) { try RPMHeader.parse([], record: record, database: "Packages") }
    }

    @Test("RPM NDB with a bogus slot is a corrupt-database error naming the package index")
    func ndbBogusSlot() throws {
        var bytes = try Self.sles.bytes()
        // Slot 2 is the first real slot (the header takes slots 0 and 1): send it past the file's end.
        let slot = 2 * 16
        let pkg = UInt32(bytes[slot + 4]) | UInt32(bytes[slot + 5]) << 8
        Self.poke(&bytes, slot + 8, 0x00ff_ffff)
        let error = #expect(throws: RPMDatabaseError.self) { try RPMNDB.readHeaders(bytes, database: "Packages.db") }
        #expect(error?.code == .corrupt)
        #expect(error?.record == pkg)

        // A slot without its magic, and a blob whose checksum no longer matches.
        bytes = try Self.sles.bytes()
        bytes[slot] = 0
        #expect(throws: RPMDatabaseError.self) { try RPMNDB.readHeaders(bytes, database: "Packages.db") }
        bytes = try Self.sles.bytes()
        let blockOffset = Int(UInt32(bytes[slot + 8]) | UInt32(bytes[slot + 9]) << 8 | UInt32(bytes[slot + 10]) << 16)
        bytes[blockOffset * 16 + 100] ^= 0xff
        let checksum = #expect(throws: RPMDatabaseError.self) { try RPMNDB.readHeaders(bytes, database: "Packages.db") }
        #expect(checksum?.detail.contains("checksum") == true)
    }

    @Test("RPM databases with random damage never crash or hang", arguments: [
        "bdb/syft-dive-single/Packages", "bdb/libuuid-el8/Packages", "ndb/snyk-sles15-3pkgs/Packages.db",
        "sqlite/rpm-testsuite-misc/rpmdb.sqlite",
    ])
    func randomDamage(_ file: String) throws {
        let original = try RPMDatabaseFixture(file: file, format: .berkeleyDB, goldens: []).bytes()
        let format = try #require(RPMDatabase.sniff(original))
        var state: UInt64 = 42
        func next() -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(truncatingIfNeeded: state >> 33)
        }
        let rounds = format == .sqlite ? 40 : 400
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            for _ in 0..<rounds {
                var bytes = original
                for _ in 0..<(1 + next() % 8) { bytes[next() % bytes.count] = UInt8(truncatingIfNeeded: next()) }
                // Either a result or a typed error: both are fine, a trap is not.
                _ = try? RPMDatabase.readHeaders(bytes, format: format, database: file)
            }
        }
        #expect(elapsed < .seconds(60))
    }
}
