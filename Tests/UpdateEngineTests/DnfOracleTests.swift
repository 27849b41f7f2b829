import Foundation
import Logging
import Testing
@testable import UpdateEngine

/// Compares our candidates with real dnf's `check-update` on an installroot whose rpm database holds
/// tiny packages named like CentOS Stream 9 AppStream packages at older versions, against the real CS9
/// AppStream repodata served on 127.0.0.1.
@Suite("dnf check-update oracle", .serialized)
struct DnfOracleTests {
    static let tools = ["/usr/bin/dnf", "/usr/bin/rpm", "/usr/bin/rpmbuild", "/usr/bin/python3"]
    static var available: Bool { tools.allSatisfy { FileManager.default.isExecutableFile(atPath: $0) } }

    /// name, epoch, version, release, arch of the installed stand-ins.
    static let installed: [(String, Int?, String, String, String)] = [
        ("nodejs", 1, "16.0.0", "1.el9", "x86_64"),        // non-modular 16 wins; streams 18/20/22 are not enabled
        ("mariadb", 3, "10.5.0", "1.el9", "x86_64"),       // stream 10.11 enabled in modules.d
        ("httpd", nil, "2.4.50", "1.el9", "x86_64"),       // excludepkgs=httpd
        ("kernel-devel", nil, "5.14.0", "1.el9", "x86_64"), // installonly
        ("bind-utils", 32, "9.16.0", "1.el9", "x86_64"),   // epoch
        ("python3-pip", nil, "21.0", "1.el9", "noarch"),
        ("tmux", nil, "99", "1.el9", "x86_64"),            // newer than the repository
    ]

    struct Run {
        let root: String
        let home: String
        let work: String
        func sh(_ args: [String], env: [String: String] = [:], allowed: Set<Int32> = [0]) throws -> String {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: args[0])
            p.arguments = Array(args.dropFirst())
            var e = ProcessInfo.processInfo.environment
            e["HOME"] = home
            e["LC_ALL"] = "C.UTF-8"
            for (k, v) in env { e[k] = v }
            p.environment = e
            let out = Pipe()
            let errPipe = Pipe()
            p.standardOutput = out
            p.standardError = errPipe
            try p.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            let err = errPipe.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            guard allowed.contains(p.terminationStatus) else {
                throw FetchError(url: args.joined(separator: " "), detail: "exit \(p.terminationStatus): \(String(decoding: err, as: UTF8.self))")
            }
            return String(decoding: data, as: UTF8.self)
        }
    }

    /// Maps the served http URL back onto the fixture directory.
    struct RewritingFetcher: ResourceFetcher {
        let prefix: String
        let directory: String
        func fetch(_ url: String) async throws -> [UInt8]? {
            guard url.hasPrefix(prefix) else { throw FetchError(url: url, detail: "outside the test server") }
            return try await FileFetcher().fetch(directory + "/" + url.dropFirst(prefix.count))
        }
    }

    @Test("Our candidates equal dnf check-update's: module filtering, excludes, installonly, epochs, noarch",
          .enabled(if: Requirement.tool(available), "needs Debian's dnf, rpm and rpmbuild"))
    func agreesWithDnf() async throws {
        let work = NSTemporaryDirectory() + "imgsec-dnf-oracle-\(getpid())"
        try? FileManager.default.removeItem(atPath: work)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let run = Run(root: work + "/root", home: work + "/home", work: work)
        for d in [run.root + "/etc/yum.repos.d", run.root + "/etc/dnf/modules.d", run.home, work + "/specs", work + "/cache"] {
            try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        }
        try "%_dbpath /var/lib/rpm\n".write(toFile: run.home + "/.rpmmacros", atomically: true, encoding: .utf8)

        // Tiny packages.
        var rpms: [String] = []
        for (name, epoch, version, release, arch) in Self.installed {
            let spec = """
                Name: \(name)
                \(epoch.map { "Epoch: \($0)" } ?? "")
                Version: \(version)
                Release: \(release)
                Summary: stand-in for \(name)
                License: MIT
                BuildArch: \(arch)
                %description
                Stand-in.
                %files

                """
            let path = work + "/specs/\(name).spec"
            try spec.write(toFile: path, atomically: true, encoding: .utf8)
            _ = try run.sh(["/usr/bin/rpmbuild", "-bb", "--define", "_topdir \(work)/build", "--define", "_build_id_links none", path])
            rpms.append("\(work)/build/RPMS/\(arch)/\(name)-\(version)-\(release).\(arch).rpm")
        }
        _ = try run.sh(["/usr/bin/rpm", "--root", run.root, "--dbpath", "/var/lib/rpm", "--initdb"])
        _ = try run.sh(["/usr/bin/rpm", "--root", run.root, "--dbpath", "/var/lib/rpm", "-i", "--justdb", "--nodeps", "--noscripts", "--ignorearch"] + rpms)

        // Serve the real repodata.
        let repoDir = Fixtures.url("repo-metadata/centos-stream-9-appstream").path
        let port = Int.random(in: 20000...40000)
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        server.arguments = ["-m", "http.server", "--bind", "127.0.0.1", "--directory", repoDir, String(port)]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        // SIGKILL: a child started from a dispatch worker thread inherits its blocked SIGTERM.
        defer { kill(server.processIdentifier, SIGKILL); server.waitUntilExit() }
        try await Task.sleep(for: .milliseconds(800))

        let base = "http://127.0.0.1:\(port)/"
        try """
            [appstream-test]
            name=CentOS Stream $releasever - AppStream (test copy)
            baseurl=\(base)
            gpgcheck=0
            excludepkgs=httpd

            """.write(toFile: run.root + "/etc/yum.repos.d/test.repo", atomically: true, encoding: .utf8)
        try "[mariadb]\nname=mariadb\nstream=10.11\nprofiles=\nstate=enabled\n"
            .write(toFile: run.root + "/etc/dnf/modules.d/mariadb.module", atomically: true, encoding: .utf8)
        try "[main]\ngpgcheck=0\nmodule_platform_id=platform:el9\n".write(toFile: run.root + "/etc/dnf/dnf.conf", atomically: true, encoding: .utf8)
        try "NAME=\"CentOS Stream\"\nVERSION_ID=\"9\"\nID=centos\nPLATFORM_ID=\"platform:el9\"\n"
            .write(toFile: run.root + "/etc/os-release", atomically: true, encoding: .utf8)

        // Real dnf.
        let output = try run.sh(["/usr/bin/dnf", "--installroot=\(run.root)", "--config=\(run.root)/etc/dnf/dnf.conf", "--releasever=9",
                                 "--setopt=reposdir=\(run.root)/etc/yum.repos.d", "--setopt=cachedir=\(work)/cache",
                                 "--disablerepo=*", "--enablerepo=appstream-test", "--nogpgcheck", "-q", "check-update"], allowed: [0, 100])
        var dnfSet = Set<String>()
        for line in output.split(separator: "\n") {
            if line.hasPrefix("Obsoleting") { break }
            let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard f.count == 3, f[0].contains(".") else { continue }
            dnfSet.insert("\(f[0]) \(f[1]) \(f[2])")
        }

        // Ours, from the same installroot.
        let machine = DirectoryMachine(root: run.root)
        let rpmdb = try #require(try RPMDatabase.read(from: machine))
        let config = try DnfMachineConfig.read(from: machine, rpmdb: rpmdb)
        #expect(config.releasever == "9")
        let indexes = await DnfRepositoryLoader(fetcher: RewritingFetcher(prefix: base, directory: repoDir)).load(config)
        #expect(indexes.failures.isEmpty, "\(indexes.failures.map { "\($0.error!)" })")
        let policy = DnfPolicy(config: config, indexes: indexes)
        let updates = policy.upgrades(for: rpmdb.headers)
        let ours = Set(updates.map { "\($0.name).\($0.arch) \($0.candidate) \($0.repository)" })

        print("dnf check-update:\n  " + dnfSet.sorted().joined(separator: "\n  "))
        print("imgsec:\n  " + updates.map { "\($0.name).\($0.arch) \($0.candidate) \($0.repository) installOnly=\($0.installOnly) — \($0.reason)" }.joined(separator: "\n  "))
        print(policy.explain(name: "nodejs", arch: "x86_64", installed: rpmdb.headers))
        #expect(ours == dnfSet)
        #expect(updates.first { $0.name == "kernel-devel" }?.installOnly == true)

        // The Update Checker end to end on the same installroot: register into a store, then check through
        // real HTTP (the caching fetcher) — the same answer as dnf.
        let store = try SQLiteUpdateStore(path: work + "/store.sqlite")
        let checker = Checker(store: store, fetcher: CachingFetcher(store: store), logger: Logger(label: "test"))
        let collected = Collector().collect(from: machine)
        let record = try await checker.register(ParsedMachine(collected), name: run.root, sourceKind: .root, sourcePath: run.root,
                                                fingerprint: nil, facts: collected.facts(arch: nil), owner: nil, labels: [:])
        let check = try #require(await checker.check([record]).first)
        #expect(check.failures.isEmpty, "\(check.failures)")
        #expect(Set(check.updates.map { "\($0.name).\($0.arch) \($0.candidate) \($0.repository)" }) == dnfSet)
        let again = try #require(await checker.check([record]).first)
        #expect(again.fromCache)
        #expect(!dnfSet.contains { $0.hasPrefix("httpd.") })
        #expect(dnfSet.count >= 4)
    }
}
