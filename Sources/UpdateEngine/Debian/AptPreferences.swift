#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One pin of `/etc/apt/preferences(.d)`: which packages, which versions, what priority.
public struct AptPin: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable { case version, release, origin }

    /// `Package:` words; empty for `Package: *` (a default pin that applies to whole index files).
    public var packages: [String]
    public var kind: Kind
    /// The text after the pin type (`a=bookworm-backports`, `1.2*`, `"deb.example.org"`).
    public var data: String
    public var priority: Int
    public var file: String
    public var line: Int

    /// True for `Pin-Priority: never`.
    public var isNever: Bool { priority == AptPin.never }
    /// apt's `NEVER_PIN`.
    public static let never = Int(Int16.min)

    public var description: String {
        "Package: \(packages.isEmpty ? "*" : packages.joined(separator: " ")), Pin: \(kind.rawValue) \(data), "
            + "Pin-Priority: \(isNever ? "never" : String(priority)) (\(file) line \(line))"
    }
}

/// The pins of a machine in apt's reading order (the first matching pin wins).
public struct AptPreferences: Sendable {
    public var pins: [AptPin] = []
    public var diagnostics: [AptConfigDiagnostic] = []

    public init(pins: [AptPin] = []) { self.pins = pins }

    /// Reads one preferences file (deb822 with `#` comments), as apt 2.6's `ReadPinFile`.
    public mutating func parse(_ bytes: [UInt8], file: String) {
        var reader = Deb822Reader(bytes: bytes, allowsComments: true)
        while true {
            let p: Deb822Paragraph?
            do { p = try reader.next() } catch {
                diagnostics.append(AptConfigDiagnostic(file: file, line: error.line, message: error.description))
                return
            }
            guard let p else { return }
            func note(_ message: String) { diagnostics.append(AptConfigDiagnostic(file: file, line: p.line, message: message)) }
            guard let name = p["Package"], !name.isEmpty else {
                note("record has no Package header (apt refuses the file)")
                continue
            }
            guard let pin = p["Pin"] else { continue }
            let typeWord = pin.prefix { !$0.isWhitespace }
            let data = String(pin.dropFirst(typeWord.count).drop { $0.isWhitespace })
            let isDefault = name == "*"
            let kind: AptPin.Kind
            switch typeWord.lowercased() {
            case "version" where !isDefault: kind = .version
            case "release": kind = .release
            case "origin": kind = .origin
            default:
                note("did not understand pin type '\(typeWord)'")
                continue
            }
            let priorityText = (p["Pin-Priority"] ?? "").trimmingSpaces()
            var priority: Int
            if priorityText == "never" {
                guard isDefault else { note("'Pin-Priority: never' can only be used for 'Package: *'"); continue }
                priority = AptPin.never
            } else {
                guard let n = Int(priorityText), n >= Int(Int16.min), n <= Int(Int16.max) else {
                    note("Pin-Priority '\(priorityText)' is not a number between -32768 and 32767")
                    continue
                }
                priority = n == AptPin.never ? AptPin.never + 1 : n
            }
            guard priority != 0 else { note("no priority (or zero) given for the pin"); continue }
            let packages = isDefault ? [] : name.split(whereSeparator: \.isWhitespace).map(String.init)
            pins.append(AptPin(packages: packages, kind: kind, data: data, priority: priority, file: file, line: p.line))
        }
    }
}

/// apt's `pkgVersionMatch`: what a pin's data matches.
struct AptPinMatcher: Sendable {
    let kind: AptPin.Kind
    var matchAll = false
    var version = ""
    var versionPrefix = false
    var relVersion = ""
    var relVersionPrefix = false
    var origin = ""
    var archive = ""
    var codename = ""
    var release = ""
    var label = ""
    var component = ""
    var architecture = ""
    var site = ""

    init(_ pin: AptPin) { self.init(kind: pin.kind, data: pin.data) }

    init(kind: AptPin.Kind, data: String) {
        self.kind = kind
        guard !data.isEmpty else { return }
        switch kind {
        case .version:
            if data.hasSuffix("*") { versionPrefix = true; version = String(data.dropLast()) } else { version = data }
        case .release:
            if data == "*" { matchAll = true; return }
            if !data.contains("=") {
                if data.first?.isNumber == true { relVersion = data } else { release = data }
                if relVersion.hasSuffix("*") { relVersionPrefix = true; relVersion.removeLast() }
                return
            }
            for fragment in data.split(separator: ",") {
                let f = fragment.trimmingSpaces()
                guard f.utf8.count >= 3 else { continue }
                let key = f.prefix(2).lowercased()
                let value = String(f.dropFirst(2))
                switch key {
                case "v=": relVersion = value
                case "o=": origin = value
                case "a=": archive = value
                case "n=": codename = value
                case "l=": label = value
                case "c=": component = value
                case "b=": architecture = value
                default: break
                }
            }
            if relVersion.hasSuffix("*") { relVersionPrefix = true; relVersion.removeLast() }
        case .origin:
            if data.hasPrefix("\"") && data.hasSuffix("\"") && data.count >= 2 {
                site = String(data.dropFirst().dropLast())
            } else {
                site = data
            }
        }
    }

    /// `VersionMatches` for a version pin.
    func matchesVersion(_ text: String) -> Bool {
        Self.matchVer(text, version, prefix: versionPrefix) || Self.expressionMatches(version, text)
    }

    /// `FileMatch`: whether a pin of type release/origin matches an index file.
    func matches(_ file: AptPolicyFile) -> Bool {
        switch kind {
        case .version: return false
        case .origin:
            guard let rel = file.release else { return false }
            _ = rel
            return Self.expressionMatches(site, file.site)
        case .release:
            if let rel = file.release {
                if matchAll { return true }
                if relVersion.isEmpty && origin.isEmpty && archive.isEmpty && label.isEmpty && release.isEmpty
                    && codename.isEmpty && component.isEmpty && architecture.isEmpty { return false }
                if !relVersion.isEmpty && !Self.matchVer(rel.version, relVersion, prefix: relVersionPrefix)
                    && !Self.expressionMatches(relVersion, rel.version) { return false }
                if !origin.isEmpty && !Self.expressionMatches(origin, rel.origin) { return false }
                if !archive.isEmpty && !Self.expressionMatches(archive, rel.suite) { return false }
                if !codename.isEmpty && !Self.expressionMatches(codename, rel.codename) { return false }
                if !release.isEmpty && !Self.expressionMatches(release, rel.suite) && !Self.expressionMatches(release, rel.codename) { return false }
                if !label.isEmpty && !Self.expressionMatches(label, rel.label) { return false }
            } else {
                // The dpkg status file: its component is "now".
                if !archive.isEmpty && !Self.expressionMatches(archive, "now") { return false }
                if !release.isEmpty && !Self.expressionMatches(release, "now") { return false }
                if !origin.isEmpty || !label.isEmpty || !relVersion.isEmpty || !codename.isEmpty { return false }
            }
            if matchAll { return true }
            if !component.isEmpty && !Self.expressionMatches(component, file.component) { return false }
            if !architecture.isEmpty && !Self.expressionMatches(architecture, file.architecture) { return false }
            return true
        }
    }

    /// apt's `MatchVer`: equal (or prefix when `prefix`), ASCII case-insensitively.
    static func matchVer(_ a: String?, _ b: String, prefix: Bool) -> Bool {
        guard let a else { return false }
        let au = Array(a.utf8), bu = Array(b.utf8)
        if (au.count != bu.count && !prefix) || au.count < bu.count { return false }
        for i in 0..<bu.count where Deb822.lower(au[i]) != Deb822.lower(bu[i]) { return false }
        return true
    }

    /// apt's `ExpressionMatches`: `/regex/` (extended, case-insensitive) or an `fnmatch` glob (case-insensitive).
    static func expressionMatches(_ pattern: String, _ string: String?) -> Bool {
        guard let string else { return false }
        if pattern.utf8.count >= 2 && pattern.hasPrefix("/") && pattern.hasSuffix("/") {
            let expr = String(pattern.dropFirst().dropLast())
            var re = regex_t()
            guard regcomp(&re, expr, REG_EXTENDED | REG_ICASE | REG_NOSUB) == 0 else { return false }
            defer { regfree(&re) }
            return regexec(&re, string, 0, nil, 0) == 0
        }
        return fnmatch(pattern, string, 1 << 4) == 0  // FNM_CASEFOLD (a GNU flag Swift does not import)
    }

    static func isPattern(_ name: String) -> Bool {
        (name.utf8.count >= 2 && name.hasPrefix("/") && name.hasSuffix("/")) || name.contains(where: { "*[?".contains($0) })
    }
}
