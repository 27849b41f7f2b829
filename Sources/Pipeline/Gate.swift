import Foundation
import UpdateEngine

/// The severity scale of rpm advisories (updateinfo.xml), with the names other scanners use as aliases.
public enum AdvisorySeverity: Int, Sendable, Hashable, Comparable, CaseIterable, CustomStringConvertible {
    case low = 1, moderate, important, critical

    /// `low`, `moderate`/`medium`, `important`/`high`, `critical`, in any case; nil for anything else.
    public init?(parsing text: String) {
        switch text.lowercased() {
        case "low": self = .low
        case "moderate", "medium": self = .moderate
        case "important", "high": self = .important
        case "critical": self = .critical
        default: return nil
        }
    }

    public static func < (a: AdvisorySeverity, b: AdvisorySeverity) -> Bool { a.rawValue < b.rawValue }

    public var description: String {
        switch self {
        case .low: "low"
        case .moderate: "moderate"
        case .important: "important"
        case .critical: "critical"
        }
    }
}

/// What makes an image fail the gate (`--fail-on`).
public enum GateThreshold: Sendable, Hashable, CustomStringConvertible {
    /// Any pending update.
    case updates
    /// Any security update.
    case security
    /// A security update of at least this severity. A security update whose severity is not known (Debian's
    /// security archive gives none) counts: the gate cannot show it is below the threshold.
    case severity(AdvisorySeverity)

    /// `updates`, `security`, or a severity name.
    public init?(parsing text: String) {
        switch text.lowercased() {
        case "updates": self = .updates
        case "security": self = .security
        default:
            guard let s = AdvisorySeverity(parsing: text) else { return nil }
            self = .severity(s)
        }
    }

    public var description: String {
        switch self {
        case .updates: "updates"
        case .security: "security"
        case .severity(let s): s.description
        }
    }

    /// True when `update` fails the gate.
    public func covers(_ update: PendingUpdate) -> Bool {
        switch self {
        case .updates: return true
        case .security: return update.significance == .security
        case .severity(let threshold):
            guard update.significance == .security else { return false }
            guard let s = update.severity.flatMap(AdvisorySeverity.init(parsing:)) else { return true }
            return s >= threshold
        }
    }
}

/// The gate's answer for one image.
public struct GateVerdict: Sendable {
    public enum Decision: String, Sendable, Codable {
        /// No machine of the image has an update the threshold covers, and every answer is complete.
        case pass
        /// At least one machine has an update the threshold covers.
        case fail
        /// The gate cannot tell: the image or a machine of it was not read, or a repository failed and nothing
        /// found so far fails it.
        case undecided
    }
    public var image: String
    public var decision: Decision
    /// The updates that fail it, per machine.
    public var offending: [(machine: String, updates: [PendingUpdate])]
    /// Why it is undecided (errors only).
    public var diagnostics: [Diagnostic]
    /// The answers it rests on.
    public var machines: [MachineCheck]

    /// One sentence: why it fails, why it is undecided, or what it passed.
    public func reason(threshold: GateThreshold, shown: Int = 3) -> String {
        switch decision {
        case .fail:
            return offending.map { machine, updates in
                let what: String
                switch threshold {
                case .updates: what = updates.count == 1 ? "update" : "updates"
                case .security: what = updates.count == 1 ? "security update" : "security updates"
                case .severity(let s): what = (updates.count == 1 ? "security update" : "security updates") + " of severity \(s) or higher (or unknown)"
                }
                let names = updates.prefix(shown).map { u in
                    "\(u.name) \(u.installed) → \(u.candidate)" + (u.severity.map { " (\($0))" } ?? "")
                }
                let more = updates.count > shown ? ", and \(updates.count - shown) more" : ""
                let prefix = machine == image ? "" : "\(machine): "
                return "\(prefix)\(updates.count) \(what) pending: \(names.joined(separator: ", "))\(more)"
            }.joined(separator: "; ")
        case .undecided:
            // The image is named already: a diagnostic about the image itself is told without its location.
            let first = diagnostics.first.map { d in
                "\(d.code.rawValue): " + (d.subject.image == image && d.subject.file == nil && d.subject.repository == nil ? d.message : d.description)
            } ?? "nothing in it could be checked"
            return "cannot decide: \(first)" + (diagnostics.count > 1 ? " (and \(diagnostics.count - 1) more)" : "")
        case .pass:
            let total = machines.reduce(0) { $0 + $1.total }
            let none: String
            switch threshold {
            case .updates: none = "no update pending"
            case .security: none = "no security update pending"
            case .severity(let s): none = "no security update of severity \(s) or higher pending"
            }
            return total > 0 && threshold != .updates ? "\(none) (\(total) other update\(total == 1 ? "" : "s"))" : none
        }
    }
}

/// The pre-start gate: judges each image of a sweep against a threshold.
public enum Gate {
    /// The verdict on one swept image. An image fails when any of its machines has an update the threshold
    /// covers, even if another part of its answer failed: what was found is enough to refuse it.
    public static func judge(_ row: SweepRow, threshold: GateThreshold) -> GateVerdict {
        let checks = row.machines.map(\.check)
        var offending: [(machine: String, updates: [PendingUpdate])] = []
        for c in checks {
            let bad = c.updates.filter(threshold.covers)
            if !bad.isEmpty { offending.append((c.machine.name, bad)) }
        }
        let errors = row.diagnostics.filter { $0.severity == .error } + checks.flatMap { $0.failures.filter { $0.severity == .error } }
        let decision: GateVerdict.Decision
        if !offending.isEmpty {
            decision = .fail
        } else if !errors.isEmpty || checks.isEmpty {
            decision = .undecided
        } else {
            decision = .pass
        }
        var diagnostics = errors
        if decision == .undecided && diagnostics.isEmpty {
            diagnostics = [Diagnostic(.imageNoOS, subject: DiagnosticSubject(image: row.image), "holds no machine the gate could check.")]
        }
        return GateVerdict(image: row.image, decision: decision, offending: offending, diagnostics: diagnostics, machines: checks)
    }
}
