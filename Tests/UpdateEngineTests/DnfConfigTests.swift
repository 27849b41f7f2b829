import Foundation
import Testing
@testable import UpdateEngine

@Suite("dnf configuration")
struct DnfConfigTests {
    static let machine = DirectoryMachine(root: Fixtures.url("edge/dnf/machine").path)

    static func header(_ name: String, _ version: String, provides: [RPMProvide] = [], arch: String = "x86_64") -> RPMPackageHeader {
        RPMPackageHeader(record: 1, name: name, version: version, release: "1.el9", arch: arch, provides: provides)
    }

    @Test("releasever comes from the package providing system-release(releasever), then os-release")
    func releasever() throws {
        let rpmdb = RPMDatabaseContents(format: .sqlite, path: "/var/lib/rpm/rpmdb.sqlite", headers: [
            Self.header("bash", "5.1"),
            Self.header("centos-stream-release", "9.0", provides: [RPMProvide(name: "system-release(releasever)", version: "9.4")]),
        ])
        let fromPackage = try DnfMachineConfig.read(from: Self.machine, rpmdb: rpmdb)
        #expect(fromPackage.releasever == "9.4")
        #expect(fromPackage.releaseverSource == .package(name: "centos-stream-release", provide: "system-release(releasever)"))
        #expect(fromPackage.variables["releasever_major"] == "9" && fromPackage.variables["releasever_minor"] == "4")
        #expect(fromPackage.basearch == "x86_64")
        let fromOSRelease = try DnfMachineConfig.read(from: Self.machine, rpmdb: nil)
        #expect(fromOSRelease.releasever == "9" && fromOSRelease.releaseverSource == .osRelease)
    }

    @Test("A .repo file: continuation lines, several baseurls, variables, lists, numbers and booleans")
    func repoOptions() throws {
        let rpmdb = RPMDatabaseContents(format: .sqlite, path: "p", headers: [Self.header("redhat-release", "9.2", provides: [RPMProvide(name: "redhat-release")])])
        let config = try DnfMachineConfig.read(from: Self.machine, rpmdb: rpmdb)
        let repo = try #require(config.repositories.first)
        #expect(repo.id == "edge-9.2")
        #expect(repo.name == "Edge 9.2 on x86_64")
        // /etc/yum/vars is read after /etc/dnf/vars and wins, as in dnf.
        #expect(repo.baseURLs == ["http://a.example/yumwins/9.2/x86_64/", "http://b.example/yumwins/9.2/os/", "http://c.example/fallback/"])
        #expect(repo.gpgkeys == ["file:///etc/pki/rpm-gpg/KEY-1", "file:///etc/pki/rpm-gpg/KEY-2"])
        #expect(repo.excludePackages == ["kernel*", "foo", "bar"])
        #expect(repo.includePackages.isEmpty)
        #expect(repo.priority == 10 && repo.cost == 500 && repo.moduleHotfixes && repo.skipIfUnavailable == true)
        let meta = try #require(config.repositories.last)
        #expect(!meta.enabled && meta.metalink == "https://mirrors.example/metalink?repo=x-9.2&arch=x86_64")
        #expect(config.enabledRepositories.map(\.id) == ["edge-9.2"])
        #expect(config.main.excludePackages == ["foo*"])
        #expect(config.main.installOnlyPackages.contains("kernel") && config.main.installOnlyPackages.contains("kmod-special"))
        #expect(config.main.installOnlyLimit == 5)
        #expect(config.modules["nodejs"] == DnfModuleState(name: "nodejs", stream: "18", state: .enabled, profiles: ["common"],
                                                           file: "/etc/dnf/modules.d/nodejs.module"))
        #expect(config.modules["php"]?.state == .disabled)
    }

    @Test("An indented first line after a [section] keeps the section and is reported with its file and line")
    func strayContinuationLine() {
        let text = "[first]\nbaseurl=http://a.example/\n\n[second]\n  stray=value\nbaseurl=http://b.example/\n"
        let (repos, problems) = YumRepository.parse(Array(text.utf8), file: "/etc/yum.repos.d/x.repo")
        #expect(repos.map(\.id) == ["first", "second"])
        #expect(repos.first?.baseURLs == ["http://a.example/"])
        #expect(repos.last?.baseURLs == ["http://b.example/"])
        #expect(problems.count == 1)
        #expect(problems.first?.file == "/etc/yum.repos.d/x.repo")
        #expect(problems.first?.line == 5)
        #expect(problems.first?.description.hasPrefix("/etc/yum.repos.d/x.repo:5: ") == true)
    }

    @Test("Nested ${var:-…} stops at libdnf's depth of 32, leaving the rest as written, and says so")
    func deeplyNestedSubstitution() {
        let levels = 10_000
        let text = String(repeating: "${unset:-", count: levels) + "x" + String(repeating: "}", count: levels)
        let clock = ContinuousClock()
        var result = ""
        let elapsed = clock.measure { result = DnfVariables.substitute(text, [:]) }
        #expect(elapsed < .seconds(2))
        let kept = String(repeating: "${unset:-", count: levels - 32) + "x" + String(repeating: "}", count: levels - 32)
        #expect(result == kept)
        // Within the limit nothing changes.
        let shallow = String(repeating: "${unset:-", count: 32) + "x" + String(repeating: "}", count: 32)
        #expect(DnfVariables.substitute(shallow, [:]) == "x")
        let repo = "[r]\nbaseurl=http://a.example/\(text)\n"
        let (_, problems) = YumRepository.parse(Array(repo.utf8), file: "deep.repo", variables: ["basearch": "x86_64"])
        #expect(problems.contains { $0.file == "deep.repo" && $0.message.contains("32") })
    }

    @Test("Variable substitution like libdnf", arguments: [
        ("$releasever/$basearch", "9/x86_64"),
        ("${releasever}x", "9x"),
        ("$unknown/${unknown}", "$unknown/${unknown}"),
        ("${unknown:-def}/${releasever:+alt}/${unknown:+no}", "def/alt/"),
        ("$$releasever $", "$9 $"),
    ])
    func substitution(_ input: String, _ expected: String) {
        #expect(DnfVariables.substitute(input, ["releasever": "9", "basearch": "x86_64"]) == expected)
    }

    @Test("Every .repo sample parses without diagnostics and names its repositories")
    func samples() throws {
        let dir = Fixtures.url("yum-repos").path
        for name in try FileManager.default.contentsOfDirectory(atPath: dir) where name.hasSuffix(".repo") && !name.hasPrefix("mock_") {
            let (repos, problems) = YumRepository.parse(try Fixtures.bytes("yum-repos/\(name)"), file: name)
            #expect(!repos.isEmpty, "\(name)")
            #expect(problems.isEmpty, "\(name): \(problems)")
            #expect(repos.allSatisfy { !$0.baseURLs.isEmpty || $0.metalink != nil || $0.mirrorlist != nil }, "\(name)")
        }
    }
}
