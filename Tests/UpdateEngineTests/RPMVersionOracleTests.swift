import Foundation
import Testing
@testable import UpdateEngine

/// Asks the real librpm (Debian's `python3-rpm`) for `rpm.labelCompare` answers.
enum RPMOracle {
    /// A Python interpreter that can `import rpm`, or nil when none can.
    static let python: String? = {
        for candidate in ["/usr/bin/python3", "/usr/local/bin/python3"] where FileManager.default.isExecutableFile(atPath: candidate) {
            if (try? run(candidate, ["-c", "import rpm"])) != nil { return candidate }
        }
        return nil
    }()

    /// Runs a program and returns its standard output; throws when it fails.
    @discardableResult
    static func run(_ program: String, _ arguments: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: program)
        p.arguments = arguments
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw CocoaError(.executableLoad) }
        return String(decoding: data, as: UTF8.self)
    }

    static let script = """
        import sys, rpm
        def opt(s):
            return None if s == "(none)" else s
        out = []
        with open(sys.argv[1], encoding="utf-8") as f:
            for line in f:
                e1, v1, r1, e2, v2, r2 = line.rstrip("\\n").split("\\t")
                out.append(str(rpm.labelCompare((opt(e1), v1, opt(r1)), (opt(e2), v2, opt(r2)))))
        print("\\n".join(out))
        """

    /// `rpm.labelCompare` for every pair, in one Python run.
    static func labelCompare(_ pairs: [(RPMEVR, RPMEVR)]) throws -> [Int] {
        guard let python else { return [] }
        func fields(_ e: RPMEVR) -> String {
            [e.epoch.map(String.init) ?? "(none)", e.version, e.release ?? "(none)"].joined(separator: "\t")
        }
        let dir = FileManager.default.temporaryDirectory
        let input = dir.appendingPathComponent("imgsec-rpm-oracle-\(UUID().uuidString).tsv")
        let scriptFile = dir.appendingPathComponent("imgsec-rpm-oracle-\(UUID().uuidString).py")
        defer {
            try? FileManager.default.removeItem(at: input)
            try? FileManager.default.removeItem(at: scriptFile)
        }
        try pairs.map { fields($0.0) + "\t" + fields($0.1) + "\n" }.joined().write(to: input, atomically: true, encoding: .utf8)
        try script.write(to: scriptFile, atomically: true, encoding: .utf8)
        return try run(python, [scriptFile.path, input.path]).split(separator: "\n").compactMap { Int($0) }
    }
}

@Suite("RPM EVR comparison agrees with librpm on real versions")
struct RPMVersionOracleTests {
    /// Every (name, EVR) in the fixture package lists.
    static func corpus() throws -> [(String, RPMEVR)] {
        let lists = [
            "bdb/centos5-plain", "bdb/centos6-plain", "bdb/centos6-devtools", "bdb/centos6-many", "bdb/centos7-plain",
            "bdb/centos7-devtools", "bdb/centos7-httpd24", "bdb/centos7-python35", "bdb/centos8-modularitylabel",
            "sqlite/cbl-mariner-2.0", "ndb/snyk-sles15-3pkgs",
        ]
        var out: [(String, RPMEVR)] = []
        for dir in lists {
            for file in ["listed.rpm418.tsv", "expected.gorpmdb.tsv", "expected.snyk.tsv"] {
                guard FileManager.default.fileExists(atPath: Fixtures.url("rpmdb/\(dir)/\(file)").path) else { continue }
                for row in try Fixtures.tsv("rpmdb/\(dir)/\(file)") where row.count >= 4 {
                    out.append((row[0], RPMEVR(epoch: Int(row[1]), version: row[2], release: row[3])))
                }
            }
        }
        for row in try Fixtures.tsv("version-vectors/rpm/go-rpm-version_version_test.go.tsv") where row.count == 3 {
            out.append(("vector", RPMEVR(parsing: row[0])))
            out.append(("vector", RPMEVR(parsing: row[1])))
        }
        return out
    }

    @Test("RPM labelCompare matches python3-rpm on thousands of real EVR pairs",
          .enabled(if: Requirement.tool(RPMOracle.python != nil), "needs Python with Debian's python3-rpm (import rpm)"))
    func matchesLibrpm() throws {
        let corpus = try Self.corpus()
        var byName: [String: [RPMEVR]] = [:]
        for (name, evr) in corpus { byName[name, default: []].append(evr) }
        var pairs: [(RPMEVR, RPMEVR)] = []
        // Versions of the same package: the comparisons that matter.
        for name in byName.keys.sorted() {
            let evrs = byName[name] ?? []
            for i in evrs.indices { for j in evrs.indices where i < j && pairs.count < 2500 { pairs.append((evrs[i], evrs[j])) } }
        }
        // Plus pseudo-random pairs across packages (fixed seed, so failures reproduce).
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(truncatingIfNeeded: state >> 33)
        }
        while pairs.count < 5000 {
            pairs.append((corpus[next() % corpus.count].1, corpus[next() % corpus.count].1))
        }
        let answers = try RPMOracle.labelCompare(pairs)
        try #require(answers.count == pairs.count)
        var disagreements = 0
        for (pair, answer) in zip(pairs, answers) where RPMVersion.labelCompare(pair.0, pair.1) != answer {
            disagreements += 1
            if disagreements <= 10 { Issue.record("\(pair.0) vs \(pair.1): librpm says \(answer), we say \(RPMVersion.labelCompare(pair.0, pair.1))") }
        }
        #expect(disagreements == 0)
        #expect(Set(answers) == [-1, 0, 1])
    }
}
