import Foundation
import Testing
@testable import UpdateEngine

/// Candidate selection against the real apt: each scenario builds an apt root, serves the same index files
/// on 127.0.0.1, runs `apt-get update`, `apt list --upgradable` and `apt-cache policy`, and compares the
/// whole upgradable set and every candidate with ``AptPolicy``.
@Suite("Apt policy agrees with apt", .serialized,
       .enabled(if: Requirement.tool(AptOracleTools.present), "needs apt, python3, xz and the debian-archive-keyring package"))
struct AptPolicyOracleTests {

    // MARK: The repositories

    static let s: @Sendable (String, String, String, String?, String?) -> String = { AptRepoTree.stanza($0, $1, $2, $3, $4) }

    static func buildRepos(_ tree: AptRepoTree) throws {
        try tree.addRealDebian()
        let mainAmd64 = [
            s("openssl", "3.0.11-1~deb12u2", "amd64", "foreign", nil),
            s("libssl3", "3.0.11-1~deb12u2", "amd64", "same", "openssl"),
            s("ca-certificates", "20230311", "all", "foreign", nil),
            s("tzdata", "2024a-0+deb12u1", "all", nil, nil),
            s("curl", "7.88.1-10+deb12u4", "amd64", nil, nil),
            s("sudo", "1.9.13p3-1+deb12u1", "amd64", nil, nil),
            s("less", "590-2.1~deb12u1", "amd64", nil, nil),
            s("uptodate", "1.0-1", "amd64", nil, nil),
            s("xz-utils", "5.4.1-1", "amd64", "foreign", nil),
            s("openssh-client", "1:9.2p1-2+deb12u3", "amd64", "foreign", "openssh"),
            s("openssh-server", "1:9.2p1-2+deb12u3", "amd64", "foreign", "openssh"),
            s("bar", "1.0-1", "amd64", nil, nil),
            s("baz", "1.0-2", "amd64", nil, nil),
            s("qux", "1.0-1", "amd64", nil, nil),
            s("foo-bpo", "1.0-1", "amd64", nil, nil),
            s("libfoo1", "1.1-1", "amd64", "same", nil),
            // One source, four binaries: a library, a tool offered at its installed version too, an
            // `Architecture: all` package, and a binNMU whose binary version is not the source version.
            s("libgizmo1", "2.1-1", "amd64", "same", "gizmo"),
            s("gizmo-tools", "2.0-1", "amd64", nil, "gizmo"),
            s("gizmo-tools", "2.1-1", "amd64", nil, "gizmo"),
            s("gizmo-data", "2.1-1", "all", "foreign", "gizmo"),
            s("gizmo-plugin", "2.1-1+b1", "amd64", nil, "gizmo (2.1-1)"),
        ].joined()
        let mainI386 = [
            s("libssl3", "3.0.17-1~deb12u2", "i386", "same", "openssl"),
            s("libfoo1", "1.2-1", "i386", "same", nil),
            s("ca-certificates", "20230311", "all", "foreign", nil),
            s("wine32", "8.0~repack-4", "i386", nil, nil),
            s("libgizmo1", "2.1-1", "i386", "same", "gizmo"),
            s("gizmo-data", "2.1-1", "all", "foreign", "gizmo"),
        ].joined()
        try tree.addUnsigned(prefix: "local", suite: "bookworm", fields: [
            ("Origin", "Debian"), ("Label", "Debian"), ("Suite", "oldstable"), ("Version", "12.12"), ("Codename", "bookworm"),
            ("Architectures", "amd64 i386"), ("Components", "main contrib"),
        ], indexes: [
            "main/binary-amd64/Packages": mainAmd64,
            "main/binary-i386/Packages": mainI386,
            "contrib/binary-amd64/Packages": s("contribtool", "1.1-1", "amd64", nil, nil),
            "contrib/binary-i386/Packages": "",
        ])
        try tree.addUnsigned(prefix: "local", suite: "bookworm-backports", fields: [
            ("Origin", "Debian Backports"), ("Label", "Debian Backports"), ("Suite", "oldstable-backports"),
            ("Codename", "bookworm-backports"), ("NotAutomatic", "yes"), ("ButAutomaticUpgrades", "yes"),
            ("Architectures", "amd64 i386"), ("Components", "main"),
        ], indexes: [
            "main/binary-amd64/Packages": [
                s("foo-bpo", "2.1~bpo12+1", "amd64", nil, nil),
                s("bar", "1.5~bpo12+1", "amd64", nil, nil),
                s("baz", "2.0~bpo12+1", "amd64", nil, nil),
                s("openssh-client", "1:9.9p1-1~bpo12+1", "amd64", "foreign", "openssh"),
                s("openssh-server", "1:9.9p1-1~bpo12+1", "amd64", "foreign", "openssh"),
            ].joined(),
            "main/binary-i386/Packages": "",
        ])
        try tree.addUnsigned(prefix: "local", suite: "experimental", fields: [
            ("Origin", "Debian"), ("Label", "Debian"), ("Suite", "experimental"), ("Codename", "rc-buggy"),
            ("NotAutomatic", "yes"), ("Architectures", "amd64 i386"), ("Components", "main"),
        ], indexes: [
            "main/binary-amd64/Packages": s("qux", "3.0-1", "amd64", nil, nil) + s("curl", "8.11.0-1", "amd64", nil, nil),
            "main/binary-i386/Packages": "",
        ])
        try tree.addFlat(prefix: "flat", fields: [("Origin", "Example"), ("Label", "Example Tools"), ("Suite", "tools")],
                         packages: s("example-tool", "2.0", "all", nil, nil) + s("example-lib", "1.5-1", "amd64", nil, nil))
    }

    static func status(_ name: String, _ version: String, _ arch: String, _ status: String = "install ok installed",
                       multiArch: String? = nil, source: String? = nil) -> String {
        "Package: \(name)\nStatus: \(status)\nPriority: optional\nInstalled-Size: 10\nMaintainer: Test <t@example.org>\nArchitecture: \(arch)\n"
            + (multiArch.map { "Multi-Arch: \($0)\n" } ?? "") + (source.map { "Source: \($0)\n" } ?? "")
            + "Version: \(version)\nDescription: \(name)\n\n"
    }

    static let statusFile = [
        status("dpkg", "1.21.22", "amd64"),
        status("openssl", "3.0.11-1~deb12u2", "amd64", multiArch: "foreign"),
        status("libssl3", "3.0.11-1~deb12u2", "amd64", multiArch: "same"),
        status("libssl3", "3.0.11-1~deb12u2", "i386", multiArch: "same"),
        status("ca-certificates", "20230311", "all", multiArch: "foreign"),
        status("tzdata", "2024a-0+deb12u1", "all"),
        status("curl", "7.88.1-10+deb12u4", "amd64"),
        status("sudo", "1.9.13p3-1+deb12u1", "amd64", "hold ok installed"),
        status("less", "590-2.1~deb12u1", "amd64"),
        status("uptodate", "1.0-1", "amd64"),
        status("xz-utils", "5.4.1-1+deb12u9", "amd64", multiArch: "foreign"),
        status("openssh-server", "1:9.2p1-2+deb12u1", "amd64", "deinstall ok config-files", multiArch: "foreign"),
        status("openssh-client", "1:9.2p1-2+deb12u3", "amd64", multiArch: "foreign"),
        status("foo-bpo", "2.0~bpo12+1", "amd64"),
        status("bar", "1.0-1", "amd64"),
        status("baz", "1.0-1", "amd64"),
        status("qux", "1.0-1", "amd64"),
        status("libfoo1", "1.0-1", "amd64", multiArch: "same"),
        status("libfoo1", "1.0-1", "i386", multiArch: "same"),
        status("contribtool", "1.0-1", "amd64"),
        status("example-tool", "1.0", "all"),
        status("example-lib", "1.0-1", "amd64", "install ok unpacked"),
        status("wine32", "7.0-1", "i386", "install ok half-configured"),
        // Source gizmo 2.0-1; only gizmo-tools' installed version is still offered.
        status("libgizmo1", "2.0-1", "amd64", multiArch: "same", source: "gizmo"),
        status("libgizmo1", "2.0-1", "i386", multiArch: "same", source: "gizmo"),
        status("gizmo-tools", "2.0-1", "amd64", source: "gizmo"),
        status("gizmo-data", "2.0-1", "all", multiArch: "foreign", source: "gizmo"),
        status("gizmo-plugin", "2.0-1+b1", "amd64", source: "gizmo (2.0-1)"),
    ].joined()

    // MARK: Scenarios

    struct Scenario: Sendable, CustomTestStringConvertible {
        var name: String
        var files: [String: String] = [:]
        /// `name:arch` (the arch as `apt list` prints it) that apt lists as upgradable in this scenario…
        var aptLists: [String] = []
        /// …and that it does not: what makes the scenario test what it says.
        var aptKeeps: [String] = []
        var testDescription: String { name }
    }

    static let pins = """
        # backports like any other archive
        Package: *
        Pin: release a=oldstable-backports
        Pin-Priority: 500

        """
    static let pinsD = """
        Explanation: openssh only from the security archive
        Package: src:openssh
        Pin: release n=bookworm-security
        Pin-Priority: 995

        Package: qux
        Pin: release n=rc-buggy
        Pin-Priority: 600

        Package: libssl* openssl
        Pin: release l=Debian-Security
        Pin-Priority: -1

        Package: /^ca-cert/
        Pin: release o=Debian,a=oldstable-security
        Pin-Priority: -10

        Package: xz-utils
        Pin: version 5.4.1-1
        Pin-Priority: 1001

        Package: tzdata
        Pin: version 2024a*
        Pin-Priority: 1001

        Package: example-*
        Pin: origin 127.0.0.1
        Pin-Priority: 50

        Package: contribtool
        Pin: release c=contrib
        Pin-Priority: -1

        Package: libfoo1:i386
        Pin: release v=12.*
        Pin-Priority: -1

        Package: curl
        Pin: release a=experimental,b=amd64
        Pin-Priority: 990

        """

    static let scenarios: [Scenario] = [
        Scenario(name: "defaults: security, updates, backports, experimental, flat, multi-arch, held, config-files",
                 aptLists: ["tzdata:all", "example-tool:all", "gizmo-data:all", "libgizmo1:amd64", "libgizmo1:i386",
                            "gizmo-tools:amd64", "gizmo-plugin:amd64"]),
        Scenario(name: "pins of each kind", files: [
            "etc/apt/preferences": pins,
            "etc/apt/preferences.d/10-pins": pinsD,
            "etc/apt/preferences.d/ignored.txt": "Package: sudo\nPin: release *\nPin-Priority: -1\n",
        ]),
        Scenario(name: "APT::Default-Release", files: [
            "etc/apt/apt.conf": "APT::Default-Release \"bookworm-updates\";\n",
        ]),
        Scenario(name: "Default-Release by suite and a never pin", files: [
            "etc/apt/apt.conf.d/99release": "APT { Default-Release \"oldstable-backports\"; };\n",
            "etc/apt/preferences.d/no-experimental.pref": "Package: *\nPin: release n=rc-buggy\nPin-Priority: never\n",
        ]),
        // apt 2.6 gives the pin to every version built from source gizmo (the status file's `Source:` names it
        // for the installed ones) whose *binary* version matches; 2.0-1+b1 does not, so gizmo-plugin moves on.
        // The pin carries no architecture: it applies to native (and `all`) packages only.
        Scenario(name: "a src: version pin at the installed version keeps that source's binaries", files: [
            "etc/apt/preferences.d/gizmo": "Package: src:gizmo\nPin: version 2.0-1\nPin-Priority: 1001\n",
        ], aptLists: ["libgizmo1:i386", "gizmo-plugin:amd64", "tzdata:all"],
                 aptKeeps: ["libgizmo1:amd64", "gizmo-tools:amd64", "gizmo-data:all"]),
    ]

    @Test("apt list --upgradable and apt-cache policy agree with AptPolicy", arguments: scenarios)
    func agreesWithApt(_ scenario: Scenario) async throws {
        let tree = try AptRepoTree()
        try Self.buildRepos(tree)
        let server = try LocalHTTPServer(directory: tree.root)
        defer { server.stop() }
        let rootDir = FileManager.default.temporaryDirectory.appendingPathComponent("imgsec-apt-root-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: rootDir) }
        let root = rootDir.path
        func put(_ path: String, _ text: String) throws {
            let url = rootDir.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: url)
        }
        for d in ["etc/apt/sources.list.d", "etc/apt/preferences.d", "etc/apt/apt.conf.d", "etc/apt/trusted.gpg.d",
                  "var/lib/apt/lists/partial", "var/cache/apt/archives/partial", "var/log/apt"] {
            try FileManager.default.createDirectory(at: rootDir.appendingPathComponent(d), withIntermediateDirectories: true)
        }
        try put("var/lib/dpkg/status", Self.statusFile)
        try put("var/lib/dpkg/arch", "amd64\ni386\n")
        let base = server.base
        try put("etc/apt/sources.list.d/debian.sources", """
            Types: deb
            URIs: \(base)/debian
            Suites: bookworm-updates bookworm-security
            Components: main
            Architectures: amd64
            Signed-By: \(AptRepoTree.keyring)

            """)
        try put("etc/apt/sources.list", """
            deb [trusted=yes] \(base)/local bookworm main contrib
            deb [trusted=yes] \(base)/local bookworm-backports main
            deb [trusted=yes] \(base)/local experimental main
            deb [trusted=yes] \(base)/flat ./

            """)
        for (path, text) in scenario.files { try put(path, text) }
        // Signed-By names a host path: give the machine the same file.
        let keyringCopy = rootDir.appendingPathComponent(String(AptRepoTree.keyring.dropFirst()))
        try FileManager.default.createDirectory(at: keyringCopy.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: AptRepoTree.keyring, toPath: keyringCopy.path)
        try put("apt-test.conf", """
            Dir "\(root)/";
            Dir::State::status "\(root)/var/lib/dpkg/status";
            APT::Architecture "amd64";
            APT::Architectures { "amd64"; "i386"; };
            Debug::NoLocking "true";
            Acquire::Check-Valid-Until "false";
            Acquire::Check-Date "false";
            Acquire::Languages "none";
            Acquire::Retries "0";
            APT::Sandbox::User "root";

            """)
        let env = ["APT_CONFIG": root + "/apt-test.conf", "LC_ALL": "C", "PATH": "/usr/bin:/bin", "HOME": root]

        // apt's answer.
        let update = try AptRepoTree.run("/usr/bin/apt-get", ["-q", "update"], environment: env)
        #expect(update.status == 0, "apt-get update: \(update.stderr)")
        let list = try AptRepoTree.run("/usr/bin/apt", ["list", "--upgradable"], environment: env)
        try #require(list.status == 0, "apt list: \(list.stderr)")
        // `name/suite version arch [upgradable from: installed]`, arch as apt prints it (`all` included).
        var aptUpgradable: Set<String> = []
        for line in String(decoding: list.stdout, as: UTF8.self).split(separator: "\n") where line.contains("[upgradable from") {
            let words = line.split(separator: " ")
            guard words.count >= 3, let name = words[0].split(separator: "/").first else { continue }
            aptUpgradable.insert("\(name):\(words[2]) \(words[1])")
        }
        let aptListed = Set(aptUpgradable.map { String($0.prefix { $0 != " " }) })
        for key in scenario.aptLists { #expect(aptListed.contains(key), "apt does not list \(key): \(aptListed.sorted())") }
        for key in scenario.aptKeeps { #expect(!aptListed.contains(key), "apt lists \(key)") }
        let statusEntries = try DpkgStatus.parse(Array(Self.statusFile.utf8), file: "status").entries
        let keys = statusEntries.map { ($0.name, $0.architecture == "all" ? "amd64" : $0.architecture) }
        let configFilesOnly = Set(statusEntries.filter { $0.status.state == .configFiles }.map {
            "\($0.name):\($0.architecture == "all" ? "amd64" : $0.architecture)"
        })
        let policyOut = try AptRepoTree.run("/usr/bin/apt-cache", ["policy"] + keys.map { "\($0.0):\($0.1)" }, environment: env)
        try #require(policyOut.status == 0, "apt-cache policy: \(policyOut.stderr)")
        var aptCandidate: [String: String] = [:]
        // The version table: `     VERSION PRIORITY` (` *** ` marks the installed one), each followed by its sources.
        var aptVersionTable: [String: [String]] = [:]
        var current: String?
        for line in String(decoding: policyOut.stdout, as: UTF8.self).split(separator: "\n") {
            if !line.hasPrefix(" ") && line.hasSuffix(":") {
                var k = String(line.dropLast())
                if !k.contains(":") { k += ":amd64" }
                current = k
            } else if let c = current, line.hasPrefix("  Candidate: ") {
                aptCandidate[c] = String(line.dropFirst("  Candidate: ".count))
            } else if let c = current, line.hasPrefix(" *** ") || (line.hasPrefix("     ") && !line.hasPrefix("      ")) {
                aptVersionTable[c, default: []].append(line.dropFirst(5).split(separator: " ").joined(separator: " "))
            }
        }
        #expect(aptCandidate.count == Set(keys.map { "\($0.0):\($0.1)" }).count, "\(String(decoding: policyOut.stdout, as: UTF8.self))")

        // Ours, from the same files.
        let machine = DirectoryMachine(root: root)
        let dpkg = try #require(try DpkgStatus.read(from: machine))
        let config = try AptMachineConfig.read(from: machine, nativeArchitectureHint: dpkg.likelyNativeArchitecture)
        #expect(config.architectures == ["amd64", "i386"])
        let fetcher = PrefixFetcher(prefix: base + "/", directory: tree.root)
        let indexes = await AptRepositoryLoader(fetcher: fetcher, verifier: .patient, ignoreValidUntil: true, ignoreFutureDate: true)
            .load(config, keyringsFrom: machine)
        #expect(indexes.failures.isEmpty, "\(indexes.failures)")
        let policy = AptPolicy(config: config, indexes: indexes)
        let ours = Set(policy.upgrades(for: dpkg).map { "\($0.name):\($0.arch) \($0.candidate)" })
        #expect(ours == aptUpgradable, "only ours: \(ours.subtracting(aptUpgradable).sorted()); only apt: \(aptUpgradable.subtracting(ours).sorted())")
        for (name, arch) in keys {
            let x = policy.explain(package: name, arch: arch, status: dpkg)
            let theirs = aptCandidate["\(name):\(arch)"]
            #expect((x.candidate ?? "(none)") == theirs, "\(name):\(arch): apt \(theirs ?? "?"), ours \(x.candidate ?? "(none)") — \(x.reason)")
            // For a config-files package apt also lists the status file's version (priority -1); explain does not.
            guard !configFilesOnly.contains("\(name):\(arch)") else { continue }
            let table = x.offers.map { "\($0.version) \($0.priority)" }
            #expect(table == aptVersionTable["\(name):\(arch)"] ?? [], "\(name):\(arch) version table: apt \(aptVersionTable["\(name):\(arch)"] ?? []), ours \(table)")
        }
        #expect(!aptUpgradable.isEmpty)
    }

    @Test("Significance and reasons of the default scenario follow the archive")
    func significanceOfDefaults() async throws {
        let tree = try AptRepoTree()
        try Self.buildRepos(tree)
        var m = SnapshotMachine(displayName: "m")
        let base = "http://127.0.0.1:1"
        m.add("/etc/apt/sources.list.d/debian.sources", Array("""
            Types: deb
            URIs: \(base)/debian
            Suites: bookworm-updates bookworm-security
            Components: main
            Architectures: amd64
            Signed-By: \(AptRepoTree.keyring)

            """.utf8))
        m.add("/etc/apt/sources.list", Array("""
            deb [trusted=yes] \(base)/local bookworm main contrib
            deb [trusted=yes] \(base)/local bookworm-backports main
            deb [trusted=yes] \(base)/flat ./

            """.utf8))
        m.add(AptRepoTree.keyring, [UInt8](try Data(contentsOf: URL(fileURLWithPath: AptRepoTree.keyring))))
        m.add("/var/lib/dpkg/arch", Array("amd64\ni386\n".utf8))
        let dpkg = try DpkgStatus.parse(Array(Self.statusFile.utf8), file: "status")
        let config = try AptMachineConfig.read(from: m, nativeArchitectureHint: "amd64")
        let indexes = await AptRepositoryLoader(fetcher: PrefixFetcher(prefix: base + "/", directory: tree.root), verifier: .patient,
                                                ignoreValidUntil: true, ignoreFutureDate: true).load(config, keyringsFrom: m)
        #expect(indexes.failures.isEmpty, "\(indexes.failures)")
        let ups = Dictionary(uniqueKeysWithValues: AptPolicy(config: config, indexes: indexes).upgrades(for: dpkg).map { ("\($0.name):\($0.arch)", $0) })
        #expect(ups["openssl:amd64"]?.significance == .security)
        #expect(ups["openssl:amd64"]?.repository.contains("bookworm-security/main amd64") == true)
        #expect(ups["tzdata:all"]?.significance == .security)
        #expect(ups["foo-bpo:amd64"]?.significance == .backports)
        #expect(ups["baz:amd64"]?.significance == .normal)
        #expect(ups["example-tool:all"]?.repository.hasSuffix("flat/ ./") == true)
        #expect(ups["sudo:amd64"]?.reason.contains("held") == true)
        #expect(ups["openssh-server:amd64"] == nil)
        #expect(ups["bar:amd64"] == nil)
        let x = AptPolicy(config: config, indexes: indexes).explain(package: "bar", arch: nil, status: dpkg)
        #expect(x.offers.map(\.version) == ["1.5~bpo12+1", "1.0-1"])
        #expect(x.offers.map(\.priority) == [100, 500])
        #expect(x.reason.contains("The higher version 1.5~bpo12+1 loses with priority 100"))
    }
}

extension AptRepoTree {
    /// Positional shorthand used by the oracle tests.
    static func stanza(_ name: String, _ version: String, _ arch: String, _ multiArch: String?, _ source: String?) -> String {
        stanza(name, version, arch: arch, multiArch: multiArch, source: source)
    }
}

enum AptOracleTools {
    static var present: Bool {
        ["/usr/bin/apt-get", "/usr/bin/apt-cache", "/usr/bin/apt", "/usr/bin/python3", "/usr/bin/xz"]
            .allSatisfy { FileManager.default.isExecutableFile(atPath: $0) } && AptRepoTree.hasDebianKeyring
    }
}
