import Foundation
import Testing
@testable import UpdateEngine

/// One `a  b  expected` line of a published vector file.
struct DebCompareVector: CustomTestStringConvertible, Sendable {
    var file: String
    var a: String
    var b: String
    var expected: Int
    var testDescription: String { "\(file): '\(a)' vs '\(b)' → \(expected)" }
}

enum DebVectors {
    static let compareFiles = [
        "dpkg_t-version.c.tsv", "dpkg_Dpkg_Version.t.tsv", "apt_compareversion_test.cc.tsv",
        "python-debian_test_debian_support.py.tsv",
    ]

    static let compare: [DebCompareVector] = compareFiles.flatMap { file in
        ((try? Fixtures.tsv("version-vectors/deb/\(file)")) ?? []).compactMap { row in
            guard row.count == 3, let e = Int(row[2]) else { return nil }
            return DebCompareVector(file: file, a: row[0], b: row[1], expected: e)
        }
    }

    static let parse: [[String]] = (try? Fixtures.tsv("version-vectors/deb/dpkg_t-version.c.parse.tsv")) ?? []
}

@Suite("Debian versions")
struct DebVersionTests {
    @Test("Every published vector file was loaded with the expected number of vectors")
    func debVectorFilesLoad() throws {
        let counts = Dictionary(grouping: DebVectors.compare, by: \.file).mapValues(\.count)
        #expect(counts["dpkg_t-version.c.tsv"] == 12)
        #expect(counts["dpkg_Dpkg_Version.t.tsv"] == 43)
        #expect(counts["apt_compareversion_test.cc.tsv"] == 119)
        #expect(counts["python-debian_test_debian_support.py.tsv"] == 20)
        #expect(DebVectors.parse.count == 14)
    }

    @Test("Published vectors compare as dpkg does", arguments: DebVectors.compare)
    func debPublishedVector(_ v: DebCompareVector) throws {
        let a = try DebianVersion(parsing: v.a)
        let b = try DebianVersion(parsing: v.b)
        #expect(DebianVersion.compare(a, b) == v.expected)
        #expect(DebianVersion.compare(b, a) == -v.expected)
        #expect((a == b) == (v.expected == 0))
        if v.expected == 0 { #expect(a.hashValue == b.hashValue) }
    }

    @Test("dpkg's parse vectors split into epoch, upstream and revision", arguments: DebVectors.parse)
    func debParseVector(_ row: [String]) throws {
        try #require(row.count == 4)
        let v = try DebianVersion(parsing: row[0])
        #expect(v.epoch == Int(row[1]))
        #expect(v.upstream == row[2])
        #expect(v.revision == row[3])
        #expect(v.hasRevision == !row[3].isEmpty)
    }

    static let hardErrors: [(String, DebianVersionError.Code)] = [
        (" ", .empty), ("\t", .empty), ("1 2", .embeddedSpaces), ("1:", .nothingAfterColon), (":1", .epochEmpty),
        ("a:1", .epochEmpty), ("+:1", .epochEmpty), ("0x1:1", .epochNotNumber), ("1a:1", .epochNotNumber),
        ("-1:1", .epochNegative), ("-99999999999999999999999:1", .epochNegative),
        ("2147483648:1", .epochTooBig), ("99999999999999999999999:1", .epochTooBig), ("1-", .revisionEmpty),
        ("1:-", .revisionEmpty), ("1:-1", .upstreamEmpty), ("-1", .upstreamEmpty), ("1: ", .upstreamEmpty),
    ]

    @Test("Hard errors say why, in dpkg's words", arguments: hardErrors)
    func debHardError(_ input: String, _ code: DebianVersionError.Code) {
        #expect(throws: DebianVersionError(code, input: input)) { try DebianVersion(parsing: input) }
    }

    static let softProblems: [(String, DebianVersionWarning?)] = [
        ("a1", .upstreamDoesNotStartWithDigit), ("1_2", .invalidUpstreamCharacter), ("1.é", .invalidUpstreamCharacter),
        ("1-a_b", .invalidRevisionCharacter), ("1:2:3", nil), ("+1:2", nil), ("2147483647:1", nil), ("-0:1", nil),
        (" 1.0-1 ", nil), ("1.0-1-2", nil), ("0:09azAZ.-+~:-0", nil),
    ]

    @Test("Soft problems are warnings; the version still parses", arguments: softProblems)
    func debSoftProblem(_ input: String, _ warning: DebianVersionWarning?) throws {
        #expect(try DebianVersion(parsing: input).warning == warning)
    }

    @Test("The real dpkg classifies the same strings as errors and warnings, with the same words",
          .enabled(if: Requirement.tool(DebOracle.hasDpkg), "needs dpkg"))
    func debErrorsMatchRealDpkg() throws {
        var inputs = Self.hardErrors.map(\.0) + Self.softProblems.map(\.0)
        inputs.removeAll { $0.hasPrefix("-") }  // dpkg would take them for options
        let script = """
        import subprocess, sys
        for a in sys.stdin.read().split('\\0')[:-1]:
            p = subprocess.run(['dpkg', '--compare-versions', a, 'lt', '1'], capture_output=True, text=True)
            print(repr(p.stderr.strip()))
        """
        let lines = try DebOracle.python(script, input: inputs.map { $0 + "\0" }.joined())
        try #require(lines.count == inputs.count)
        for (input, line) in zip(inputs, lines) {
            do {
                let v = try DebianVersion(parsing: input)
                if let w = v.warning {
                    #expect(line.contains("warning: version") && line.contains(w.reason), "\(input): \(line)")
                } else {
                    #expect(line == "''", "\(input): \(line)")
                }
            } catch {
                #expect(line.contains("error: version") && line.contains(error.reason), "\(input): \(line)")
            }
        }
    }

    @Test("Equality follows the ordering, and so does hashing")
    func debSemanticEquality() throws {
        let groups = [["1.0", "1.00", "0:1.0", "1.0-0", "1.0-00", "01.0", "1.0-"+"0"], ["0a"], ["a"], ["1.0~"], ["1.0-0.1"]]
        let parsed = try groups.map { try $0.map { try DebianVersion(parsing: $0) } }
        for (i, g) in parsed.enumerated() {
            for x in g {
                for y in g { #expect(x == y && x.hashValue == y.hashValue, "\(x) == \(y)") }
                for (j, h) in parsed.enumerated() where j != i { for y in h { #expect(x != y, "\(x) != \(y)") } }
            }
        }
        #expect(Set(parsed.joined()).count == groups.count)
    }

    @Test("dpkg prints versions without a zero epoch", arguments: [
        ("0:1.2-3", "1.2-3"), ("0:1:2-3", "0:1:2-3"), ("+01:7.0", "1:7.0"), ("  2:1.0 ", "2:1.0"), ("1.0", "1.0"),
    ])
    func debDpkgDescription(_ input: String, _ shown: String) throws {
        #expect(try DebianVersion(parsing: input).dpkgDescription == shown)
    }

    @Test("A tilde sorts before the end, letters before other characters")
    func debTildeAndLetters() throws {
        let sorted = ["1.0~~", "1.0~~a", "1.0~", "1.0", "1.0a", "1.0+", "1.0.1"]
        let versions = try sorted.reversed().map { try DebianVersion(parsing: $0) }.sorted()
        #expect(versions.map(\.text) == sorted)
    }
}

/// Runs the real dpkg / python3-apt to get expected answers.
enum DebOracle {
    static let hasDpkg = FileManager.default.isExecutableFile(atPath: "/usr/bin/dpkg")
        && FileManager.default.isExecutableFile(atPath: "/usr/bin/python3")

    static let hasAptPkg: Bool = hasDpkg && ((try? python("import apt_pkg\nprint('ok')", input: "")) == ["ok"])

    /// Runs `/usr/bin/python3 -c script` with `input` on stdin; returns stdout's lines.
    static func python(_ script: String, input: String) throws -> [String] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        p.arguments = ["-c", script]
        let inputFile = FileManager.default.temporaryDirectory.appendingPathComponent("deb-oracle-\(UUID().uuidString)")
        try Data(input.utf8).write(to: inputFile)
        defer { try? FileManager.default.removeItem(at: inputFile) }
        let stdout = Pipe()
        p.standardInput = try FileHandle(forReadingFrom: inputFile)
        p.standardOutput = stdout
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = stdout.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
    }
}
