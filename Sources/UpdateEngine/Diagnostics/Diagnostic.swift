/// One thing that went wrong (or is worth saying) about a machine, an image or a repository: a stable
/// code, a severity, what it is about, and a sentence a user can act on.
///
/// Parsers and loaders throw their own typed errors; the pipeline turns each into a `Diagnostic` once
/// (``DiagnosticConvertible``), and every front end renders the same values: the `error:` lines on
/// stderr, the `errors` arrays of the JSON output, the API. Nothing downstream parses a message to learn
/// what went wrong: it reads ``code``.
public struct Diagnostic: Error, Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Severity: String, Sendable, Hashable, Codable, Comparable {
        case error, warning, note

        public static func < (a: Severity, b: Severity) -> Bool { a.rank < b.rank }
        private var rank: Int { self == .error ? 2 : self == .warning ? 1 : 0 }
    }

    public var code: DiagnosticCode
    public var severity: Severity
    /// What it is about: image, machine, device, file and line, repository, package.
    public var subject: DiagnosticSubject
    /// A sentence about ``subject`` (without it): "has no operating system.", "signature check failed: …".
    public var message: String

    public init(_ code: DiagnosticCode, _ severity: Severity = .error, subject: DiagnosticSubject, _ message: String) {
        self.code = code
        self.severity = severity
        self.subject = subject
        self.message = message
    }

    /// `SUBJECT: MESSAGE`, the form of an `error:` line.
    public var description: String {
        let location = subject.location
        return location.isEmpty ? message : "\(location): \(message)"
    }

    /// The same diagnostic with another severity.
    public func with(_ severity: Severity) -> Diagnostic {
        var copy = self
        copy.severity = severity
        return copy
    }

    /// The same diagnostic, placed in `image` and `machine` when it does not name them already.
    public func about(machine: String? = nil, image: String? = nil) -> Diagnostic {
        var copy = self
        if copy.subject.image == nil { copy.subject.image = image }
        if copy.subject.machine == nil, let machine, machine != copy.subject.image { copy.subject.machine = machine }
        return copy
    }
}

/// Where a diagnostic happened, from the outside in: image → device → machine → file and line, or a
/// repository URL, or a package.
public struct DiagnosticSubject: Sendable, Hashable, Codable {
    public var image: String?
    public var device: String?
    /// The machine's name (a root directory, a registered name) when it is not the image.
    public var machine: String?
    /// A path inside the machine (or on the host for a host file).
    public var file: String?
    /// 1-based.
    public var line: Int?
    public var repository: String?
    public var package: String?

    public init(image: String? = nil, device: String? = nil, machine: String? = nil, file: String? = nil,
                line: Int? = nil, repository: String? = nil, package: String? = nil) {
        self.image = image
        self.device = device
        self.machine = machine
        self.file = file
        self.line = line.flatMap { $0 > 0 ? $0 : nil }
        self.repository = repository
        self.package = package
    }

    /// `image (device) machine: file line N: repository package`, the parts that are set.
    public var location: String {
        var parts: [String] = []
        if let image { parts.append(device.map { "\(image) (\($0))" } ?? image) }
        if let machine { parts.append(machine) }
        var head = parts.joined(separator: " ")
        var tail: [String] = []
        if let file { tail.append(line.map { "\(file) line \($0)" } ?? file) }
        if let repository { tail.append(repository) }
        if let package { tail.append("package \(package)") }
        if !tail.isEmpty { head += (head.isEmpty ? "" : ": ") + tail.joined(separator: " ") }
        return head
    }
}

/// An error that knows its diagnostic: its stable code, severity and subject.
public protocol DiagnosticConvertible: Error {
    var diagnostic: Diagnostic { get }
}

extension Diagnostic: DiagnosticConvertible {
    public var diagnostic: Diagnostic { self }
}

extension Diagnostic {
    /// Any error as a diagnostic: its own when it has one, else `internal` with its description
    /// (a bug to report: every error imgsec throws on bad input should be convertible).
    public static func from(_ error: any Error, subject: DiagnosticSubject = DiagnosticSubject()) -> Diagnostic {
        if let known = error as? any DiagnosticConvertible { return known.diagnostic }
        return Diagnostic(.internalError, subject: subject, "\(error)")
    }
}
