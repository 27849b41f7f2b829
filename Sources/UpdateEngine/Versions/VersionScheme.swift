/// The version orderings imgsec knows: dpkg's and rpm's.
public enum VersionScheme: String, Sendable, CaseIterable, Codable {
    case deb, rpm

    /// Compares two versions: -1, 0 or 1. `deb` throws ``DebianVersionError`` for a version dpkg
    /// refuses; `rpm` accepts every string, as rpm does.
    public func compare(_ a: String, _ b: String) throws -> Int {
        switch self {
        case .deb: return try DebianVersion.compare(a, b)
        case .rpm: return RPMVersion.labelCompare(RPMEVR(parsing: a), RPMEVR(parsing: b))
        }
    }

    /// Compares `A<TAB>B` lines from `input`, writing `-1`, `0`, `1` or `error: …` per line to `output`.
    /// Works on bytes and flushes in large writes: scripts call it with hundreds of thousands of lines.
    public func compareLines(_ input: [UInt8], into output: inout [UInt8]) {
        var start = 0
        let n = input.count
        while start < n {
            var end = start
            while end < n && input[end] != 0x0A { end += 1 }
            var lineEnd = end
            if lineEnd > start && input[lineEnd - 1] == 0x0D { lineEnd -= 1 }
            compareLine(input[start..<lineEnd], into: &output)
            start = end + 1
        }
    }

    private func compareLine(_ line: ArraySlice<UInt8>, into output: inout [UInt8]) {
        guard let tab = line.firstIndex(of: 0x09) else {
            output += Array("error: expected two versions separated by a tab\n".utf8)
            return
        }
        let a = String(decoding: line[line.startIndex..<tab], as: UTF8.self)
        let b = String(decoding: line[(tab + 1)...], as: UTF8.self)
        do {
            switch try compare(a, b) {
            case ..<0: output += [0x2D, 0x31, 0x0A]
            case 0: output += [0x30, 0x0A]
            default: output += [0x31, 0x0A]
            }
        } catch {
            output += Array("error: \(error)\n".utf8)
        }
    }
}
