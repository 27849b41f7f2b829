import ArgumentParser
import Foundation
import ImageInspect
import Logging
import Pipeline
import UpdateEngine

/// Exit codes of `gate` (documented in the README): 0 every image passes, 2 one fails, 1 the gate could not
/// decide about one (and none fails).
enum GateExit {
    static let failed: Int32 = 2

    static func code(_ verdicts: [GateVerdict]) -> ExitCode {
        if verdicts.contains(where: { $0.decision == .fail }) { return ExitCode(failed) }
        if verdicts.contains(where: { $0.decision == .undecided }) { return .failure }
        return .success
    }
}

/// The gate's options, shared by `gate` and `libvirt-hook`.
struct GateOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("What fails an image: updates (any), security (any security update), or a severity: low, moderate (medium), important (high), critical. A security update of unknown severity fails every severity.", valueName: "threshold"))
    var failOn: String = "security"

    @Option(name: .long, help: ArgumentHelp("The oldest answer and repository data the gate acts on: 90s, 30m, 4h, 1d (default: --repo-max-age).", valueName: "duration"))
    var maxAge: String?

    @Option(name: .long, help: "Appliances run at once (default: one per core).") var jobs: Int?

    func validate() throws {
        if GateThreshold(parsing: failOn) == nil {
            throw ValidationError("--fail-on takes updates, security, low, moderate, important or critical, not \(failOn).")
        }
        if let maxAge, (try? CheckerSettings.seconds(maxAge)) == nil {
            throw ValidationError("--max-age takes a duration like 90s, 30m, 4h or 1d, not \(maxAge).")
        }
        if let jobs, jobs < 1 || jobs > 64 { throw ValidationError("--jobs must be between 1 and 64.") }
    }

    var threshold: GateThreshold { GateThreshold(parsing: failOn) ?? .security }

    /// Sweeps `images` (answers from the result cache for images unchanged since they were last read, while
    /// fresh) and judges each.
    func judge(_ images: [String], inspection: InspectionOptions, checker: CheckerOptionsGroup, global: GlobalOptions,
               logger: Logger) async throws -> [GateVerdict] {
        var settings = checker.settings
        if let maxAge { settings.repoMaxAge = maxAge }
        let (c, store) = try settings.makeChecker(logger: logger)
        var options = SweepOptions()
        options.pipeline = inspection.pipelineOptions(verbose: global.verbose >= 3)
        if let jobs { options.pipeline.inspect.parallelAppliances = jobs }
        options.detail = .updates
        let rows = try await SweepFrontEnd.run(images, options: options, checker: c, store: store, logger: logger, quiet: global.quiet)
        return rows.map { Gate.judge($0, threshold: threshold) }
    }
}

struct GateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gate",
        abstract: "Passes or fails images before they are published or started: exit 0 when every image passes.",
        discussion: """
        Each image is swept (an image unchanged since it was last read is answered from the store while its answer \
        is younger than --max-age, in milliseconds; otherwise it is inspected) and fails when one of its machines has \
        a pending update --fail-on covers. One line per image says why. Exit codes: 0 every image passes, 2 an image \
        fails, 1 the gate could not decide about an image (not readable, no operating system, a repository failed) and \
        none fails.
        """)

    @Argument(help: "Disk images.") var images: [String] = []
    @OptionGroup var gate: GateOptions
    @OptionGroup var inspection: InspectionOptions
    @OptionGroup var checker: CheckerOptionsGroup
    @Option(name: .long, help: "Output format: table or json.") var format: OutputFormat = .table
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if images.isEmpty { throw ValidationError("Name at least one image.") }
    }

    func run() async throws {
        let logger = global.bootstrapLogging()
        let verdicts = try await gate.judge(images, inspection: inspection, checker: checker, global: global, logger: logger)
        GateReport.emit(verdicts, threshold: gate.threshold, format: format)
        throw GateExit.code(verdicts)
    }
}

/// `gate` output: one line per image (or JSON) on stdout.
enum GateReport {
    struct ImageJSON: Codable {
        var image: String
        var decision: GateVerdict.Decision
        var reason: String
        var machines: [CheckJSON]
        var errors: [Diagnostic]
    }

    struct GateJSON: Codable {
        var failOn: String
        var images: [ImageJSON]
        var passed: Int
        var failed: Int
        var undecided: Int
    }

    static func line(_ v: GateVerdict, threshold: GateThreshold) -> String {
        let word: String
        switch v.decision {
        case .pass: word = "PASS"
        case .fail: word = "FAIL"
        case .undecided: word = "UNDECIDED"
        }
        return CheckReport.pad([word, v.image], [10, 0]) + "  " + v.reason(threshold: threshold)
    }

    static func emit(_ verdicts: [GateVerdict], threshold: GateThreshold, format: OutputFormat) {
        switch format {
        case .json:
            let images = verdicts.map { v in
                ImageJSON(image: v.image, decision: v.decision, reason: v.reason(threshold: threshold),
                          machines: v.machines.map { CheckReport.row($0, details: v.decision == .fail) }, errors: v.diagnostics)
            }
            let json = GateJSON(failOn: threshold.description, images: images,
                                passed: verdicts.filter { $0.decision == .pass }.count,
                                failed: verdicts.filter { $0.decision == .fail }.count,
                                undecided: verdicts.filter { $0.decision == .undecided }.count)
            print((try? CheckReport.json(json)) ?? "{}")
        case .table:
            for v in verdicts { printTable(line(v, threshold: threshold)) }
        }
    }
}

/// libvirt's qemu hook (`/etc/libvirt/hooks/qemu DOMAIN OPERATION SUB-OPERATION EXTRA`, the domain XML on
/// stdin): at `prepare begin` it gates the domain's file and block disks and refuses the start of a domain
/// that fails, with the reason on stderr, which libvirt puts in its error message. Every other call is
/// allowed at once.
struct LibvirtHookCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "libvirt-hook",
        abstract: "libvirt's qemu hook: refuses to start a domain whose disks fail the gate (scripts/install-libvirt-hook.sh installs it).",
        discussion: """
        libvirt runs /etc/libvirt/hooks/qemu with DOMAIN prepare begin - and the domain XML on stdin before it starts a \
        domain; the installed hook runs this command with the options chosen at install time. Exit 0 lets libvirt \
        start the domain; exit 1 makes it refuse, with what this command printed on stderr in its error. A domain \
        the gate cannot decide about is refused unless --on-undecided allow is given.
        """)

    enum Undecided: String, ExpressibleByArgument, CaseIterable { case refuse, allow }

    @Argument(help: "What libvirt passes: the domain, the operation, the sub-operation, and an extra argument.")
    var hookArguments: [String] = []
    @Option(name: .long, help: "What to do with a domain the gate cannot decide about: refuse or allow.")
    var onUndecided: Undecided = .refuse
    @OptionGroup var gate: GateOptions
    @OptionGroup var inspection: InspectionOptions
    @OptionGroup var checker: CheckerOptionsGroup
    @OptionGroup var global: GlobalOptions

    /// The most domain XML read from stdin.
    static let xmlLimit = 16 << 20

    func run() async throws {
        let xml = Self.readStandardInput(limit: Self.xmlLimit)
        guard hookArguments.count >= 3, hookArguments[1] == "prepare", hookArguments[2] == "begin" else { return }
        let domain = hookArguments[0]
        let logger = global.bootstrapLogging()
        guard let xml else { Self.refuse(domain, ["the domain XML on stdin is over \(Self.xmlLimit) bytes"]); throw ExitCode.failure }
        let (_, found) = LibvirtSources.domainDisks(xml, source: "the domain XML of \(domain)")
        let verdicts = found.images.isEmpty ? [] : try await gate.judge(found.images, inspection: inspection, checker: checker,
                                                                        global: global, logger: logger)
        let threshold = gate.threshold
        var refusals = verdicts.filter { $0.decision == .fail }.map { "\($0.image): \($0.reason(threshold: threshold))" }
        var undecided = verdicts.filter { $0.decision == .undecided }.map { "\($0.image): \($0.reason(threshold: threshold))" }
        undecided += found.failures.map { "\($0.code.rawValue): \($0.description)" }
        if onUndecided == .refuse { refusals += undecided }
        guard refusals.isEmpty else {
            Self.refuse(domain, refusals)
            throw ExitCode.failure
        }
        for u in undecided { FileHandle.standardError.write(Data("imgsec: allowed \(domain) undecided: \(u)\n".utf8)) }
    }

    static func refuse(_ domain: String, _ reasons: [String]) {
        var text = "imgsec gate refused to start \(domain): "
        text += reasons.map { TerminalText.cut(TerminalText.escaped($0)) }.joined(separator: "; ")
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// All of stdin, or nil when it is over `limit` bytes.
    static func readStandardInput(limit: Int) -> [UInt8]? {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            bytes.append(contentsOf: buffer[0..<n])
            if bytes.count > limit { return nil }
        }
        return bytes
    }
}
