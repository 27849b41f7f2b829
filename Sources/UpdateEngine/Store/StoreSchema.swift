/// One step of the store's schema history. Applied in order, each in its own transaction, and recorded
/// in `PRAGMA user_version`; a migration, once released, is never changed — later ones alter its tables.
struct StoreMigration: Sendable {
    let version: Int
    let sql: String
}

enum StoreSchema {
    /// The schema history; the last version is what this build writes.
    static let migrations: [StoreMigration] = [
        StoreMigration(version: 1, sql: """
            CREATE TABLE machine (
                id INTEGER PRIMARY KEY,
                name TEXT NOT NULL UNIQUE,
                source_kind TEXT NOT NULL,
                source_path TEXT NOT NULL,
                source_size INTEGER,
                source_mtime REAL,
                source_header_sha256 TEXT,
                facts_json TEXT NOT NULL,
                owner TEXT,
                labels_json TEXT NOT NULL,
                imported_at REAL NOT NULL,
                package_format TEXT,
                config_fingerprint TEXT NOT NULL,
                repositories_json TEXT NOT NULL,
                content_fingerprint TEXT NOT NULL,
                package_count INTEGER NOT NULL
            );
            CREATE TABLE installed_package (
                machine_id INTEGER NOT NULL REFERENCES machine(id) ON DELETE CASCADE,
                position INTEGER NOT NULL,
                name TEXT NOT NULL,
                epoch INTEGER,
                version TEXT NOT NULL,
                release TEXT,
                arch TEXT NOT NULL,
                source TEXT,
                source_version TEXT,
                modularity_label TEXT,
                PRIMARY KEY (machine_id, position)
            ) WITHOUT ROWID;
            -- No index on installed_package(name): with ~900 rows per machine spread over every leaf of such an
            -- index, each import would rewrite hundreds of pages. Add it in a migration when a query needs it.
            CREATE TABLE machine_repository (
                machine_id INTEGER NOT NULL REFERENCES machine(id) ON DELETE CASCADE,
                position INTEGER NOT NULL,
                repository_key TEXT NOT NULL,
                PRIMARY KEY (machine_id, position)
            ) WITHOUT ROWID;
            CREATE INDEX machine_repository_key ON machine_repository(repository_key);

            CREATE TABLE file_content (
                sha256 TEXT PRIMARY KEY,
                bytes BLOB NOT NULL
            );
            CREATE TABLE repository_file (
                url TEXT PRIMARY KEY,
                content_sha256 TEXT REFERENCES file_content(sha256),
                etag TEXT,
                last_modified TEXT,
                fetched_at REAL NOT NULL,
                validated_at REAL NOT NULL,
                expires_at REAL NOT NULL
            );
            CREATE INDEX repository_file_content ON repository_file(content_sha256);
            CREATE TABLE repository (
                key TEXT PRIMARY KEY,
                metadata_json TEXT NOT NULL,
                fetched_at REAL NOT NULL,
                expires_at REAL NOT NULL,
                fingerprint TEXT NOT NULL
            );

            CREATE TABLE result (
                machine_id INTEGER PRIMARY KEY REFERENCES machine(id) ON DELETE CASCADE,
                computed_at REAL NOT NULL,
                expires_at REAL NOT NULL,
                inputs_fingerprint TEXT NOT NULL,
                updates_json TEXT NOT NULL,
                failures_json TEXT NOT NULL,
                total INTEGER NOT NULL,
                failure_count INTEGER NOT NULL
            );
            CREATE TABLE result_count (
                machine_id INTEGER NOT NULL REFERENCES result(machine_id) ON DELETE CASCADE,
                significance TEXT NOT NULL,
                count INTEGER NOT NULL,
                PRIMARY KEY (machine_id, significance)
            ) WITHOUT ROWID;
            """),
        // The collected files of each machine, so that `check` can recompute without reopening its image.
        StoreMigration(version: 2, sql: """
            CREATE TABLE machine_file (
                machine_id INTEGER NOT NULL REFERENCES machine(id) ON DELETE CASCADE,
                path TEXT NOT NULL,
                bytes BLOB NOT NULL
            );
            CREATE UNIQUE INDEX machine_file_path ON machine_file(machine_id, path);
            """),
        // Results record their failures as diagnostics (code, severity, subject, message) instead of
        // sentences; the result cache is recomputable, so older results are dropped.
        StoreMigration(version: 3, sql: """
            DELETE FROM result;
            """),
        // What a sweep last saw of each image: its fingerprint and the diagnostics it gave, so that a re-sweep
        // opens no unchanged image (not even one that failed: a blank or encrypted disk fails the same way again).
        StoreMigration(version: 4, sql: """
            CREATE TABLE swept_source (
                path TEXT PRIMARY KEY,
                size INTEGER NOT NULL,
                mtime REAL NOT NULL,
                header_sha256 TEXT NOT NULL,
                diagnostics_json TEXT NOT NULL,
                swept_at REAL NOT NULL
            );
            """),
    ]

    static var latestVersion: Int { migrations.last?.version ?? 0 }

    /// Brings the database up to ``latestVersion``. Refuses a database written by a newer schema.
    static func migrate(_ db: SQLiteConnection) throws {
        let current = Int(try db.scalarInt("PRAGMA user_version") ?? 0)
        guard current <= latestVersion else {
            throw StoreError(store: db.path, detail: "has schema version \(current), newer than this imgsec knows (\(latestVersion)); use a newer imgsec")
        }
        for migration in migrations where migration.version > current {
            try db.transaction {
                // Re-check inside the write lock: another process may have migrated meanwhile.
                let now = Int(try db.scalarInt("PRAGMA user_version") ?? 0)
                guard now < migration.version else { return }
                try db.execute(migration.sql)
                try db.execute("PRAGMA user_version = \(migration.version)")
            }
        }
    }
}
