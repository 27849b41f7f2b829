import Foundation
import Testing
@testable import UpdateEngine

@Suite("rpm-md repository metadata")
struct RepodataTests {
    static let cs9 = "repo-metadata/centos-stream-9-appstream"

    @Test("CentOS Stream 9 AppStream's primary.xml.gz parses to exactly primary.nevra.tsv")
    func primaryMatchesGolden() throws {
        let repomd = try Repomd.parse(try Fixtures.bytes("\(Self.cs9)/repodata/repomd.xml"), source: "repomd.xml")
        let entry = try #require(repomd.entry("primary"))
        let bytes = try Fixtures.bytes("\(Self.cs9)/\(entry.location)")
        try #require(entry.checksum).verify(bytes, url: entry.location)
        let packages = try PrimaryXML.parse(bytes, source: entry.location)
        let golden = try Fixtures.tsv("\(Self.cs9)/primary.nevra.tsv")
        #expect(packages.count == 17_649)
        #expect(packages.count == golden.count)
        let ours = packages.map { [$0.name, String($0.evr.epoch ?? 0), $0.evr.version, $0.evr.release ?? "", $0.arch] }
        for (i, (a, b)) in zip(ours, golden).enumerated() where a != b {
            Issue.record("package \(i + 1): \(a) != golden \(b)")
            break
        }
        #expect(ours == golden)
        #expect(packages.allSatisfy { $0.location.hasPrefix("Packages/") })
        let kernelDevel = try #require(packages.first { $0.name == "kernel-devel" })
        #expect(kernelDevel.provides.contains("installonlypkg(kernel)"))
    }

    @Test("repomd.xml lists every data file with checksums and locations")
    func repomd() throws {
        let repomd = try Repomd.parse(try Fixtures.bytes("\(Self.cs9)/repodata/repomd.xml"), source: "repomd.xml")
        #expect(repomd.revision == "9-stream")
        #expect(repomd.entries.map(\.type) == ["primary", "filelists", "other", "primary_db", "filelists_db", "other_db", "group", "group_xz", "modules"])
        let modules = try #require(repomd.entry("modules"))
        #expect(modules.checksum == RepoChecksum(type: "sha256", value: "ffe6aa44abe8480c2f7a59b9e92f251f10018e1e79ac33e2807260dd03955592"))
        #expect(modules.size == 9488 && modules.openSize == 135261)
    }

    @Test("A checksum mismatch names the file and both digests")
    func checksumMismatch() throws {
        let check = RepoChecksum(type: "sha256", value: String(repeating: "0", count: 64))
        #expect(throws: RepodataError.self) { try check.verify([1, 2, 3], url: "http://x/repodata/p.xml.gz") }
    }

    @Test("CS9 AppStream modules.yaml: 31 module streams, 8 defaults without default streams, 1087 artifacts")
    func modules() throws {
        // Counts from the file itself: `xz -dc … | grep -c '^document: modulemd$'`, the modulemd-defaults
        // documents, and the artifact lines (`    - name-E:V-R.arch`).
        let entry = try #require(try Repomd.parse(try Fixtures.bytes("\(Self.cs9)/repodata/repomd.xml"), source: "r").entry("modules"))
        let bytes = try Fixtures.bytes("\(Self.cs9)/\(entry.location)")
        try #require(entry.checksum).verify(bytes, url: entry.location)
        let modules = try ModuleMetadata.parse(bytes, source: entry.location)
        #expect(modules.streams.count == 31)
        #expect(modules.defaults.count == 8)
        #expect(modules.defaults.values.allSatisfy { $0.stream == nil })
        #expect(modules.streams.reduce(0) { $0 + $1.artifacts.count } == 1087)
        let mariadb = try #require(modules.streams.first { $0.name == "mariadb" })
        #expect(mariadb.stream == "10.11" && mariadb.version == 920240126110506 && mariadb.context == "rhel9")
        #expect(mariadb.artifacts.contains("mariadb-3:10.11.6-1.module_el9+853+7b957b9b.x86_64"))
        #expect(mariadb.requires.isEmpty)  // only buildrequires
        #expect(modules.streams.filter { $0.requires == ["platform": ["el9"]] }.count == 1)
        #expect(modules.defaults["nodejs"]?.profiles["18"] == ["common"])
    }

    @Test("Amazon Linux updateinfo samples parse to their advisories")
    func amazonUpdateInfo() throws {
        let two = try UpdateInfo.parse(try Fixtures.bytes("repo-metadata/amazonlinux2/updateinfo_2_items.xml.gz"), source: "u")
        #expect(two.map(\.id) == ["ALAS2-2018-942", "ALAS2-2018-949"])
        let qemu = two[0]
        #expect(qemu.type == "security" && qemu.severity == "important" && qemu.issued == "2018-02-07 18:49")
        #expect(qemu.cves == ["CVE-2017-5715"])
        #expect(qemu.packages.map(\.name) == ["qemu-kvm", "qemu-img", "qemu-kvm-common", "qemu-kvm-tools", "qemu-kvm-debuginfo"])
        #expect(qemu.packages[0].evr == RPMEVR(epoch: 10, version: "1.5.3", release: "141.amzn2.5.3"))
        let al2023 = try UpdateInfo.parse(try Fixtures.bytes("repo-metadata/amazonlinux2/updateinfo_AL2023.xml.gz"), source: "u")
        #expect(al2023.first?.id == "ALAS2023-2023-001")
        #expect(al2023.first?.severity == "Important")
        #expect(al2023.first?.cves == ["CVE-2014-3634", "CVE-2022-24903"])
    }

    @Test("libdnf's advisory sample: type, severity none, module collections")
    func libdnfUpdateInfo() throws {
        let advisories = try UpdateInfo.parse(try Fixtures.bytes("repo-metadata/libdnf-advisories/updateinfo.xml"), source: "u")
        let first = try #require(advisories.first)
        #expect(first.id == "FEDORA-2019-0329090518" && first.type == "enhancement" && first.severity == nil)
        #expect(first.references.count == 2)
        #expect(first.packages.first?.module == "perl-DBI:master")
        #expect(first.packages.contains { $0.name == "not-present" && $0.module == "perl:5.23" })
    }

    @Test("A metalink gives repomd.xml's digests (alternates too) and mirrors by preference")
    func metalink() throws {
        let m = try Metalink.parse(try Fixtures.bytes("repo-metadata/metalink/librepo_metalink_good_01.xml"), source: "m")
        #expect(m.hashes.contains { $0.type == "sha256" })
        #expect(!m.mirrors.isEmpty)
        #expect(zip(m.mirrors, m.mirrors.dropFirst()).allSatisfy { $0.preference >= $1.preference })
        #expect(m.mirrors.allSatisfy { $0.url.hasSuffix("repomd.xml") })
        let two = try Metalink.parse(try Fixtures.bytes("repo-metadata/metalink/librepo_metalink_good_02.xml"), source: "m")
        #expect(two.mirrors.map(\.baseURL) == ["http://mirrors.syringanetworks.net/fedora/releases/17/Everything/x86_64/os",
                                               "ftp://mirrors.syringanetworks.net/fedora/releases/17/Everything/x86_64/os",
                                               "http://mirror.pnl.gov/fedora/linux/releases/17/Everything/x86_64/os"])
    }

    @Test("A mirrorlist gives its URL lines, comments skipped, variables substituted")
    func mirrorlist() throws {
        #expect(Mirrorlist.parse(try Fixtures.bytes("repo-metadata/mirrorlist/librepo_mirrorlist_varsub.txt"), variables: ["version": "7"])
                == ["http://127.0.0.1:{PORT_PLACEHOLDER}/yum/static/7/"])
        #expect(Mirrorlist.parse(try Fixtures.bytes("repo-metadata/mirrorlist/librepo_mirrorlist_good_02.txt"))
                == ["http://127.0.0.1:{PORT_PLACEHOLDER}/yum/static/01/"])
        #expect(Mirrorlist.parse(try Fixtures.bytes("repo-metadata/mirrorlist/claircore_aws_mirrors_linux2023.txt")).count == 1)
    }

    @Test("External entities are never read and entity bombs never expand")
    func hostileXML() throws {
        let xxe = Array("""
            <?xml version="1.0"?>
            <!DOCTYPE updates [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
            <updates><update type="security"><id>&xxe;X</id></update></updates>
            """.utf8)
        let advisories = try? UpdateInfo.parse(xxe, source: "xxe.xml")
        #expect(!(advisories ?? []).contains { $0.id.contains("root:") })
        var bomb = "<?xml version=\"1.0\"?><!DOCTYPE m [<!ENTITY a \"aaaaaaaaaa\">"
        for i in 1...9 { bomb += "<!ENTITY \(Character(UnicodeScalar(97 + i)!)) \"" + String(repeating: "&\(Character(UnicodeScalar(96 + i)!));", count: 10) + "\">" }
        bomb += "]><metadata packages=\"1\"><package type=\"rpm\"><name>&j;</name><arch>x</arch><version ver=\"1\" rel=\"1\"/></package></metadata>"
        let parsed = try? PrimaryXML.parse(Array(bomb.utf8), source: "bomb.xml")
        #expect((parsed?.first?.name.count ?? 0) < 1000)
    }

    @Test("Malformed primary.xml is an error naming the file and line", arguments: [
        "<metadata><package type=\"rpm\"><name>x</name></metadata>",
        "<metadata><package type=\"rpm\"><name>x</name><arch>noarch</arch></package></metadata>",
        "not xml at all",
    ])
    func malformedPrimary(_ text: String) {
        #expect(throws: RepodataError.self) { try PrimaryXML.parse(Array(text.utf8), source: "http://r/primary.xml") }
    }
}
