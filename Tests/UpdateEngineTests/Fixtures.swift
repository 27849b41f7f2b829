import Foundation

/// Where the repository's `fixtures/` folder is, found from this source file's path.
enum Fixtures {
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("fixtures")

    static func url(_ relative: String) -> URL { root.appendingPathComponent(relative) }

    static func bytes(_ relative: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: url(relative)))
    }

    static func text(_ relative: String) throws -> String {
        String(decoding: try bytes(relative), as: UTF8.self)
    }

    /// Reads a tab-separated golden file, skipping `#` comment lines and empty lines.
    static func tsv(_ relative: String) throws -> [[String]] {
        try text(relative).split(separator: "\n", omittingEmptySubsequences: true)
            .filter { !$0.hasPrefix("#") }
            .map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
    }

    /// Decompresses an `.xz` fixture with the system's `xz` into memory.
    static func xzBytes(_ relative: String) throws -> [UInt8] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/xz")
        p.arguments = ["-dc", url(relative).path]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return [UInt8](data)
    }
}

/// Whether a test that needs a tool is run: when the tool is there — and always under `CI` or
/// `IMGSEC_REQUIRE_IMAGES=1` (what `scripts/test.sh` sets), so that a missing tool fails the test there
/// instead of skipping it silently.
enum Requirement {
    static let strict = ProcessInfo.processInfo.environment["CI"] != nil
        || ProcessInfo.processInfo.environment["IMGSEC_REQUIRE_IMAGES"] == "1"
    static func tool(_ present: Bool) -> Bool { present || strict }
}
