import Foundation
import Pipeline
import Testing
import UpdateEngine

/// The gate's policy on swept rows: what --fail-on covers, and when the gate cannot decide.
struct GateTests {
    static func update(_ name: String, _ significance: Significance, severity: String? = nil) -> PendingUpdate {
        PendingUpdate(name: name, arch: "amd64", installed: "1.0-1", candidate: "1.0-2", repository: "r", significance: significance,
                      severity: severity, reason: "")
    }

    static func row(_ image: String, _ updates: [[PendingUpdate]], diagnostics: [Diagnostic] = [], failures: [Diagnostic] = []) -> SweepRow {
        let machines = updates.enumerated().map { i, u in
            let record = MachineRecord(name: updates.count == 1 ? image : "\(image)#\(i)", sourceKind: .image, sourcePath: image)
            return SweptMachine(check: MachineCheck(machine: record, updates: u, failures: failures, fromCache: true, computedAt: Date()), packageCount: 10)
        }
        return SweepRow(image: image, machines: machines, diagnostics: diagnostics, unchanged: true)
    }

    @Test func thresholdsParseAsTheirNamesAndAliases() {
        #expect(GateThreshold(parsing: "security") == .security)
        #expect(GateThreshold(parsing: "UPDATES") == .updates)
        #expect(GateThreshold(parsing: "high") == .severity(.important))
        #expect(GateThreshold(parsing: "medium") == .severity(.moderate))
        #expect(GateThreshold(parsing: "Critical") == .severity(.critical))
        #expect(GateThreshold(parsing: "urgent") == nil)
    }

    @Test func eachThresholdCoversWhatItSays() {
        let bugfix = Self.update("a", .bugfix), important = Self.update("b", .security, severity: "Important")
        let low = Self.update("c", .security, severity: "Low"), unknown = Self.update("d", .security)
        #expect(GateThreshold.updates.covers(bugfix))
        #expect(!GateThreshold.security.covers(bugfix) && GateThreshold.security.covers(low))
        let high = GateThreshold.severity(.important)
        #expect(high.covers(important) && !high.covers(low) && !high.covers(bugfix))
        // A security update of unknown severity cannot be shown to be below the threshold.
        #expect(high.covers(unknown) && GateThreshold.severity(.critical).covers(unknown))
    }

    @Test func anImageFailsOnWhatWasFoundEvenWhenAnotherRepositoryFailed() {
        let broken = Diagnostic(.repoUnreachable, subject: DiagnosticSubject(repository: "http://127.0.0.1:9/x"), "could not connect.")
        let failing = Gate.judge(Self.row("a.qcow2", [[Self.update("openssl", .security)]], failures: [broken]), threshold: .security)
        #expect(failing.decision == .fail)
        #expect(failing.reason(threshold: .security).hasPrefix("1 security update pending: openssl 1.0-1 → 1.0-2"))
        let unsure = Gate.judge(Self.row("b.qcow2", [[Self.update("zlib", .bugfix)]], failures: [broken]), threshold: .security)
        #expect(unsure.decision == .undecided)
        #expect(unsure.reason(threshold: .security).contains("repo.unreachable"))
    }

    @Test func anImageWithoutMachinesOrWithAnErrorIsUndecidedAndACleanOnePasses() {
        let noOS = Diagnostic(.imageNoOS, subject: DiagnosticSubject(image: "e.qcow2"), "has no operating system imgsec recognises.")
        #expect(Gate.judge(Self.row("e.qcow2", [], diagnostics: [noOS]), threshold: .security).decision == .undecided)
        #expect(Gate.judge(Self.row("n.qcow2", []), threshold: .updates).decision == .undecided)
        let clean = Gate.judge(Self.row("c.qcow2", [[Self.update("zlib", .bugfix)]]), threshold: .security)
        #expect(clean.decision == .pass)
        #expect(clean.reason(threshold: .security) == "no security update pending (1 other update)")
        #expect(Gate.judge(Self.row("c.qcow2", [[Self.update("zlib", .bugfix)]]), threshold: .updates).decision == .fail)
        // A warning (a skippable dnf repository) leaves the answer standing.
        let warning = Diagnostic(.repoUnreachable, .warning, subject: DiagnosticSubject(repository: "r"), "skipped.")
        #expect(Gate.judge(Self.row("w.qcow2", [[]], failures: [warning]), threshold: .security).decision == .pass)
    }

    @Test func aMultiBootImageFailsWhenOneOfItsSystemsDoes() {
        let verdict = Gate.judge(Self.row("two.qcow2", [[], [Self.update("glibc", .security, severity: "Critical")]]), threshold: .severity(.critical))
        #expect(verdict.decision == .fail)
        #expect(verdict.reason(threshold: .severity(.critical)).hasPrefix("two.qcow2#1: 1 security update of severity critical or higher (or unknown) pending: glibc 1.0-1 → 1.0-2 (Critical)"))
    }
}
