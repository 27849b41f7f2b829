/// `/etc/os-release` (or `/usr/lib/os-release`), as systemd's os-release(5) defines it.
public struct OSRelease: Sendable, Hashable, Codable {
    /// Every assignment, unquoted and unescaped.
    public var fields: [String: String]

    public var id: String? { fields["ID"] }
    public var idLike: [String] { (fields["ID_LIKE"] ?? "").split(separator: " ").map(String.init) }
    public var versionID: String? { fields["VERSION_ID"] }
    public var versionCodename: String? { fields["VERSION_CODENAME"] }
    public var name: String? { fields["NAME"] }
    public var prettyName: String? { fields["PRETTY_NAME"] }

    /// Parses os-release text. Lines that are not `KEY=value` are skipped, as systemd does.
    public init(parsing bytes: [UInt8]) {
        var fields: [String: String] = [:]
        for rawLine in String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isNewline) {
            let line = rawLine.drop(while: { $0 == " " || $0 == "\t" })
            guard !line.hasPrefix("#"), let eq = line.firstIndex(of: "=") else { continue }
            let key = String(line[..<eq]).trimmingSpaces()
            guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else { continue }
            fields[key] = Self.unquote(line[line.index(after: eq)...].trimmingSpaces())
        }
        self.fields = fields
    }

    /// Shell-style unquoting: '…' literal, "…" with backslash escapes, bare words with escapes.
    static func unquote(_ value: String) -> String {
        var out = ""
        var quote: Character? = nil
        var escaped = false
        for ch in value {
            if escaped { out.append(ch); escaped = false; continue }
            switch (quote, ch) {
            case (nil, "\""), (nil, "'"): quote = ch
            case ("\"", "\""), ("'", "'"): quote = nil
            case ("'", _): out.append(ch)
            case (_, "\\"): escaped = true
            case (nil, "#"): return out.trimmingSpaces()
            default: out.append(ch)
            }
        }
        return out
    }
}

extension StringProtocol {
    /// The string without leading and trailing spaces and tabs.
    func trimmingSpaces() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
        guard let start = firstIndex(where: { !isSpace($0) }) else { return "" }
        guard let end = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[start...end])
    }
}
