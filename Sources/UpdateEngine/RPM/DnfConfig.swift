#if canImport(Glibc)
import Glibc
#endif

/// dnf's variable substitution in configuration values (libdnf `ConfigParser::substitute`).
public enum DnfVariables {
    /// How deeply `${name:-${other:-…}}` may nest before the rest is left as written (libdnf's
    /// `MAXIMUM_EXPRESSION_DEPTH`). Guest files are untrusted: without a limit, nesting costs stack and time.
    public static let maximumDepth = 32

    /// Replaces `$name`, `${name}`, `${name:-default}` and `${name:+alternate}`. A name is letters,
    /// digits and `_`; an unknown variable is left as written, as dnf leaves it.
    public static func substitute(_ text: String, _ variables: [String: String]) -> String {
        substitution(text, variables).text
    }

    /// Like ``substitute(_:_:)``, and says whether an expression nested deeper than ``maximumDepth``
    /// was left as written.
    public static func substitution(_ text: String, _ variables: [String: String]) -> (text: String, tooDeep: Bool) {
        guard text.contains("$") else { return (text, false) }
        var tooDeep = false
        let out = substitute(Array(text.utf8)[...], variables, depth: 0, tooDeep: &tooDeep)
        return (String(decoding: out, as: UTF8.self), tooDeep)
    }

    private static func substitute(_ b: ArraySlice<UInt8>, _ variables: [String: String], depth: Int, tooDeep: inout Bool) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(b.count)
        func isNameByte(_ c: UInt8) -> Bool { (c | 0x20) &- 0x61 < 26 || c &- 0x30 < 10 || c == UInt8(ascii: "_") }
        var i = b.startIndex
        while i < b.endIndex {
            guard b[i] == UInt8(ascii: "$"), i + 1 < b.endIndex else { out.append(b[i]); i += 1; continue }
            if b[i + 1] == UInt8(ascii: "{") {
                var j = i + 2
                while j < b.endIndex && isNameByte(b[j]) { j += 1 }
                let name = String(decoding: b[(i + 2)..<j], as: UTF8.self)
                if j < b.endIndex && b[j] == UInt8(ascii: "}") && !name.isEmpty {
                    if let v = variables[name] { out += Array(v.utf8) } else { out += b[i...j] }
                    i = j + 1
                    continue
                }
                // ${name:-word} / ${name:+word}; the word may hold variables itself.
                if j + 1 < b.endIndex && b[j] == UInt8(ascii: ":") && (b[j + 1] == UInt8(ascii: "-") || b[j + 1] == UInt8(ascii: "+")),
                   let close = matchingBrace(b, from: j + 2) {
                    guard depth < maximumDepth else {
                        // Too deep: the whole expression stays as written, as libdnf leaves it.
                        tooDeep = true
                        out += b[i...close]
                        i = close + 1
                        continue
                    }
                    let word = substitute(b[(j + 2)..<close], variables, depth: depth + 1, tooDeep: &tooDeep)
                    let value = variables[name]
                    let useDefault = b[j + 1] == UInt8(ascii: "-")
                    if useDefault { out += value.flatMap { $0.isEmpty ? nil : Array($0.utf8) } ?? word }
                    else if let value, !value.isEmpty { out += word }
                    i = close + 1
                    continue
                }
                out.append(b[i]); i += 1
                continue
            }
            var j = i + 1
            while j < b.endIndex && isNameByte(b[j]) { j += 1 }
            let name = String(decoding: b[(i + 1)..<j], as: UTF8.self)
            if !name.isEmpty, let v = variables[name] { out += Array(v.utf8) } else { out += b[i..<j] }
            i = j
        }
        return out
    }

    private static func matchingBrace(_ b: ArraySlice<UInt8>, from: Int) -> Int? {
        var depth = 1
        var k = from
        while k < b.endIndex {
            if b[k] == UInt8(ascii: "{") { depth += 1 }
            if b[k] == UInt8(ascii: "}") { depth -= 1; if depth == 0 { return k } }
            k += 1
        }
        return nil
    }

    /// dnf's base architecture of a machine architecture (`i686` → `i386`, `armv7hl` → `armhfp`).
    public static func basearch(of arch: String) -> String {
        switch arch {
        case "i386", "i486", "i586", "i686", "athlon", "geode", "pentium3", "pentium4": return "i386"
        case "x86_64", "amd64", "ia32e", "x86_64_v2", "x86_64_v3", "x86_64_v4": return "x86_64"
        case "armv7l", "armv7hl", "armv7hnl", "armv6hl", "armv8hl": return "armhfp"
        case "armv5tel", "armv5tejl", "armv6l", "armv7el": return "arm"
        case "ppc64p7": return "ppc64"
        case "sparc64v": return "sparc64"
        default: return arch
        }
    }
}

/// The state of one module in `/etc/dnf/modules.d/NAME.module`.
public struct DnfModuleState: Sendable, Hashable {
    public enum State: String, Sendable, Codable {
        /// `state=enabled`: the stream's packages are visible, the stream's non-members hidden.
        case enabled
        /// `state=disabled`: none of the module's streams is active, not even the default.
        case disabled
        /// No state (or `state=`): the default stream, if the metadata names one, is active.
        case `default`
    }
    public var name: String
    public var stream: String?
    public var state: State
    public var profiles: [String]
    public var file: String
}

/// `[main]` of dnf.conf (or yum.conf): the options that decide candidates.
public struct DnfMainOptions: Sendable, Hashable {
    /// libdnf's default `installonlypkgs`; a configured list is added to it.
    public static let defaultInstallOnly = ["kernel", "kernel-PAE", "installonlypkg(kernel)", "installonlypkg(kernel-module)",
                                            "installonlypkg(vm)", "multiversion(kernel)"]
    /// `exclude=`/`excludepkgs=`: hidden in every repository and on the machine itself.
    public var excludePackages: [String] = []
    /// Package names or provides that are installed beside older versions, never upgraded.
    public var installOnlyPackages: [String] = defaultInstallOnly
    public var installOnlyLimit: Int = 3
    public var skipIfUnavailable: Bool = false
    /// `module_platform_id=`, when set.
    public var modulePlatformID: String?
    /// The file the options came from, nil when none exists.
    public var file: String?
    public init() {}
}

/// How `$releasever` was found.
public enum ReleaseverSource: Sendable, Hashable, CustomStringConvertible {
    /// A custom variable file (`/etc/dnf/vars/releasever`, Amazon Linux 2023 style).
    case variableFile(String)
    /// The rpm package providing `provide` (`system-release(releasever)` …): its version, or the provide's.
    case package(name: String, provide: String)
    /// os-release's `VERSION_ID`.
    case osRelease
    case unknown

    public var description: String {
        switch self {
        case .variableFile(let f): "\(f)"
        case .package(let n, let p): "package \(n) providing \(p)"
        case .osRelease: "os-release VERSION_ID"
        case .unknown: "not found"
        }
    }
}

/// Everything a machine's dnf configuration says that decides its update candidates.
public struct DnfMachineConfig: Sendable {
    /// Every configured repository, variables substituted, in file order (a repeated id keeps the first).
    public var repositories: [YumRepository]
    public var main: DnfMainOptions
    /// By module name.
    public var modules: [String: DnfModuleState]
    public var releasever: String?
    public var releaseverSource: ReleaseverSource
    /// The machine's architecture (`x86_64`), and dnf's `$basearch` of it.
    public var arch: String?
    public var basearch: String?
    /// The variables substituted: `releasever`, `releasever_major`/`_minor`, `arch`, `basearch`, custom ones.
    public var variables: [String: String]
    /// Problems per file and line; none of them stops the reading.
    public var diagnostics: [IniDiagnostic]

    public init(repositories: [YumRepository], main: DnfMainOptions = DnfMainOptions(), modules: [String: DnfModuleState] = [:],
                releasever: String? = nil, releaseverSource: ReleaseverSource = .unknown, arch: String? = nil, basearch: String? = nil,
                variables: [String: String] = [:], diagnostics: [IniDiagnostic] = []) {
        self.repositories = repositories
        self.main = main
        self.modules = modules
        self.releasever = releasever
        self.releaseverSource = releaseverSource
        self.arch = arch
        self.basearch = basearch
        self.variables = variables
        self.diagnostics = diagnostics
    }

    /// The repositories dnf would load.
    public var enabledRepositories: [YumRepository] { repositories.filter(\.enabled) }

    /// Provides whose package sets `$releasever`, in dnf's order (`dnf.const.DISTROVERPKG`).
    public static let distroverpkg = ["system-release(releasever)", "system-release", "distribution-release(releasever)",
                                      "distribution-release", "redhat-release", "suse-release"]

    /// Reads a machine's dnf configuration: `/etc/dnf/dnf.conf` (else `/etc/yum.conf`), `/etc/yum.repos.d/*.repo`,
    /// `/etc/dnf/vars/*`, `/etc/yum/vars/*`, `/etc/dnf/modules.d/*.module` and os-release.
    ///
    /// `$releasever` is found the way dnf finds it: the package in `rpmdb` providing `system-release(releasever)`
    /// (or the next of ``distroverpkg``) gives its version — or the provide's version when the provide is
    /// versioned and named otherwise — then os-release's `VERSION_ID`. A `releasever` variable file overrides
    /// both. The architecture is the most common one of the installed packages. Blocks while reading.
    public static func read(from machine: some MachineFiles, rpmdb: RPMDatabaseContents?) throws -> DnfMachineConfig {
        var diagnostics: [IniDiagnostic] = []
        func readFile(_ path: String) -> [UInt8]? {
            do { return try machine.read(path, limit: 4 << 20) } catch {
                diagnostics.append(IniDiagnostic(file: path, line: 0, message: "cannot be read: \(error)"))
                return nil
            }
        }
        func listDir(_ path: String) -> [String] {
            (try? machine.list(path))?.filter { !$0.hasPrefix(".") } ?? []
        }

        // Variables: custom files (dnf reads /etc/dnf/vars, then /etc/yum/vars; later ones win).
        var variables: [String: String] = [:]
        var variableFiles: [String: String] = [:]
        for dir in ["/etc/dnf/vars", "/etc/yum/vars"] {
            for name in listDir(dir) where name.utf8.allSatisfy({ ($0 | 0x20) &- 0x61 < 26 || $0 &- 0x30 < 10 || $0 == 0x5F }) {
                guard let bytes = readFile(dir + "/" + name) else { continue }
                let first = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).first ?? ""
                variables[name] = first.trimmingSpaces()
                variableFiles[name] = dir + "/" + name
            }
        }

        // Architecture.
        var arch: String?
        if let rpmdb {
            var counts: [String: Int] = [:]
            for h in rpmdb.headers where h.isPackage { if let a = h.arch, a != "noarch", a != "src" { counts[a, default: 0] += 1 } }
            arch = counts.max { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }?.key
        }
        if arch == nil { arch = ELFArchitecture.ofMachine(machine) }
        let basearch = arch.map(DnfVariables.basearch(of:))
        if let arch, variables["arch"] == nil { variables["arch"] = arch }
        if let basearch, variables["basearch"] == nil { variables["basearch"] = basearch }

        // Releasever.
        var releasever: String?
        var source = ReleaseverSource.unknown
        if let value = variables["releasever"], let file = variableFiles["releasever"] {
            releasever = value
            source = .variableFile(file)
        } else if let rpmdb, let found = Self.releasever(from: rpmdb.headers) {
            releasever = found.releasever
            source = .package(name: found.package, provide: found.provide)
        } else if let bytes = readFile("/etc/os-release") ?? readFile("/usr/lib/os-release"),
                  let v = OSRelease(parsing: bytes).versionID, !v.isEmpty {
            releasever = v
            source = .osRelease
        }
        if let releasever {
            variables["releasever"] = releasever
            let parts = releasever.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
            variables["releasever_major"] = String(parts[0])
            variables["releasever_minor"] = parts.count > 1 ? String(parts[1]) : ""
        }

        // [main].
        var main = DnfMainOptions()
        for path in ["/etc/dnf/dnf.conf", "/etc/yum.conf"] {
            guard let bytes = readFile(path) else { continue }
            let (sections, problems) = IniFile.parse(bytes, file: path)
            diagnostics += problems
            main.file = path
            if let section = sections.first(where: { $0.name == "main" }) {
                let v = { (key: String) in section.value(key).map { DnfVariables.substitute($0, variables) } }
                main.excludePackages = YumRepository.list(v("excludepkgs") ?? "") + YumRepository.list(v("exclude") ?? "")
                if let extra = v("installonlypkgs") {
                    for p in YumRepository.list(extra) where !main.installOnlyPackages.contains(p) { main.installOnlyPackages.append(p) }
                }
                if let limit = v("installonly_limit") {
                    if let n = Int(limit) { main.installOnlyLimit = n } else {
                        diagnostics.append(IniDiagnostic(file: path, line: section.line, message: "installonly_limit=\(limit) is not a number"))
                    }
                }
                main.skipIfUnavailable = v("skip_if_unavailable").map(YumRepository.parseBool) ?? false
                main.modulePlatformID = v("module_platform_id")
            }
            break  // dnf reads one main configuration file
        }

        // Repositories: /etc/yum.repos.d/*.repo in name order, then repository sections of the main file.
        var repositories: [YumRepository] = []
        var seen: [String: YumRepository] = [:]
        var repoFiles = listDir("/etc/yum.repos.d").filter { $0.hasSuffix(".repo") }.map { "/etc/yum.repos.d/" + $0 }
        if let f = main.file { repoFiles.append(f) }
        for path in repoFiles {
            guard let bytes = readFile(path) else { continue }
            let (repos, problems) = YumRepository.parse(bytes, file: path, variables: variables)
            diagnostics += path == main.file ? [] : problems
            for repo in repos {
                if let first = seen[repo.id] {
                    diagnostics.append(IniDiagnostic(file: path, line: repo.line,
                                                     message: "repository \(repo.id) is already defined at \(first.file):\(first.line); this one is ignored"))
                    continue
                }
                seen[repo.id] = repo
                repositories.append(repo)
            }
        }

        // Module state.
        var modules: [String: DnfModuleState] = [:]
        for name in listDir("/etc/dnf/modules.d") where name.hasSuffix(".module") {
            let path = "/etc/dnf/modules.d/" + name
            guard let bytes = readFile(path) else { continue }
            let (sections, problems) = IniFile.parse(bytes, file: path)
            diagnostics += problems
            for section in sections {
                let stateText = (section.value("state") ?? "").lowercased()
                let state: DnfModuleState.State
                switch stateText {
                case "enabled": state = .enabled
                case "disabled": state = .disabled
                case "", "default": state = .default
                default:
                    diagnostics.append(IniDiagnostic(file: path, line: section.line, message: "unknown module state \(stateText)"))
                    state = .default
                }
                let moduleName = section.value("name") ?? section.name
                modules[moduleName] = DnfModuleState(
                    name: moduleName, stream: section.value("stream").flatMap { $0.isEmpty ? nil : $0 }, state: state,
                    profiles: YumRepository.list(section.value("profiles") ?? ""), file: path)
            }
        }

        return DnfMachineConfig(repositories: repositories, main: main, modules: modules, releasever: releasever,
                                releaseverSource: source, arch: arch, basearch: basearch, variables: variables, diagnostics: diagnostics)
    }

    /// dnf's `detect_releasever` over installed headers: (releasever, package, provide) or nil.
    static func releasever(from headers: [RPMPackageHeader]) -> (releasever: String, package: String, provide: String)? {
        for provide in distroverpkg {
            guard let header = headers.first(where: { h in h.isPackage && h.provides.contains { $0.name == provide } }) else { continue }
            var value = header.version
            if header.name != provide, let p = header.provides.first(where: { $0.name == provide }), let v = p.version, !v.isEmpty {
                value = v
            }
            return (value, header.name, provide)
        }
        return nil
    }
}
