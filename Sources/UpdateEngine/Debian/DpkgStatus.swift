/// The `Status:` field of a dpkg status stanza: `want eflag status`.
public struct DpkgPackageStatus: Sendable, Hashable, Codable {
    /// What the administrator asked for (first word).
    public enum Want: String, Sendable, Hashable, Codable, CaseIterable {
        case unknown, install, hold, deinstall, purge
    }

    /// The error flag (second word).
    public enum ErrorFlag: String, Sendable, Hashable, Codable, CaseIterable {
        case ok, reinstreq
    }

    /// The package's state (third word).
    public enum State: String, Sendable, Hashable, Codable, CaseIterable {
        case notInstalled = "not-installed", configFiles = "config-files", halfInstalled = "half-installed"
        case unpacked, halfConfigured = "half-configured", triggersAwaited = "triggers-awaited"
        case triggersPending = "triggers-pending", installed
    }

    public var want: Want
    public var errorFlag: ErrorFlag
    public var state: State

    public init(want: Want, errorFlag: ErrorFlag, state: State) {
        self.want = want
        self.errorFlag = errorFlag
        self.state = state
    }

    /// What dpkg assumes when a stanza has no `Status:` field.
    public static let missing = DpkgPackageStatus(want: .unknown, errorFlag: .ok, state: .notInstalled)
    /// `install ok installed`.
    public static let installed = DpkgPackageStatus(want: .install, errorFlag: .ok, state: .installed)

    /// `dpkg-query`'s `${db:Status-Abbrev}`: three characters, e.g. `ii `, `rc `, `iHR`.
    public var abbreviation: String {
        let w: Character = switch want {
        case .unknown: "u"
        case .install: "i"
        case .hold: "h"
        case .deinstall: "r"
        case .purge: "p"
        }
        let s: Character = switch state {
        case .notInstalled: "n"
        case .configFiles: "c"
        case .halfInstalled: "H"
        case .unpacked: "U"
        case .halfConfigured: "F"
        case .triggersAwaited: "W"
        case .triggersPending: "t"
        case .installed: "i"
        }
        return String([w, s, errorFlag == .reinstreq ? "R" : " "])
    }

    /// A reason, in dpkg's words, why a `Status:` value is invalid.
    struct Problem: Error { var reason: String }

    /// Parses the field value as dpkg does.
    static func parse(_ value: String) throws(Problem) -> DpkgPackageStatus {
        if value == "install ok installed" { return .installed }  // nearly every stanza
        var rest = Substring(value)
        func word<T: RawRepresentable<String>>(_ label: String, last: Bool) throws(Problem) -> T {
            rest = rest.drop { $0 == " " || $0 == "\t" }
            guard !rest.isEmpty else { throw Problem(reason: "\(label) word in 'Status' field: is missing a value") }
            let w = rest.prefix { $0 != " " && $0 != "\t" }
            guard let v = T(rawValue: String(w)) else {
                throw Problem(reason: "\(label) word in 'Status' field: has invalid value '\(rest)'")
            }
            rest = rest.dropFirst(w.count)
            if last && !rest.allSatisfy({ $0 == " " || $0 == "\t" }) {
                throw Problem(reason: "\(label) word in 'Status' field: has trailing junk")
            }
            return v
        }
        let want: Want = try word("first (want)", last: false)
        let flag: ErrorFlag = try word("second (error)", last: false)
        let state: State = try word("third (status)", last: true)
        return DpkgPackageStatus(want: want, errorFlag: flag, state: state)
    }
}

/// The `Multi-Arch:` field.
public enum DpkgMultiArch: String, Sendable, Hashable, Codable {
    case no, same, foreign, allowed
}

/// One package stanza of a dpkg status database.
public struct DpkgPackageEntry: Sendable, Hashable {
    /// `Package:`, lowercased as dpkg stores it.
    public var name: String
    /// `Version:`; nil only for stanzas dpkg lets go without one (not-installed, half-installed).
    public var version: DebianVersion?
    /// `Architecture:`; empty when missing.
    public var architecture: String
    public var multiArch: DpkgMultiArch
    /// `Source:` as written (`name` or `name (version)`), nil when absent.
    public var sourceField: String?
    /// `${source:Package}`: the first word of `Source:`, else the package name.
    public var sourceName: String
    /// `${source:Version}`: the version in `Source:`'s parentheses, else the binary version.
    public var sourceVersion: DebianVersion?
    public var status: DpkgPackageStatus
    /// `Essential: yes`.
    public var essential: Bool
    /// The file and 1-based line of the stanza.
    public var file: String
    public var line: Int

    /// Whether `dpkg-query -W` lists it: every package not in state `not-installed`.
    public var isListedByDpkgQuery: Bool { status.state != .notInstalled }

    /// Whether the package counts as installed: its files are unpacked and it was configured at least once
    /// or is being (re)configured — states `installed`, `triggers-pending`, `triggers-awaited` and
    /// `half-configured`, whatever was wanted (so `ii`, `hi`, `ri`, `it`, `iW`, `iF`). `unpacked`,
    /// `half-installed` and `config-files` do not count.
    public var isInstalled: Bool {
        switch status.state {
        case .installed, .triggersPending, .triggersAwaited, .halfConfigured: true
        case .notInstalled, .configFiles, .halfInstalled, .unpacked: false
        }
    }

    /// Whether dpkg shows `name:arch` (`${binary:Package}`, dpkg's `pnaw_nonambig`): for `Multi-Arch: same`
    /// packages and for packages of an architecture that is neither native nor `all`.
    public func needsArchQualifier(nativeArchitecture: String) -> Bool {
        guard !architecture.isEmpty else { return false }
        if multiArch == .same { return true }
        return architecture != nativeArchitecture && architecture != "all"
    }

    /// `${binary:Package}` as dpkg-query shows it on a machine whose native architecture is given.
    public func binaryPackage(nativeArchitecture: String) -> String {
        needsArchQualifier(nativeArchitecture: nativeArchitecture) ? "\(name):\(architecture)" : name
    }

    /// The model value, or nil when the stanza has no version.
    public var installedPackage: InstalledPackage? {
        guard let version else { return nil }
        return InstalledPackage(
            name: name, epoch: version.hasExplicitEpoch ? version.epoch : nil, version: version.dpkgDescription,
            release: version.hasRevision ? String(version.revision) : nil, arch: architecture,
            source: sourceName, sourceVersion: (sourceVersion ?? version).dpkgDescription)
    }
}

/// A problem dpkg only warns about while reading its database.
public struct DpkgStatusWarning: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var package: String?
    public var message: String

    public var description: String {
        "\(file):\(line)\(package.map { " package '\($0)'" } ?? ""): \(message)."
    }
}

/// Why a dpkg status database could not be read (where `dpkg-query` would stop with an error).
public struct DpkgStatusError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        case syntax, missingField, duplicateField, invalidPackageName, invalidStatus, invalidVersion
        case invalidMultiArch, duplicatePackage, invalidSourceVersion
    }

    public var code: Code
    /// The file inside the machine (or the name given to ``DpkgStatus/parse(_:file:missingStatusMeansInstalled:)``).
    public var file: String
    /// 1-based line: of the field when known, else of the stanza.
    public var line: Int
    public var package: String?
    /// What is wrong, in dpkg's words where it has some.
    public var message: String

    public init(_ code: Code, file: String, line: Int, package: String?, message: String) {
        self.code = code
        self.file = file
        self.line = line
        self.package = package
        self.message = message
    }

    public var description: String {
        "Cannot read the dpkg database: \(file) line \(line)\(package.map { " package '\($0)'" } ?? ""): \(message)."
    }
}

/// A dpkg status database: `/var/lib/dpkg/status` and, on distroless images, `/var/lib/dpkg/status.d/*`.
///
/// Parsing mirrors what `dpkg-query` 1.21 accepts and rejects (hard errors throw ``DpkgStatusError``).
/// Not read: dpkg's `updates/` journal and `available`.
public struct DpkgStatus: Sendable, Hashable {
    /// Every stanza, in file order (including not-installed ones).
    public var entries: [DpkgPackageEntry]
    /// What dpkg would have warned about.
    public var warnings: [DpkgStatusWarning]

    public init(entries: [DpkgPackageEntry] = [], warnings: [DpkgStatusWarning] = []) {
        self.entries = entries
        self.warnings = warnings
    }

    /// The largest status file read from a machine.
    public static let maxFileSize = 256 << 20

    /// The entries `dpkg-query -W` lists, in its order (name, then arch-qualified instances by arch).
    public func dpkgQueryListing(nativeArchitecture: String) -> [DpkgPackageEntry] {
        entries.filter(\.isListedByDpkgQuery).sorted { a, b in
            if a.name != b.name { return a.name.utf8.lexicographicallyPrecedes(b.name.utf8) }
            let qa = a.needsArchQualifier(nativeArchitecture: nativeArchitecture)
            let qb = b.needsArchQualifier(nativeArchitecture: nativeArchitecture)
            if qa && qb { return a.architecture.utf8.lexicographicallyPrecedes(b.architecture.utf8) }
            return !qa && qb
        }
    }

    /// Whether ``installedPackages`` would list anything (without making the list).
    public var hasInstalledPackage: Bool {
        entries.contains { $0.isInstalled && $0.version != nil }
    }

    /// The installed packages (see ``DpkgPackageEntry/isInstalled``), in name order.
    public var installedPackages: [InstalledPackage] {
        entries.filter(\.isInstalled)
            .sorted { ($0.name, $0.architecture) < ($1.name, $1.architecture) }
            .compactMap(\.installedPackage)
    }

    /// The machine's native architecture as dpkg would report it, guessed from the `dpkg` package's
    /// architecture, else the most common architecture other than `all`.
    public var likelyNativeArchitecture: String? {
        if let dpkg = entries.first(where: { $0.name == "dpkg" && $0.isListedByDpkgQuery && !$0.architecture.isEmpty }) {
            return dpkg.architecture
        }
        var counts: [String: Int] = [:]
        for e in entries where e.isListedByDpkgQuery && e.architecture != "all" && !e.architecture.isEmpty {
            counts[e.architecture, default: 0] += 1
        }
        return counts.max { ($0.value, $1.key) < ($1.value, $0.key) }?.key
    }

    /// Reads `/var/lib/dpkg/status` and every file in `/var/lib/dpkg/status.d/` (except `*.md5sums`).
    ///
    /// Stanzas in `status.d` without a `Status:` field (as distroless images write them) count as
    /// `install ok installed`. Returns nil when neither exists. Blocks while reading.
    public static func read(from machine: MachineFiles) throws -> DpkgStatus? {
        var result: DpkgStatus?
        if let bytes = try machine.read("/var/lib/dpkg/status", limit: maxFileSize) {
            result = try parse(bytes, file: "/var/lib/dpkg/status")
        }
        let dir = "/var/lib/dpkg/status.d"
        for name in try machine.list(dir) ?? [] where !name.hasSuffix(".md5sums") && !name.hasPrefix(".") {
            let path = dir + "/" + name
            guard let bytes = try machine.read(path, limit: maxFileSize) else { continue }
            let part = try parse(bytes, file: path, missingStatusMeansInstalled: true)
            result = DpkgStatus(entries: (result?.entries ?? []) + part.entries,
                                warnings: (result?.warnings ?? []) + part.warnings)
        }
        return result
    }

    /// Parses one status file's bytes; `file` names it in errors.
    public static func parse(_ bytes: [UInt8], file: String,
                             missingStatusMeansInstalled: Bool = false) throws(DpkgStatusError) -> DpkgStatus {
        var reader = Deb822Reader(bytes: bytes)
        var out = DpkgStatus()
        // Per name: indices of entries that dpkg would hold as instances.
        var instances: [String: [Int]] = [:]
        while true {
            let raw: Deb822Reader.RawParagraph?
            do { raw = try reader.nextRaw() } catch {
                throw DpkgStatusError(.syntax, file: file, line: error.line, package: nil, message: error.description)
            }
            guard let raw else { break }
            let paragraph = Stanza(reader: reader, raw: raw)
            let entry = try entry(paragraph, file: file, missingStatusMeansInstalled: missingStatusMeansInstalled,
                                  warnings: &out.warnings)
            if entry.isListedByDpkgQuery {
                let others = instances[entry.name, default: []].map { out.entries[$0] }
                if !others.isEmpty && (entry.multiArch != .same || others.contains { $0.multiArch != .same || $0.architecture == entry.architecture }) {
                    throw DpkgStatusError(.duplicatePackage, file: file, line: paragraph.line, package: entry.name,
                                          message: "multiple non-coinstallable package instances present")
                }
                instances[entry.name, default: []].append(out.entries.count)
            }
            out.entries.append(entry)
        }
        return out
    }

    /// One stanza, read field by field: only the fields dpkg-query's answer needs become strings.
    struct Stanza {
        /// The fields a stanza is read for.
        enum Name: Int, CaseIterable {
            case package, status, version, architecture, multiArch, source, essential
            var text: StaticString {
                switch self {
                case .package: "Package"
                case .status: "Status"
                case .version: "Version"
                case .architecture: "Architecture"
                case .multiArch: "Multi-Arch"
                case .source: "Source"
                case .essential: "Essential"
                }
            }
        }
        let reader: Deb822Reader
        let raw: Deb822Reader.RawParagraph
        var line: Int { raw.line }
        /// The first field of each name, found in one pass.
        private let found: [Int]

        init(reader: Deb822Reader, raw: Deb822Reader.RawParagraph) {
            self.reader = reader
            self.raw = raw
            var found = [Int](repeating: -1, count: Name.allCases.count)
            for (i, f) in raw.fields.enumerated() {
                for n in Name.allCases where found[n.rawValue] < 0 && reader.name(of: f, is: n.text) {
                    found[n.rawValue] = i
                    break
                }
            }
            self.found = found
        }

        func field(_ name: Name) -> Deb822Reader.RawField? {
            let i = found[name.rawValue]
            return i < 0 ? nil : raw.fields[i]
        }
        subscript(_ name: Name) -> String? { field(name).map(reader.value(of:)) }

        /// The first field whose name was already used in the stanza (dpkg: "duplicate value for … field").
        var duplicate: Deb822Reader.RawField? {
            for (i, f) in raw.fields.enumerated() where raw.fields[..<i].contains(where: { reader.sameName($0, f) }) {
                return f
            }
            return nil
        }
    }

    private static func entry(_ p: Stanza, file: String, missingStatusMeansInstalled: Bool,
                              warnings: inout [DpkgStatusWarning]) throws(DpkgStatusError) -> DpkgPackageEntry {
        let rawName = p[.package]
        if let f = p.duplicate {
            throw DpkgStatusError(.duplicateField, file: file, line: f.line, package: rawName,
                                  message: "duplicate value for '\(p.reader.name(of: f))' field")
        }
        guard let rawName else {
            throw DpkgStatusError(.missingField, file: file, line: p.line, package: nil, message: "missing 'Package' field")
        }
        if let problem = packageNameProblem(rawName) {
            throw DpkgStatusError(.invalidPackageName, file: file, line: p.field(.package)?.line ?? p.line, package: nil,
                                  message: "invalid package name in 'Package' field: \(problem)")
        }
        let name = rawName.utf8.contains(where: { $0 &- 0x41 < 26 }) ? rawName.lowercased() : rawName
        func fail(_ code: DpkgStatusError.Code, _ field: Stanza.Name, _ message: String) -> DpkgStatusError {
            DpkgStatusError(code, file: file, line: p.field(field)?.line ?? p.line, package: name, message: message)
        }

        var status = missingStatusMeansInstalled ? DpkgPackageStatus.installed : .missing
        if let value = p[.status] {
            do { status = try DpkgPackageStatus.parse(value) } catch { throw fail(.invalidStatus, .status, error.reason) }
        }

        var version: DebianVersion?
        if let value = p[.version], !value.isEmpty {
            do {
                let v = try DebianVersion(parsing: value)
                if let w = v.warning {
                    warnings.append(DpkgStatusWarning(file: file, line: p.field(.version)?.line ?? p.line, package: name,
                                                      message: "'Version' field value '\(value)': \(w.reason)"))
                }
                version = v
            } catch {
                throw fail(.invalidVersion, .version, "'Version' field value '\(value)': \(error.reason)")
            }
        } else if status.state != .notInstalled && status.state != .halfInstalled {
            throw fail(.missingField, .version, "missing 'Version' field")
        }

        let architecture = p[.architecture] ?? ""
        if architecture.isEmpty && ![.notInstalled, .halfInstalled, .configFiles].contains(status.state) {
            warnings.append(DpkgStatusWarning(file: file, line: p.line, package: name,
                                              message: p[.architecture] == nil ? "missing 'Architecture' field"
                                                  : "empty value for 'Architecture' field"))
        }
        var multiArch = DpkgMultiArch.no
        if let value = p[.multiArch], !value.isEmpty {
            guard let m = DpkgMultiArch(rawValue: value) else {
                throw fail(.invalidMultiArch, .multiArch,
                           "quadstate (foreign/allowed/same/no) 'Multi-Arch' field: has invalid value '\(value)'")
            }
            multiArch = m
        }
        if multiArch == .same && architecture.isEmpty {
            throw fail(.invalidMultiArch, .multiArch, "package has field 'Multi-Arch: same' but is missing architecture")
        }
        if multiArch == .same && architecture == "all" {
            throw fail(.invalidMultiArch, .multiArch, "package has 'Multi-Arch: same' field but is architecture 'all'")
        }

        let sourceField = p[.source].flatMap { $0.isEmpty ? nil : $0 }
        var sourceName = name
        var sourceVersion: DebianVersion?
        if let sourceField {
            sourceName = String(sourceField.prefix { $0 != " " })
            if let open = sourceField.firstIndex(of: "(") {
                let text = String(sourceField[sourceField.index(after: open)...].prefix { $0 != ")" })
                // dpkg-query rejects any problem here, even one it only warns about in `Version:`.
                let parsed = Result { () throws(DebianVersionError) in try DebianVersion(parsing: text) }
                switch parsed {
                case .success(let v) where v.warning == nil: sourceVersion = v
                case .success(let v):
                    if status.state != .notInstalled {
                        throw fail(.invalidSourceVersion, .source, "version '\(text)' has bad syntax: \(v.warning?.reason ?? "")")
                    }
                case .failure(let e):
                    if status.state != .notInstalled {
                        throw fail(.invalidSourceVersion, .source, "version '\(text)' has bad syntax: \(e.reason)")
                    }
                }
            }
        }

        return DpkgPackageEntry(
            name: name, version: version, architecture: architecture, multiArch: multiArch, sourceField: sourceField,
            sourceName: sourceName, sourceVersion: sourceVersion ?? version, status: status,
            essential: p[.essential] == "yes", file: file, line: p.line)
    }

    /// dpkg's `pkg_name_is_illegal()`: why a package name is invalid, or nil.
    static func packageNameProblem(_ name: String) -> String? {
        guard let first = name.utf8.first else { return "may not be empty string" }
        func isAlnum(_ c: UInt8) -> Bool { c &- 0x30 < 10 || (c | 0x20) &- 0x61 < 26 }
        guard isAlnum(first) else { return "must start with an alphanumeric character" }
        for c in name.utf8 where !isAlnum(c) && !"-+._".utf8.contains(c) {
            return "character '\(Character(Unicode.Scalar(c)))' not allowed (only letters, digits and characters '-+._')"
        }
        return nil
    }
}
