import Foundation
import Testing

/// The JSON of `inspect`, `scan` and `check` carries diagnostics with stable codes: a missing dpkg status,
/// a bad signature and an unreachable repository are each told apart by their code, not by their text.
@Suite(.serialized) struct DiagnosticsEndToEndTests {
    typealias Mirror = CheckerEndToEndTests.Mirror

    static func json(_ result: CLI.Result) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: result.stdoutBytes) as? [String: Any], "\(result.stdout)\n\(result.stderr)")
    }

    static func codes(_ diagnostics: Any?) -> [String] {
        ((diagnostics as? [[String: Any]]) ?? []).compactMap { $0["code"] as? String }
    }

    /// Three roots: apt's configuration without a dpkg status; an archive whose InRelease was changed by one
    /// byte after signing; an archive on a port where nothing listens.
    static func roots(_ mirror: Mirror) throws -> (missing: String, tampered: String, unreachable: String) {
        let fm = FileManager.default
        // The tampered archive: the real bookworm-updates tree with one byte of its InRelease changed.
        let good = mirror.servedRoot + "/debian"
        let bad = mirror.servedRoot + "/tampered"
        if !fm.fileExists(atPath: bad) {
            try fm.copyItem(atPath: good, toPath: bad)
            let path = bad + "/dists/bookworm-updates/InRelease"
            var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            let text = String(decoding: bytes, as: UTF8.self)
            let at = try #require(text.range(of: "Description: Debian"))
            let offset = text.utf8.distance(from: text.utf8.startIndex, to: at.lowerBound) + "Description: ".count
            bytes[offset] = UInt8(ascii: "d")
            try Data(bytes).write(to: URL(fileURLWithPath: path))
        }
        let missing = try CheckerEndToEndTests.makeRoot(mirror, name: "no-status")
        try fm.removeItem(atPath: missing + "/var/lib/dpkg/status")
        let tampered = try CheckerEndToEndTests.makeRoot(mirror, name: "tampered-root")
        try sources(tampered, "\(mirror.base)/tampered")
        let unreachable = try CheckerEndToEndTests.makeRoot(mirror, name: "unreachable-root")
        try sources(unreachable, "http://127.0.0.1:9/debian")
        return (missing, tampered, unreachable)
    }

    static func sources(_ root: String, _ uri: String) throws {
        try """
            Types: deb
            URIs: \(uri)
            Suites: bookworm-updates
            Components: main
            Signed-By: \(CheckerEndToEndTests.keyring)

            """.write(toFile: root + "/etc/apt/sources.list.d/debian.sources", atomically: true, encoding: .utf8)
    }

    @Test func aMissingStatusABadSignatureAndAnUnreachableRepositoryEachHaveTheirCode() async throws {
        let mirror = try await Mirror()
        defer { mirror.stop() }
        let (missing, tampered, unreachable) = try Self.roots(mirror)
        let store = mirror.tree + "/store.sqlite"

        // inspect: the machine without a status is listed, with its error and code.
        let inspect = try await CLI.run(["inspect", "--root", missing, "--format", "json"])
        let inspected = try #require((try Self.json(inspect))["machines"] as? [[String: Any]])
        #expect(Self.codes(inspected.first?["errors"]) == ["dpkg.status-missing"], "\(inspect.stdout)")

        // scan: the first cannot be registered (a top-level error); the others are checked with their repository's code.
        let scan = try await CLI.run(["scan", "--ignore-valid-until", "--root", missing, "--root", tampered, "--root", unreachable, "--store", store, "--format", "json"])
        #expect(scan.status == 1, "\(scan.stderr)")
        let scanned = try Self.json(scan)
        #expect(Self.codes(scanned["errors"]) == ["dpkg.status-missing"])
        let machines = try #require(scanned["machines"] as? [[String: Any]])
        let byName = Dictionary(uniqueKeysWithValues: machines.compactMap { m in (m["machine"] as? String).map { ($0, m) } })
        #expect(Self.codes(byName[tampered]?["errors"]) == ["repo.bad-signature"], "\(scan.stdout)")
        #expect(Self.codes(byName[unreachable]?["errors"]) == ["repo.unreachable"], "\(scan.stdout)")
        let subject = try #require(((byName[tampered]?["errors"] as? [[String: Any]])?.first)?["subject"] as? [String: Any])
        #expect(subject["machine"] as? String == tampered)
        #expect(subject["file"] as? String == "/etc/apt/sources.list.d/debian.sources")
        #expect((subject["repository"] as? String)?.contains("/tampered") == true)

        // stderr: one error line per failure, naming the machine.
        let errorLines = scan.stderr.split(separator: "\n").filter { $0.hasPrefix("error: ") }
        #expect(errorLines.count == 3, "\(scan.stderr)")
        #expect(errorLines.contains { $0.contains(missing) && $0.contains("/var/lib/dpkg/status") })

        // check: the same codes from the result cache.
        let check = try await CLI.run(["check", "--ignore-valid-until", tampered, unreachable, "--store", store, "--format", "json"])
        #expect(check.status == 1)
        let checked = try #require((try Self.json(check))["machines"] as? [[String: Any]])
        #expect(checked.map { Self.codes($0["errors"]) } == [["repo.bad-signature"], ["repo.unreachable"]])
        #expect(checked.allSatisfy { $0["fromCache"] as? Bool == true })
    }

    /// A guest's `file:` source names a path inside the guest: imgsec must not read the host's file of that name.
    /// The host directory here is a real flat repository that offers an upgrade; read, it would show up.
    @Test func aGuestsFileSourceIsRefusedNotReadFromTheHost() async throws {
        let mirror = try await Mirror()
        defer { mirror.stop() }
        let root = try CheckerEndToEndTests.makeRoot(mirror, name: "file-source")
        let hostRepo = mirror.tree + "/host-repo"
        try FileManager.default.createDirectory(atPath: hostRepo, withIntermediateDirectories: true)
        // An upgrade of a package the machine has (its installed version, from its own status file).
        let status = try String(contentsOfFile: root + "/var/lib/dpkg/status", encoding: .utf8)
        let stanza = try #require(status.components(separatedBy: "\n\n").first { $0.contains("Package: bash\n") })
        let installed = try #require(stanza.split(separator: "\n").first { $0.hasPrefix("Version: ") }).dropFirst("Version: ".count)
        try "Package: bash\nVersion: \(installed)+host1\nArchitecture: amd64\nFilename: bash.deb\nSize: 1\n\n"
            .write(toFile: hostRepo + "/Packages", atomically: true, encoding: .utf8)
        let sum = try await CLI.run("/usr/bin/sha256sum", [hostRepo + "/Packages"]).stdout.prefix(64)
        let size = try #require(try FileManager.default.attributesOfItem(atPath: hostRepo + "/Packages")[.size] as? Int)
        try "Origin: host\nLabel: host\nSHA256:\n \(sum) \(size) Packages\n".write(toFile: hostRepo + "/Release", atomically: true, encoding: .utf8)
        try "deb [trusted=yes] file://\(hostRepo)/ ./\n".write(toFile: root + "/etc/apt/sources.list.d/host.list", atomically: true, encoding: .utf8)
        let store = mirror.tree + "/file-source.sqlite"
        let scan = try await CLI.run(["scan", "--ignore-valid-until", "--root", root, "--details", "--store", store, "--format", "json"])
        #expect(scan.status == 1, "\(scan.stderr)")
        let machine = try #require(((try Self.json(scan))["machines"] as? [[String: Any]])?.first)
        #expect(Self.codes(machine["errors"]) == ["repo.refused-url"], "\(scan.stdout)")
        let updates = (machine["updates"] as? [[String: Any]]) ?? []
        #expect(!updates.contains { ($0["candidate"] as? String)?.hasSuffix("+host1") == true }, "the host's file was read: \(updates)")
        #expect(scan.stderr.contains("file://\(hostRepo)/") && scan.stderr.contains("never reads this host's file"), "\(scan.stderr)")
        // The operator can still serve a host copy of a repository, by a mirror rule from the guest's URL.
        try FileManager.default.copyItem(atPath: hostRepo, toPath: hostRepo + "-copy")
        let served = try await CLI.run(["scan", "--ignore-valid-until", "--root", root, "--details", "--store", store, "--format", "json",
                                  "--mirror", "file://\(hostRepo)=file://\(hostRepo)-copy"])
        let again = try #require(((try Self.json(served))["machines"] as? [[String: Any]])?.first)
        #expect(Self.codes(again["errors"]) == [], "\(served.stdout)\n\(served.stderr)")
        #expect(((again["updates"] as? [[String: Any]]) ?? []).contains { ($0["candidate"] as? String) == "\(installed)+host1" },
                "\(served.stdout)")
    }

    /// No silent "up to date" either when the package database lists nothing: an empty dpkg status, an rpm
    /// database whose Packages table was emptied (real rpm lists nothing for it and exits 0).
    @Test func aPackageDatabaseThatListsNothingIsNotCheckedRatherThanUpToDate() async throws {
        let mirror = try await Mirror()
        defer { mirror.stop() }
        let emptyStatus = try CheckerEndToEndTests.makeRoot(mirror, name: "empty-status")
        try Data().write(to: URL(fileURLWithPath: emptyStatus + "/var/lib/dpkg/status"))
        let rpmRoot = mirror.tree + "/empty-rpmdb"
        try FileManager.default.createDirectory(atPath: rpmRoot + "/var/lib/rpm", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: rpmRoot + "/etc/yum.repos.d", withIntermediateDirectories: true)
        try "ID=fedora\nVERSION_ID=40\n".write(toFile: rpmRoot + "/etc/os-release", atomically: true, encoding: .utf8)
        try "[base]\nname=base\nbaseurl=\(mirror.base)/none\n".write(toFile: rpmRoot + "/etc/yum.repos.d/base.repo", atomically: true, encoding: .utf8)
        let db = rpmRoot + "/var/lib/rpm/rpmdb.sqlite"
        try FileManager.default.copyItem(atPath: CLI.fixture("rpmdb/sqlite/rpm-testsuite-misc/rpmdb.sqlite"), toPath: db)
        let emptied = try await CLI.run("/usr/bin/python3", ["-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('DELETE FROM Packages'); c.commit()", db])
        #expect(emptied.status == 0, "\(emptied.stderr)")
        // What real rpm says of it: nothing installed, and no error.
        if Requirement.tool(FileManager.default.isExecutableFile(atPath: "/usr/bin/rpm")) {
            let rpm = try await CLI.run("/usr/bin/rpm", ["-qa", "--dbpath", rpmRoot + "/var/lib/rpm"])
            #expect(rpm.status == 0 && rpm.stdout.isEmpty, "\(rpm.status) \(rpm.stdout) \(rpm.stderr)")
        }
        let store = mirror.tree + "/no-packages.sqlite"
        let scan = try await CLI.run(["scan", "--ignore-valid-until", "--root", emptyStatus, "--root", rpmRoot, "--store", store, "--format", "json"])
        #expect(scan.status == 1, "\(scan.stdout)\n\(scan.stderr)")
        let json = try Self.json(scan)
        let errors = (json["errors"] as? [[String: Any]]) ?? []
        let byMachine = Dictionary(errors.compactMap { e in ((e["subject"] as? [String: Any])?["machine"] as? String).map { ($0, e) } },
                                   uniquingKeysWith: { a, _ in a })
        #expect(byMachine[emptyStatus]?["code"] as? String == "machine.no-packages", "\(scan.stdout)")
        #expect(byMachine[rpmRoot]?["code"] as? String == "machine.no-packages", "\(scan.stdout)")
        #expect(((byMachine[rpmRoot]?["subject"] as? [String: Any])?["file"] as? String)?.hasSuffix("rpmdb.sqlite") == true)
        #expect(((json["machines"] as? [[String: Any]]) ?? []).isEmpty, "a machine with no packages was checked: \(scan.stdout)")
        #expect(scan.stderr.contains("lists no installed package"))
    }

    /// No silent "up to date": a machine with no sources, or with every source disabled, is not checked.
    @Test func aMachineWithoutAnEnabledRepositoryIsNotCheckedRatherThanUpToDate() async throws {
        let mirror = try await Mirror()
        defer { mirror.stop() }
        let none = try CheckerEndToEndTests.makeRoot(mirror, name: "no-sources")
        try FileManager.default.removeItem(atPath: none + "/etc/apt/sources.list.d/debian.sources")
        let disabled = try CheckerEndToEndTests.makeRoot(mirror, name: "disabled-sources")
        let sources = disabled + "/etc/apt/sources.list.d/debian.sources"
        let text = try String(contentsOfFile: sources, encoding: .utf8)
        try text.replacingOccurrences(of: "Types: deb\n", with: "Types: deb\nEnabled: no\n").write(toFile: sources, atomically: true, encoding: .utf8)
        let good = try CheckerEndToEndTests.makeRoot(mirror, name: "with-sources")
        let store = mirror.tree + "/no-repositories.sqlite"

        let scan = try await CLI.run(["scan", "--ignore-valid-until", "--root", none, "--root", disabled, "--root", good, "--store", store, "--format", "json"])
        #expect(scan.status == 1, "\(scan.stderr)")
        let machines = try #require((try Self.json(scan))["machines"] as? [[String: Any]])
        let byName = Dictionary(uniqueKeysWithValues: machines.compactMap { m in (m["machine"] as? String).map { ($0, m) } })
        #expect(Self.codes(byName[none]?["errors"]) == ["machine.no-repositories"], "\(scan.stdout)")
        #expect(Self.codes(byName[disabled]?["errors"]) == ["machine.no-repositories"], "\(scan.stdout)")
        #expect(Self.codes(byName[good]?["errors"]) == [], "\(scan.stdout)")
        #expect(scan.stderr.split(separator: "\n").filter { $0.hasPrefix("error: ") && $0.contains("no enabled repository") }.count == 2,
                "\(scan.stderr)")

        // Alone, such a machine still exits 1, not 0 ("nothing pending").
        let alone = try await CLI.run(["check", "--ignore-valid-until", none, "--store", store])
        #expect(alone.status == 1, "\(alone.stdout)\n\(alone.stderr)")
    }
}
