import Dispatch
import Foundation

/// Runs an actor's jobs on its own serial dispatch queue, so that blocking SQLite calls never hold a
/// thread of Swift's cooperative pool.
final class DispatchQueueExecutor: SerialExecutor {
    let queue: DispatchQueue

    init(label: String) {
        queue = DispatchQueue(label: label)
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async {
            job.runSynchronously(on: self.asUnownedSerialExecutor())
        }
    }
}

/// The embedded store: one SQLite database file, shared safely by several processes.
///
/// The actor owns one ``SQLiteConnection`` and runs on its own serial queue (SQLite calls block).
/// Open one store per process and share it; other processes may open the same file at the same time.
public actor SQLiteUpdateStore: UpdateStore {
    /// The database file.
    public nonisolated let path: String
    private nonisolated let executor: DispatchQueueExecutor
    private let db: SQLiteConnection

    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    /// Opens (creating it, and its directory, if needed) and migrates the store at `path`.
    public init(path: String, synchronous: SQLiteConnection.Synchronous = .normal) throws {
        self.path = path
        executor = DispatchQueueExecutor(label: "imgsec.store")
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        }
        db = try SQLiteConnection(path: path, synchronous: synchronous)
        try StoreSchema.migrate(db)
    }

    /// Where the store lives unless told otherwise: `$IMGSEC_STORE`, else `$XDG_DATA_HOME/imgsec/imgsec.sqlite`,
    /// else `~/.local/share/imgsec/imgsec.sqlite`.
    public static func defaultPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let path = environment["IMGSEC_STORE"], !path.isEmpty { return path }
        let data: String
        if let xdg = environment["XDG_DATA_HOME"], xdg.hasPrefix("/") {
            data = xdg
        } else {
            data = (environment["HOME"] ?? NSHomeDirectory()) + "/.local/share"
        }
        return data + "/imgsec/imgsec.sqlite"
    }

    /// The schema version the database has.
    public func schemaVersion() throws -> Int {
        Int(try db.scalarInt("PRAGMA user_version") ?? 0)
    }

    /// SQLite's `PRAGMA integrity_check`: `["ok"]` for a sound database, else the problems found.
    public func integrityCheck() throws -> [String] {
        let stmt = try db.prepare("PRAGMA integrity_check")
        var lines: [String] = []
        while try stmt.step() { lines.append(stmt.text(0) ?? "") }
        return lines
    }

    // MARK: Machines

    public func upsertMachine(_ machine: MachineRecord, packages: [InstalledPackage], repositoryKeys: [String],
                              files: [String: [UInt8]]) throws -> MachineRecord {
        var machine = machine
        machine.contentFingerprint = try Self.contentFingerprint(machine, packages: packages, repositoryKeys: repositoryKeys)
        let encoder = Self.encoder
        let facts = try encoder.encode(machine.facts)
        let labels = try encoder.encode(machine.labels)
        let repositories = try encoder.encode(machine.repositories)
        let values: [SQLiteValue] = [
            .text(machine.name), .text(machine.sourceKind.rawValue), .text(machine.sourcePath),
            .nullable(machine.sourceFingerprint.map { Int($0.size) }), .nullable(machine.sourceFingerprint?.modified),
            .nullable(machine.sourceFingerprint?.headerSHA256),
            .text(String(decoding: facts, as: UTF8.self)), .nullable(machine.owner),
            .text(String(decoding: labels, as: UTF8.self)), .double(machine.importedAt.timeIntervalSince1970),
            .nullable(machine.packageFormat?.rawValue), .text(machine.configFingerprint),
            .text(String(decoding: repositories, as: UTF8.self)), .text(machine.contentFingerprint), .int(Int64(packages.count)),
        ]
        let id: Int64 = try db.transaction {
            try db.run("""
                INSERT INTO machine (name, source_kind, source_path, source_size, source_mtime, source_header_sha256,
                    facts_json, owner, labels_json, imported_at, package_format, config_fingerprint, repositories_json,
                    content_fingerprint, package_count)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
                ON CONFLICT (name) DO UPDATE SET source_kind = ?2, source_path = ?3, source_size = ?4, source_mtime = ?5,
                    source_header_sha256 = ?6, facts_json = ?7, owner = ?8, labels_json = ?9, imported_at = ?10,
                    package_format = ?11, config_fingerprint = ?12, repositories_json = ?13, content_fingerprint = ?14,
                    package_count = ?15
                """, values)
            guard let id = try db.scalarInt("SELECT id FROM machine WHERE name = ?1", [.text(machine.name)]) else {
                throw StoreError(store: path, detail: "machine \(machine.name) vanished while it was being stored")
            }
            try db.run("DELETE FROM installed_package WHERE machine_id = ?1", [.int(id)])
            try db.run("DELETE FROM machine_repository WHERE machine_id = ?1", [.int(id)])
            let insertPackage = try db.prepare("""
                INSERT INTO installed_package (machine_id, position, name, epoch, version, release, arch, source,
                    source_version, modularity_label) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                """)
            for (i, p) in packages.enumerated() {
                try insertPackage.run([.int(id), .int(Int64(i)), .text(p.name), .nullable(p.epoch), .text(p.version),
                                       .nullable(p.release), .text(p.arch), .nullable(p.source), .nullable(p.sourceVersion),
                                       .nullable(p.modularityLabel)])
            }
            let insertKey = try db.prepare("INSERT INTO machine_repository (machine_id, position, repository_key) VALUES (?1, ?2, ?3)")
            for (i, key) in repositoryKeys.enumerated() {
                try insertKey.run([.int(id), .int(Int64(i)), .text(key)])
            }
            try db.run("DELETE FROM machine_file WHERE machine_id = ?1", [.int(id)])
            let insertFile = try db.prepare("INSERT INTO machine_file (machine_id, path, bytes) VALUES (?1, ?2, ?3)")
            for (path, bytes) in files.sorted(by: { $0.key < $1.key }) {
                try insertFile.run([.int(id), .text(path), .blob(bytes)])
            }
            return id
        }
        machine.id = id
        return machine
    }

    public func files(ofMachine id: Int64) throws -> [String: [UInt8]] {
        let s = try db.prepare("SELECT path, bytes FROM machine_file WHERE machine_id = ?1")
        try s.bind([.int(id)])
        var out: [String: [UInt8]] = [:]
        while try s.step() { out[s.text(0) ?? ""] = s.blob(1) }
        return out
    }

    private static let machineColumns = """
        m.id, m.name, m.source_kind, m.source_path, m.source_size, m.source_mtime, m.source_header_sha256, m.facts_json,
        m.owner, m.labels_json, m.imported_at, m.package_format, m.config_fingerprint, m.repositories_json,
        m.content_fingerprint
        """

    /// Reads a machine from a row of ``machineColumns``.
    private func machineRow(_ s: SQLiteStatement) throws -> MachineRecord {
        let decoder = JSONDecoder()
        let name = s.text(1) ?? ""
        func json<T: Decodable>(_ type: T.Type, _ column: Int32) throws -> T {
            do {
                return try decoder.decode(type, from: Data((s.text(column) ?? "").utf8))
            } catch {
                throw StoreError(store: path, detail: "machine \(name) has an unreadable column \(column): \(error)")
            }
        }
        var fingerprint: SourceFingerprint?
        if let size = s.optionalInt(4), let hash = s.text(6) {
            fingerprint = SourceFingerprint(size: size, modified: s.double(5), headerSHA256: hash)
        }
        return MachineRecord(
            id: s.int(0), name: name, sourceKind: MachineSourceKind(rawValue: s.text(2) ?? "") ?? .image,
            sourcePath: s.text(3) ?? "", sourceFingerprint: fingerprint, facts: try json(OSFacts.self, 7),
            owner: s.text(8), labels: try json([String: String].self, 9),
            importedAt: Date(timeIntervalSince1970: s.double(10)),
            packageFormat: s.text(11).flatMap(PackageFormat.init(rawValue:)), configFingerprint: s.text(12) ?? "",
            repositories: try json([ConfiguredRepository].self, 13), contentFingerprint: s.text(14) ?? "")
    }

    public func machines() throws -> [MachineSummary] {
        let s = try db.prepare("""
            SELECT \(Self.machineColumns), m.package_count, r.computed_at
            FROM machine m LEFT JOIN result r ON r.machine_id = m.id ORDER BY m.name
            """)
        var out: [MachineSummary] = []
        while try s.step() {
            out.append(MachineSummary(machine: try machineRow(s), packageCount: Int(s.int(15)),
                                      lastCheckedAt: s.isNull(16) ? nil : Date(timeIntervalSince1970: s.double(16))))
        }
        return out
    }

    public func machine(named name: String) throws -> MachineRecord? {
        let s = try db.prepare("SELECT \(Self.machineColumns) FROM machine m WHERE m.name = ?1")
        try s.bind([.text(name)])
        return try s.step() ? try machineRow(s) : nil
    }

    public func machine(id: Int64) throws -> MachineRecord? {
        let s = try db.prepare("SELECT \(Self.machineColumns) FROM machine m WHERE m.id = ?1")
        try s.bind([.int(id)])
        return try s.step() ? try machineRow(s) : nil
    }

    public func packages(ofMachine id: Int64) throws -> [InstalledPackage] {
        let s = try db.prepare("""
            SELECT name, epoch, version, release, arch, source, source_version, modularity_label
            FROM installed_package WHERE machine_id = ?1 ORDER BY position
            """)
        try s.bind([.int(id)])
        var out: [InstalledPackage] = []
        while try s.step() {
            out.append(InstalledPackage(name: s.text(0) ?? "", epoch: s.optionalInt(1).map { Int($0) }, version: s.text(2) ?? "",
                                        release: s.text(3), arch: s.text(4) ?? "", source: s.text(5),
                                        sourceVersion: s.text(6), modularityLabel: s.text(7)))
        }
        return out
    }

    public func repositoryKeys(ofMachine id: Int64) throws -> [String] {
        let s = try db.prepare("SELECT repository_key FROM machine_repository WHERE machine_id = ?1 ORDER BY position")
        try s.bind([.int(id)])
        var out: [String] = []
        while try s.step() { out.append(s.text(0) ?? "") }
        return out
    }

    @discardableResult
    public func deleteMachine(named name: String) throws -> Bool {
        try db.transaction { try db.run("DELETE FROM machine WHERE name = ?1", [.text(name)]) > 0 }
    }

    // MARK: Sweeps

    public func sweptSources() throws -> [SweptSourceRecord] {
        let s = try db.prepare("SELECT path, size, mtime, header_sha256, diagnostics_json, swept_at FROM swept_source ORDER BY path")
        var out: [SweptSourceRecord] = []
        let decoder = JSONDecoder()
        while try s.step() {
            let path = s.text(0) ?? ""
            guard let diagnostics = try? decoder.decode([Diagnostic].self, from: Data((s.text(4) ?? "[]").utf8)) else {
                // Unreadable (written by another version): the image is simply swept again.
                continue
            }
            out.append(SweptSourceRecord(path: path, fingerprint: SourceFingerprint(size: s.int(1), modified: s.double(2), headerSHA256: s.text(3) ?? ""),
                                         diagnostics: diagnostics, sweptAt: Date(timeIntervalSince1970: s.double(5))))
        }
        return out
    }

    public func putSweptSource(_ record: SweptSourceRecord) throws {
        let diagnostics = String(decoding: try Self.encoder.encode(record.diagnostics), as: UTF8.self)
        try db.transaction {
            try db.run("""
                INSERT OR REPLACE INTO swept_source (path, size, mtime, header_sha256, diagnostics_json, swept_at)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                """, [.text(record.path), .int(record.fingerprint.size), .double(record.fingerprint.modified),
                      .text(record.fingerprint.headerSHA256), .text(diagnostics), .double(record.sweptAt.timeIntervalSince1970)])
        }
    }

    // MARK: Repository cache

    public func repositoryFile(url: String) throws -> RepositoryFileRecord? {
        let s = try db.prepare("""
            SELECT f.content_sha256, c.bytes, f.etag, f.last_modified, f.fetched_at, f.validated_at, f.expires_at
            FROM repository_file f LEFT JOIN file_content c ON c.sha256 = f.content_sha256 WHERE f.url = ?1
            """)
        try s.bind([.text(url)])
        guard try s.step() else { return nil }
        var record = RepositoryFileRecord(url: url, bytes: nil, etag: s.text(2), lastModified: s.text(3),
                                          fetchedAt: Date(timeIntervalSince1970: s.double(4)),
                                          validatedAt: Date(timeIntervalSince1970: s.double(5)),
                                          expiresAt: Date(timeIntervalSince1970: s.double(6)))
        if let hash = s.text(0) {
            guard !s.isNull(1) else {
                throw StoreError(store: path, detail: "the cached content of \(url) is missing")
            }
            record.bytes = s.blob(1)
            record.contentSHA256 = hash
        }
        return record
    }

    public func putRepositoryFile(_ record: RepositoryFileRecord) throws {
        let hash = record.bytes.map { record.contentSHA256 ?? SHA256Hasher.hex(of: $0) }
        try db.transaction {
            let old = try db.scalarText("SELECT content_sha256 FROM repository_file WHERE url = ?1", [.text(record.url)])
            if let bytes = record.bytes, let hash {
                try db.run("INSERT OR IGNORE INTO file_content (sha256, bytes) VALUES (?1, ?2)", [.text(hash), .blob(bytes)])
            }
            try db.run("""
                INSERT OR REPLACE INTO repository_file (url, content_sha256, etag, last_modified, fetched_at, validated_at, expires_at)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                """, [.text(record.url), .nullable(hash), .nullable(record.etag), .nullable(record.lastModified),
                      .double(record.fetchedAt.timeIntervalSince1970), .double(record.validatedAt.timeIntervalSince1970),
                      .double(record.expiresAt.timeIntervalSince1970)])
            if let old, old != hash {
                try db.run("""
                    DELETE FROM file_content WHERE sha256 = ?1
                    AND NOT EXISTS (SELECT 1 FROM repository_file WHERE content_sha256 = ?1)
                    """, [.text(old)])
            }
        }
    }

    public func markRepositoryFileValidated(url: String, at date: Date, expiresAt: Date) throws {
        try db.transaction {
            try db.run("UPDATE repository_file SET validated_at = ?2, expires_at = ?3 WHERE url = ?1",
                       [.text(url), .double(date.timeIntervalSince1970), .double(expiresAt.timeIntervalSince1970)])
        }
    }

    public func repository(key: String) throws -> RepositoryRecord? {
        let s = try db.prepare("SELECT metadata_json, fetched_at, expires_at, fingerprint FROM repository WHERE key = ?1")
        try s.bind([.text(key)])
        guard try s.step() else { return nil }
        return RepositoryRecord(key: key, metadata: s.text(0) ?? "{}", fetchedAt: Date(timeIntervalSince1970: s.double(1)),
                                expiresAt: Date(timeIntervalSince1970: s.double(2)), fingerprint: s.text(3) ?? "")
    }

    public func putRepository(_ record: RepositoryRecord) throws {
        try db.transaction {
            try db.run("""
                INSERT OR REPLACE INTO repository (key, metadata_json, fetched_at, expires_at, fingerprint)
                VALUES (?1, ?2, ?3, ?4, ?5)
                """, [.text(record.key), .text(record.metadata), .double(record.fetchedAt.timeIntervalSince1970),
                      .double(record.expiresAt.timeIntervalSince1970), .text(record.fingerprint)])
        }
    }

    // MARK: Results

    public func result(forMachine id: Int64) throws -> ResultRecord? {
        let s = try db.prepare("""
            SELECT computed_at, expires_at, inputs_fingerprint, updates_json, failures_json FROM result WHERE machine_id = ?1
            """)
        try s.bind([.int(id)])
        guard try s.step() else { return nil }
        let decoder = JSONDecoder()
        do {
            return ResultRecord(machineId: id, computedAt: Date(timeIntervalSince1970: s.double(0)),
                                expiresAt: Date(timeIntervalSince1970: s.double(1)), inputsFingerprint: s.text(2) ?? "",
                                updates: try decoder.decode([PendingUpdate].self, from: Data((s.text(3) ?? "").utf8)),
                                failures: try decoder.decode([Diagnostic].self, from: Data((s.text(4) ?? "").utf8)))
        } catch {
            throw StoreError(store: path, detail: "the stored result of machine \(id) is unreadable: \(error)")
        }
    }

    public func putResults(_ records: [ResultRecord]) throws {
        let encoder = Self.encoder
        try db.transaction {
            let insert = try db.prepare("""
                INSERT OR REPLACE INTO result (machine_id, computed_at, expires_at, inputs_fingerprint, updates_json,
                    failures_json, total, failure_count) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                """)
            let clear = try db.prepare("DELETE FROM result_count WHERE machine_id = ?1")
            let count = try db.prepare("INSERT INTO result_count (machine_id, significance, count) VALUES (?1, ?2, ?3)")
            for r in records {
                try insert.run([.int(r.machineId), .double(r.computedAt.timeIntervalSince1970),
                                .double(r.expiresAt.timeIntervalSince1970), .text(r.inputsFingerprint),
                                .text(String(decoding: try encoder.encode(r.updates), as: UTF8.self)),
                                .text(String(decoding: try encoder.encode(r.failures), as: UTF8.self)),
                                .int(Int64(r.updates.count)), .int(Int64(r.failures.count))])
                // INSERT OR REPLACE deletes the old row without firing the ON DELETE cascade
                // (recursive_triggers is off), so the counts are cleared by hand.
                try clear.run([.int(r.machineId)])
                var perSignificance: [Significance: Int] = [:]
                for u in r.updates { perSignificance[u.significance, default: 0] += 1 }
                for (significance, n) in perSignificance {
                    try count.run([.int(r.machineId), .text(significance.rawValue), .int(Int64(n))])
                }
            }
        }
    }

    public func currentInputsFingerprint(forMachine id: Int64) throws -> String? {
        try currentInputsFingerprints(for: [id])[id]
    }

    /// The current ``InputsFingerprint`` of each machine (all when `ids` is nil), in three queries.
    private func currentInputsFingerprints(for ids: [Int64]?) throws -> [Int64: String] {
        let filter = ids == nil ? "" : "WHERE m.id IN (SELECT value FROM json_each(?1))"
        let idList: [SQLiteValue] = ids.map { [.text("[" + $0.map(String.init).joined(separator: ",") + "]")] } ?? []
        var repositories: [Int64: [String: String?]] = [:]
        let keys = try db.prepare("""
            SELECT mr.machine_id, mr.repository_key, rp.fingerprint FROM machine m
            JOIN machine_repository mr ON mr.machine_id = m.id
            LEFT JOIN repository rp ON rp.key = mr.repository_key \(filter)
            """)
        try keys.bind(idList)
        while try keys.step() {
            repositories[keys.int(0), default: [:]][keys.text(1) ?? ""] = .some(keys.text(2))
        }
        let machines = try db.prepare("SELECT m.id, m.content_fingerprint FROM machine m \(filter)")
        try machines.bind(idList)
        var out: [Int64: String] = [:]
        while try machines.step() {
            let id = machines.int(0)
            out[id] = InputsFingerprint.compute(machine: machines.text(1) ?? "", repositories: repositories[id] ?? [:])
        }
        return out
    }

    public func counts(for machineIds: [Int64]?, at now: Date) throws -> [MachineCounts] {
        let current = try currentInputsFingerprints(for: machineIds)
        let filter = machineIds == nil ? "" : "WHERE m.id IN (SELECT value FROM json_each(?1))"
        let idList: [SQLiteValue] = machineIds.map { [.text("[" + $0.map(String.init).joined(separator: ",") + "]")] } ?? []
        var perMachine: [Int64: [Significance: Int]] = [:]
        let counts = try db.prepare("""
            SELECT c.machine_id, c.significance, c.count FROM machine m JOIN result_count c ON c.machine_id = m.id \(filter)
            """)
        try counts.bind(idList)
        while try counts.step() {
            guard let significance = Significance(rawValue: counts.text(1) ?? "") else { continue }
            perMachine[counts.int(0), default: [:]][significance] = Int(counts.int(2))
        }
        let s = try db.prepare("""
            SELECT m.id, m.name, r.computed_at, r.expires_at, r.inputs_fingerprint, r.total, r.failure_count
            FROM machine m LEFT JOIN result r ON r.machine_id = m.id \(filter) ORDER BY m.name
            """)
        try s.bind(idList)
        var out: [MachineCounts] = []
        let nowSeconds = now.timeIntervalSince1970
        while try s.step() {
            let id = s.int(0)
            var entry = MachineCounts(machineId: id, name: s.text(1) ?? "", state: .missing, counts: [:], total: 0,
                                      failureCount: 0, computedAt: nil, expiresAt: nil)
            if !s.isNull(2) {
                entry.computedAt = Date(timeIntervalSince1970: s.double(2))
                entry.expiresAt = Date(timeIntervalSince1970: s.double(3))
                entry.counts = perMachine[id] ?? [:]
                entry.total = Int(s.int(5))
                entry.failureCount = Int(s.int(6))
                if nowSeconds >= s.double(3) {
                    entry.state = .expired
                } else {
                    entry.state = s.text(4) == current[id] ? .fresh : .inputsChanged
                }
            }
            out.append(entry)
        }
        return out
    }

    // MARK: Helpers

    private static var encoder: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }

    /// A digest of everything imported for a machine; its id, name, owner, labels and import time do not count.
    static func contentFingerprint(_ machine: MachineRecord, packages: [InstalledPackage], repositoryKeys: [String]) throws -> String {
        struct Description: Encodable {
            var sourceKind: MachineSourceKind
            var sourcePath: String
            var source: SourceFingerprint?
            var facts: OSFacts
            var packageFormat: PackageFormat?
            var config: String
            var repositories: [ConfiguredRepository]
            var repositoryKeys: [String]
        }
        let description = Description(sourceKind: machine.sourceKind, sourcePath: machine.sourcePath, source: machine.sourceFingerprint,
                                      facts: machine.facts, packageFormat: machine.packageFormat, config: machine.configFingerprint,
                                      repositories: machine.repositories, repositoryKeys: repositoryKeys)
        var hasher = SHA256Hasher()
        hasher.update([UInt8](try encoder.encode(description)))
        // Packages are many: hashed field by field (unit and record separators) rather than through JSON.
        var line: [UInt8] = []
        line.reserveCapacity(256)
        for p in packages {
            line.removeAll(keepingCapacity: true)
            for field in [p.name, p.epoch.map(String.init), p.version, p.release, p.arch, p.source, p.sourceVersion, p.modularityLabel] {
                if let field { line.append(contentsOf: field.utf8) } else { line.append(0x00) }
                line.append(0x1f)
            }
            line.append(0x1e)
            hasher.update(line)
        }
        return hasher.finalizeHex()
    }
}
