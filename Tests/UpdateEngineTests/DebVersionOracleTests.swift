import Foundation
import Testing
@testable import UpdateEngine

/// Compares our ordering with the real dpkg and with python3-apt on real version strings.
@Suite("Debian version oracle")
struct DebVersionOracleTests {
    /// (package name, version) from the Packages indexes and the dpkg status fixtures.
    static func corpus() throws -> [(String, String)] {
        var texts = [try Fixtures.xzBytes("version-vectors/deb/packages/bookworm-security_main_binary-amd64_Packages.xz"),
                     try Fixtures.bytes("version-vectors/deb/packages/bookworm-updates_main_binary-amd64_Packages")]
        for name in try FileManager.default.contentsOfDirectory(atPath: Fixtures.url("dpkg-status").path).sorted()
        where name.hasSuffix(".status") {
            texts.append(try Fixtures.bytes("dpkg-status/\(name)"))
        }
        var out: [(String, String)] = []
        for bytes in texts {
            var reader = Deb822Reader(bytes: bytes)
            while let p = try reader.next() {
                if let n = p["Package"], let v = p["Version"], !n.isEmpty { out.append((n, v)) }
            }
        }
        return out
    }

    /// A deterministic pair list: neighbours in sorted order, same-name pairs, then pseudo-random pairs.
    static func pairs(_ corpus: [(String, String)], random: Int) throws -> [(String, String)] {
        let distinct = Array(Set(corpus.map(\.1))).sorted()
        let parsed = try distinct.map { try DebianVersion(parsing: $0) }.sorted()
        var out: [(String, String)] = []
        for i in parsed.indices.dropFirst() { out.append((parsed[i - 1].text, parsed[i].text)) }
        let byName = Dictionary(grouping: corpus, by: \.0).mapValues { Array(Set($0.map(\.1))).sorted() }
        for name in byName.keys.sorted() {
            let vs = byName[name] ?? []
            for i in vs.indices { for j in vs.indices where j > i { out.append((vs[i], vs[j])) } }
        }
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(truncatingIfNeeded: state >> 33)
        }
        for _ in 0..<random {
            let a = distinct[next() % distinct.count], b = distinct[next() % distinct.count]
            out.append(next() % 2 == 0 ? (a, b) : (b, a))
        }
        return out
    }

    @Test("Our ordering agrees with the real dpkg --compare-versions on 2000 real pairs",
          .enabled(if: Requirement.tool(DebOracle.hasDpkg), "needs dpkg"))
    func debAgreesWithRealDpkg() throws {
        let all = try Self.pairs(try Self.corpus(), random: 1000)
        // Every 4th pair, so neighbours, same-name and random pairs are all sampled; 2000 in all.
        let sample = Array(stride(from: 0, to: all.count, by: max(1, all.count / 2000)).prefix(2000).map { all[$0] })
        #expect(sample.count == 2000)
        let script = """
        import subprocess, sys
        items = sys.stdin.read().split('\\0')[:-1]
        for a, b in zip(items[0::2], items[1::2]):
            if subprocess.run(['dpkg', '--compare-versions', a, 'lt', b]).returncode == 0: print(-1)
            elif subprocess.run(['dpkg', '--compare-versions', a, 'eq', b]).returncode == 0: print(0)
            else: print(1)
        """
        let answers = try DebOracle.python(script, input: sample.map { "\($0.0)\0\($0.1)\0" }.joined())
        try #require(answers.count == sample.count)
        var disagreements = 0
        for ((a, b), expected) in zip(sample, answers) {
            let ours = try DebianVersion.compare(a, b)
            if String(ours) != expected {
                disagreements += 1
                Issue.record("dpkg says \(a) vs \(b) → \(expected), we say \(ours)")
            }
        }
        #expect(disagreements == 0)
    }

    @Test("Our ordering agrees with python3-apt's apt_pkg.version_compare on every generated pair",
          .enabled(if: Requirement.tool(DebOracle.hasAptPkg), "needs python3-apt"))
    func debAgreesWithAptPkg() throws {
        let pairs = try Self.pairs(try Self.corpus(), random: 20000)
        #expect(pairs.count > 21000)
        let script = """
        import sys, apt_pkg
        apt_pkg.init_system()
        items = sys.stdin.read().split('\\0')[:-1]
        for a, b in zip(items[0::2], items[1::2]):
            r = apt_pkg.version_compare(a, b)
            print((r > 0) - (r < 0))
        """
        let answers = try DebOracle.python(script, input: pairs.map { "\($0.0)\0\($0.1)\0" }.joined())
        try #require(answers.count == pairs.count)
        var disagreements = 0
        for ((a, b), expected) in zip(pairs, answers) where String(try DebianVersion.compare(a, b)) != expected {
            disagreements += 1
            if disagreements < 20 { Issue.record("apt_pkg says \(a) vs \(b) → \(expected)") }
        }
        #expect(disagreements == 0)
    }
}
