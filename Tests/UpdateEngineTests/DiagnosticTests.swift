import Foundation
import Testing
@testable import UpdateEngine

struct DiagnosticTests {
    @Test func everyCodeIsDocumentedInTheREADMEWithAnExample() throws {
        let readme = try String(contentsOf: Fixtures.root.deletingLastPathComponent().appendingPathComponent("README.md"), encoding: .utf8)
        for code in DiagnosticCode.all {
            let row = readme.split(separator: "\n").first { $0.hasPrefix("| `\(code.rawValue)` | ") }
            #expect(row != nil, "README has no row for \(code)")
        }
        #expect(Set(DiagnosticCode.all).count == DiagnosticCode.all.count)
    }

    @Test func aDiagnosticReadsAsItsSubjectThenItsSentence() {
        let d = Diagnostic(.repoBadSignature, subject: DiagnosticSubject(machine: "/srv/root", file: "/etc/apt/sources.list", line: 3,
                                                                          repository: "http://h/debian bookworm"), "signature check failed.")
        #expect(d.description == "/srv/root: /etc/apt/sources.list line 3 http://h/debian bookworm: signature check failed.")
        let image = Diagnostic(.imageNoOS, subject: DiagnosticSubject(image: "a.qcow2"), "has no operating system.")
        #expect(image.description == "a.qcow2: has no operating system.")
        #expect(image.about(machine: "a.qcow2").subject.machine == nil)
    }

    @Test func parserErrorsKeepTheirCodeThroughJSON() throws {
        let errors: [any DiagnosticConvertible] = [
            AptRepositoryError(.badSignature, url: "http://h/InRelease", detail: "BADSIG"),
            AptRepositoryError(.fetchFailed, url: "http://h/InRelease", detail: "refused"),
            RepodataError(.checksumMismatch, url: "http://h/repodata/primary.xml.gz", detail: "sha256 differs"),
            DpkgStatusError(.syntax, file: "/var/lib/dpkg/status", line: 4, package: "foo", message: "bad"),
        ]
        let diagnostics = errors.map(\.diagnostic)
        #expect(diagnostics.map(\.code) == [.repoBadSignature, .repoUnreachable, .repoHashMismatch, .dpkgStatusInvalid])
        let decoded = try JSONDecoder().decode([Diagnostic].self, from: JSONEncoder().encode(diagnostics))
        #expect(decoded == diagnostics)
        let object = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(diagnostics[0])) as? [String: Any])
        #expect(object["code"] as? String == "repo.bad-signature")
        #expect(object["severity"] as? String == "error")
    }
}
