import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `fixtures/tools/test_http_server.py` serving a temporary directory on 127.0.0.1, for one test.
final class FetchTestServer {
    let directory: TemporaryDirectory
    let process: Process
    let port: Int
    let logFile: String

    /// Starts the server with `files` (path → content) under its root; `fail` rules are `PATH=N`.
    init(files: [String: String], fail: [String] = []) throws {
        directory = try TemporaryDirectory("imgsec-http")
        let root = directory.file("root")
        for (name, content) in files {
            let path = root + "/" + name
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(content.utf8).write(to: URL(fileURLWithPath: path))
        }
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        logFile = directory.file("requests.log")
        let portFile = directory.file("port")
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [Fixtures.url("tools/test_http_server.py").path, "--root", root, "--port", "0",
                             "--port-file", portFile, "--log-file", logFile] + fail.flatMap { ["--fail", $0] }
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // Wait (bounded) for the server to say which port it took.
        var found: Int?
        for _ in 0..<500 {
            if let text = try? String(contentsOfFile: portFile, encoding: .utf8), let p = Int(text) { found = p; break }
            guard process.isRunning else { break }
            usleep(20_000)
        }
        guard let found else {
            if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
            directory.remove()
            throw FetchTestServerError(detail: "the test HTTP server did not start within 10 s")
        }
        port = found
    }

    deinit { stop() }

    var base: String { "http://127.0.0.1:\(port)" }

    func url(_ path: String) -> String { base + "/" + path }

    /// Writes `content` to `path` under the root (changing its ETag and, a second later, Last-Modified).
    func write(_ path: String, _ content: String) throws {
        try Data(content.utf8).write(to: URL(fileURLWithPath: directory.file("root/" + path)))
    }

    /// The requests the server has answered, oldest first.
    func requests() -> [Request] {
        guard let text = try? String(contentsOfFile: logFile, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { try? JSONDecoder().decode(Request.self, from: Data($0.utf8)) }
    }

    struct Request: Decodable, Equatable {
        var method: String
        var path: String
        var status: Int
        var if_none_match: String?
        var if_modified_since: String?
        var bytes: Int
    }

    /// Kills the server and waits for it.
    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        directory.remove()
    }
}

struct FetchTestServerError: Error, CustomStringConvertible {
    var detail: String
    var description: String { detail }
}
