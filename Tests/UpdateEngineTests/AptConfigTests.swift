import Foundation
import Testing
@testable import UpdateEngine

@Suite("Apt configuration")
struct AptConfigTests {
    @Test("apt.conf: scoped blocks, :: keys, lists, comments and #clear")
    func aptConf() {
        var tree = AptConfTree()
        var diags: [AptConfigDiagnostic] = []
        tree.parse(Array("""
            // comment
            APT { Default-Release "stable"; Get { Assume-Yes "true"; }; };
            /* block
               comment */
            APT::Architectures { "amd64"; "i386"; };
            APT::Architectures:: "arm64";
            # a hash comment
            Acquire::Check-Valid-Until "false";
            """.utf8), file: "a.conf", diagnostics: &diags)
        #expect(diags.isEmpty, "\(diags)")
        #expect(tree["apt::default-release"] == "stable")
        #expect(tree.bool("APT::Get::Assume-Yes") == true)
        #expect(tree.list("APT::Architectures") == ["amd64", "i386", "arm64"])
        #expect(tree.bool("Acquire::Check-Valid-Until") == false)
        tree.parse(Array("#clear APT::Architectures;\nAPT::Default-Release \"testing\";\n".utf8), file: "b.conf", diagnostics: &diags)
        #expect(tree.list("APT::Architectures").isEmpty)
        #expect(tree["APT::Default-Release"] == "testing")
    }

    @Test("apt.conf: an unterminated statement is reported with its file")
    func aptConfBroken() {
        var tree = AptConfTree()
        var diags: [AptConfigDiagnostic] = []
        tree.parse(Array("APT { Default-Release \"stable\"\n".utf8), file: "/etc/apt/apt.conf", diagnostics: &diags)
        #expect(diags.first?.file == "/etc/apt/apt.conf")
    }

    @Test("Preferences: kinds, never, zero and bad priorities, unknown pin types")
    func preferences() {
        var prefs = AptPreferences()
        prefs.parse(Array("""
            # comment
            Package: *
            Pin: release n=rc-buggy
            Pin-Priority: never

            Package: foo bar:i386
            Pin: version 1.2*
            Pin-Priority: 1001

            Package: *
            Pin: version 1.0
            Pin-Priority: 500

            Package: baz
            Pin: origin "deb.example.org"
            Pin-Priority: 0

            Package: qux
            Pin: release a=stable
            Pin-Priority: high

            Package: quux
            Pin: release o=Debian,l=Debian-Security
            Pin-Priority: -1
            """.utf8), file: "/etc/apt/preferences")
        #expect(prefs.pins.count == 3)
        #expect(prefs.pins[0].isNever && prefs.pins[0].packages.isEmpty)
        #expect(prefs.pins[1].packages == ["foo", "bar:i386"] && prefs.pins[1].kind == .version)
        #expect(prefs.pins[2].priority == -1 && prefs.pins[2].line == 22)
        #expect(prefs.diagnostics.count == 3)
        #expect(prefs.diagnostics.allSatisfy { $0.file == "/etc/apt/preferences" })
    }

    @Test("Pin matching follows apt's pkgVersionMatch", arguments: [
        ("release", "a=bookworm-security", false), ("release", "n=bookworm-*", true), ("release", "l=debian-security", true),
        ("release", "o=Debian,a=oldstable-security", true), ("release", "o=Ubuntu", false), ("release", "v=12*", false),
        ("release", "bookworm-security", true), ("release", "oldstable-security", true), ("release", "*", true),
        ("release", "c=main", true), ("release", "c=contrib", false), ("release", "b=amd64", true),
        ("release", "/^oldstable-sec/", true), ("release", "a=/^oldstable-sec/", true),
        ("origin", "security.debian.org", true), ("origin", "\"security.debian.org\"", true), ("origin", "deb.debian.org", false),
    ])
    func pinMatching(_ kind: String, _ data: String, _ expected: Bool) throws {
        let release = AptRelease(origin: "Debian", label: "Debian-Security", suite: "oldstable-security", codename: "bookworm-security")
        let key = AptRepositoryKey(uri: "http://security.debian.org:80/debian-security", suite: "bookworm-security", component: "main", architecture: "amd64")
        let file = AptPolicyFile(key: key, release: release, site: key.site, component: "main", architecture: "amd64", priority: 500, priorityReason: "")
        let m = AptPinMatcher(kind: try #require(AptPin.Kind(rawValue: kind)), data: data)
        #expect(m.matches(file) == expected)
    }

    @Test("A machine's configuration: Default-Release, architectures from dpkg, keyrings, preferences.d names")
    func machineConfig() throws {
        var m = SnapshotMachine(displayName: "m")
        m.add("/etc/apt/apt.conf.d/01release", Array("APT::Default-Release \"bookworm\";\n".utf8))
        m.add("/etc/apt/apt.conf.d/02old.dpkg-old", Array("APT::Default-Release \"sid\";\n".utf8))
        m.add("/var/lib/dpkg/arch", Array("amd64\ni386\n".utf8))
        m.add("/etc/apt/trusted.gpg.d/a.gpg", [0x99])
        m.add("/etc/apt/trusted.gpg.d/b.asc", Array("x".utf8))
        m.add("/etc/apt/trusted.gpg.d/c.txt", [0x99])
        m.add("/etc/apt/preferences.d/a", Array("Package: a\nPin: release a=x\nPin-Priority: 10\n".utf8))
        m.add("/etc/apt/preferences.d/b.pref", Array("Package: b\nPin: release a=x\nPin-Priority: 10\n".utf8))
        m.add("/etc/apt/preferences.d/c.txt", Array("Package: c\nPin: release a=x\nPin-Priority: 10\n".utf8))
        let c = try AptMachineConfig.read(from: m, nativeArchitectureHint: "amd64")
        #expect(c.defaultRelease == "bookworm")
        #expect(c.architectures == ["amd64", "i386"])
        #expect(c.trustedKeyrings.map(\.path) == ["/etc/apt/trusted.gpg.d/a.gpg", "/etc/apt/trusted.gpg.d/b.asc"])
        #expect(c.preferences.pins.map { $0.packages[0] } == ["a", "b"])
    }
}
