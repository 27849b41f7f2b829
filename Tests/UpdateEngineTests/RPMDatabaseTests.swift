import Foundation
import Testing
@testable import UpdateEngine

/// One fixture database and the golden lists it must read to.
struct RPMDatabaseFixture: CustomStringConvertible, Sendable {
    /// Path under `fixtures/rpmdb/`.
    var file: String
    var format: RPMDatabaseFormat
    /// Golden lists under the same directory.
    var goldens: [String]

    var description: String { file }
    var directory: String { (file as NSString).deletingLastPathComponent }

    /// The file's bytes, decompressed when it is `.xz`.
    func bytes() throws -> [UInt8] {
        file.hasSuffix(".xz") ? try Fixtures.xzBytes("rpmdb/" + file) : try Fixtures.bytes("rpmdb/" + file)
    }

    /// Reads the fixture with the reader for its format.
    func read() throws -> [RPMPackageHeader] {
        let data = try bytes()
        #expect(RPMDatabase.sniff(data) == format)
        if format == .sqlite {
            return try RPMDatabase.readSQLite(data, wal: nil, database: file)
        }
        return try RPMDatabase.readHeaders(data, format: format, database: file)
    }
}

enum RPMGolden {
    /// A golden row as a comparable line of the chosen columns.
    static func rows(_ relative: String, columns: [Int], includeGPGKeys: Bool = false) throws -> [String] {
        try Fixtures.tsv(relative)
            .filter { includeGPGKeys || $0.first != "gpg-pubkey" }
            .map { row in columns.map { $0 < row.count ? row[$0] : "" }.joined(separator: "\t") }
            .sorted()
    }

    /// Our header in the golden column layout: name epoch version release arch sourcerpm modularitylabel summary.
    static func columns(_ h: RPMPackageHeader) -> [String] {
        [h.name, h.epoch.map(String.init) ?? "", h.version, h.release, h.arch ?? "", h.sourceRPM ?? "(none)",
         h.modularityLabel ?? "", h.summary ?? ""]
    }

    static func rows(_ headers: [RPMPackageHeader], columns: [Int], includeGPGKeys: Bool = false) -> [String] {
        headers.filter { includeGPGKeys || $0.isPackage }
            .map { h in let c = Self.columns(h); return columns.map { c[$0] }.joined(separator: "\t") }
            .sorted()
    }

    /// Lines present on one side only, for a readable failure.
    static func difference(_ ours: [String], _ golden: [String]) -> String {
        var counts: [String: Int] = [:]
        for r in ours { counts[r, default: 0] += 1 }
        for r in golden { counts[r, default: 0] -= 1 }
        let extra = counts.filter { $0.value > 0 }.keys.sorted().prefix(10)
        let missing = counts.filter { $0.value < 0 }.keys.sorted().prefix(10)
        return "ours only: \(Array(extra))\ngolden only: \(Array(missing))"
    }
}

@Suite("RPM databases read to the real tools' package lists")
struct RPMDatabaseGoldenTests {
    static let fixtures: [RPMDatabaseFixture] = [
        .init(file: "bdb/centos5-plain/Packages.xz", format: .berkeleyDB, goldens: ["listed.rpm418.tsv", "expected.gorpmdb.tsv"]),
        .init(file: "bdb/centos6-plain/Packages.xz", format: .berkeleyDB, goldens: ["listed.rpm418.tsv", "expected.gorpmdb.tsv"]),
        .init(file: "bdb/centos6-devtools/Packages.xz", format: .berkeleyDB, goldens: ["listed.rpm418.tsv", "expected.gorpmdb.tsv"]),
        // Upstream's list for centos6-many is partial (44 of 325): only the rpm 4.18 listing is compared.
        .init(file: "bdb/centos6-many/Packages.xz", format: .berkeleyDB, goldens: ["listed.rpm418.tsv"]),
        .init(file: "bdb/centos7-plain/Packages.xz", format: .berkeleyDB, goldens: ["listed.rpm418.tsv", "expected.gorpmdb.tsv"]),
        .init(file: "bdb/centos7-devtools/Packages.xz", format: .berkeleyDB, goldens: ["listed.rpm418.tsv", "expected.gorpmdb.tsv"]),
        .init(file: "bdb/centos7-httpd24/Packages.xz", format: .berkeleyDB, goldens: ["listed.rpm418.tsv", "expected.gorpmdb.tsv"]),
        .init(file: "bdb/centos7-python35/Packages.xz", format: .berkeleyDB, goldens: ["listed.rpm418.tsv", "expected.gorpmdb.tsv"]),
        .init(file: "bdb/centos8-modularitylabel/Packages.xz", format: .berkeleyDB, goldens: ["listed.rpm418.tsv", "expected.gorpmdb.tsv"]),
        .init(file: "bdb/libuuid-el8/Packages", format: .berkeleyDB, goldens: ["listed.rpm418.tsv"]),
        .init(file: "bdb/osv-scalibr-epoch/Packages", format: .berkeleyDB, goldens: ["listed.rpm418.tsv"]),
        .init(file: "bdb/snyk-rpm4-empty/Packages", format: .berkeleyDB, goldens: ["listed.rpm418.tsv"]),
        .init(file: "bdb/syft-dive-single/Packages", format: .berkeleyDB, goldens: ["listed.rpm418.tsv"]),
        .init(file: "ndb/snyk-sles15-3pkgs/Packages.db", format: .ndb, goldens: ["expected.snyk.tsv"]),
        .init(file: "sqlite/cbl-mariner-2.0/rpmdb.sqlite.xz", format: .sqlite, goldens: ["listed.rpm418.tsv"]),
        .init(file: "sqlite/rpm-testsuite-misc/rpmdb.sqlite", format: .sqlite, goldens: ["listed.rpm418.tsv"]),
    ]

    @Test("RPM database reads to exactly its golden package lists", arguments: fixtures)
    func readsToGoldenLists(_ fixture: RPMDatabaseFixture) throws {
        let headers = try fixture.read()
        for golden in fixture.goldens {
            let relative = "rpmdb/\(fixture.directory)/\(golden)"
            // Column 7 of go-rpmdb's lists is the package SUMMARY (mislabelled "modularitylabel" in the
            // header line); the snyk NDB list does not assert the epoch; rpm 4.18 lists everything.
            let columns: [Int] = switch golden {
            case "expected.gorpmdb.tsv": [0, 1, 2, 3, 4, 5, 7]
            case "expected.snyk.tsv": [0, 2, 3, 4, 5, 6]
            default: [0, 1, 2, 3, 4, 5, 6]
            }
            let goldenColumns = golden == "expected.gorpmdb.tsv" ? [0, 1, 2, 3, 4, 5, 6] : columns
            let expected = try RPMGolden.rows(relative, columns: goldenColumns)
            let ours = RPMGolden.rows(headers, columns: columns)
            #expect(ours == expected, "\(relative)\n\(RPMGolden.difference(ours, expected))")
        }
        if fixture.goldens.contains("listed.rpm418.tsv") {
            // gpg-pubkey entries are in the database and in rpm's listing, but are not packages.
            let relative = "rpmdb/\(fixture.directory)/listed.rpm418.tsv"
            let keys = try Fixtures.tsv(relative).filter { $0.first == "gpg-pubkey" }.map { "\($0[2])-\($0[3])" }.sorted()
            let ourKeys = headers.filter { !$0.isPackage }.map { "\($0.version)-\($0.release)" }.sorted()
            #expect(ourKeys == keys)
            let packages = headers.compactMap(\.installedPackage)
            #expect(packages.count == headers.count - keys.count)
            #expect(!packages.contains { $0.name == "gpg-pubkey" })
        }
    }

    @Test("RPM header becomes an installed package with the canonical EVR")
    func rpmHeaderToInstalledPackage() throws {
        let headers = try RPMDatabaseFixture(file: "bdb/osv-scalibr-epoch/Packages", format: .berkeleyDB, goldens: []).read()
        let p = try #require(headers.first?.installedPackage)
        #expect(p == InstalledPackage(name: "hello", epoch: 1, version: "1:0.0.1-rls", release: "rls", arch: "x86_64",
                                      source: "hello-0.0.1-rls.src.rpm"))
        let modular = try RPMDatabaseFixture(file: "bdb/centos8-modularitylabel/Packages.xz", format: .berkeleyDB, goldens: []).read()
        let udica = try #require(modular.first { $0.name == "udica" }?.installedPackage)
        #expect(udica.version == "0.2.1-2.module_el8.2.0+305+5e198a41")
        #expect(udica.epoch == nil)
        #expect(udica.modularityLabel == "container-tools:rhel8:8020020200507003530:0d58ad57")
        let bash = try #require(modular.first { $0.name == "bash" })
        #expect(bash.provides.contains(RPMProvide(name: "bash", version: bash.evr.description)))
        #expect(bash.installTime ?? 0 > 1_500_000_000)
        #expect(bash.size ?? 0 > 1_000_000)
        #expect(bash.vendor == "CentOS")
    }
}
