import Foundation
import Testing
@testable import UpdateEngine

@Suite("apt sources")
struct AptSourcesTests {
    static func read(_ name: String, as path: String) throws -> AptSources {
        let bytes = try Fixtures.bytes(name)
        return path.hasSuffix(".sources") ? AptSources.parseDeb822(bytes, file: path) : AptSources.parseOneLine(bytes, file: path)
    }

    /// (fixture, entries, deb-src entries) for every real sample: none of them has a bad line.
    static let samples: [(String, Int, Int)] = [
        ("python-apt_aptsources_ports_sources.list", 19, 10), ("python-apt_aptsources_sources.list", 5, 0),
        ("python-apt_aptsources_sources.list.d_main.sources", 5, 0), ("syft_ubuntu-24.04_ubuntu.sources", 3, 0),
        ("syft_ubuntu-esm-infra.list", 2, 0), ("syft_ubuntu-esm-infra.sources", 2, 0), ("syft_ubuntu-fips.list", 1, 0),
        ("this-machine_debian-12_debian.sources", 3, 0), ("this-machine_google-cloud-sdk.list", 1, 0),
        ("this-machine_nodesource.sources", 1, 0),
    ]

    @Test("Real sources files read without diagnostics", arguments: samples)
    func aptRealSample(_ name: String, _ count: Int, _ sources: Int) throws {
        let s = try Self.read("apt-sources/\(name)", as: name.hasSuffix(".sources") ? "/x.sources" : "/x.list")
        #expect(s.diagnostics.isEmpty)
        #expect(s.entries.count == count)
        #expect(s.entries.filter { $0.type == .debSrc }.count == sources)
    }

    @Test("The one-line and deb822 forms of python-apt's test sources say the same")
    func aptOneLineEqualsDeb822() throws {
        let list = try Self.read("apt-sources/python-apt_aptsources_sources.list", as: "/etc/apt/sources.list")
        let deb822 = try Self.read("apt-sources/python-apt_aptsources_sources.list.d_main.sources", as: "/etc/apt/sources.list.d/main.sources")
        func key(_ e: AptSourceEntry) -> String { "\(e.type) \(e.uri) \(e.suite) \(e.components) \(e.architectures) \(String(describing: e.trusted))" }
        #expect(list.entries.map(key) == deb822.entries.map(key))
        #expect(list.entries.last?.architectures == ["amd64", "i386"])
        #expect(list.entries.last?.trusted == true)
    }

    @Test("A deb822 stanza with several suites and a comment between fields gives one entry per suite")
    func aptDebianSources() throws {
        let s = try Self.read("apt-sources/this-machine_debian-12_debian.sources", as: "/etc/apt/sources.list.d/debian.sources")
        #expect(s.entries == [
            AptSourceEntry(type: .deb, uri: "http://debian-mirror.invalid/debian", suite: "bookworm", components: ["main"],
                           signedBy: .paths(["/usr/share/keyrings/debian-archive-keyring.gpg"]), options: s.entries[0].options,
                           file: "/etc/apt/sources.list.d/debian.sources", line: 1),
            AptSourceEntry(type: .deb, uri: "http://debian-mirror.invalid/debian", suite: "bookworm-updates", components: ["main"],
                           signedBy: .paths(["/usr/share/keyrings/debian-archive-keyring.gpg"]), options: s.entries[0].options,
                           file: "/etc/apt/sources.list.d/debian.sources", line: 1),
            AptSourceEntry(type: .deb, uri: "http://debian-mirror.invalid/debian-security", suite: "bookworm-security",
                           components: ["main"], signedBy: .paths(["/usr/share/keyrings/debian-archive-keyring.gpg"]),
                           options: s.entries[2].options, file: "/etc/apt/sources.list.d/debian.sources", line: 8),
        ])
    }

    @Test("One-line options, flat repositories, quoted URIs and bad lines")
    func aptOneLineEdges() throws {
        let s = try Self.read("edge/deb/apt/options.list", as: "/etc/apt/sources.list")
        let e = s.entries
        #expect(e.count == 7)
        #expect(e[0].architectures == ["amd64", "i386"] && e[0].trusted == true && e[0].components == ["main", "contrib"])
        #expect(e[0].signedBy == .paths(["/usr/share/keyrings/example.gpg"]) && e[0].options["lang"] == "de")
        #expect(e[1].architecturesAdded == ["arm64"] && e[1].architecturesRemoved == ["i386"] && e[1].architectures.isEmpty)
        #expect(e[1].components == ["main"] && e[1].line == 3)
        #expect(e[2].type == .debSrc && !e[2].isUsedForUpdates)
        #expect(e[3].isFlat && e[3].suite == "./" && e[3].components.isEmpty && e[3].uri == "file:/srv/flat")
        #expect(e[4].uri == "http://example.org/tabs" && e[4].components == ["non-free-firmware"])
        #expect(e[5].trusted == false)  // apt: trusted=perhaps is not true
        #expect(e[6].uri == "cdrom:[Debian GNU/Linux 12 _Bookworm_ - Official amd64 DVD]/" && e[6].components == ["contrib", "main"])
        #expect(s.diagnostics.map(\.line) == [7, 8, 9])
        #expect(s.diagnostics.map(\.message) == ["malformed entry (absolute Suite Component)", "malformed entry (Component)",
                                                 "type 'dep' is not known"])
        #expect(s.diagnostics[0].description == "/etc/apt/sources.list line 7: malformed entry (absolute Suite Component).")
    }

    @Test("deb822: several types, URIs and suites, inline keys, Enabled: no, flat suites, missing fields")
    func aptDeb822Edges() throws {
        let s = try Self.read("edge/deb/apt/inline.sources", as: "/etc/apt/sources.list.d/inline.sources")
        let first = s.entries.filter { $0.line == 2 }
        #expect(first.count == 8)
        #expect(Set(first.map(\.type)) == [.deb, .debSrc])
        #expect(Set(first.map(\.uri)) == ["http://example.org/a", "http://example.org/b"])
        #expect(first[0].signedBy == .inlineKey("""
            -----BEGIN PGP PUBLIC KEY BLOCK-----

            mDMEZexample0AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
            =abcd
            -----END PGP PUBLIC KEY BLOCK-----
            """))
        let disabled = try #require(s.entries.first { $0.uri == "http://example.org/disabled" })
        #expect(!disabled.enabled && !disabled.isUsedForUpdates && disabled.trusted == true)
        let flat = try #require(s.entries.first { $0.uri == "file:/srv/flat" })
        #expect(flat.isFlat && flat.components.isEmpty && flat.architectures == ["amd64", "arm64"])
        let keys = try #require(s.entries.first { $0.uri == "http://example.org/keys" })
        #expect(keys.signedBy == .paths(["/usr/share/keyrings/a.gpg", "/usr/share/keyrings/b.gpg"]))
        #expect(s.diagnostics == [AptSourcesDiagnostic(file: "/etc/apt/sources.list.d/inline.sources", line: 25,
                                                       message: "malformed stanza (no Suites)")])
    }

    @Test("A machine's sources: sources.list, then sources.list.d by name, skipping names apt skips")
    func aptReadFromMachine() throws {
        var m = SnapshotMachine(displayName: "vm")
        m.add("/etc/apt/sources.list", try Fixtures.bytes("apt-sources/syft_ubuntu-fips.list"))
        m.add("/etc/apt/sources.list.d/nodesource.sources", try Fixtures.bytes("apt-sources/this-machine_nodesource.sources"))
        m.add("/etc/apt/sources.list.d/google-cloud-sdk.list", try Fixtures.bytes("apt-sources/this-machine_google-cloud-sdk.list"))
        m.add("/etc/apt/sources.list.d/old.list.disabled", try Fixtures.bytes("apt-sources/this-machine_google-cloud-sdk.list"))
        m.add("/etc/apt/sources.list.d/bad name.list", try Fixtures.bytes("apt-sources/this-machine_google-cloud-sdk.list"))
        m.add("/etc/apt/sources.list.d/debian.sources", try Fixtures.bytes("apt-sources/this-machine_debian-12_debian.sources"))
        let s = try AptSources.read(from: m)
        #expect(s.diagnostics.isEmpty)
        #expect(s.entries.map(\.file) == ["/etc/apt/sources.list"] + Array(repeating: "/etc/apt/sources.list.d/debian.sources", count: 3)
                    + ["/etc/apt/sources.list.d/google-cloud-sdk.list", "/etc/apt/sources.list.d/nodesource.sources"])
        #expect(s.entries.last?.architectures == ["amd64"])
        #expect(try AptSources.read(from: SnapshotMachine(displayName: "none")) == AptSources())
    }

    @Test("Entries round-trip through JSON")
    func aptCodable() throws {
        let s = try Self.read("edge/deb/apt/inline.sources", as: "/x.sources")
        let data = try JSONEncoder().encode(s.entries)
        #expect(try JSONDecoder().decode([AptSourceEntry].self, from: data) == s.entries)
    }
}
