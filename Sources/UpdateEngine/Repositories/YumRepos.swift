/// One repository section of a yum/dnf `.repo` file (dnf.conf(5)).
public struct YumRepository: Sendable, Hashable, Codable {
    public var id: String
    public var name: String?
    /// `baseurl=` values (several allowed, separated by spaces, commas or continuation lines).
    public var baseURLs: [String]
    public var metalink: String?
    public var mirrorlist: String?
    public var enabled: Bool
    public var gpgcheck: Bool?
    public var gpgkeys: [String]
    /// `excludepkgs=` and its older spelling `exclude=` (globs over name, name.arch, NEVRA forms).
    public var excludePackages: [String] = []
    /// `includepkgs=`: when not empty, only matching packages of this repository are visible.
    public var includePackages: [String] = []
    /// `priority=` (1–99, lower wins; default 99).
    public var priority: Int = 99
    /// `cost=` (default 1000; among equal versions the cheaper repository is used).
    public var cost: Int = 1000
    /// `module_hotfixes=`: its packages bypass modular filtering.
    public var moduleHotfixes: Bool = false
    /// `skip_if_unavailable=`, nil when the section does not say (then `[main]` decides).
    public var skipIfUnavailable: Bool?
    /// Every option of the section as written (keys lower-cased), for what later stages need.
    public var options: [String: String]
    /// The file and the line of the `[section]` header.
    public var file: String
    public var line: Int
}

/// A line of a `.repo` or `dnf.conf` file that could not be understood.
public struct IniDiagnostic: Sendable, Hashable, Codable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var message: String
    public var description: String { "\(file):\(line): \(message)" }
}

/// INI files as libdnf reads them: `[section]`, `key=value`, continuation lines that start with white
/// space, `#` and `;` comments.
public enum IniFile {
    public struct Section: Sendable {
        public var name: String
        public var line: Int
        public var options: [(key: String, value: String)]
        public func value(_ key: String) -> String? { options.last { $0.key == key }?.value }
    }

    public static func parse(_ bytes: [UInt8], file: String) -> (sections: [Section], diagnostics: [IniDiagnostic]) {
        var sections: [Section] = []
        var diagnostics: [IniDiagnostic] = []
        var lineNumber = 0
        for raw in String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = raw.hasSuffix("\r") ? raw.dropLast() : raw
            let trimmed = line.trimmingSpaces()
            if trimmed.isEmpty || trimmed.hasPrefix("#") || trimmed.hasPrefix(";") { continue }
            if let first = line.first, first == " " || first == "\t", let s = sections.indices.last {
                // A continuation line: more of the previous option's value. Right after a `[section]` there
                // is no option to continue; libdnf refuses such a line (an illegal continuation line), so it
                // is reported and skipped, and the section keeps its place.
                if let k = sections[s].options.indices.last {
                    sections[s].options[k].value += "\n" + trimmed
                } else {
                    diagnostics.append(IniDiagnostic(file: file, line: lineNumber,
                        message: "continuation line \(trimmed) follows [\(sections[s].name)] before any key=value; ignored"))
                }
                continue
            }
            if trimmed.hasPrefix("[") {
                guard trimmed.hasSuffix("]"), trimmed.count > 2 else {
                    diagnostics.append(IniDiagnostic(file: file, line: lineNumber, message: "malformed section header \(trimmed)"))
                    continue
                }
                sections.append(Section(name: String(trimmed.dropFirst().dropLast()).trimmingSpaces(), line: lineNumber, options: []))
                continue
            }
            guard let eq = trimmed.firstIndex(of: "=") else {
                diagnostics.append(IniDiagnostic(file: file, line: lineNumber, message: "expected key=value, found \(trimmed)"))
                continue
            }
            guard var section = sections.popLast() else {
                diagnostics.append(IniDiagnostic(file: file, line: lineNumber, message: "option outside any [section]"))
                continue
            }
            section.options.append((String(trimmed[..<eq]).trimmingSpaces().lowercased(), String(trimmed[trimmed.index(after: eq)...]).trimmingSpaces()))
            sections.append(section)
        }
        return (sections, diagnostics)
    }
}

extension YumRepository {
    /// The repositories of one `.repo` file (or the repository sections of dnf.conf: every section but `[main]`).
    ///
    /// `variables` (`releasever`, `basearch`, custom ones) are substituted in section names and values,
    /// as dnf does; see ``DnfVariables/substitute(_:_:)``.
    public static func parse(_ bytes: [UInt8], file: String, variables: [String: String] = [:]) -> (repositories: [YumRepository], diagnostics: [IniDiagnostic]) {
        var (sections, diagnostics) = IniFile.parse(bytes, file: file)
        if !variables.isEmpty {
            sections = sections.map { section in
                var s = section
                var tooDeep = false
                func substitute(_ text: String) -> String {
                    let (out, deep) = DnfVariables.substitution(text, variables)
                    tooDeep = tooDeep || deep
                    return out
                }
                s.name = substitute(section.name)
                s.options = section.options.map { ($0.key, substitute($0.value)) }
                if tooDeep {
                    diagnostics.append(IniDiagnostic(file: file, line: section.line,
                        message: "[\(section.name)] nests ${…:-…} deeper than \(DnfVariables.maximumDepth) levels; the rest is left as written"))
                }
                return s
            }
        }
        let repos = sections.filter { $0.name != "main" }.map { section -> YumRepository in
            func list(_ key: String) -> [String] {
                Self.list(section.value(key) ?? "")
            }
            var options: [String: String] = [:]
            for (k, v) in section.options { options[k] = v }
            return YumRepository(
                id: section.name, name: section.value("name"), baseURLs: list("baseurl"),
                metalink: section.value("metalink").flatMap { $0.isEmpty ? nil : $0 },
                mirrorlist: section.value("mirrorlist").flatMap { $0.isEmpty ? nil : $0 },
                enabled: section.value("enabled").map(parseBool) ?? true,
                gpgcheck: section.value("gpgcheck").map(parseBool),
                gpgkeys: list("gpgkey"),
                excludePackages: list("excludepkgs") + list("exclude"), includePackages: list("includepkgs"),
                priority: section.value("priority").flatMap { Int($0) } ?? 99,
                cost: section.value("cost").flatMap { Int($0) } ?? 1000,
                moduleHotfixes: section.value("module_hotfixes").map(parseBool) ?? false,
                skipIfUnavailable: section.value("skip_if_unavailable").map(parseBool),
                options: options, file: file, line: section.line)
        }
        return (repos, diagnostics)
    }

    /// A list option: items separated by white space, commas or continuation lines.
    static func list(_ value: String) -> [String] {
        value.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\n" || $0 == "\t" }).map(String.init)
    }

    /// libdnf's boolean spellings: 1/yes/true/on and 0/no/false/off.
    static func parseBool(_ value: String) -> Bool {
        ["1", "yes", "true", "on"].contains(value.lowercased())
    }
}
