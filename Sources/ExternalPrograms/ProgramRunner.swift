import Subprocess
#if canImport(System) && !os(Linux)
import System
#else
import SystemPackage
#endif

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One run of an external program: an absolute path, its arguments, exactly the environment it gets
/// (nothing of imgsec's own is inherited), what it reads on stdin, and the limits it runs under.
///
/// Programs never run through a shell: arguments are handed to the program as they are.
public struct ExternalProgram: Sendable, Hashable {
    /// An absolute path: the program is never looked up on `PATH`.
    public var executable: String
    public var arguments: [String]
    public var environment: [String: String]
    /// Bytes written to stdin, which is then closed; nil connects stdin to /dev/null.
    public var input: [UInt8]?
    /// The program is stopped (SIGTERM, then SIGKILL half a second later) when it runs longer.
    public var timeLimit: Duration
    /// The most bytes kept of stdout and of stderr each; more is an error (``ProgramError/Code/outputLimitExceeded``).
    public var outputLimit: Int

    public init(_ executable: String, _ arguments: [String], environment: [String: String] = ["LC_ALL": "C"],
                input: [UInt8]? = nil, timeLimit: Duration = .seconds(30), outputLimit: Int = 1 << 20) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.input = input
        self.timeLimit = timeLimit
        self.outputLimit = outputLimit
    }

    /// The name used in messages (`gpgv`, `qemu-system-x86_64`).
    public var name: String { executable.split(separator: "/").last.map(String.init) ?? executable }
}

/// How a program ended.
public enum ProgramStatus: Sendable, Hashable, CustomStringConvertible {
    case exited(Int32)
    case signalled(Int32)

    public var description: String {
        switch self {
        case .exited(let code): "exit status \(code)"
        case .signalled(let signal): "killed by signal \(signal)"
        }
    }
}

/// What a program printed and how it ended.
public struct ProgramOutput: Sendable, Hashable {
    public var status: ProgramStatus
    public var standardOutput: [UInt8]
    public var standardError: [UInt8]

    public init(status: ProgramStatus, standardOutput: [UInt8], standardError: [UInt8]) {
        self.status = status
        self.standardOutput = standardOutput
        self.standardError = standardError
    }

    public var succeeded: Bool { status == .exited(0) }
    /// stdout as text (invalid UTF-8 replaced).
    public var standardOutputText: String { String(decoding: standardOutput, as: UTF8.self) }
    /// The first line of stderr, for a one-line message.
    public var firstErrorLine: String? {
        String(decoding: standardError, as: UTF8.self).split(separator: "\n").first.map(String.init)
    }
}

/// Why a program gave no output to use.
public struct ProgramError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        /// The executable does not exist or is not executable.
        case notFound
        /// It ran longer than its time limit and was stopped.
        case timedOut
        /// It printed more than its output limit.
        case outputLimitExceeded
        /// It could not be started or watched.
        case failedToRun
    }
    public var code: Code
    public var program: String
    public var detail: String

    public init(_ code: Code, program: String, _ detail: String) {
        self.code = code
        self.program = program
        self.detail = detail
    }

    public var description: String {
        switch code {
        case .notFound: "\(program) is not installed (\(detail))"
        case .timedOut: "\(program) did not finish within \(detail) and was stopped"
        case .outputLimitExceeded: "\(program) printed more than \(detail) bytes and was stopped"
        case .failedToRun: "cannot run \(program): \(detail)"
        }
    }
}

/// Runs external programs: every program imgsec starts (gpgv, the qemu probe, and later nmap, ssh-audit,
/// qemu-img) goes through here, with a time limit and an output limit, never through a shell.
///
/// Waiting never blocks a thread of the cooperative pool (swift-subprocess watches the child
/// asynchronously). A cancelled caller stops the program the same way a time-out does.
public enum ProgramRunner {
    /// Runs `program` to its end and returns what it printed, whatever its exit status.

    /// Runs `program` until `stopWhen` is true of everything it printed on stdout so far, then stops it;
    /// returns nil when the program ended (or its time ran out) first. For a program that is watched, not
    /// waited for: the qemu probe that only needs to see a kernel banner.
    public static func watch(_ program: ExternalProgram,
                             until stopWhen: @escaping @Sendable ([UInt8]) -> Bool) async throws(ProgramError) -> [UInt8]? {
        try checkExecutable(program)
        let options = platformOptions()
        let config = Configuration(executable: .path(FilePath(program.executable)), arguments: Arguments(program.arguments),
                                   environment: .custom(environment(program)), platformOptions: options)
        let limit = program.outputLimit
        do {
            return try await withTimeLimit(program) {
                let result = try await Subprocess.run(config, input: .none, output: .sequence, error: .discarded) { execution in
                    var seen: [UInt8] = []
                    for try await buffer in execution.standardOutput {
                        buffer.withUnsafeBytes { seen.append(contentsOf: $0) }
                        if stopWhen(seen) {
                            try? execution.send(signal: .kill)
                            return Optional(seen)
                        }
                        if seen.count > limit { throw ProgramError(.outputLimitExceeded, program: program.name, "\(limit)") }
                    }
                    return nil
                }
                return result.closureResult
            }
        } catch let error as ProgramError {
            throw error
        } catch {
            throw ProgramError(.failedToRun, program: program.name, "\(error)")
        }
    }

    /// Runs `program` to its end and returns what it printed, whatever its exit status.
    public static func run(_ program: ExternalProgram) async throws(ProgramError) -> ProgramOutput {
        try checkExecutable(program)
        let config = Configuration(executable: .path(FilePath(program.executable)), arguments: Arguments(program.arguments),
                                   environment: .custom(environment(program)), platformOptions: platformOptions())
        let limit = program.outputLimit
        do {
            return try await withTimeLimit(program) {
                let result: ExecutionResult<Void, BytesOutput, BytesOutput>
                if let input = program.input {
                    result = try await Subprocess.run(config, input: .array(input), output: .bytes(limit: limit), error: .bytes(limit: limit))
                } else {
                    result = try await Subprocess.run(config, input: .none, output: .bytes(limit: limit), error: .bytes(limit: limit))
                }
                let status: ProgramStatus
                switch result.terminationStatus {
                case .exited(let code): status = .exited(code)
                case .signaled(let signal): status = .signalled(signal)
                }
                return ProgramOutput(status: status, standardOutput: result.standardOutput, standardError: result.standardError)
            }
        } catch let error as ProgramError {
            throw error
        } catch let error as SubprocessError where error.code == .outputLimitExceeded {
            throw ProgramError(.outputLimitExceeded, program: program.name, "\(limit)")
        } catch {
            throw ProgramError(.failedToRun, program: program.name, "\(error)")
        }
    }

    private static func checkExecutable(_ program: ExternalProgram) throws(ProgramError) {
        guard program.executable.hasPrefix("/") else {
            throw ProgramError(.notFound, program: program.name, "not an absolute path: \(program.executable)")
        }
        guard access(program.executable, X_OK) == 0 else {
            throw ProgramError(.notFound, program: program.name, "\(program.executable) is not an executable file")
        }
    }

    private static func environment(_ program: ExternalProgram) -> [Environment.Key: String] {
        var env: [Environment.Key: String] = [:]
        for (k, v) in program.environment { env[Environment.Key(stringLiteral: k)] = v }
        return env
    }

    private static func platformOptions() -> PlatformOptions {
        var options = PlatformOptions()
        // Cancellation (a time-out, a cancelled caller) asks politely first.
        options.teardownSequence = [.gracefulShutDown(allowedDurationToNextStep: .milliseconds(500))]
        // Its own process group: a terminal's Ctrl-C reaches imgsec, which then stops the program itself.
        options.processGroupID = 0
        return options
    }

    /// Runs `body` (which runs the program) and cancels it, which stops the program, when the time limit passes.
    private static func withTimeLimit<T: Sendable>(_ program: ExternalProgram,
                                                   _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: program.timeLimit)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next() else {
                throw ProgramError(.failedToRun, program: program.name, "no result")
            }
            guard let value = first else {
                throw ProgramError(.timedOut, program: program.name, "\(program.timeLimit)")
            }
            return value
        }
    }
}
