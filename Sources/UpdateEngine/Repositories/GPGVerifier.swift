import Foundation

/// A keyring apt would trust for a repository: its bytes (binary OpenPGP or ASCII-armored) and where
/// they came from, for messages.
public struct AptKeyring: Sendable, Hashable {
    public var name: String
    public var bytes: [UInt8]
    public init(name: String, bytes: [UInt8]) {
        self.name = name
        self.bytes = bytes
    }
}

/// The outcome of checking one signature with `gpgv`.
public enum GPGVerification: Sendable, Hashable {
    /// A good signature; the fingerprints gpgv printed in `VALIDSIG` (signing key and primary key).
    case valid(fingerprints: [String])
    case invalid(GPGFailure)
}

/// Why a signature was not accepted.
public struct GPGFailure: Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        case badSignature, noPublicKey, expiredKey, revokedKey, expiredSignature, notSigned, noKeyrings, toolFailed, timeout
    }
    public var code: Code
    public var detail: String
    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }
    public var description: String { detail }
}

/// Verifies OpenPGP signatures with the system's `gpgv`, as apt does (`apt-key verify` / `gpgv --status-fd`).
///
/// Runs `/usr/bin/gpgv` through `Process` (no shell) with a time limit; the signed data, signature and
/// keyrings are written to a private temporary directory (mode 0700) that is removed afterwards.
/// ASCII-armored keys (`.asc`, inline `Signed-By` blocks) are dearmored first: gpgv reads binary keyrings only.
public struct GPGVerifier: Sendable {
    public var gpgvPath: String
    public var timeLimit: Duration
    /// The most bytes of gpgv status output read.
    public var outputLimit: Int

    public init(gpgvPath: String = "/usr/bin/gpgv", timeLimit: Duration = .seconds(30), outputLimit: Int = 1 << 20) {
        self.gpgvPath = gpgvPath
        self.timeLimit = timeLimit
        self.outputLimit = outputLimit
    }

    /// Checks a clearsigned message (`InRelease`), or `data` against a detached `signature` (`Release.gpg`).
    public func verify(_ data: [UInt8], detachedSignature signature: [UInt8]? = nil, keyrings: [AptKeyring]) async -> GPGVerification {
        guard !keyrings.isEmpty else { return .invalid(GPGFailure(.noKeyrings, "no keyring is trusted for this repository")) }
        let fm = FileManager.default
        let dir = fm.temporaryDirectory.appendingPathComponent("imgsec-gpgv-\(UUID().uuidString)")
        do {
            try fm.createDirectory(at: dir, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        } catch {
            return .invalid(GPGFailure(.toolFailed, "cannot create a temporary directory for gpgv: \(error)"))
        }
        defer { try? fm.removeItem(at: dir) }
        var args = ["--status-fd", "1"]
        for (i, k) in keyrings.enumerated() {
            let path = dir.appendingPathComponent("keyring-\(i).gpg").path
            let binary = Self.isArmored(k.bytes) ? Self.dearmor(k.bytes) : k.bytes
            guard let binary, !binary.isEmpty else { continue }
            guard fm.createFile(atPath: path, contents: Data(binary)) else {
                return .invalid(GPGFailure(.toolFailed, "cannot write keyring \(k.name) for gpgv"))
            }
            args += ["--keyring", path]
        }
        guard args.count > 2 else { return .invalid(GPGFailure(.noKeyrings, "no usable key in \(keyrings.map(\.name).joined(separator: ", "))")) }
        let dataPath = dir.appendingPathComponent("data").path
        guard fm.createFile(atPath: dataPath, contents: Data(data)) else {
            return .invalid(GPGFailure(.toolFailed, "cannot write the signed file for gpgv"))
        }
        if let signature {
            let sigPath = dir.appendingPathComponent("data.sig").path
            guard fm.createFile(atPath: sigPath, contents: Data(signature)) else {
                return .invalid(GPGFailure(.toolFailed, "cannot write the signature for gpgv"))
            }
            args += [sigPath, dataPath]
        } else {
            args += [dataPath]
        }
        let outPath = dir.appendingPathComponent("status").path
        let errPath = dir.appendingPathComponent("stderr").path
        _ = fm.createFile(atPath: outPath, contents: nil)
        _ = fm.createFile(atPath: errPath, contents: nil)
        let status: Int32
        do {
            guard let out = FileHandle(forWritingAtPath: outPath), let err = FileHandle(forWritingAtPath: errPath) else {
                return .invalid(GPGFailure(.toolFailed, "cannot open gpgv's output files"))
            }
            defer { try? out.close(); try? err.close() }
            let result = try await ProcessRunner.run(executable: gpgvPath, arguments: args, stdout: out, stderr: err,
                                                     environment: ["LC_ALL": "C", "HOME": dir.path], timeLimit: timeLimit)
            guard let code = result else {
                return .invalid(GPGFailure(.timeout, "gpgv did not finish within \(timeLimit)"))
            }
            status = code
        } catch {
            return .invalid(GPGFailure(.toolFailed, "cannot run \(gpgvPath): \(error)"))
        }
        let statusText = Self.readLimited(outPath, limit: outputLimit)
        let stderrText = Self.readLimited(errPath, limit: 4096)
        return Self.interpret(status: status, statusOutput: statusText, stderr: stderrText)
    }

    /// Turns gpgv's exit status and `--status-fd` lines into a result (as apt's `gpgv` method does).
    static func interpret(status: Int32, statusOutput: String, stderr: String) -> GPGVerification {
        var valid: [String] = []
        var good = false
        var bad: [String] = [], noKey: [String] = [], expiredKey: [String] = [], revoked: [String] = [], expiredSig: [String] = []
        for line in statusOutput.split(separator: "\n") {
            let words = line.split(separator: " ").map(String.init)
            guard words.count >= 2, words[0] == "[GNUPG:]" else { continue }
            let arg = words.count > 2 ? words[2] : ""
            switch words[1] {
            case "VALIDSIG":
                valid.append(arg)
                if let primary = words.last, primary.count >= 32, primary != arg { valid.append(primary) }
            case "GOODSIG": good = true
            case "BADSIG": bad.append(arg)
            case "NO_PUBKEY": noKey.append(arg)
            case "ERRSIG": if words.count > 7 && words[7] == "9" { noKey.append(arg) }
            case "EXPKEYSIG": expiredKey.append(arg)
            case "REVKEYSIG": revoked.append(arg)
            case "EXPSIG": expiredSig.append(arg)
            default: break
            }
        }
        if !bad.isEmpty { return .invalid(GPGFailure(.badSignature, "BADSIG \(bad.joined(separator: " ")): the signature does not match the signed text")) }
        if status == 0 && good && !valid.isEmpty && expiredKey.isEmpty && revoked.isEmpty && expiredSig.isEmpty {
            return .valid(fingerprints: valid)
        }
        if !expiredKey.isEmpty { return .invalid(GPGFailure(.expiredKey, "EXPKEYSIG \(expiredKey.joined(separator: " ")): signed by an expired key")) }
        if !revoked.isEmpty { return .invalid(GPGFailure(.revokedKey, "REVKEYSIG \(revoked.joined(separator: " ")): signed by a revoked key")) }
        if !expiredSig.isEmpty { return .invalid(GPGFailure(.expiredSignature, "EXPSIG \(expiredSig.joined(separator: " ")): the signature has expired")) }
        if !noKey.isEmpty {
            return .invalid(GPGFailure(.noPublicKey, "NO_PUBKEY \(Array(Set(noKey)).sorted().joined(separator: " ")): the public key is not in the trusted keyrings"))
        }
        let firstError = stderr.split(separator: "\n").first.map(String.init) ?? "exit status \(status)"
        if firstError.contains("no signature found") || firstError.contains("no valid OpenPGP data") {
            return .invalid(GPGFailure(.notSigned, "gpgv: \(firstError)"))
        }
        return .invalid(GPGFailure(.toolFailed, "gpgv failed (exit status \(status)): \(firstError)"))
    }

    static func readLimited(_ path: String, limit: Int) -> String {
        guard let h = FileHandle(forReadingAtPath: path) else { return "" }
        defer { try? h.close() }
        let data = (try? h.read(upToCount: limit)) ?? nil
        return String(decoding: data ?? Data(), as: UTF8.self)
    }

    static func isArmored(_ bytes: [UInt8]) -> Bool {
        let head = bytes.prefix(4096)
        return String(decoding: head, as: UTF8.self).contains("-----BEGIN PGP PUBLIC KEY BLOCK-----")
    }

    /// Decodes every `PUBLIC KEY BLOCK` of an ASCII-armored file into one binary keyring (like `gpg --dearmor`).
    /// Returns nil when a block is not valid base64.
    public static func dearmor(_ bytes: [UInt8]) -> [UInt8]? {
        var out: [UInt8] = []
        var inBlock = false, inHeaders = false
        var base64 = ""
        for raw in String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false) {
            let line = raw.trimmingSpaces()
            if line == "-----BEGIN PGP PUBLIC KEY BLOCK-----" { inBlock = true; inHeaders = true; base64 = ""; continue }
            guard inBlock else { continue }
            if line == "-----END PGP PUBLIC KEY BLOCK-----" {
                guard let d = Data(base64Encoded: base64) else { return nil }
                out += d
                inBlock = false
                continue
            }
            if inHeaders {
                if line.isEmpty { inHeaders = false; continue }
                if line.contains(":") { continue }
                inHeaders = false
            }
            if line.hasPrefix("=") { continue }  // CRC-24 checksum line
            base64 += line
        }
        return out
    }
}

/// Runs an external program through Foundation's `Process` (no shell) and awaits it without blocking a
/// thread of the cooperative pool.
enum ProcessRunner {
    /// The exit status, or nil when it had to be killed at `timeLimit`.
    static func run(executable: String, arguments: [String], stdout: FileHandle, stderr: FileHandle,
                    environment: [String: String], timeLimit: Duration) async throws -> Int32? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = stdout
        process.standardError = stderr
        let box = ProcessBox(process)
        return try await withThrowingTaskGroup(of: Int32?.self) { group in
            group.addTask {
                try await withCheckedThrowingContinuation { (c: CheckedContinuation<Int32?, Error>) in
                    box.process.terminationHandler = { p in c.resume(returning: p.terminationStatus) }
                    do { try box.process.run() } catch {
                        box.process.terminationHandler = nil
                        c.resume(throwing: error)
                    }
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeLimit)
                return nil
            }
            guard let first = try await group.next() else { return nil }
            if let status = first {
                group.cancelAll()
                return status
            }
            // Time is up: kill it and wait for the termination handler.
            box.process.terminate()
            kill(box.process.processIdentifier, SIGKILL)
            _ = try? await group.next()
            return nil
        }
    }
}

/// `Process` is not `Sendable`; it is only touched through its own thread-safe API here.
private final class ProcessBox: @unchecked Sendable {
    let process: Process
    init(_ p: Process) { process = p }
}
