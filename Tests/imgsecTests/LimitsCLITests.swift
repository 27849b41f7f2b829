import Foundation
import Testing

/// The built-in limits can be set on the command line, and each bounds what it says it bounds.
@Suite(.serialized) struct LimitsCLITests {
    /// A server on 127.0.0.1 written in Python: `silent` accepts connections and never answers; `trickle`
    /// answers 200 and then sends two bytes a second.
    final class Server {
        let process = Process()
        let port: Int

        init(_ kind: String) throws {
            let behaviour = kind == "silent"
                ? "c.recv(65536); time.sleep(600)"
                : "c.recv(65536); c.sendall(b'HTTP/1.1 200 OK\\r\\nContent-Length: 100000\\r\\n\\r\\n')\n        while True: c.sendall(b'x'); time.sleep(0.5)"
            let script = """
                import socket, threading, time
                s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(64)
                print(s.getsockname()[1], flush=True)
                def serve(c):
                    try:
                        \(behaviour)
                    except Exception:
                        pass
                while True:
                    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
                """
            process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            process.arguments = ["-c", script]
            let out = Pipe()
            process.standardOutput = out
            process.standardError = FileHandle.nullDevice
            try process.run()
            var line = Data()
            while !line.contains(UInt8(ascii: "\n")) {
                let chunk = out.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                line.append(chunk)
            }
            port = Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            guard port > 0 else { throw CheckerEndToEndTests.CLIError("the \(kind) server did not start") }
        }

        func stop() { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
    }

    /// A server that never answers is given up after `--fetch-timeout` (not the default 30 s of silence); one that
    /// sends two bytes a second, which never trips the silence limit, is stopped at `--download-timeout` (not the
    /// default 600 s per attempt). libcurl's own words say which limit stopped it: wall time (~5 s and ~8 s alone)
    /// is no reliable witness while appliances load both cores.
    @Test("A slow server is stopped at the limit given", arguments: [
        ("silent", ["--fetch-timeout", "1"], "the last 1 seconds"),
        ("trickle", ["--download-timeout", "2"], "Operation timed out after 20"),
    ])
    func slowServer(kind: String, option: [String], message: String) async throws {
        let mirror = try await CheckerEndToEndTests.Mirror()
        defer { mirror.stop() }
        let server = try Server(kind)
        defer { server.stop() }
        let root = try CheckerEndToEndTests.makeRoot(mirror, name: "\(kind)-server")
        try DiagnosticsEndToEndTests.sources(root, "http://127.0.0.1:\(server.port)/debian")
        let scan = try await CLI.run(CLI.binary, ["scan", "--root", root, "--store", mirror.tree + "/s.sqlite", "--format", "json"] + option)
        #expect(scan.status == 1, "\(scan.stderr)")
        let machine = try #require(((try DiagnosticsEndToEndTests.json(scan))["machines"] as? [[String: Any]])?.first)
        #expect(DiagnosticsEndToEndTests.codes(machine["errors"]) == ["repo.unreachable"], "\(scan.stdout)")
        #expect(scan.stderr.contains(message), "\(scan.stderr)")
    }

    @Test func aDownloadOverItsSizeLimitAndAGuestFileOverItsSizeLimitAreEachOneDiagnostic() async throws {
        let mirror = try await CheckerEndToEndTests.Mirror()
        defer { mirror.stop() }
        let root = try CheckerEndToEndTests.makeRoot(mirror, name: "limits")
        // bookworm-updates' InRelease is tens of KiB: under a 2 KiB limit its download fails.
        let small = try await CLI.run(["scan", "--ignore-valid-until", "--root", root, "--store", mirror.tree + "/l.sqlite", "--format", "json", "--max-download-size", "2K"])
        #expect(small.status == 1, "\(small.stderr)")
        let machine = try #require(((try DiagnosticsEndToEndTests.json(small))["machines"] as? [[String: Any]])?.first)
        #expect(Set(DiagnosticsEndToEndTests.codes(machine["errors"])) == ["repo.unreachable"], "\(small.stdout)")
        #expect(small.stderr.contains("InRelease"), "\(small.stderr)")
        // A guest configuration file over --max-guest-file-size is left out with a warning naming it.
        try String(repeating: "# padding\n", count: 300).appending("ID=debian\nVERSION_ID=\"12\"\n")
            .write(toFile: root + "/etc/os-release", atomically: true, encoding: .utf8)
        let inspect = try await CLI.run(["inspect", "--root", root, "--format", "json", "--max-guest-file-size", "1K"])
        let inspected = try #require(((try DiagnosticsEndToEndTests.json(inspect))["machines"] as? [[String: Any]])?.first, "\(inspect.stdout)")
        let notes = (inspected["notes"] as? [[String: Any]]) ?? []
        #expect(notes.contains { $0["code"] as? String == "file.too-large" && (($0["subject"] as? [String: Any])?["file"] as? String) == "/etc/os-release" },
                "\(notes)")
        let whole = try await CLI.run(["inspect", "--root", root, "--format", "json"])
        let wholeNotes = ((try #require(((try DiagnosticsEndToEndTests.json(whole))["machines"] as? [[String: Any]])?.first))["notes"] as? [[String: Any]]) ?? []
        #expect(!wholeNotes.contains { $0["code"] as? String == "file.too-large" })
    }

    @Test("Limits out of range are usage errors", arguments: [
        ["--fetch-timeout", "0"], ["--download-timeout", "-1"], ["--fetch-timeout", "nan"], ["--max-download-size", "12Q"],
        ["--max-download-size", "0"], ["--max-download-size", "100"], ["--max-guest-file-size", "99G"], ["--image-timeout", "90000"],
    ])
    func outOfRange(option: [String]) async throws {
        let command = option[0] == "--max-guest-file-size" || option[0] == "--image-timeout" ? "inspect" : "scan"
        let r = try await CLI.run([command, "--root", "/nonexistent"] + option)
        #expect(r.status == 64, "\(option): \(r.status) \(r.stderr)")
        #expect(r.stderr.contains(option[0]), "\(r.stderr)")
    }
}
