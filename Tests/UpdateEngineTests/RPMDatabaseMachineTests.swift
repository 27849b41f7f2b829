import Foundation
import Testing
@testable import UpdateEngine

@Suite("RPM database is found on a machine and read like rpm reads it")
struct RPMDatabaseMachineTests {
    static let dive = RPMDatabaseFixture(file: "bdb/syft-dive-single/Packages", format: .berkeleyDB, goldens: [])
    static let misc = RPMDatabaseFixture(file: "sqlite/rpm-testsuite-misc/rpmdb.sqlite", format: .sqlite, goldens: [])
    static let sles = RPMDatabaseFixture(file: "ndb/snyk-sles15-3pkgs/Packages.db", format: .ndb, goldens: [])

    @Test("RPM database is found in each standard directory, in each format", arguments: [
        ("/var/lib/rpm/Packages", RPMDatabaseFormat.berkeleyDB, 1),
        ("/usr/lib/sysimage/rpm/Packages", .berkeleyDB, 1),
        ("/usr/share/rpm/Packages", .berkeleyDB, 1),
        ("/usr/lib/sysimage/rpm/Packages.db", .ndb, 3),
        ("/var/lib/rpm/rpmdb.sqlite", .sqlite, 2),
    ])
    func findsDatabase(_ path: String, _ format: RPMDatabaseFormat, _ packages: Int) throws {
        let fixture = switch format { case .berkeleyDB: Self.dive; case .ndb: Self.sles; case .sqlite: Self.misc }
        let machine = SnapshotMachine(displayName: "test", files: [path: try fixture.bytes()])
        let contents = try #require(try RPMDatabase.read(from: machine))
        #expect(contents.format == format)
        #expect(contents.path == path)
        #expect(contents.packages.count == packages)
    }

    @Test("RPM database search prefers rpmdb.sqlite over a leftover Packages file")
    func prefersSQLite() throws {
        let machine = SnapshotMachine(displayName: "test", files: [
            "/var/lib/rpm/Packages": try Self.dive.bytes(),
            "/usr/lib/sysimage/rpm/rpmdb.sqlite": try Self.misc.bytes(),
        ])
        let contents = try #require(try RPMDatabase.read(from: machine))
        #expect(contents.format == .sqlite)
        #expect(contents.packages.map(\.name).sorted() == ["foo", "hlinktest"])
    }

    @Test("RPM database absent means nil; an oversized one is a typed error")
    func absentAndTooLarge() throws {
        #expect(try RPMDatabase.read(from: SnapshotMachine(displayName: "empty")) == nil)
        let machine = SnapshotMachine(displayName: "big", files: ["/var/lib/rpm/Packages": try Self.dive.bytes()])
        let error = #expect(throws: RPMDatabaseError.self) { try RPMDatabase.read(from: machine, sizeLimit: 1000) }
        #expect(error?.code == .tooLarge)
        #expect(error?.database == "big:/var/lib/rpm/Packages")
    }

    @Test("RPM database that is no database is a typed error naming it")
    func notADatabase() throws {
        let machine = SnapshotMachine(displayName: "m", files: ["/var/lib/rpm/Packages": Array("hello, world, this is text".utf8)])
        let error = #expect(throws: RPMDatabaseError.self) { try RPMDatabase.read(from: machine) }
        #expect(error?.code == .notADatabase)
        #expect(error?.description.contains("m:/var/lib/rpm/Packages") == true)
    }

    @Test("RPM database on a directory machine is read through its files")
    func directoryMachine() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("imgsec-rpm-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let dir = root.appendingPathComponent("usr/lib/sysimage/rpm")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data(try Self.misc.bytes()).write(to: dir.appendingPathComponent("rpmdb.sqlite"))
        try FileManager.default.createDirectory(at: root.appendingPathComponent("var/lib"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: root.appendingPathComponent("var/lib/rpm").path,
                                                   withDestinationPath: "../../usr/lib/sysimage/rpm")
        let contents = try #require(try RPMDatabase.read(from: DirectoryMachine(root: root.path)))
        #expect(contents.path == "/usr/lib/sysimage/rpm/rpmdb.sqlite")
        #expect(contents.headers.count == 3)
    }
}

/// Runs Debian's rpm 4.18 to make SQLite databases from the BDB fixtures.
enum RPMTool {
    static let rpm = "/usr/bin/rpm"
    static let rpmdb = "/usr/bin/rpmdb"
    static let sqlite3 = "/usr/bin/sqlite3"
    static var available: Bool {
        FileManager.default.isExecutableFile(atPath: rpm) && FileManager.default.isExecutableFile(atPath: rpmdb)
    }

    /// A fresh root with the fixture as `/var/lib/rpm/Packages`, converted by `rpmdb --rebuilddb` to SQLite.
    static func convertedRoot(_ fixture: RPMDatabaseFixture) throws -> URL {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("imgsec-rpmconv-\(UUID().uuidString)")
        let dbdir = root.appendingPathComponent("var/lib/rpm")
        try FileManager.default.createDirectory(at: dbdir, withIntermediateDirectories: true)
        try Data(try fixture.bytes()).write(to: dbdir.appendingPathComponent("Packages"))
        try RPMOracle.run(rpmdb, ["--root", root.path, "--dbpath", "/var/lib/rpm", "--rebuilddb",
                                  "--define", "_db_backend sqlite", "--define", "_db_backend_ro bdb_ro"])
        return root
    }

    /// `rpm -qa` of the root's SQLite database: name, epoch, version, release, arch per line, sorted.
    static func listed(_ root: URL) throws -> [String] {
        try RPMOracle.run(rpm, ["--root", root.path, "--dbpath", "/var/lib/rpm", "--define", "_db_backend sqlite", "-qa",
                                "--qf", "%{NAME}\\t%{EPOCH}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\n"])
            .split(separator: "\n").map(String.init).sorted()
    }

    static func lines(_ headers: [RPMPackageHeader]) -> [String] {
        headers.map { h in
            [h.name, h.epoch.map(String.init) ?? "(none)", h.version, h.release, h.arch ?? "(none)"].joined(separator: "\t")
        }.sorted()
    }
}

@Suite("RPM SQLite databases made by rpm 4.18 read like rpm -qa", .enabled(if: Requirement.tool(RPMTool.available), "needs Debian's rpm and rpmdb"))
struct RPMSQLiteConversionTests {
    @Test("RPM SQLite database converted from BDB by rpmdb --rebuilddb lists like rpm -qa", arguments: [
        "bdb/centos7-plain/Packages.xz", "bdb/centos8-modularitylabel/Packages.xz", "bdb/centos6-many/Packages.xz",
    ])
    func convertedDatabase(_ file: String) throws {
        let root = try RPMTool.convertedRoot(RPMDatabaseFixture(file: file, format: .berkeleyDB, goldens: []))
        defer { try? FileManager.default.removeItem(at: root) }
        let expected = try RPMTool.listed(root)
        #expect(expected.count > 100)
        let path = root.appendingPathComponent("var/lib/rpm/rpmdb.sqlite").path
        #expect(RPMTool.lines(try RPMSQLiteDB.readHeaders(atPath: path)) == expected)
        let contents = try #require(try RPMDatabase.read(from: DirectoryMachine(root: root.path)))
        #expect(contents.format == .sqlite)
        #expect(RPMTool.lines(contents.headers) == expected)
    }

    @Test("RPM SQLite database with changes still in its -wal file reads like rpm -qa",
          .enabled(if: Requirement.tool(FileManager.default.isExecutableFile(atPath: RPMTool.sqlite3)), "needs the sqlite3 shell"))
    func walIsApplied() throws {
        let root = try RPMTool.convertedRoot(RPMDatabaseFixture(file: "bdb/centos7-plain/Packages.xz", format: .berkeleyDB, goldens: []))
        defer { try? FileManager.default.removeItem(at: root) }
        let path = root.appendingPathComponent("var/lib/rpm/rpmdb.sqlite").path
        let before = try RPMSQLiteDB.readHeaders(atPath: path).count
        // Delete one package, leaving the change in the WAL (no checkpoint on close).
        try RPMOracle.run(RPMTool.sqlite3, ["-cmd", ".dbconfig no_ckpt_on_close on", path,
                                            "PRAGMA journal_mode=WAL; DELETE FROM Packages WHERE hnum = (SELECT min(hnum) FROM Packages);"])
        let expected = try RPMTool.listed(root)
        #expect(expected.count == before - 1)
        let contents = try #require(try RPMDatabase.read(from: DirectoryMachine(root: root.path)))
        #expect(RPMTool.lines(contents.headers) == expected)
    }
}
