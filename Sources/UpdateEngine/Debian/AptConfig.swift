/// A problem in one apt configuration file (apt.conf, preferences, dpkg's arch list): the same shape as a
/// sources problem — file, line, message.
public typealias AptConfigDiagnostic = AptSourcesDiagnostic

/// apt's configuration tree as written in `apt.conf` files: `A::B "value";`, nested `A { B "v"; };`,
/// lists `A { "x"; "y"; };`, `//`, `/* */` and `#` comments, `#clear`. `#include` is not followed.
public struct AptConfTree: Sendable, Hashable {
    /// Scalar values by lowercased `::`-joined key (apt compares keys case-insensitively).
    public var values: [String: String] = [:]
    /// List values by lowercased key, in order.
    public var lists: [String: [String]] = [:]

    public init() {}

    public subscript(_ key: String) -> String? { values[key.lowercased()] }

    public func list(_ key: String) -> [String] { lists[key.lowercased()] ?? [] }

    /// apt's `FindB`.
    public func bool(_ key: String) -> Bool? { self[key].flatMap(AptSources.aptBool) }

    /// Merges one file's text into the tree (later files override earlier ones, as apt reads them).
    public mutating func parse(_ bytes: [UInt8], file: String, diagnostics: inout [AptConfigDiagnostic]) {
        var tokens: [(text: String, quoted: Bool, line: Int)] = []
        let b = bytes
        var i = 0
        var line = 1
        var lineStart = true
        while i < b.count {
            let c = b[i]
            if c == 0x0A { line += 1; lineStart = true; i += 1; continue }
            if c == 0x20 || c == 0x09 || c == 0x0D { i += 1; continue }
            if c == UInt8(ascii: "/") && i + 1 < b.count && b[i + 1] == UInt8(ascii: "/") {
                while i < b.count && b[i] != 0x0A { i += 1 }
                continue
            }
            if c == UInt8(ascii: "/") && i + 1 < b.count && b[i + 1] == UInt8(ascii: "*") {
                i += 2
                while i + 1 < b.count && !(b[i] == UInt8(ascii: "*") && b[i + 1] == UInt8(ascii: "/")) {
                    if b[i] == 0x0A { line += 1 }
                    i += 1
                }
                i += 2
                continue
            }
            if c == UInt8(ascii: "#") && lineStart {
                var j = i
                while j < b.count && b[j] != 0x0A { j += 1 }
                let directive = String(decoding: b[i..<j], as: UTF8.self)
                if directive.hasPrefix("#clear") {
                    tokens.append(("#clear", false, line))
                    for w in directive.dropFirst("#clear".count).split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == ";" }) {
                        tokens.append((String(w), true, line))
                    }
                    tokens.append((";", false, line))
                } else if directive.hasPrefix("#include") {
                    diagnostics.append(AptConfigDiagnostic(file: file, line: line, message: "#include is not followed"))
                }
                i = j
                continue
            }
            lineStart = false
            if c == UInt8(ascii: "{") || c == UInt8(ascii: "}") || c == UInt8(ascii: ";") {
                tokens.append((String(UnicodeScalar(c)), false, line)); i += 1; continue
            }
            if c == UInt8(ascii: "\"") {
                var j = i + 1
                while j < b.count && b[j] != UInt8(ascii: "\"") { if b[j] == 0x0A { line += 1 }; j += 1 }
                tokens.append((String(decoding: b[(i + 1)..<min(j, b.count)], as: UTF8.self), true, line))
                i = j + 1
                continue
            }
            var j = i
            while j < b.count, ![0x20, 0x09, 0x0A, 0x0D, UInt8(ascii: "{"), UInt8(ascii: "}"), UInt8(ascii: ";"), UInt8(ascii: "\"")].contains(b[j]) {
                j += 1
            }
            tokens.append((String(decoding: b[i..<j], as: UTF8.self), false, line))
            i = j
        }

        var stack: [String] = []
        var pending: [(text: String, quoted: Bool, line: Int)] = []
        func full(_ key: String) -> String {
            (stack + [key]).joined(separator: "::").lowercased()
        }
        for t in tokens {
            if !t.quoted && t.text == "{" {
                guard let key = pending.first, !key.quoted else {
                    diagnostics.append(AptConfigDiagnostic(file: file, line: t.line, message: "'{' without a name"))
                    pending = []
                    continue
                }
                stack.append(key.text.hasSuffix("::") ? String(key.text.dropLast(2)) : key.text)
                pending = []
            } else if !t.quoted && t.text == "}" {
                if !pending.isEmpty {
                    diagnostics.append(AptConfigDiagnostic(file: file, line: t.line, message: "missing ';' before '}'"))
                    pending = []
                }
                if stack.isEmpty {
                    diagnostics.append(AptConfigDiagnostic(file: file, line: t.line, message: "unbalanced '}'"))
                } else {
                    stack.removeLast()
                }
            } else if !t.quoted && t.text == ";" {
                defer { pending = [] }
                if pending.isEmpty { continue }
                if pending[0].text == "#clear" && !pending[0].quoted {
                    for k in pending.dropFirst() { clear(k.text.lowercased()) }
                    continue
                }
                if pending.count == 1 && pending[0].quoted {
                    // A list element inside `Key { "a"; "b"; };`.
                    let key = stack.joined(separator: "::").lowercased()
                    lists[key, default: []].append(pending[0].text)
                    continue
                }
                guard pending.count == 2 else {
                    diagnostics.append(AptConfigDiagnostic(file: file, line: pending[0].line,
                                                           message: "cannot read '\(pending.map(\.text).joined(separator: " "))'"))
                    continue
                }
                var key = pending[0].text
                if key.hasSuffix("::") {
                    key.removeLast(2)
                    lists[full(key), default: []].append(pending[1].text)
                } else {
                    values[full(key)] = pending[1].text
                }
            } else {
                pending.append(t)
            }
        }
        if !pending.isEmpty || !stack.isEmpty {
            diagnostics.append(AptConfigDiagnostic(file: file, line: line, message: "unterminated statement or block at end of file"))
        }
    }

    private mutating func clear(_ key: String) {
        values = values.filter { $0.key != key && !$0.key.hasPrefix(key + "::") }
        lists = lists.filter { $0.key != key && !$0.key.hasPrefix(key + "::") }
    }
}

/// Everything apt's candidate selection and `apt update` read from one machine.
public struct AptMachineConfig: Sendable {
    public var sources: AptSources
    public var preferences: AptPreferences
    /// `APT::Default-Release`, if set.
    public var defaultRelease: String?
    /// The native architecture (`APT::Architecture`, else dpkg's architecture as its database shows it).
    public var nativeArchitecture: String
    /// Native first, then foreign architectures (`APT::Architectures`, else `/var/lib/dpkg/arch`).
    public var architectures: [String]
    /// The keyrings apt trusts when a source has no `Signed-By`: `/etc/apt/trusted.gpg` and
    /// `/etc/apt/trusted.gpg.d/*.gpg|*.asc`, by path inside the machine.
    public var trustedKeyrings: [(path: String, bytes: [UInt8])]
    /// Every file read, as parsed.
    public var aptConf: AptConfTree
    /// Problems per file and line (apt itself refuses some of these; we keep going).
    public var diagnostics: [AptConfigDiagnostic]

    public init(sources: AptSources = AptSources(), preferences: AptPreferences = AptPreferences(),
                defaultRelease: String? = nil, nativeArchitecture: String = "amd64", architectures: [String] = ["amd64"],
                trustedKeyrings: [(path: String, bytes: [UInt8])] = [], aptConf: AptConfTree = AptConfTree(),
                diagnostics: [AptConfigDiagnostic] = []) {
        self.sources = sources
        self.preferences = preferences
        self.defaultRelease = defaultRelease
        self.nativeArchitecture = nativeArchitecture
        self.architectures = architectures
        self.trustedKeyrings = trustedKeyrings
        self.aptConf = aptConf
        self.diagnostics = diagnostics
    }

    static let maxFileSize = 4 << 20

    /// Reads a machine's apt configuration: sources, preferences, `apt.conf.d` + `apt.conf`,
    /// `/var/lib/dpkg/arch`, and the default trusted keyrings. `nativeArchitectureHint` (the dpkg
    /// package's architecture, see ``DpkgStatus/likelyNativeArchitecture``) is used when apt.conf does
    /// not name one; `sources`, when given, are the machine's sources already parsed (by the collector).
    /// Blocks while reading.
    public static func read(from machine: MachineFiles, nativeArchitectureHint: String? = nil,
                            sources: AptSources? = nil) throws -> AptMachineConfig {
        var out = AptMachineConfig()
        out.sources = try sources ?? AptSources.read(from: machine)
        out.diagnostics += out.sources.diagnostics.map { AptConfigDiagnostic(file: $0.file, line: $0.line, message: $0.message) }

        // apt.conf.d in name order, then apt.conf.
        var conf = AptConfTree()
        for name in try machine.list("/etc/apt/apt.conf.d") ?? [] where isConfPartName(name) {
            let path = "/etc/apt/apt.conf.d/" + name
            if let bytes = try machine.read(path, limit: maxFileSize) { conf.parse(bytes, file: path, diagnostics: &out.diagnostics) }
        }
        if let bytes = try machine.read("/etc/apt/apt.conf", limit: maxFileSize) {
            conf.parse(bytes, file: "/etc/apt/apt.conf", diagnostics: &out.diagnostics)
        }
        out.aptConf = conf
        out.defaultRelease = conf["APT::Default-Release"].flatMap { $0.isEmpty ? nil : $0 }

        // Preferences: the main file, then preferences.d.
        var prefs = AptPreferences()
        if let bytes = try machine.read("/etc/apt/preferences", limit: maxFileSize) {
            prefs.parse(bytes, file: "/etc/apt/preferences")
        }
        for name in try machine.list("/etc/apt/preferences.d") ?? [] where isPreferencesPartName(name) {
            let path = "/etc/apt/preferences.d/" + name
            if let bytes = try machine.read(path, limit: maxFileSize) { prefs.parse(bytes, file: path) }
        }
        out.preferences = prefs
        out.diagnostics += prefs.diagnostics

        // Architectures.
        let native = conf["APT::Architecture"] ?? nativeArchitectureHint ?? "amd64"
        out.nativeArchitecture = native
        var archs = conf.list("APT::Architectures")
        if archs.isEmpty {
            archs = [native]
            if let bytes = try machine.read("/var/lib/dpkg/arch", limit: 1 << 16) {
                for w in String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isWhitespace) where !archs.contains(String(w)) {
                    archs.append(String(w))
                }
            }
        } else if let i = archs.firstIndex(of: native), i != 0 {
            archs.remove(at: i)
            archs.insert(native, at: 0)
        } else if !archs.contains(native) {
            archs.insert(native, at: 0)
        }
        out.architectures = archs

        // Default keyrings (apt 2.x reads only *.gpg and *.asc in trusted.gpg.d).
        if let bytes = try machine.read("/etc/apt/trusted.gpg", limit: 8 << 20) {
            out.trustedKeyrings.append((path: "/etc/apt/trusted.gpg", bytes: bytes))
        }
        for name in try machine.list("/etc/apt/trusted.gpg.d") ?? [] where name.hasSuffix(".gpg") || name.hasSuffix(".asc") {
            let path = "/etc/apt/trusted.gpg.d/" + name
            if let bytes = try machine.read(path, limit: 8 << 20) { out.trustedKeyrings.append((path: path, bytes: bytes)) }
        }
        return out
    }

    /// Whether apt reads a file of this name from `apt.conf.d` (letters, digits, `_-.`; no backup names).
    static func isConfPartName(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.allSatisfy(isPartNameByte) else { return false }
        for bad in [".disabled", ".bak", ".dpkg-old", ".dpkg-dist", ".dpkg-new", ".dpkg-tmp", ".ucf-old", ".ucf-dist",
                    ".ucf-new", ".orig", ".save", ".distUpgrade"] where name.hasSuffix(bad) { return false }
        return true
    }

    /// Whether apt reads a file of this name from `preferences.d`: no extension or `.pref`.
    static func isPreferencesPartName(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.allSatisfy(isPartNameByte) else { return false }
        guard let dot = name.lastIndex(of: ".") else { return true }
        return name[dot...] == ".pref"
    }

    private static func isPartNameByte(_ c: UInt8) -> Bool {
        c &- 0x30 < 10 || (c | 0x20) &- 0x61 < 26 || c == UInt8(ascii: "_") || c == UInt8(ascii: "-") || c == UInt8(ascii: ".")
    }
}
