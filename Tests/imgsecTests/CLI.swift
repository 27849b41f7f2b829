import ExternalPrograms
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

    /// Runs a program through imgsec's own runner (swift-subprocess: the child is watched asynchronously,
    /// no thread of the cooperative pool waits for it). Foundation's `Process` was used here before: with many
    /// tests starting programs at once, `waitUntilExit` now and then never saw its child's exit (the child a
    /// zombie, the test hung); and a test that waited synchronously held one of the pool's two threads.
    static func run(_ executable: String, _ arguments: [String], stdin: Data? = nil, environment: [String: String] = [:]) async throws -> Result {
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        let program = ExternalProgram(executable, arguments, environment: env, input: stdin.map { [UInt8]($0) },
                                      timeLimit: .seconds(3600), outputLimit: 1 << 30)
        let output = try await ProgramRunner.run(program)
        let status: Int32
        switch output.status {
        case .exited(let code): status = code
        case .signalled(let signal): status = 128 + signal
        }
        let out = Data(output.standardOutput)
        return Result(status: status, stdout: String(decoding: out, as: UTF8.self),
                      stderr: String(decoding: output.standardError, as: UTF8.self), stdoutBytes: out)
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
