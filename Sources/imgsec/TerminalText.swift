/// Text that came from a guest (names, versions, os-release fields, repository URLs, parser messages) made
/// safe for a terminal: control characters become visible escapes, so an image cannot move the cursor, retitle
/// the window, hide a line or reorder text (bidirectional overrides) in a table or an `error:` line.
/// The JSON output needs none of this: its encoder escapes control characters itself.
enum TerminalText {
    /// `text` with every C0/C1 control, DEL and bidirectional control escaped (`\x1b`, `\u{202e}`);
    /// line feeds are kept when `keepingLines`.
    static func escaped(_ text: String, keepingLines: Bool = false) -> String {
        guard text.unicodeScalars.contains(where: { needsEscape($0, keepingLines: keepingLines) }) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            guard needsEscape(scalar, keepingLines: keepingLines) else {
                out.unicodeScalars.append(scalar)
                continue
            }
            let hex = String(scalar.value, radix: 16)
            out += scalar.value < 0x100 ? "\\x" + (hex.count < 2 ? "0" + hex : hex) : "\\u{\(hex)}"
        }
        return out
    }

    private static func needsEscape(_ s: Unicode.Scalar, keepingLines: Bool) -> Bool {
        switch s.value {
        case 0x0A: !keepingLines
        case 0x00...0x1F, 0x7F...0x9F: true
        // Bidirectional embeddings, overrides and isolates (the "Trojan Source" characters).
        case 0x202A...0x202E, 0x2066...0x2069, 0x200E, 0x200F, 0x061C: true
        default: false
        }
    }
}

extension TerminalText {
    /// The longest line shown in a table, in characters; a guest's 100 MB line is cut, with how much was left out.
    static let maximumLine = 2000

    /// `text` with each line longer than ``maximumLine`` cut.
    static func cut(_ text: String) -> String {
        guard text.utf8.count > maximumLine else { return text }
        return text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            guard line.count > maximumLine else { return String(line) }
            return line.prefix(maximumLine) + "… (\(line.count - maximumLine) more characters)"
        }.joined(separator: "\n")
    }
}

/// Prints table text: guest text escaped (line feeds kept) and overlong lines cut.
func printTable(_ text: String, terminator: String = "\n") {
    print(TerminalText.cut(TerminalText.escaped(text, keepingLines: true)), terminator: terminator)
}
