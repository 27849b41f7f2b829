import Foundation
import Testing
@testable import UpdateEngine

@Suite("Apt repository indexes")
struct AptRepositoryTests {
    static let dir = "repo-metadata/debian-apt-indexes/"
    /// Before the fixtures' Valid-Until (2026-12-02) and after their Date (2026-11-26).
    static let fixtureNow = Date(timeIntervalSince1970: 1_796_000_000)  // 2026-11-30

    @Test("The security InRelease parses into its Release fields and SHA256 list")
    func releaseFields() throws {
        let text = try #require(ClearSigned.signedText(try Fixtures.bytes(Self.dir + "bookworm-security_InRelease")))
        let r = try AptRelease.parse(text, source: "bookworm-security_InRelease")
        #expect(r.origin == "Debian")
        #expect(r.label == "Debian-Security")
        #expect(r.suite == "oldstable-security")
        #expect(r.codename == "bookworm-security")
        #expect(r.acquireByHash)
        #expect(!r.notAutomatic && !r.butAutomaticUpgrades)
        #expect(r.architectures == ["amd64", "arm64", "armhf", "i386", "ppc64el"])
        #expect(r.components.first == "updates/main")
        #expect(r.sha256["main/binary-amd64/Packages"]?.sha256 == "a9f82656420a291c0353c8bc3dde7dc0589e0a27546efde736b7fe887ba32300")
        #expect(r.sha256["main/binary-amd64/Packages"]?.size == 2539062)
        #expect(r.date == AptRelease.parseDate("Wed, 25 Nov 2026 22:33:12 UTC"))
        #expect(r.validUntil.map { Int($0.timeIntervalSince1970) } == 1_796_250_792)
        #expect(AptPolicy.significance(of: r) == .security)
    }

    @Test("The updates InRelease says No-Support-for-Architecture-all and is an -updates archive")
    func updatesRelease() throws {
        let text = try #require(ClearSigned.signedText(try Fixtures.bytes(Self.dir + "bookworm-updates_InRelease")))
        let r = try AptRelease.parse(text, source: "u")
        #expect(r.noSupportForArchitectureAll)
        #expect(r.validUntil == nil)
        #expect(AptPolicy.significance(of: r) == .updates)
    }

    @Test("A Release Date or Valid-Until with an absurd year is a malformed Release naming the line, not a trap",
          arguments: [
              ("Date", "Sat, 01 Jan 99999999 00:00:00 UTC"),
              ("Date", "Sat, 01 Jan 9223372036854775807 23:59:59 UTC"),
              ("Valid-Until", "Sat, 01 Mar -9223372036854775807 00:00:00 UTC"),
              ("Valid-Until", "99999999999999999999999"),
              ("Date", "01 Jan 10000 00:00:00 +9999"),
          ])
    func absurdReleaseDates(field: String, value: String) throws {
        let text = "Origin: Debian\nSuite: stable\n\(field): \(value)\nComponents: main\n"
        do {
            _ = try AptRelease.parse(Array(text.utf8), source: "http://deb.example/dists/stable/Release")
            Issue.record("'\(field): \(value)' was accepted")
        } catch {
            #expect(error.code == .malformedRelease)
            #expect(error.line == 3)
            #expect(error.description.contains("http://deb.example/dists/stable/Release line 3"))
        }
    }

    @Test("Text outside the clearsigned message is refused")
    func clearsignedExtraText() throws {
        let good = try Fixtures.bytes(Self.dir + "bookworm-updates_InRelease")
        #expect(ClearSigned.signedText(good) != nil)
        #expect(ClearSigned.signedText(good + Array("Origin: Evil\n".utf8)) == nil)
        #expect(ClearSigned.signedText(Array("Origin: Evil\n".utf8) + good) == nil)
    }

    @Test("gpgv accepts both real InRelease files with the Debian archive keyring",
          .enabled(if: Requirement.tool(AptRepoTree.hasDebianKeyring), "needs the debian-archive-keyring package"))
    func gpgvAcceptsRealFiles() async throws {
        let keyring = AptKeyring(name: AptRepoTree.keyring, bytes: [UInt8](try Data(contentsOf: URL(fileURLWithPath: AptRepoTree.keyring))))
        for suite in ["bookworm-updates", "bookworm-security"] {
            let result = await GPGVerifier.patient.verify(try Fixtures.bytes(Self.dir + "\(suite)_InRelease"), keyrings: [keyring])
            guard case .valid(let fps) = result else { Issue.record("\(suite): \(result)"); continue }
            #expect(!fps.isEmpty)
        }
    }

    @Test("gpgv rejects an InRelease with one byte changed, naming BADSIG",
          .enabled(if: Requirement.tool(AptRepoTree.hasDebianKeyring), "needs the debian-archive-keyring package"))
    func gpgvRejectsChangedByte() async throws {
        let keyring = AptKeyring(name: "k", bytes: [UInt8](try Data(contentsOf: URL(fileURLWithPath: AptRepoTree.keyring))))
        var bytes = try Fixtures.bytes(Self.dir + "bookworm-updates_InRelease")
        let at = try #require(String(decoding: bytes, as: UTF8.self).range(of: "Label: Debian")).upperBound.utf16Offset(in: String(decoding: bytes, as: UTF8.self))
        bytes[at - 1] = UInt8(ascii: "X")
        let result = await GPGVerifier.patient.verify(bytes, keyrings: [keyring])
        guard case .invalid(let why) = result else { Issue.record("accepted a changed file"); return }
        #expect(why.code == .badSignature)
    }

    @Test("An armored copy of the keyring is dearmored and works the same",
          .enabled(if: Requirement.tool(AptRepoTree.hasDebianKeyring), "needs the debian-archive-keyring package"))
    func armoredKeyring() async throws {
        let r = try AptRepoTree.run("/usr/bin/gpg", ["--homedir", "/nonexistent", "--enarmor"],
                                    stdin: [UInt8](try Data(contentsOf: URL(fileURLWithPath: AptRepoTree.keyring))))
        try #require(r.status == 0)
        // gpg --enarmor writes an "ARMORED FILE" block; relabel it as a public key block.
        let armored = String(decoding: r.stdout, as: UTF8.self).replacingOccurrences(of: "ARMORED FILE", with: "PUBLIC KEY BLOCK")
        let result = await GPGVerifier.patient.verify(try Fixtures.bytes(Self.dir + "bookworm-security_InRelease"),
                                                keyrings: [AptKeyring(name: "debian.asc", bytes: Array(armored.utf8))])
        guard case .valid = result else { Issue.record("\(result)"); return }
    }

    @Test("One verdict cache runs gpgv once per signed text and keyring set, and a changed byte or another keyring is checked anew",
          .enabled(if: Requirement.tool(AptRepoTree.hasDebianKeyring), "needs the debian-archive-keyring package"))
    func verdictCache() async throws {
        let keyring = AptKeyring(name: "k", bytes: [UInt8](try Data(contentsOf: URL(fileURLWithPath: AptRepoTree.keyring))))
        let removed = "/usr/share/keyrings/debian-archive-removed-keys.gpg"
        let other = AptKeyring(name: removed, bytes: [UInt8](try Data(contentsOf: URL(fileURLWithPath: removed))))
        let cache = GPGVerdictCache()
        let verifier = GPGVerifier(timeLimit: GPGVerifier.patient.timeLimit, cache: cache)
        let good = try Fixtures.bytes(Self.dir + "bookworm-security_InRelease")
        for _ in 0..<50 {
            guard case .valid = await verifier.verify(good, keyrings: [keyring]) else { Issue.record("rejected"); return }
        }
        #expect(cache.verdictsReached == 1)
        var changed = good
        let at = try #require(String(decoding: good, as: UTF8.self).range(of: "Label: Debian")).upperBound.utf16Offset(in: String(decoding: good, as: UTF8.self))
        changed[at - 1] = UInt8(ascii: "X")
        guard case .invalid(let bad) = await verifier.verify(changed, keyrings: [keyring]) else { Issue.record("accepted a changed file"); return }
        #expect(bad.code == .badSignature)
        guard case .invalid(let noKey) = await verifier.verify(good, keyrings: [other]) else { Issue.record("accepted without the key"); return }
        #expect(noKey.code == .noPublicKey)
        #expect(cache.verdictsReached == 3)
    }

    @Test("A keyring without the signing key gives NO_PUBKEY")
    func wrongKeyring() async throws {
        let other = "/usr/share/keyrings/debian-archive-removed-keys.gpg"
        try #require(FileManager.default.fileExists(atPath: other))
        let result = await GPGVerifier.patient.verify(try Fixtures.bytes(Self.dir + "bookworm-security_InRelease"),
                                                keyrings: [AptKeyring(name: other, bytes: [UInt8](try Data(contentsOf: URL(fileURLWithPath: other))))])
        guard case .invalid(let why) = result else { Issue.record("accepted"); return }
        #expect(why.code == .noPublicKey)
    }

    @Test("The streaming Packages parser reads every stanza of the security index in 1 MB chunks")
    func packagesParser() throws {
        let bytes = try Fixtures.bytes(Self.dir + "bookworm-security_main_binary-amd64_Packages.xz")
        var parser = PackagesIndexParser(source: "security")
        try Decompressor.stream(bytes, compression: .xz, source: "security") { chunk in try parser.feed(chunk) }
        try parser.finish()
        let text = String(decoding: try Fixtures.xzBytes(Self.dir + "bookworm-security_main_binary-amd64_Packages.xz"), as: UTF8.self)
        let expected = text.split(separator: "\n").filter { $0.hasPrefix("Package: ") }.count
        #expect(expected == 3040)
        #expect(parser.records.count == expected)
        #expect(parser.warnings.isEmpty)
        let ssl = try #require(parser.records.first { $0.name == "libssl3" })
        #expect(ssl.version.description == "3.0.22-1~deb12u2")
        #expect(ssl.multiArch == .same)
        #expect(ssl.sourceName == "openssl")
        #expect(ssl.architecture == "amd64")
        // Feeding byte by byte gives the same records.
        let plain = try Fixtures.bytes(Self.dir + "bookworm-updates_main_binary-amd64_Packages")
        var slow = PackagesIndexParser(source: "updates")
        for start in stride(from: 0, to: plain.count, by: 7) { try slow.feed(Array(plain[start..<min(plain.count, start + 7)])) }
        try slow.finish()
        #expect(slow.records == (try PackagesIndexParser.parse(plain, source: "updates")).records)
        #expect(slow.records.count == 38)
    }

    @Test("A stanza without Package is an error naming the line")
    func packagesParserRejects() {
        #expect(throws: AptRepositoryError.self) {
            _ = try PackagesIndexParser.parse(Array("Package: a\nVersion: 1\n\nVersion: 2\n".utf8), source: "x")
        }
        do {
            _ = try PackagesIndexParser.parse(Array("Package: a\nVersion: 1\n\nVersion: 2\n".utf8), source: "x")
        } catch {
            #expect(error.line == 4)
            #expect(error.description.contains("x line 4"))
        }
    }

    // MARK: Loader

    static func machine(sources: String, keyring: Bool = true) throws -> SnapshotMachine {
        var m = SnapshotMachine(displayName: "test")
        m.add("/etc/apt/sources.list.d/debian.sources", Array(sources.utf8))
        if keyring {
            m.add(AptRepoTree.keyring, [UInt8](try Data(contentsOf: URL(fileURLWithPath: AptRepoTree.keyring))))
        }
        return m
    }

    static func debianSources(_ uri: String, suites: String = "bookworm-updates bookworm-security", extra: String = "") -> String {
        "Types: deb\nURIs: \(uri)\nSuites: \(suites)\nComponents: main\nSigned-By: \(AptRepoTree.keyring)\n\(extra)"
    }

    /// Counts fetches and remembers the URLs.
    final class Recording: ResourceFetcher, @unchecked Sendable {
        let inner: FileFetcher
        private let lock = NSLock()
        private var urls: [String] = []
        init(_ inner: FileFetcher) { self.inner = inner }
        var fetched: [String] { lock.withLock { urls } }
        func fetch(_ url: String) async throws -> [UInt8]? {
            lock.withLock { urls.append(url) }
            return try await inner.fetch(url)
        }
    }

    @Test("The loader verifies both real repositories and parses their indexes, by hash",
          .enabled(if: Requirement.tool(AptRepoTree.hasDebianKeyring), "needs the debian-archive-keyring package"))
    func loaderReal() async throws {
        let tree = try AptRepoTree()
        try tree.addRealDebian()
        let machine = try Self.machine(sources: Self.debianSources(tree.fileURI + "debian"))
        let config = try AptMachineConfig.read(from: machine)
        let rec = Recording(FileFetcher())
        let loader = AptRepositoryLoader(fetcher: rec, verifier: .patient, now: Self.fixtureNow)
        let indexes = await loader.load(config, keyringsFrom: machine)
        #expect(indexes.failures.isEmpty, "\(indexes.failures)")
        #expect(indexes.repositories.map(\.packages.count).sorted() == [38, 3040])
        for r in indexes.repositories {
            guard case .signed = r.trust else { Issue.record("not signed: \(r.key)"); continue }
            #expect(r.indexURL.contains("/by-hash/SHA256/"))
        }
        // Packages.xz is listed first but only the plain file is there: the fallback works.
        #expect(rec.fetched.contains { $0.hasSuffix("main/binary-amd64/Packages") || $0.contains("by-hash") })
    }

    @Test("One changed byte in the InRelease fails that repository with the signature reason",
          .enabled(if: Requirement.tool(AptRepoTree.hasDebianKeyring), "needs the debian-archive-keyring package"))
    func loaderChangedInRelease() async throws {
        let tree = try AptRepoTree()
        try tree.addRealDebian()
        var bytes = try tree.read("debian/dists/bookworm-security/InRelease")
        let text = String(decoding: bytes, as: UTF8.self)
        let r = try #require(text.range(of: "Suite: oldstable-security"))
        bytes[text.utf8.distance(from: text.utf8.startIndex, to: r.lowerBound) + 7] = UInt8(ascii: "O")
        try tree.write("debian/dists/bookworm-security/InRelease", bytes)
        let machine = try Self.machine(sources: Self.debianSources(tree.fileURI + "debian"))
        let indexes = await AptRepositoryLoader(fetcher: FileFetcher(), verifier: .patient, now: Self.fixtureNow)
            .load(try AptMachineConfig.read(from: machine), keyringsFrom: machine)
        #expect(indexes.repositories.map(\.key.suite) == ["bookworm-updates"])
        let f = try #require(indexes.failures.first)
        #expect(indexes.failures.count == 1)
        #expect(f.suite == "bookworm-security")
        #expect(f.reason.contains("signature check failed"))
        #expect(f.reason.contains("BADSIG"))
        #expect(f.reason.contains("InRelease"))
    }

    @Test("One changed byte in a Packages file fails that index with a hash mismatch",
          .enabled(if: Requirement.tool(AptRepoTree.hasDebianKeyring), "needs the debian-archive-keyring package"))
    func loaderChangedPackages() async throws {
        let tree = try AptRepoTree()
        try tree.addRealDebian()
        let sha = SHA256Hasher.hex(of: try tree.read("debian/dists/bookworm-updates/main/binary-amd64/Packages"))
        for path in ["debian/dists/bookworm-updates/main/binary-amd64/Packages",
                     "debian/dists/bookworm-updates/main/binary-amd64/by-hash/SHA256/\(sha)"] {
            var bytes = try tree.read(path)
            bytes[100] ^= 0x01
            try tree.write(path, bytes)
        }
        let machine = try Self.machine(sources: Self.debianSources(tree.fileURI + "debian"))
        let indexes = await AptRepositoryLoader(fetcher: FileFetcher(), verifier: .patient, now: Self.fixtureNow)
            .load(try AptMachineConfig.read(from: machine), keyringsFrom: machine)
        let f = try #require(indexes.failures.first)
        #expect(f.suite == "bookworm-updates")
        #expect(f.index == "main/binary-amd64/Packages")
        #expect(f.reason.contains("Hash Sum mismatch"))
        #expect(indexes.repositories.count == 1)
    }

    @Test("Valid-Until is enforced unless ignored; a missing Signed-By keyring and no keyring at all are reasons",
          .enabled(if: Requirement.tool(AptRepoTree.hasDebianKeyring), "needs the debian-archive-keyring package"))
    func loaderExpiryAndKeys() async throws {
        let tree = try AptRepoTree()
        try tree.addRealDebian()
        let machine = try Self.machine(sources: Self.debianSources(tree.fileURI + "debian", suites: "bookworm-security"))
        let config = try AptMachineConfig.read(from: machine)
        let later = Date(timeIntervalSince1970: 1_830_000_000)  // 2027
        let expired = await AptRepositoryLoader(fetcher: FileFetcher(), verifier: .patient, now: later).load(config, keyringsFrom: machine)
        #expect(expired.failures.first?.reason.contains("Valid-Until") == true)
        let ignored = await AptRepositoryLoader(fetcher: FileFetcher(), verifier: .patient, ignoreValidUntil: true, now: later).load(config, keyringsFrom: machine)
        #expect(ignored.failures.isEmpty)

        let noKey = try Self.machine(sources: Self.debianSources(tree.fileURI + "debian", suites: "bookworm-security"), keyring: false)
        let missing = await AptRepositoryLoader(fetcher: FileFetcher(), verifier: .patient, now: Self.fixtureNow)
            .load(try AptMachineConfig.read(from: noKey), keyringsFrom: noKey)
        #expect(missing.failures.first?.reason.contains("does not exist on the machine") == true)

        var plain = SnapshotMachine(displayName: "plain")
        plain.add("/etc/apt/sources.list", Array("deb \(tree.fileURI)debian bookworm-security main\n".utf8))
        let none = await AptRepositoryLoader(fetcher: FileFetcher(), verifier: .patient, now: Self.fixtureNow)
            .load(try AptMachineConfig.read(from: plain), keyringsFrom: plain)
        #expect(none.failures.first?.reason.contains("no keyring is trusted") == true)
        // The machine's trusted.gpg.d is used when there is no Signed-By.
        plain.add("/etc/apt/trusted.gpg.d/debian-archive-keyring.gpg", [UInt8](try Data(contentsOf: URL(fileURLWithPath: AptRepoTree.keyring))))
        let trusted = await AptRepositoryLoader(fetcher: FileFetcher(), verifier: .patient, now: Self.fixtureNow)
            .load(try AptMachineConfig.read(from: plain), keyringsFrom: plain)
        #expect(trusted.failures.isEmpty, "\(trusted.failures)")
        #expect(trusted.repositories.count == 1)
    }

    @Test("trusted=yes repositories load unsigned and are reported; unsigned ones without it fail")
    func unsignedRepositories() async throws {
        let tree = try AptRepoTree()
        try tree.addUnsigned(prefix: "local", suite: "stable", fields: [("Suite", "stable"), ("Components", "main"), ("Architectures", "amd64")],
                             indexes: ["main/binary-amd64/Packages": AptRepoTree.stanza("hello", "1.0-1")])
        try tree.addFlat(prefix: "flat", fields: [("Origin", "Example")], packages: AptRepoTree.stanza("tool", "2.0", arch: "all"))
        var m = SnapshotMachine(displayName: "m")
        m.add("/etc/apt/sources.list", Array("""
            deb [trusted=yes] \(tree.fileURI)local stable main
            deb [trusted=yes] \(tree.fileURI)flat ./
            deb \(tree.fileURI)local stable main contrib

            """.utf8))
        let indexes = await AptRepositoryLoader(fetcher: FileFetcher(), verifier: .patient).load(try AptMachineConfig.read(from: m), keyringsFrom: m)
        #expect(indexes.repositories.count == 2)
        #expect(indexes.repositories.contains { $0.indexURL.hasSuffix("flat/Packages.xz") && $0.packages.first?.name == "tool" })
        #expect(indexes.notes.filter { $0.contains("trusted=yes") }.count == 2)
        #expect(indexes.failures.count == 1)
        #expect(indexes.failures.first?.reason.contains("not signed") == true)
    }

    @Test("The index cache hands the same parsed index to a second machine")
    func cacheReuse() async throws {
        let tree = try AptRepoTree()
        try tree.addUnsigned(prefix: "local", suite: "stable", fields: [("Suite", "stable")],
                             indexes: ["main/binary-amd64/Packages": AptRepoTree.stanza("hello", "1.0-1")])
        var m = SnapshotMachine(displayName: "m")
        m.add("/etc/apt/sources.list", Array("deb [trusted=yes] \(tree.fileURI)local stable main\n".utf8))
        let cache = AptIndexCache()
        let rec = Recording(FileFetcher())
        let loader = AptRepositoryLoader(fetcher: rec, verifier: .patient, cache: cache)
        let config = try AptMachineConfig.read(from: m)
        _ = await loader.load(config, keyringsFrom: m)
        let first = rec.fetched.count
        let again = await loader.load(config, keyringsFrom: m)
        #expect(again.repositories.first?.packages.count == 1)
        #expect(rec.fetched.count == first + 2)  // only InRelease (absent) and Release again
        #expect(await cache.count == 1)
    }
}
