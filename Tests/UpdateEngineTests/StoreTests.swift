import Foundation
import Testing
@testable import UpdateEngine

@Suite("Store")
struct StoreTests {
    @Test("A new store is created and migrated to the latest schema, and reopening keeps it")
    func migratesFromEmpty() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("sub/dir/imgsec.sqlite")
        do {
            let store = try SQLiteUpdateStore(path: path)
            #expect(try await store.schemaVersion() == StoreSchema.latestVersion)
            #expect(try await store.integrityCheck() == ["ok"])
        }
        let again = try SQLiteUpdateStore(path: path)
        #expect(try await again.schemaVersion() == StoreSchema.latestVersion)
        let db = try SQLiteConnection(readOnlyAt: path)
        for table in ["machine", "installed_package", "machine_repository", "repository_file", "file_content", "repository",
                      "result", "result_count"] {
            #expect(try db.hasTable(table), "table \(table)")
        }
        #expect(try db.scalarText("PRAGMA journal_mode") == "wal")
    }

    @Test("A store written by a newer schema is refused with a clear error")
    func refusesNewerSchema() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("imgsec.sqlite")
        try SQLiteConnection(path: path).execute("PRAGMA user_version = 99")
        #expect {
            _ = try SQLiteUpdateStore(path: path)
        } throws: { error in
            "\(error)".contains("schema version 99")
        }
    }

    @Test("The default store path follows IMGSEC_STORE, then XDG_DATA_HOME, then HOME")
    func defaultPath() {
        #expect(SQLiteUpdateStore.defaultPath(environment: ["IMGSEC_STORE": "/x/s.db", "XDG_DATA_HOME": "/d"]) == "/x/s.db")
        #expect(SQLiteUpdateStore.defaultPath(environment: ["XDG_DATA_HOME": "/d", "HOME": "/h"]) == "/d/imgsec/imgsec.sqlite")
        #expect(SQLiteUpdateStore.defaultPath(environment: ["XDG_DATA_HOME": "rel", "HOME": "/h"]) == "/h/.local/share/imgsec/imgsec.sqlite")
    }

    @Test("A machine round-trips with its packages and repository keys, and keeps its id when re-imported")
    func machineRoundTrip() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try SQLiteUpdateStore(path: dir.file("s.sqlite"))
        let packages = StoreSamples.packages(40)
        let keys = ["http://deb.debian.org/debian bookworm main amd64", "http://security.debian.org bookworm-security main amd64"]
        let stored = try await store.upsertMachine(StoreSamples.machine("web1", owner: "ops@example.org"), packages: packages,
                                                   repositoryKeys: keys)
        let id = try #require(stored.id)
        #expect(!stored.contentFingerprint.isEmpty)

        let read = try #require(try await store.machine(named: "web1"))
        #expect(read == stored)
        #expect(try await store.machine(id: id) == stored)
        #expect(try await store.packages(ofMachine: id) == packages)
        #expect(try await store.repositoryKeys(ofMachine: id) == keys)
        #expect(try await store.machine(named: "nope") == nil)

        // Same content: same fingerprint and id; other packages: new fingerprint, same id.
        let same = try await store.upsertMachine(StoreSamples.machine("web1", owner: "ops@example.org"), packages: packages,
                                                 repositoryKeys: keys)
        #expect(same.id == id && same.contentFingerprint == stored.contentFingerprint)
        let changed = try await store.upsertMachine(StoreSamples.machine("web1"), packages: StoreSamples.packages(3, seed: 1),
                                                    repositoryKeys: [keys[0]])
        #expect(changed.id == id && changed.contentFingerprint != stored.contentFingerprint)
        #expect(try await store.packages(ofMachine: id).count == 3)
        #expect(try await store.repositoryKeys(ofMachine: id) == [keys[0]])

        _ = try await store.upsertMachine(StoreSamples.machine("db1"), packages: StoreSamples.packages(5), repositoryKeys: [])
        let list = try await store.machines()
        #expect(list.map(\.machine.name) == ["db1", "web1"])
        #expect(list.map(\.packageCount) == [5, 3])
        #expect(list.allSatisfy { $0.lastCheckedAt == nil })
    }

    @Test("Deleting a machine removes its packages, repository keys and result")
    func deleteCascades() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try SQLiteUpdateStore(path: dir.file("s.sqlite"))
        let m = try await store.upsertMachine(StoreSamples.machine("a"), packages: StoreSamples.packages(10), repositoryKeys: ["k"])
        let id = try #require(m.id)
        try await store.putResult(ResultRecord(machineId: id, computedAt: Date(), expiresAt: Date() + 60, inputsFingerprint: "x",
                                               updates: [StoreSamples.update("p", .security)]))
        #expect(try await store.deleteMachine(named: "a"))
        #expect(try await store.deleteMachine(named: "a") == false)
        #expect(try await store.packages(ofMachine: id).isEmpty)
        #expect(try await store.repositoryKeys(ofMachine: id).isEmpty)
        #expect(try await store.result(forMachine: id) == nil)
        let db = try SQLiteConnection(readOnlyAt: dir.file("s.sqlite"))
        #expect(try db.scalarInt("SELECT count(*) FROM result_count") == 0)
    }

    @Test("A transaction rolls back everything when its body throws")
    func transactionRollsBack() throws {
        struct Boom: Error {}
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let db = try SQLiteConnection(path: dir.file("t.sqlite"))
        try db.execute("CREATE TABLE t (x INTEGER NOT NULL)")
        #expect(throws: Boom.self) {
            try db.transaction {
                try db.run("INSERT INTO t VALUES (1)")
                try db.run("INSERT INTO t VALUES (2)")
                throw Boom()
            }
        }
        #expect(try db.scalarInt("SELECT count(*) FROM t") == 0)
        // A failing statement inside also rolls back the earlier ones, and the error names the SQL and file.
        #expect {
            try db.transaction {
                try db.run("INSERT INTO t VALUES (3)")
                try db.run("INSERT INTO t VALUES (NULL)")
            }
        } throws: { error in
            guard let e = error as? SQLiteError else { return false }
            return e.sql == "INSERT INTO t VALUES (NULL)" && e.path.hasSuffix("t.sqlite") && e.message.contains("NOT NULL")
        }
        #expect(try db.scalarInt("SELECT count(*) FROM t") == 0)
        try db.transaction { try db.run("INSERT INTO t VALUES (4)") }
        #expect(try db.scalarInt("SELECT count(*) FROM t") == 1)
    }

    @Test("Blobs, doubles, NULLs and empty blobs round-trip through statements")
    func statementValues() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let db = try SQLiteConnection(path: dir.file("v.sqlite"))
        try db.execute("CREATE TABLE v (b BLOB, d REAL, t TEXT)")
        try db.run("INSERT INTO v VALUES (?1, ?2, ?3)", [.blob([0, 1, 255]), .double(2.5), .null])
        try db.run("INSERT INTO v VALUES (?1, ?2, ?3)", [.blob([]), .nullable(nil as Double?), .text("é")])
        let s = try db.prepare("SELECT b, d, t, typeof(b) FROM v ORDER BY rowid")
        #expect(try s.step())
        #expect(s.blob(0) == [0, 1, 255] && s.double(1) == 2.5 && s.text(2) == nil)
        #expect(try s.step())
        #expect(s.blob(0) == [] && s.isNull(1) && s.text(2) == "é" && s.text(3) == "blob")
        #expect(try s.step() == false)
    }

    @Test("Repository files round-trip; missing files are cached; replaced content is not kept")
    func repositoryFiles() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try SQLiteUpdateStore(path: dir.file("s.sqlite"))
        let t = Date(timeIntervalSince1970: 1_800_000_000)
        let url = "http://deb.debian.org/debian/dists/bookworm/InRelease"
        try await store.putRepositoryFile(RepositoryFileRecord(url: url, bytes: Array("one".utf8), etag: "\"e1\"",
                                                               lastModified: "Mon, 01 Jan 2024 00:00:00 GMT", fetchedAt: t,
                                                               expiresAt: t + 60))
        let first = try #require(try await store.repositoryFile(url: url))
        #expect(first.bytes == Array("one".utf8) && first.etag == "\"e1\"" && first.validatedAt == t)
        #expect(first.contentSHA256 == SHA256Hasher.hex(of: Array("one".utf8)))

        try await store.markRepositoryFileValidated(url: url, at: t + 100, expiresAt: t + 160)
        let validated = try #require(try await store.repositoryFile(url: url))
        #expect(validated.validatedAt == t + 100 && validated.fetchedAt == t && validated.bytes == first.bytes)

        try await store.putRepositoryFile(RepositoryFileRecord(url: url, bytes: Array("two".utf8), fetchedAt: t + 200, expiresAt: t + 260))
        #expect(try await store.repositoryFile(url: url)?.bytes == Array("two".utf8))
        try await store.putRepositoryFile(RepositoryFileRecord(url: url + ".gone", bytes: nil, fetchedAt: t, expiresAt: t + 60))
        let missing = try #require(try await store.repositoryFile(url: url + ".gone"))
        #expect(missing.bytes == nil && missing.contentSHA256 == nil)
        #expect(try await store.repositoryFile(url: "http://other") == nil)

        let db = try SQLiteConnection(readOnlyAt: dir.file("s.sqlite"))
        #expect(try db.scalarInt("SELECT count(*) FROM file_content") == 1)

        try await store.putRepository(RepositoryRecord(key: "k1", metadata: "{\"a\":1}", fetchedAt: t, expiresAt: t + 60, fingerprint: "f1"))
        #expect(try await store.repository(key: "k1") == RepositoryRecord(key: "k1", metadata: "{\"a\":1}", fetchedAt: t,
                                                                             expiresAt: t + 60, fingerprint: "f1"))
        #expect(try await store.repository(key: "k2") == nil)
    }

    @Test("Counts come from fresh results; a result goes stale when it expires, the machine changes or a repository changes")
    func resultStates() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try SQLiteUpdateStore(path: dir.file("s.sqlite"))
        let t = Date(timeIntervalSince1970: 1_800_000_000)
        let keys = ["main", "security"]
        for key in keys {
            try await store.putRepository(RepositoryRecord(key: key, fetchedAt: t, expiresAt: t + 3600, fingerprint: "\(key)-1"))
        }
        let a = try await store.upsertMachine(StoreSamples.machine("a"), packages: StoreSamples.packages(4), repositoryKeys: keys)
        let b = try await store.upsertMachine(StoreSamples.machine("b"), packages: StoreSamples.packages(4), repositoryKeys: keys)
        let aID = try #require(a.id), bID = try #require(b.id)
        let fingerprint = try #require(try await store.currentInputsFingerprint(forMachine: aID))
        #expect(fingerprint == InputsFingerprint.compute(machine: a.contentFingerprint,
                                                         repositories: ["security": "security-1", "main": "main-1"]))
        let updates = [StoreSamples.update("p1", .security), StoreSamples.update("p2", .security), StoreSamples.update("p3", .updates)]
        let result = ResultRecord(machineId: aID, computedAt: t, expiresAt: t + 600, inputsFingerprint: fingerprint,
                                  updates: updates, failures: [Diagnostic(.repoUnreachable, subject: DiagnosticSubject(repository: "http://m/debian"), "mirror down")])
        try await store.putResult(result)
        #expect(try await store.result(forMachine: aID) == result)
        #expect(try await store.state(of: result, at: t + 1) == .fresh)

        let counts = try await store.counts(for: nil, at: t + 1)
        #expect(counts.map(\.name) == ["a", "b"])
        #expect(counts[0].state == .fresh && counts[0].counts == [.security: 2, .updates: 1] && counts[0].total == 3)
        #expect(counts[0].failureCount == 1 && counts[0].computedAt == t)
        #expect(counts[1].state == .missing && counts[1].total == 0)
        #expect(try await store.counts(for: [bID], at: t).map(\.name) == ["b"])
        #expect(try await store.machines().first?.lastCheckedAt == t)

        #expect(try await store.counts(for: [aID], at: t + 600).first?.state == .expired)

        // Replacing the result replaces its counts.
        try await store.putResult(ResultRecord(machineId: aID, computedAt: t, expiresAt: t + 600, inputsFingerprint: fingerprint,
                                               updates: [StoreSamples.update("p9", .backports)]))
        #expect(try await store.counts(for: [aID], at: t).first?.counts == [.backports: 1])

        // A repository changes: stale. Back to what it was: fresh again.
        try await store.putRepository(RepositoryRecord(key: "security", fetchedAt: t, expiresAt: t + 3600, fingerprint: "security-2"))
        #expect(try await store.counts(for: [aID], at: t).first?.state == .inputsChanged)
        try await store.putRepository(RepositoryRecord(key: "security", fetchedAt: t, expiresAt: t + 3600, fingerprint: "security-1"))
        #expect(try await store.counts(for: [aID], at: t).first?.state == .fresh)

        // The machine is re-imported with other packages: stale.
        _ = try await store.upsertMachine(StoreSamples.machine("a"), packages: StoreSamples.packages(5), repositoryKeys: keys)
        #expect(try await store.counts(for: [aID], at: t).first?.state == .inputsChanged)
        #expect(try await store.state(of: nil, at: t) == .missing)
    }

    @Test("A source fingerprint covers size, mtime and the first MiB only")
    func sourceFingerprint() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("disk.img")
        var bytes = [UInt8](repeating: 7, count: SourceFingerprint.headerLength + 10)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let first = try SourceFingerprint.of(path: path)
        #expect(first.size == Int64(bytes.count))
        #expect(first.headerSHA256 == SHA256Hasher.hex(of: Array(bytes.prefix(SourceFingerprint.headerLength))))
        bytes[bytes.count - 1] = 8  // beyond the header: same hash
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(try SourceFingerprint.of(path: path).headerSHA256 == first.headerSHA256)
        bytes[0] = 8
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(try SourceFingerprint.of(path: path).headerSHA256 != first.headerSHA256)
        #expect(try SourceFingerprint.of(path: dir.path).size >= 0)
        #expect(throws: (any Error).self) { try SourceFingerprint.of(path: dir.file("none")) }
    }

    @Test("Two store instances on one file see each other's writes")
    func twoConnections() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let one = try SQLiteUpdateStore(path: dir.file("s.sqlite"))
        let two = try SQLiteUpdateStore(path: dir.file("s.sqlite"))
        async let a: Void = { for i in 0..<20 { _ = try await one.upsertMachine(StoreSamples.machine("one\(i)"), packages: StoreSamples.packages(20), repositoryKeys: []) } }()
        async let b: Void = { for i in 0..<20 { _ = try await two.upsertMachine(StoreSamples.machine("two\(i)"), packages: StoreSamples.packages(20), repositoryKeys: []) } }()
        _ = try await (a, b)
        #expect(try await one.machines().count == 40)
    }
}
