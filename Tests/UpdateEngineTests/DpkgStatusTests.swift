import Foundation
import Testing
@testable import UpdateEngine

@Suite("dpkg status database")
struct DpkgStatusTests {
    /// The golden files: real `dpkg-query -W` output on each status file (made on an amd64 machine).
    static let goldens = [
        "dpkg-status/grype_debian-match-coverage", "dpkg-status/osv-scalibr_transitional", "dpkg-status/osv-scalibr_valid",
        "dpkg-status/snyk_ubuntu-10.04", "dpkg-status/syft_coreutils-relationships", "dpkg-status/syft_deinstall",
        "dpkg-status/this-machine_debian-12", "dpkg-status/trivy_ubuntu",
        "edge/deb/states", "edge/deb/bytes", "edge/deb/crlf", "edge/deb/package-name-case",
    ]

    /// The six columns of the goldens: binary:Package, Version, Architecture, db:Status-Abbrev,
    /// source:Package, source:Version.
    static func dpkgQueryRows(_ status: DpkgStatus) -> [[String]] {
        status.dpkgQueryListing(nativeArchitecture: "amd64").map { e in
            [e.binaryPackage(nativeArchitecture: "amd64"), e.version?.dpkgDescription ?? "", e.architecture,
             e.status.abbreviation, e.sourceName, e.sourceVersion?.dpkgDescription ?? ""]
        }
    }

    @Test("dpkg-query -W lists exactly what we list, column for column", arguments: goldens)
    func dpkgMatchesGolden(_ name: String) throws {
        let status = try DpkgStatus.parse(try Fixtures.bytes("\(name).status"), file: name)
        let expected = try Fixtures.tsv("\(name).dpkg-query.tsv")
        let ours = Self.dpkgQueryRows(status)
        #expect(ours.count == expected.count)
        for (o, e) in zip(ours, expected) where o != e { Issue.record("ours \(o) ≠ dpkg-query \(e)") }
    }

    @Test("The machine's own status file has 912 listed packages and amd64 as its likely native architecture")
    func dpkgThisMachine() throws {
        let status = try DpkgStatus.parse(try Fixtures.bytes("dpkg-status/this-machine_debian-12.status"), file: "status")
        #expect(status.dpkgQueryListing(nativeArchitecture: "amd64").count == 912)
        #expect(status.likelyNativeArchitecture == "amd64")
        #expect(status.warnings.isEmpty)
    }

    @Test("Installed packages carry dpkg-query's version, source name and source version")
    func dpkgInstalledPackages() throws {
        let status = try DpkgStatus.parse(try Fixtures.bytes("edge/deb/states.status"), file: "states")
        let byName = Dictionary(grouping: status.installedPackages, by: \.name)
        #expect(byName["epoch-zero"] == [InstalledPackage(name: "epoch-zero", epoch: 0, version: "1.2-3", release: "3",
                                                           arch: "amd64", source: "epochsrc", sourceVersion: "1.0-1")])
        #expect(byName["tab-after-colon"] == [InstalledPackage(name: "tab-after-colon", epoch: 1, version: "1:7.0",
                                                                release: nil, arch: "amd64", source: "tab-after-colon",
                                                                sourceVersion: "1:7.0")])
        #expect(byName["multi-same"]?.map(\.arch) == ["amd64", "i386"])
        // installed, hold+installed, half-configured, triggers-*: yes; unpacked, half-installed, config-files: no.
        #expect(Set(byName.keys) == ["colon-upstream", "epoch-zero", "foreign-arch", "half-configured", "multi-same",
                                     "no-arch", "tab-after-colon", "trig-await", "trig-pend", "warn-version"])
        #expect(status.warnings.count == 2)
        #expect(status.warnings.contains { $0.package == "no-arch" && $0.message == "missing 'Architecture' field" })
        #expect(status.warnings.contains { $0.package == "warn-version" && $0.message.hasSuffix("invalid character in version number") })
    }

    static let errors: [(String, DpkgStatusError.Code, String)] = [
        ("error-comment", .syntax, "field name '#' must be followed by a colon"),
        ("error-duplicate-field", .duplicateField, "duplicate value for 'Version' field"),
        ("error-duplicate", .duplicatePackage, "multiple non-coinstallable package instances present"),
        ("error-missing-package", .missingField, "missing 'Package' field"),
        ("error-missing-version", .missingField, "missing 'Version' field"),
        ("error-multiarch-all", .invalidMultiArch, "package has 'Multi-Arch: same' field but is architecture 'all'"),
        ("error-multiarch-value", .invalidMultiArch, "quadstate (foreign/allowed/same/no) 'Multi-Arch' field: has invalid value 'sometimes'"),
        ("error-no-colon", .syntax, "field name 'no' must be followed by a colon"),
        ("error-package-name", .invalidPackageName, "invalid package name in 'Package' field: must start with an alphanumeric character"),
        ("error-source-version", .invalidSourceVersion, "version 'a1' has bad syntax: version number does not start with digit"),
        ("error-status-junk", .invalidStatus, "third (status) word in 'Status' field: has trailing junk"),
        ("error-status-short", .invalidStatus, "third (status) word in 'Status' field: is missing a value"),
        ("error-status-want", .invalidStatus, "first (want) word in 'Status' field: has invalid value 'wanted ok installed'"),
        ("error-status-word", .invalidStatus, "third (status) word in 'Status' field: has invalid value 'bogus'"),
        ("error-version", .invalidVersion, "'Version' field value '1:': nothing after colon in version number"),
        ("blank-line-spaces", .duplicateField, "duplicate value for 'Package' field"),
    ]

    @Test("Files dpkg-query rejects are rejected with its reason, naming file and line", arguments: errors)
    func dpkgRejects(_ name: String, _ code: DpkgStatusError.Code, _ message: String) throws {
        let file = "edge/deb/\(name).status"
        let error = try #require(throws: DpkgStatusError.self) { try DpkgStatus.parse(try Fixtures.bytes(file), file: file) }
        #expect(error.code == code)
        #expect(error.message.contains(message), "\(error.message)")
        #expect(error.file == file && error.line > 0)
        #expect(error.description.contains(file))
    }

    @Test("syft's status files with an empty Package stanza are rejected as dpkg-query rejects them",
          arguments: ["syft_image-dpkg.status", "syft_multiple.status"])
    func dpkgRejectsEmptyPackage(_ name: String) throws {
        let error = try #require(throws: DpkgStatusError.self) {
            try DpkgStatus.parse(try Fixtures.bytes("dpkg-status/\(name)"), file: name)
        }
        #expect(error.message == "invalid package name in 'Package' field: may not be empty string")
        #expect(error.line == 1)
    }

    @Test("A distroless status.d directory is read through MachineFiles; stanzas without Status count as installed")
    func dpkgDistrolessStatusD() throws {
        var machine = SnapshotMachine(displayName: "distroless")
        machine.add("/var/lib/dpkg/status.d/libsqlite3-0", try Fixtures.bytes("dpkg-status/syft_distroless_status.d_libsqlite3-0"))
        machine.add("/var/lib/dpkg/status.d/libsqlite3-0.md5sums", Array("d41d8cd98f00b204e9800998ecf8427e  usr/lib/x\n".utf8))
        machine.add("/var/lib/dpkg/status.d/multi", try Fixtures.bytes("dpkg-status/osv-scalibr_transitional.status"))
        let status = try #require(try DpkgStatus.read(from: machine))
        #expect(status.installedPackages == [
            InstalledPackage(name: "iceweasel", version: "78.13.0esr-1~deb10u1", release: "1~deb10u1", arch: "all",
                             source: "firefox-esr", sourceVersion: "78.13.0esr-1~deb10u1"),
            InstalledPackage(name: "libsqlite3-0", version: "3.34.1-3", release: "3", arch: "arm64",
                             source: "sqlite3", sourceVersion: "3.34.1-3"),
        ])
        #expect(status.entries.first { $0.name == "libsqlite3-0" }?.file == "/var/lib/dpkg/status.d/libsqlite3-0")
        #expect(status.entries.first { $0.name == "libsqlite3-0" }?.binaryPackage(nativeArchitecture: "arm64") == "libsqlite3-0:arm64")
    }

    @Test("A machine without a dpkg database reads as nil; a status file on a directory machine is read")
    func dpkgMachineFiles() throws {
        #expect(try DpkgStatus.read(from: SnapshotMachine(displayName: "empty")) == nil)
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("dpkg-root-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let dir = root.appendingPathComponent("var/lib/dpkg")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data(try Fixtures.bytes("dpkg-status/trivy_ubuntu.status")).write(to: dir.appendingPathComponent("status"))
        let status = try #require(try DpkgStatus.read(from: DirectoryMachine(root: root.path)))
        #expect(status.installedPackages.count == 90)  // 91 listed by dpkg-query, one of them `rc`
    }

    @Test("Arbitrary bytes never trap the reader")
    func dpkgGarbage() {
        var state: UInt64 = 42
        for round in 0..<300 {
            var bytes: [UInt8] = Array("Package: a\nStatus: install ok installed\nVersion: 1\n".utf8)
            for _ in 0..<(round % 64) {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                let pick = Int(state >> 59)
                bytes.append(contentsOf: [[0x0A], [0x20], [0x3A], [0x23], [0xFF], [0x0D], Array("Version: 1:".utf8),
                                          Array("\n\n".utf8), Array("Package:".utf8), [0x41]][pick % 10])
            }
            _ = try? DpkgStatus.parse(bytes, file: "fuzz")
            _ = try? Deb822Reader.paragraphs(bytes, allowsComments: true)
        }
    }
}
