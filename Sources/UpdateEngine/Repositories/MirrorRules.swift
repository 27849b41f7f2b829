/// URL prefix rewriting for air-gapped sites: `FROM=TO` rules, e.g.
/// `http://deb.debian.org/debian=http://mirror.local/debian`.
///
/// A rule applies when the URL starts with `FROM` at a path boundary (the URL equals `FROM`, `FROM` ends
/// with `/`, or the URL continues with `/`, `?` or `#`), so `…/debian` does not rewrite `…/debian-security`.
/// Of several rules that apply, the longest `FROM` wins. Scheme and host compare case-insensitively.
public struct MirrorRules: Sendable, Hashable {
    /// One `FROM=TO` rule.
    public struct Rule: Sendable, Hashable, CustomStringConvertible {
        public var from: String
        public var to: String
        public init(from: String, to: String) { self.from = from; self.to = to }
        public var description: String { "\(from)=\(to)" }
    }

    /// The rules, as given.
    public private(set) var rules: [Rule]

    public init(_ rules: [Rule] = []) {
        self.rules = rules
    }

    /// Parses rules as given on the command line (`--mirror FROM=TO`, repeatable).
    public init(parsing arguments: [String]) throws(MirrorRuleError) {
        rules = []
        for argument in arguments {
            rules.append(try Self.rule(argument, source: "--mirror", line: nil))
        }
    }

    /// Parses a configuration file: one `FROM=TO` rule per line; blank lines and `#` comments are skipped.
    public static func parse(configFile text: String, file: String) throws(MirrorRuleError) -> MirrorRules {
        var rules: [Rule] = []
        for (i, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).enumerated() {
            var line = Substring(raw)
            if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
            let trimmed = line.trimmingWhitespace()
            if trimmed.isEmpty { continue }
            rules.append(try rule(trimmed, source: file, line: i + 1))
        }
        return MirrorRules(rules)
    }

    /// These rules followed by `other`'s.
    public func merging(_ other: MirrorRules) -> MirrorRules {
        MirrorRules(rules + other.rules)
    }

    /// `url` with the longest matching rule's prefix replaced; `url` itself when no rule applies.
    public func apply(_ url: String) -> String {
        var best: Rule?
        for rule in rules where Self.matches(url, prefix: rule.from) {
            if rule.from.count > (best?.from.count ?? -1) { best = rule }
        }
        guard let best else { return url }
        return best.to + url.dropFirst(best.from.count)
    }

    static func matches(_ url: String, prefix: String) -> Bool {
        guard url.count >= prefix.count else { return false }
        let head = url.prefix(prefix.count)
        guard head == prefix || Self.caseFoldedOrigin(String(head)) == Self.caseFoldedOrigin(prefix) else { return false }
        if url.count == prefix.count || prefix.hasSuffix("/") { return true }
        let next = url[url.index(url.startIndex, offsetBy: prefix.count)]
        return next == "/" || next == "?" || next == "#"
    }

    /// Lower-cases scheme and host (everything before the first `/` after `://`), leaves the path alone.
    static func caseFoldedOrigin(_ url: String) -> String {
        guard let schemeEnd = url.range(of: "://") else { return url }
        let rest = url[schemeEnd.upperBound...]
        let pathStart = rest.firstIndex(of: "/") ?? rest.endIndex
        return url[..<pathStart].lowercased() + rest[pathStart...]
    }

    private static func rule(_ text: Substring, source: String, line: Int?) throws(MirrorRuleError) -> Rule {
        guard let eq = text.firstIndex(of: "=") else {
            throw MirrorRuleError(source: source, line: line, text: String(text), detail: "is not FROM=TO")
        }
        let from = text[..<eq].trimmingWhitespace(), to = text[text.index(after: eq)...].trimmingWhitespace()
        guard !from.isEmpty, !to.isEmpty else {
            throw MirrorRuleError(source: source, line: line, text: String(text), detail: "needs both FROM and TO")
        }
        guard from.contains("://") || from.hasPrefix("/") else {
            throw MirrorRuleError(source: source, line: line, text: String(text), detail: "FROM must be a URL (scheme://…)")
        }
        return Rule(from: String(from), to: String(to))
    }

    private static func rule(_ text: String, source: String, line: Int?) throws(MirrorRuleError) -> Rule {
        try rule(Substring(text), source: source, line: line)
    }
}

/// A mirror rule that could not be parsed; names where it came from.
public struct MirrorRuleError: Error, CustomStringConvertible, Sendable, Equatable {
    /// `--mirror` or the configuration file's path.
    public var source: String
    public var line: Int?
    public var text: String
    public var detail: String
    public var description: String {
        "\(source)\(line.map { ":\($0)" } ?? ""): mirror rule “\(text)” \(detail)."
    }
}

/// Normalised repository URLs, so that one repository named in different spellings is cached once.
public enum RepositoryURL {
    /// Lower-cases scheme and host, drops a default port (`:80` for http, `:443` for https), collapses
    /// repeated `/` in the path and drops trailing `/`. Leaves anything that is not `scheme://…` alone.
    public static func normalised(_ url: String) -> String {
        let trimmed = url.trimmingWhitespace()
        guard let schemeEnd = trimmed.range(of: "://") else { return String(trimmed) }
        let scheme = trimmed[..<schemeEnd.lowerBound].lowercased()
        let rest = trimmed[schemeEnd.upperBound...]
        let pathStart = rest.firstIndex(of: "/") ?? rest.endIndex
        var authority = rest[..<pathStart].lowercased()
        if scheme == "http", authority.hasSuffix(":80") { authority.removeLast(3) }
        if scheme == "https", authority.hasSuffix(":443") { authority.removeLast(4) }
        var path = ""
        var previousSlash = false
        for c in rest[pathStart...] {
            if c == "/" && previousSlash { continue }
            previousSlash = c == "/"
            path.append(c)
        }
        while path.hasSuffix("/") { path.removeLast() }
        return scheme + "://" + authority + path
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces, tabs and carriage returns.
    fileprivate func trimmingWhitespace() -> Substring {
        let s = self[...]
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
        guard let first = s.firstIndex(where: { !isSpace($0) }), let last = s.lastIndex(where: { !isSpace($0) }) else { return "" }
        return Substring(s[first...last])
    }
}
