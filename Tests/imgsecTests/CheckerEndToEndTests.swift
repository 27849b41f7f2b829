import Foundation
import Testing

/// The Update Checker end to end, on a real Debian 12 machine's dpkg status (912 packages) and the real
/// bookworm-updates/-security indexes served on 127.0.0.1: imgsec's answer must be real apt's.
@Suite(.serialized) struct CheckerEndToEndTests {
    /// A mirror tree (scripts/fixture-mirror.sh) behind fixtures/tools/test_http_server.py, with a request log.
    final class Mirror {
        /// A scratch directory of this mirror's own (port file, request log, test roots); removed at the end.
        let tree: String
        let servedRoot: String
        let process: Process
        let port: Int
        var base: String { "http://127.0.0.1:\(port)" }
        var log: String { tree + "/requests.log" }

        /// Serves `root` when given (its request log goes to a temporary directory), else a new fixture mirror.
        init(root: String? = nil) async throws {
            let scratch = NSTemporaryDirectory() + "imgsec-mirror-\(UUID().uuidString)"
            if let root {
                servedRoot = root
                try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
            } else {
                servedRoot = scratch
                let layout = try await CLI.run("/bin/bash", [CLI.repository.appendingPathComponent("scripts/fixture-mirror.sh").path, scratch])
                guard layout.status == 0 else { throw CLIError("fixture-mirror.sh: \(layout.stderr)") }
            }
            tree = scratch
            process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            process.arguments = [CLI.fixture("tools/test_http_server.py"), "--root", servedRoot, "--port", "0",
                                 "--port-file", tree + "/port", "--log-file", tree + "/requests.log"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            var port = 0
            for _ in 0..<100 where port == 0 {
                usleep(50_000)
                port = Int((try? String(contentsOfFile: tree + "/port", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0
            }
            guard port > 0 else { throw CLIError("the test HTTP server did not start") }
            self.port = port
        }

        func stop() {
            // SIGKILL: the threading HTTP server does not stop on SIGTERM while a connection is open.
            if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
        }

        deinit {
            stop()
            try? FileManager.default.removeItem(atPath: tree)
        }

        /// The request log: (path, status, conditional).
        func requests() -> [(path: String, status: Int, conditional: Bool)] {
            guard let text = try? String(contentsOfFile: log, encoding: .utf8) else { return [] }
            return text.split(separator: "\n").compactMap { line in
                guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
                let conditional = !(obj["if_none_match"] is NSNull) || !(obj["if_modified_since"] is NSNull)
                return (obj["path"] as? String ?? "", obj["status"] as? Int ?? 0, conditional)
            }
        }
    }

    struct CLIError: Error, CustomStringConvertible { var description: String; init(_ d: String) { description = d } }

    static let keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"

    /// A machine root: the real status file, deb822 sources naming the served archives, the archive keyring.
    static func makeRoot(_ mirror: Mirror, name: String = "root") throws -> String {
        let root = mirror.tree + "/" + name
        func put(_ path: String, _ bytes: Data) throws {
            let url = URL(fileURLWithPath: root + "/" + path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try bytes.write(to: url)
        }
        try put("var/lib/dpkg/status", try Data(contentsOf: URL(fileURLWithPath: CLI.fixture("dpkg-status/this-machine_debian-12.status"))))
        try put("etc/os-release", Data("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n".utf8))
        try put("etc/apt/sources.list.d/debian.sources", Data("""
            Types: deb
            URIs: \(mirror.base)/debian
            Suites: bookworm-updates
            Components: main
            Signed-By: \(keyring)

            Types: deb
            URIs: \(mirror.base)/debian-security
            Suites: bookworm-security
            Components: main
            Signed-By: \(keyring)

            """.utf8))
        try put(String(keyring.dropFirst()), try Data(contentsOf: URL(fileURLWithPath: keyring)))
        return root
    }

    static func updates(_ result: CLI.Result) throws -> (machines: [[String: Any]], updates: Set<String>) {
        let json = try #require(try JSONSerialization.jsonObject(with: result.stdoutBytes) as? [String: Any], "\(result.stdout)\n\(result.stderr)")
        let machines = try #require(json["machines"] as? [[String: Any]])
        var set = Set<String>()
        for m in machines {
            for u in (m["updates"] as? [[String: Any]]) ?? [] {
                set.insert("\(u["name"] as? String ?? ""):\(u["arch"] as? String ?? "") \(u["candidate"] as? String ?? "")")
            }
        }
        return (machines, set)
    }

    /// Real apt on the same root and the same served files: `apt list --upgradable`.
    static func aptUpgradable(root: String) async throws -> Set<String> {
        let conf = root + "/apt-test.conf"
        try """
            Dir "\(root)/";
            Dir::State::status "\(root)/var/lib/dpkg/status";
            APT::Architecture "amd64";
            Debug::NoLocking "true";
            Acquire::Languages "none";
            Acquire::Retries "0";
            Acquire::Check-Valid-Until "false";
            APT::Sandbox::User "root";

            """.write(toFile: conf, atomically: true, encoding: .utf8)
        for dir in ["var/lib/apt/lists/partial", "var/cache/apt/archives/partial", "etc/apt/preferences.d", "etc/apt/apt.conf.d"] {
            try FileManager.default.createDirectory(atPath: root + "/" + dir, withIntermediateDirectories: true)
        }
        let env = ["APT_CONFIG": conf, "LC_ALL": "C", "HOME": root]
        let update = try await CLI.run("/usr/bin/apt-get", ["-q", "update"], environment: env)
        guard update.status == 0 else { throw CLIError("apt-get update: \(update.stderr)") }
        let list = try await CLI.run("/usr/bin/apt", ["list", "--upgradable"], environment: env)
        var out = Set<String>()
        for line in list.stdout.split(separator: "\n") where line.contains("[upgradable from") {
            let words = line.split(separator: " ")
            guard words.count >= 3, let name = words[0].split(separator: "/").first else { continue }
            // The architecture as apt prints it (`all` for architecture-independent packages), as imgsec reports it.
            out.insert("\(name):\(words[2]) \(words[1])")
        }
        return out
    }

    @Test func scanFindsExactlyWhatAptListUpgradableFinds() async throws {
        let mirror = try await Mirror()
        let root = try Self.makeRoot(mirror)
        let store = mirror.tree + "/store.sqlite"
        let scan = try await CLI.run(["scan", "--root", root, "--details", "--format", "json", "--store", store, "--ignore-valid-until"])
        #expect(scan.status == 100, "\(scan.stderr)")
        let ours = try Self.updates(scan).updates
        let apt = try await Self.aptUpgradable(root: root)
        #expect(!apt.isEmpty)
        #expect(ours == apt, "only imgsec: \(ours.subtracting(apt).sorted()) only apt: \(apt.subtracting(ours).sorted())")
        let machine = try #require(try Self.updates(scan).machines.first)
        #expect((machine["counts"] as? [String: Int])?["security"] ?? 0 > 0)
    }

    /// gpgv's directory of a process killed by SIGKILL is removed by the next process that runs gpgv; that of a
    /// live process is left alone.
    @Test func gpgvDirectoriesOfKilledProcessesAreRemovedByTheNextRun() async throws {
        let mirror = try await Mirror()
        defer { mirror.stop() }
        let root = try Self.makeRoot(mirror)
        let done = Process()
        done.executableURL = URL(fileURLWithPath: "/bin/true")
        try done.run()
        done.waitUntilExit()
        let tmp = NSTemporaryDirectory()
        let dead = tmp + "/imgsec-gpgv-\(done.processIdentifier)-\(UUID().uuidString)"
        let live = tmp + "/imgsec-gpgv-\(getpid())-\(UUID().uuidString)"
        for d in [dead, live] {
            try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: false)
            try Data("x".utf8).write(to: URL(fileURLWithPath: d + "/data"))
        }
        defer { try? FileManager.default.removeItem(atPath: live) }
        let scan = try await CLI.run(["scan", "--root", root, "--store", mirror.tree + "/gpgv.sqlite", "--ignore-valid-until", "-q"])
        #expect(scan.status == 100, "\(scan.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dead), "left: \(dead)")
        #expect(FileManager.default.fileExists(atPath: live + "/data"))
    }

    @Test func aSecondCheckAnswersFromTheResultCacheWithTheMirrorStopped() async throws {
        let mirror = try await Mirror()
        let root = try Self.makeRoot(mirror)
        let store = mirror.tree + "/store.sqlite"
        let first = try await CLI.run(["scan", "--root", root, "--details", "--format", "json", "--store", store, "--ignore-valid-until"])
        #expect(first.status == 100, "\(first.stderr)")
        mirror.stop()
        let second = try await CLI.run(["check", root, "--details", "--format", "json", "--store", store, "--ignore-valid-until"])
        #expect(second.status == 100, "\(second.stderr)")
        #expect(!second.stderr.contains("error:"))
        let machine = try #require(try Self.updates(second).machines.first)
        #expect(machine["fromCache"] as? Bool == true)
        #expect(try Self.updates(second).updates == (try Self.updates(first).updates))
        // With the cache bypassed and the mirror gone, the failure is reported (and the exit code says so).
        let refreshed = try await CLI.run(["check", root, "--refresh", "--repo-max-age", "0s", "--store", store, "--ignore-valid-until"])
        #expect(refreshed.status == 1)
        #expect(refreshed.stderr.contains("error: \(root)"))
    }

    /// The libraries the dynamic loader opened, as `LD_DEBUG=files` reports them in `directory` (one file per process).
    static func loadedLibraries(in directory: String) throws -> String {
        try FileManager.default.contentsOfDirectory(atPath: directory).map {
            (try? String(contentsOfFile: directory + "/" + $0, encoding: .utf8)) ?? ""
        }.joined().split(separator: "\n").filter { $0.contains("file=") }.joined(separator: "\n")
    }

    @Test func aCachedCheckWithoutDetailsGivesTheFullAnswersCountsAndLoadsNeitherCurlNorCryptoNorXML() async throws {
        let mirror = try await Mirror()
        let root = try Self.makeRoot(mirror)
        let store = mirror.tree + "/store.sqlite"
        let scanTrace = mirror.tree + "/ld-scan", checkTrace = mirror.tree + "/ld-check"
        for d in [scanTrace, checkTrace] { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true) }
        let scan = try await CLI.run(["scan", "--root", root, "--details", "--format", "json", "--store", store, "--ignore-valid-until"],
                               environment: ["LD_DEBUG": "files", "LD_DEBUG_OUTPUT": scanTrace + "/ld"])
        #expect(scan.status == 100, "\(scan.stderr)")
        // The control: the scan downloads and hashes, and the trace shows it.
        let scanLibraries = try Self.loadedLibraries(in: scanTrace)
        #expect(scanLibraries.contains("libcurl.so.4") && scanLibraries.contains("libcrypto.so.3"), "\(scanLibraries)")
        mirror.stop()
        let check = try await CLI.run(["check", root, "--format", "json", "--store", store, "--ignore-valid-until"],
                                environment: ["LD_DEBUG": "files", "LD_DEBUG_OUTPUT": checkTrace + "/ld"])
        #expect(check.status == 100, "\(check.stderr)")
        let full = try #require(try Self.updates(scan).machines.first)
        let cached = try #require(try Self.updates(check).machines.first)
        #expect(cached["fromCache"] as? Bool == true)
        #expect(cached["updates"] == nil)
        let fullUpdates = try #require(full["updates"] as? [[String: Any]])
        #expect(cached["total"] as? Int == fullUpdates.count && fullUpdates.count > 0)
        var perSignificance: [String: Int] = [:]
        for u in fullUpdates { perSignificance[u["significance"] as? String ?? "?", default: 0] += 1 }
        let counts = try #require(cached["counts"] as? [String: Int])
        #expect(counts.filter { $0.value > 0 } == perSignificance, "\(counts) vs \(perSignificance)")
        let checkLibraries = try Self.loadedLibraries(in: checkTrace)
        #expect(checkLibraries.contains("libsqlite3"), "the trace is empty: \(checkLibraries)")
        for library in ["libcurl", "libcrypto", "libxml2", "libguestfs", "libicu"] {
            #expect(!checkLibraries.contains(library), "\(library) loaded by a cached check:\n\(checkLibraries)")
        }
    }

    /// `check` command lines are read without ArgumentParser when they can be (`Sources/imgsec/QuickStart.swift`):
    /// each answer must be exactly ArgumentParser's, which reads the `--option=value` spelling of the same line.
    @Test func theQuickCommandLineScannerAnswersExactlyAsArgumentParserDoes() async throws {
        let mirror = try await Mirror()
        let root = try Self.makeRoot(mirror)
        let store = mirror.tree + "/store.sqlite"
        let scan = try await CLI.run(["scan", "--root", root, "--store", store, "--ignore-valid-until", "-q"])
        #expect(scan.status == 100, "\(scan.stderr)")
        mirror.stop()
        let note = "command line read by the quick scanner"
        let pairs: [([String], [String])] = [
            (["check", root, "--store", store, "--ignore-valid-until"], ["check", root, "--store=\(store)", "--ignore-valid-until"]),
            (["check", "--all", "--format", "json", "--store", store], ["check", "--all", "--format=json", "--store=\(store)"]),
            (["check", root, "--details", "-q", "--store", store], ["check", root, "--details", "--quiet", "--store=\(store)"]),
            (["check", root, "--offline", "--repo-max-age", "1d", "--store", store], ["check", root, "--offline", "--repo-max-age=1d", "--store=\(store)"]),
            (["check", "no-such-machine", root, "--store", store], ["check", "no-such-machine", root, "--store=\(store)"]),
            (["check", root, "--repo-max-age", "soon", "--store", store], ["check", root, "--repo-max-age=soon", "--store=\(store)"]),
        ]
        for (quick, parsed) in pairs {
            let a = try await CLI.run(quick), b = try await CLI.run(parsed)
            #expect(a.status == b.status && a.stdout == b.stdout && a.stderr == b.stderr,
                    "\(quick): \(a.status) \(a.stdout) \(a.stderr)\nvs \(parsed): \(b.status) \(b.stdout) \(b.stderr)")
            #expect(!a.stdout.isEmpty || !a.stderr.isEmpty)
        }
        // The quick scanner did read the first spelling, and ArgumentParser the second.
        #expect(try await CLI.run(["check", root, "-v", "--store", store]).stderr.contains(note))
        #expect(!(try await CLI.run(["check", root, "-v", "--store=\(store)"]).stderr.contains(note)))
        // Lines it does not know go to ArgumentParser: usage errors (64) and help stay ArgumentParser's.
        for (line, status, text) in [(["check", "--store", store], Int32(64), "Name machines, or pass --all."),
                                     (["check", root, "--bogus", "--store", store], 64, "Unknown option '--bogus'"),
                                     (["check", root, "--format", "yaml", "--store", store], 64, "yaml"),
                                     (["check", root, "--all", "--all", "--store", store], -1, ""),
                                     (["check", "--help"], 0, "USAGE: imgsec check")] {
            let r = try await CLI.run(line + ["-v"])
            #expect(!r.stderr.contains(note), "\(line) was read by the quick scanner")
            if status >= 0 {
                #expect(r.status == status, "\(line): \(r.status) \(r.stderr)")
                #expect((r.stdout + r.stderr).contains(text), "\(line): \(r.stdout) \(r.stderr)")
            }
        }
    }

    @Test func expiredIndexesAreRevalidatedWithConditionalRequestsNotDownloadedAgain() async throws {
        let mirror = try await Mirror()
        let root = try Self.makeRoot(mirror)
        let store = mirror.tree + "/store.sqlite"
        let first = try await CLI.run(["scan", "--root", root, "--format", "json", "--store", store, "--ignore-valid-until"])
        #expect(first.status == 100, "\(first.stderr)")
        let before = mirror.requests()
        #expect(before.contains { $0.status == 200 && $0.path.hasSuffix("/InRelease") })
        // Within the validity period: no request at all.
        let cached = try await CLI.run(["check", root, "--refresh", "--store", store, "--ignore-valid-until"])
        #expect(cached.status == 100)
        #expect(mirror.requests().count == before.count)
        // Past it: every file the check uses is revalidated with a conditional request and answered 304;
        // nothing is downloaded again (names the Release lists but the mirror lacks are asked for again: 404).
        let expired = try await CLI.run(["check", root, "--refresh", "--repo-max-age", "0s", "--store", store, "--ignore-valid-until"])
        #expect(expired.status == 100, "\(expired.stderr)")
        let after = Array(mirror.requests().dropFirst(before.count))
        #expect(after.filter { $0.status == 304 }.count >= 4, "\(after)")
        #expect(after.allSatisfy { ($0.conditional && $0.status == 304) || $0.status == 404 }, "\(after)")
        #expect(!after.contains { $0.status == 200 })
    }

    @Test func killingARegisterLeavesAStoreThatOpensAndAnswers() async throws {
        let mirror = try await Mirror()
        // Many machines (hard-linked copies of one root), so the writer is surely still busy when it is killed.
        let template = try Self.makeRoot(mirror, name: "template")
        var roots: [String] = []
        for i in 0..<150 {
            let root = mirror.tree + "/machine-\(i)"
            let link = try await CLI.run("/bin/cp", ["-al", template, root])
            try #require(link.status == 0, "\(link.stderr)")
            roots.append(root)
        }
        let store = mirror.tree + "/store.sqlite"
        let writer = Process()
        writer.executableURL = URL(fileURLWithPath: CLI.binary)
        writer.arguments = ["register", "--store", store, "--ignore-valid-until", "-q"] + roots.flatMap { ["--root", $0] }
        writer.standardOutput = FileHandle.nullDevice
        writer.standardError = FileHandle.nullDevice
        try writer.run()
        // Kill it once a few machines are in, while it is still writing.
        var seen = 0
        for _ in 0..<400 where seen < 3 {
            try await Task.sleep(for: .milliseconds(25))
            if let r = try? await CLI.run(["machines", "--store", store, "--format", "json"]), r.status == 0,
               let list = try? JSONSerialization.jsonObject(with: r.stdoutBytes) as? [Any] { seen = list.count }
        }
        let wasRunning = writer.isRunning
        kill(writer.processIdentifier, SIGKILL)
        writer.waitUntilExit()
        #expect(seen >= 3)
        #expect(wasRunning, "register finished before it could be killed; the test proves nothing")
        let listed = try await CLI.run(["machines", "--store", store, "--format", "json"])
        #expect(listed.status == 0, "\(listed.stderr)")
        let machines = try #require(try JSONSerialization.jsonObject(with: listed.stdoutBytes) as? [[String: Any]])
        #expect(machines.count >= 3 && machines.count < 150)
        #expect(machines.allSatisfy { $0["packageCount"] as? Int == 912 })
        let integrity = try await CLI.run("/usr/bin/python3", ["-c", "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('PRAGMA integrity_check').fetchone()[0])", store])
        #expect(integrity.stdout == "ok\n")
        // And it still answers: a check of what was registered works.
        let check = try await CLI.run(["check", "--all", "--store", store, "--format", "json", "--ignore-valid-until"])
        #expect(check.status == 100, "\(check.stderr)")
    }
}
