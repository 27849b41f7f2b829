import ExternalPrograms
import Foundation
import Synchronization

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

/// gpgv's verdicts during one run, by exactly what was checked: the SHA-256 of the signed text, of the
/// detached signature and of each trusted keyring, in order. A thousand machines that use one repository
/// and trust the same keys have the repository's `InRelease` verified once, not a thousand times; a machine
/// that trusts other keys, or a repository that serves other bytes, gets its own gpgv run.
public final class GPGVerdictCache: Sendable {
    public struct Key: Hashable, Sendable {
        var digests: [String]
        init(data: [UInt8], signature: [UInt8]?, keyrings: [AptKeyring]) {
            digests = [SHA256Hasher.hex(of: data), signature.map { SHA256Hasher.hex(of: $0) } ?? "-"]
                + keyrings.map { SHA256Hasher.hex(of: $0.bytes) }
        }
    }

    private let verdicts = Mutex<[Key: GPGVerification]>([:])
    private let runs = Atomic<Int>(0)

    public init() {}

    func verdict(for key: Key) -> GPGVerification? { verdicts.withLock { $0[key] } }

    func remember(_ verdict: GPGVerification, for key: Key) {
        runs.add(1, ordering: .relaxed)
        verdicts.withLock { $0[key] = verdict }
    }

    /// How many verdicts gpgv reached (each is one gpgv run).
    public var verdictsReached: Int { runs.load(ordering: .relaxed) }
}

/// Verifies OpenPGP signatures with the system's `gpgv`, as apt does (`apt-key verify` / `gpgv --status-fd`).
///
/// Runs `/usr/bin/gpgv` through ``ProgramRunner`` (no shell) with time and output limits; the signed data, signature and
/// keyrings are written to a private temporary directory (mode 0700) that is removed afterwards.
/// ASCII-armored keys (`.asc`, inline `Signed-By` blocks) are dearmored first: gpgv reads binary keyrings only.
public struct GPGVerifier: Sendable {
    public var gpgvPath: String
    public var timeLimit: Duration
    /// The most bytes of gpgv status output read.
    public var outputLimit: Int

    /// Verdicts already reached during this run; nil runs gpgv for every call.
    public var cache: GPGVerdictCache?

    public init(gpgvPath: String = "/usr/bin/gpgv", timeLimit: Duration = .seconds(30), outputLimit: Int = 1 << 20,
                cache: GPGVerdictCache? = nil) {
        self.gpgvPath = gpgvPath
        self.timeLimit = timeLimit
        self.outputLimit = outputLimit
        self.cache = cache
    }

    /// Checks a clearsigned message (`InRelease`), or `data` against a detached `signature` (`Release.gpg`).
    public func verify(_ data: [UInt8], detachedSignature signature: [UInt8]? = nil, keyrings: [AptKeyring]) async -> GPGVerification {
        guard let cache else { return await runGPGV(data, detachedSignature: signature, keyrings: keyrings) }
        let key = GPGVerdictCache.Key(data: data, signature: signature, keyrings: keyrings)
        if let known = cache.verdict(for: key) { return known }
        let verdict = await runGPGV(data, detachedSignature: signature, keyrings: keyrings)
        // A time-out or a gpgv that would not run says nothing about the signature: asked again, gpgv runs again.
        if case .invalid(let failure) = verdict, failure.code == .timeout || failure.code == .toolFailed { return verdict }
        cache.remember(verdict, for: key)
        return verdict
    }

    /// gpgv reads its inputs from files, in a directory of their own: `imgsec-gpgv-PID-UUID` in the temporary
    /// directory, removed when gpgv is done.
    static let directoryPrefix = "imgsec-gpgv-"

    /// A process stopped by SIGKILL (a killed sweep, a timed-out job) cannot remove its directory. The first
    /// verification of each process removes those of processes that no longer exist: named with this prefix
    /// and a PID that `kill(pid, 0)` does not find, and owned by this user.
    static let staleDirectoriesRemoved: Int = {
        let fm = FileManager.default
        let tmp = fm.temporaryDirectory.path
        var removed = 0
        for name in (try? fm.contentsOfDirectory(atPath: tmp)) ?? [] where name.hasPrefix(directoryPrefix) {
            let rest = name.dropFirst(directoryPrefix.count)
            let digits = rest.prefix(while: \.isNumber)
            guard rest.dropFirst(digits.count).first == "-", let pid = Int32(digits), pid > 0, pid != getpid() else { continue }
            guard kill(pid, 0) != 0, errno == ESRCH else { continue }
            var st = stat()
            let path = tmp + "/" + name
            guard lstat(path, &st) == 0, st.st_uid == getuid(), (st.st_mode & S_IFMT) == S_IFDIR else { continue }
            if (try? fm.removeItem(atPath: path)) != nil { removed += 1 }
        }
        return removed
    }()

    private func runGPGV(_ data: [UInt8], detachedSignature signature: [UInt8]?, keyrings: [AptKeyring]) async -> GPGVerification {
        guard !keyrings.isEmpty else { return .invalid(GPGFailure(.noKeyrings, "no keyring is trusted for this repository")) }
        let fm = FileManager.default
        _ = Self.staleDirectoriesRemoved
        let dir = fm.temporaryDirectory.appendingPathComponent("\(Self.directoryPrefix)\(getpid())-\(UUID().uuidString)")
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
        let program = ExternalProgram(gpgvPath, args, environment: ["LC_ALL": "C", "HOME": dir.path],
                                      timeLimit: timeLimit, outputLimit: outputLimit)
        let output: ProgramOutput
        do {
            output = try await ProgramRunner.run(program)
        } catch {
            return .invalid(GPGFailure(error.code == .timedOut ? .timeout : .toolFailed, error.description))
        }
        let status: Int32
        switch output.status {
        case .exited(let code): status = code
        case .signalled: return .invalid(GPGFailure(.toolFailed, "gpgv was \(output.status)"))
        }
        return Self.interpret(status: status, statusOutput: output.standardOutputText,
                              stderr: String(decoding: output.standardError.prefix(4096), as: UTF8.self))
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
