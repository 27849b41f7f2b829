import Foundation

/// Runs the built `imgsec` executable (`.build/debug/imgsec`, or IMGSEC_BIN) and collects its output.
enum CLI {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let binary: String = ProcessInfo.processInfo.environment["IMGSEC_BIN"]
        ?? repository.appendingPathComponent(".build/debug/imgsec").path
    static let images = ProcessInfo.processInfo.environment["IMGSEC_TEST_IMAGES"] ?? "/var/tmp/imgsec-test-images"
    static let imagesRequired = ProcessInfo.processInfo.environment["IMGSEC_REQUIRE_IMAGES"] == "1"
    static let imagesAvailable = FileManager.default.fileExists(atPath: images + "/deb12.qcow2")

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var stdoutBytes: Data
    }

    static func run(_ arguments: [String], stdin: Data? = nil, environment: [String: String] = [:]) async throws -> Result {
        try await run(binary, arguments, stdin: stdin, environment: environment)
    }

    /// Runs a program and waits for it on a thread of its own, never on one of the cooperative pool's few
    /// threads: a test that held one for a minute-long appliance launch starved every other suite's async
    /// work (gpgv's time limit ran out while its completion waited for a thread).
    static func run(_ executable: String, _ arguments: [String], stdin: Data? = nil, environment: [String: String] = [:]) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Swift.Result { try runBlocking(executable, arguments, stdin: stdin, environment: environment) })
            }.start()
        }
    }

    private static func runBlocking(_ executable: String, _ arguments: [String], stdin: Data?, environment: [String: String]) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        p.environment = env
        let out = Pipe(), input = Pipe()
        let errPath = NSTemporaryDirectory() + "imgsec-cli-stderr-\(UUID().uuidString)"
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: errPath) }
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        p.standardOutput = out
        p.standardError = err
        p.standardInput = input
        try p.run()
        let writer = Thread {
            if let stdin { input.fileHandleForWriting.write(stdin) }
            try? input.fileHandleForWriting.close()
        }
        writer.start()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        try? err.close()
        let errData = FileManager.default.contents(atPath: errPath) ?? Data()
        return Result(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self), stdoutBytes: outData)
    }

    static func fixture(_ relative: String) -> String { repository.appendingPathComponent("fixtures/" + relative).path }
}

/// Whether a test that needs a tool is run: when the tool is there — and always under `CI` or
/// `IMGSEC_REQUIRE_IMAGES=1` (what `scripts/test.sh` sets), so that a missing tool fails the test there
/// instead of skipping it silently.
enum Requirement {
    static let strict = ProcessInfo.processInfo.environment["CI"] != nil
        || ProcessInfo.processInfo.environment["IMGSEC_REQUIRE_IMAGES"] == "1"
    static func tool(_ present: Bool) -> Bool { present || strict }
}
