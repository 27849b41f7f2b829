/// One repository apt would use: a (type, URI, suite) with its components and options.
///
/// A one-line `sources.list` entry gives one value; a deb822 `.sources` stanza gives one per
/// type × URI × suite.
public struct AptSourceEntry: Sendable, Hashable, Codable {
    /// `deb` or `deb-src`.
    public enum Kind: String, Sendable, Hashable, Codable {
        case deb
        case debSrc = "deb-src"
    }

    /// Which keys may sign the repository (`signed-by=` / `Signed-By:`).
    public enum SignedBy: Sendable, Hashable, Codable {
        /// Any key apt trusts.
        case none
        /// Keyring file paths (or key fingerprints, which apt also accepts here).
        case paths([String])
        /// An ASCII-armored public key block written into the `.sources` stanza itself.
        case inlineKey(String)
    }

    public var type: Kind
    public var uri: String
    /// The suite (`bookworm`), or for a flat repository the path ending in `/` (`./`).
    public var suite: String
    /// Empty for a flat repository.
    public var components: [String]
    /// `arch=` / `Architectures:`; empty means the machine's configured architectures.
    public var architectures: [String]
    /// `arch+=` / `Architectures-Add:`.
    public var architecturesAdded: [String]
    /// `arch-=` / `Architectures-Remove:`.
    public var architecturesRemoved: [String]
    public var signedBy: SignedBy
    /// `trusted=` / `Trusted:`; nil when not given.
    public var trusted: Bool?
    /// False for deb822 stanzas with `Enabled: no`.
    public var enabled: Bool
    /// Every option as written, lowercased key (one-line: `lang`, `arch+`; deb822: `languages`), value as written.
    public var options: [String: String]
    /// The file inside the machine.
    public var file: String
    /// 1-based line of the entry (deb822: of the stanza's first field).
    public var line: Int

    public init(type: Kind, uri: String, suite: String, components: [String], architectures: [String] = [],
                architecturesAdded: [String] = [], architecturesRemoved: [String] = [], signedBy: SignedBy = .none,
                trusted: Bool? = nil, enabled: Bool = true, options: [String: String] = [:], file: String, line: Int) {
        self.type = type
        self.uri = uri
        self.suite = suite
        self.components = components
        self.architectures = architectures
        self.architecturesAdded = architecturesAdded
        self.architecturesRemoved = architecturesRemoved
        self.signedBy = signedBy
        self.trusted = trusted
        self.enabled = enabled
        self.options = options
        self.file = file
        self.line = line
    }

    /// A flat repository (`deb URI ./`): the suite is a path and there are no components.
    public var isFlat: Bool { suite.hasSuffix("/") }

    /// Whether updates come from it: an enabled binary (`deb`) entry; `deb-src` is kept but ignored.
    public var isUsedForUpdates: Bool { enabled && type == .deb }
}

/// A line or stanza apt would reject. (apt itself then refuses the whole configuration — `apt update`
/// stops with "The list of sources could not be read." — we report it and keep reading.)
public struct AptSourcesDiagnostic: Error, Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var message: String

    public init(file: String, line: Int, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String { "\(file) line \(line): \(message)." }
}

/// The apt sources of a machine: `/etc/apt/sources.list` and `/etc/apt/sources.list.d/*.list|*.sources`.
public struct AptSources: Sendable, Hashable {
    public var entries: [AptSourceEntry]
    public var diagnostics: [AptSourcesDiagnostic]

    public init(entries: [AptSourceEntry] = [], diagnostics: [AptSourcesDiagnostic] = []) {
        self.entries = entries
        self.diagnostics = diagnostics
    }

    /// The largest sources file read.
    public static let maxFileSize = 4 << 20

    /// Reads the machine's apt sources in apt's order: `sources.list`, then `sources.list.d` by name.
    ///
    /// Files in `sources.list.d` are read only when named like apt wants (letters, digits, `_`, `-`, `.`)
    /// and ending in `.list` or `.sources`; others are skipped, as apt skips them. Blocks while reading.
    public static func read(from machine: MachineFiles) throws -> AptSources {
        var out = AptSources()
        if let bytes = try machine.read("/etc/apt/sources.list", limit: maxFileSize) {
            out.append(parseOneLine(bytes, file: "/etc/apt/sources.list"))
        }
        let dir = "/etc/apt/sources.list.d"
        for name in try machine.list(dir) ?? [] where isAptFileName(name) {
            let path = dir + "/" + name
            guard let bytes = try machine.read(path, limit: maxFileSize) else { continue }
            out.append(name.hasSuffix(".sources") ? parseDeb822(bytes, file: path) : parseOneLine(bytes, file: path))
        }
        return out
    }

    private mutating func append(_ other: AptSources) {
        entries += other.entries
        diagnostics += other.diagnostics
    }

    /// Whether apt reads a file of this name from `sources.list.d`.
    public static func isAptFileName(_ name: String) -> Bool {
        guard name.hasSuffix(".list") || name.hasSuffix(".sources") else { return false }
        return name.utf8.allSatisfy { c in
            c &- 0x30 < 10 || (c | 0x20) &- 0x61 < 26 || c == UInt8(ascii: "_") || c == UInt8(ascii: "-") || c == UInt8(ascii: ".")
        }
    }

    // MARK: One-line format

    /// Parses a one-line-style `sources.list` file.
    public static func parseOneLine(_ bytes: [UInt8], file: String) -> AptSources {
        var out = AptSources()
        let text = String(decoding: bytes, as: UTF8.self)
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = index + 1
            // apt drops everything from the first '#'.
            let content = rawLine.prefix { $0 != "#" }
            guard content.contains(where: { !$0.isWhitespace }) else { continue }
            switch parseOneLineEntry(content, file: file, line: line) {
            case .success(let e): out.entries.append(e)
            case .failure(let d): out.diagnostics.append(d)
            }
        }
        return out
    }

    private static func parseOneLineEntry(_ content: Substring, file: String, line: Int) -> Result<AptSourceEntry, AptSourcesDiagnostic> {
        func fail(_ what: String) -> Result<AptSourceEntry, AptSourcesDiagnostic> {
            .failure(AptSourcesDiagnostic(file: file, line: line, message: what))
        }
        var rest = content.drop { $0.isWhitespace }
        let typeWord = rest.prefix { !$0.isWhitespace }
        guard let type = AptSourceEntry.Kind(rawValue: String(typeWord)) else {
            return fail("type '\(typeWord)' is not known")
        }
        rest = rest.dropFirst(typeWord.count).drop { $0.isWhitespace }
        var options: [(key: String, op: String, value: String)] = []
        if rest.first == "[" {
            guard let close = rest.firstIndex(of: "]") else { return fail("malformed entry (option bracket not closed)") }
            for item in rest[rest.index(after: rest.startIndex)..<close].split(whereSeparator: \.isWhitespace) {
                guard let eq = item.firstIndex(of: "=") else { return fail("malformed entry (option '\(item)' has no value)") }
                var key = item[..<eq]
                var op = "="
                if key.last == "+" || key.last == "-" { op = String(key.removeLast()) + "=" }
                guard !key.isEmpty else { return fail("malformed entry (option '\(item)' has no name)") }
                options.append((key.lowercased(), op, String(item[item.index(after: eq)...])))
            }
            rest = rest[rest.index(after: close)...]
        }
        let words = quotedWords(rest)
        guard let uri = words.first else { return fail("malformed entry (URI)") }
        guard words.count >= 2 else { return fail("malformed entry (Suite)") }
        let suite = words[1]
        let components = Array(words.dropFirst(2))
        if suite.hasSuffix("/") {
            if !components.isEmpty { return fail("malformed entry (absolute Suite Component)") }
        } else if components.isEmpty {
            return fail("malformed entry (Component)")
        }
        var entry = AptSourceEntry(type: type, uri: uri, suite: suite, components: components, file: file, line: line)
        for o in options {
            let list = o.value.split(separator: ",").map(String.init)
            entry.options[o.op == "=" ? o.key : o.key + String(o.op.prefix(1))] = o.value
            switch (o.key, o.op) {
            case ("arch", "="): entry.architectures = list
            case ("arch", "+="): entry.architecturesAdded = list
            case ("arch", "-="): entry.architecturesRemoved = list
            case ("signed-by", "="): entry.signedBy = list.isEmpty ? .none : .paths(list)
            case ("trusted", "="): entry.trusted = aptBool(o.value) ?? false  // apt: StringToBool, default false
            default: break
            }
        }
        return .success(entry)
    }

    /// Splits on blanks; `[…]` and `"…"` group words (apt's `ParseQuoteWord`), the quotes are removed.
    static func quotedWords(_ s: Substring) -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var closing: Character?
        for c in s {
            if let end = closing {
                if c == end { closing = nil }
                if c != "\"" { current.append(c) }
                continue
            }
            if c.isWhitespace {
                if inWord { words.append(current); current = ""; inWord = false }
                continue
            }
            inWord = true
            if c == "[" { closing = "]" } else if c == "\"" { closing = "\""; continue }
            current.append(c)
        }
        if inWord { words.append(current) }
        return words
    }

    static func aptBool(_ s: String) -> Bool? {
        switch s.lowercased() {
        case "yes", "true", "with", "on", "enable", "1": true
        case "no", "false", "without", "off", "disable", "0": false
        default: nil
        }
    }

    // MARK: deb822 format

    /// Parses a deb822-style `.sources` file.
    public static func parseDeb822(_ bytes: [UInt8], file: String) -> AptSources {
        var out = AptSources()
        var reader = Deb822Reader(bytes: bytes, allowsComments: true)
        while true {
            let paragraph: Deb822Paragraph?
            do { paragraph = try reader.next() } catch {
                // The rest of the file cannot be trusted to line up; apt gives up on it too.
                out.diagnostics.append(AptSourcesDiagnostic(file: file, line: error.line, message: error.description))
                break
            }
            guard let paragraph else { break }
            switch stanzaEntries(paragraph, file: file) {
            case .success(let entries): out.entries += entries
            case .failure(let d): out.diagnostics.append(d)
            }
        }
        return out
    }

    private static func stanzaEntries(_ p: Deb822Paragraph, file: String) -> Result<[AptSourceEntry], AptSourcesDiagnostic> {
        func fail(_ what: String) -> Result<[AptSourceEntry], AptSourcesDiagnostic> {
            .failure(AptSourcesDiagnostic(file: file, line: p.line, message: what))
        }
        func words(_ name: String) -> [String] {
            (p[name] ?? "").split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).map(String.init)
        }
        var kinds: [AptSourceEntry.Kind] = []
        for t in words("Types") {
            guard let k = AptSourceEntry.Kind(rawValue: t) else { return fail("type '\(t)' is not known") }
            kinds.append(k)
        }
        guard !kinds.isEmpty else { return fail("malformed stanza (no Types)") }
        let uris = words("URIs")
        guard !uris.isEmpty else { return fail("malformed stanza (no URIs)") }
        let suites = words("Suites")
        guard !suites.isEmpty else { return fail("malformed stanza (no Suites)") }
        let components = words("Components")
        for s in suites {
            if s.hasSuffix("/") && !components.isEmpty { return fail("malformed stanza (absolute suite '\(s)' with Components)") }
            if !s.hasSuffix("/") && components.isEmpty { return fail("malformed stanza (no Components for suite '\(s)')") }
        }
        // apt reads both with StringToBool: unknown words give the default.
        let enabled = p["Enabled"].map { aptBool($0) ?? true } ?? true
        let trusted = p["Trusted"].map { aptBool($0) ?? false }
        var signedBy = AptSourceEntry.SignedBy.none
        if let f = p.field("Signed-By") {
            let lines = [f.firstLine] + f.continuationLines
            if lines.contains(where: { $0.hasPrefix("-----BEGIN PGP PUBLIC KEY BLOCK-----") }) {
                signedBy = .inlineKey(lines.drop { $0.isEmpty }.joined(separator: "\n"))
            } else {
                let list = f.value.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "," }).map(String.init)
                signedBy = list.isEmpty ? .none : .paths(list)
            }
        }
        var options: [String: String] = [:]
        for field in p.fields { options[field.name.lowercased()] = field.value }
        var out: [AptSourceEntry] = []
        for k in kinds {
            for u in uris {
                for s in suites {
                    out.append(AptSourceEntry(
                        type: k, uri: u, suite: s, components: s.hasSuffix("/") ? [] : components,
                        architectures: words("Architectures"), architecturesAdded: words("Architectures-Add"),
                        architecturesRemoved: words("Architectures-Remove"), signedBy: signedBy, trusted: trusted,
                        enabled: enabled, options: options, file: file, line: p.line))
                }
            }
        }
        return .success(out)
    }
}
