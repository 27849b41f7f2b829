/// Reader of rpm's SQLite `rpmdb.sqlite` (rpm ≥ 4.16; Fedora 33+, RHEL 9, CBL-Mariner): table
/// `Packages(hnum INTEGER PRIMARY KEY, blob BLOB)` holds one header blob per package.
///
/// The file is opened read-only; nothing is ever written, and none of the file's own SQL runs (see
/// ``SQLiteConnection/init(readOnlyAt:immutable:untrusted:)``).
public enum RPMSQLiteDB {
    /// Reads every package header of the SQLite rpm database at host path `path`, by `hnum`.
    ///
    /// - Parameters:
    ///   - immutable: open with `immutable=1` (no locking, no WAL): right for copies and images;
    ///     pass false to let SQLite apply a `-wal` file lying next to the database.
    ///   - database: a name for messages; defaults to `path`.
    public static func readHeaders(atPath path: String, immutable: Bool = true, database: String? = nil) throws(RPMDatabaseError) -> [RPMPackageHeader] {
        let name = database ?? path
        var headers: [RPMPackageHeader] = []
        for (record, blob) in try records(atPath: path, immutable: immutable, database: name) {
            headers.append(try RPMHeader.parse(blob, record: record, database: name))
        }
        return headers
    }

    /// The raw `(hnum, header blob)` pairs of the database at host path `path`, by `hnum`.
    public static func records(atPath path: String, immutable: Bool = true, database: String? = nil) throws(RPMDatabaseError) -> [(UInt32, [UInt8])] {
        let name = database ?? path
        func wrap(_ e: SQLiteError) -> RPMDatabaseError {
            RPMDatabaseError(.sqlite, database: name, detail: "SQLite says: \(e.message) (code \(e.resultCode))")
        }
        do {
            // The file comes from a guest: none of its own SQL (triggers, views, schema expressions) may run.
            let db = try SQLiteConnection(readOnlyAt: path, immutable: immutable, untrusted: true)
            guard try db.hasTable("Packages") else {
                throw RPMDatabaseError(.notADatabase, database: name, detail: "is an SQLite database without a Packages table")
            }
            // rpm's own table is `Packages(hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)`: an
            // ordinary table of stored columns. A virtual table or a generated column would compute what we read.
            let create = try db.scalarText("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'Packages'") ?? ""
            if create.uppercased().hasPrefix("CREATE VIRTUAL") {
                throw RPMDatabaseError(.unsupported, database: name, detail: "has a virtual Packages table, not rpm's ordinary one")
            }
            let columns = try db.prepare("SELECT name, hidden FROM pragma_table_xinfo('Packages')")
            var stored: Set<String> = []
            while try columns.step() {
                let column = columns.text(0) ?? ""
                guard columns.int(1) == 0 else {
                    throw RPMDatabaseError(.unsupported, database: name,
                        detail: "has a Packages column \(column) computed by SQL (generated or hidden), not rpm's stored columns")
                }
                stored.insert(column.lowercased())
            }
            guard stored.contains("hnum"), stored.contains("blob") else {
                throw RPMDatabaseError(.notADatabase, database: name, detail: "has a Packages table without rpm's hnum and blob columns")
            }
            let stmt = try db.prepare("SELECT hnum, blob FROM Packages ORDER BY hnum")
            var out: [(UInt32, [UInt8])] = []
            while try stmt.step() {
                let hnum = stmt.int(0)
                guard let record = UInt32(exactly: hnum) else {
                    throw RPMDatabaseError(.corrupt, database: name, detail: "a row has hnum \(hnum), not a record number")
                }
                if record == 0 { continue }
                out.append((record, stmt.blob(1)))
            }
            return out
        } catch let e as SQLiteError {
            throw wrap(e)
        } catch let e as RPMDatabaseError {
            throw e
        } catch {
            throw RPMDatabaseError(.sqlite, database: name, detail: "\(error)")
        }
    }
}
