import Foundation
import Testing
@testable import UpdateEngine

/// A published vector file and the rpm function its answers come from.
struct RPMVectorFile: CustomStringConvertible, Sendable {
    enum Kind: Sendable { case vercmp, labelCompare }
    var name: String
    var kind: Kind
    var description: String { name }

    /// Rows `a  b  expected`.
    func vectors() throws -> [(String, String, Int)] {
        try Fixtures.tsv("version-vectors/rpm/" + name).compactMap { row in
            guard row.count == 3, let r = Int(row[2]) else { return nil }
            return (row[0], row[1], r)
        }
    }
}

@Suite("RPM version comparison matches rpm 4.18")
struct RPMVersionTests {
    static let files: [RPMVectorFile] = [
        .init(name: "rpm_rpmvercmp.at.tsv", kind: .vercmp),
        .init(name: "claircore_rpmvercmp.tsv", kind: .vercmp),
        .init(name: "go-rpm-version_version_testcase.go.tsv", kind: .vercmp),
        .init(name: "libsolv_evrcmp_caret.t.tsv", kind: .vercmp),
        .init(name: "go-rpm-version_version_test.go.tsv", kind: .labelCompare),
    ]

    @Test("RPM published vectors compare as rpm says, both ways round", arguments: files)
    func publishedVectors(_ file: RPMVectorFile) throws {
        let vectors = try file.vectors()
        #expect(vectors.count > 10)
        for (a, b, expected) in vectors {
            switch file.kind {
            case .vercmp:
                #expect(RPMVersion.vercmp(a, b) == expected, "vercmp(\(a), \(b))")
                #expect(RPMVersion.vercmp(b, a) == -expected, "vercmp(\(b), \(a))")
                #expect(RPMVersion.vercmp(Substring(a), Substring(b)) == expected)
            case .labelCompare:
                let ea = RPMEVR(parsing: a), eb = RPMEVR(parsing: b)
                #expect(RPMVersion.labelCompare(ea, eb) == expected, "labelCompare(\(a), \(b))")
                #expect(RPMVersion.labelCompare(eb, ea) == -expected, "labelCompare(\(b), \(a))")
                #expect((ea < eb) == (expected < 0))
                #expect((ea == eb) == (expected == 0))
                if expected == 0 { #expect(ea.hashValue == eb.hashValue, "\(a) and \(b) are equal but hash apart") }
            }
        }
    }

    @Test("RPM EVR text parses like rpm's parseEVR", arguments: [
        ("1.0", nil, "1.0", nil, "1.0"),
        ("1.0-1", nil, "1.0", "1", "1.0-1"),
        ("2:1.0-1.el9", 2, "1.0", "1.el9", "2:1.0-1.el9"),
        ("0:1.0-1", 0, "1.0", "1", "0:1.0-1"),
        (":1.0-1", 0, "1.0", "1", "0:1.0-1"),
        ("1.0-1-2", nil, "1.0-1", "2", "1.0-1-2"),
        ("a:1.0-1", nil, "a:1.0", "1", "a:1.0-1"),
        ("1.0-", nil, "1.0", "", "1.0-"),
        ("", nil, "", nil, ""),
        ("99999999999999999999999:1", Int.max, "1", nil, "\(Int.max):1"),
    ] as [(String, Int?, String, String?, String)])
    func parsesEVR(_ text: String, _ epoch: Int?, _ version: String, _ release: String?, _ canonical: String) {
        let evr = RPMEVR(parsing: text)
        #expect(evr.epoch == epoch)
        #expect(evr.version == version)
        #expect(evr.release == release)
        #expect(evr.description == canonical)
    }

    @Test("RPM vercmp edge cases: NUL ends a string, non-ASCII separates, huge numbers compare by length", arguments: [
        ("1.0\u{0}abc", "1.0", 0),
        ("1é0", "1.0", 0),
        ("1" + String(repeating: "0", count: 40), "9" + String(repeating: "9", count: 38), 1),
        ("000001", "1", 0),
        ("", "", 0),
        ("~", "", -1),
        ("^", "", 1),
    ])
    func edgeCases(_ a: String, _ b: String, _ expected: Int) {
        #expect(RPMVersion.vercmp(a, b) == expected)
        #expect(RPMVersion.vercmp(b, a) == -expected)
    }

    @Test("RPM vercmp is fast enough for batch mode")
    func throughput() throws {
        let vectors = try RPMVectorFile(name: "go-rpm-version_version_testcase.go.tsv", kind: .vercmp).vectors()
        let clock = ContinuousClock()
        var sum = 0
        let rounds = 50
        let elapsed = clock.measure {
            for _ in 0..<rounds { for (a, b, _) in vectors { sum &+= RPMVersion.vercmp(a, b) } }
        }
        let perSecond = Double(rounds * vectors.count) / (Double(elapsed.components.attoseconds) / 1e18 + Double(elapsed.components.seconds))
        // Debug builds are ~10x slower than release; even so, well over 100k comparisons a second.
        #expect(perSecond > 100_000, "\(Int(perSecond)) comparisons/s (checksum \(sum))")
    }
}
