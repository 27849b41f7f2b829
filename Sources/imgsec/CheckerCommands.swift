import ArgumentParser
import Foundation
import Logging
import Pipeline
import UpdateEngine

/// Where the store is and how repositories are fetched: the values, without ArgumentParser (so that
/// ``QuickStart`` can fill them too). The defaults here are the options' defaults.
struct CheckerSettings: Equatable {
    var store: String?
    var repoMaxAge = "4h"
    var mirror: [String] = []
    var mirrorFile: String?
    var ignoreValidUntil = false
    var offline = false
    var fetchTimeout: Double = 30
    var downloadTimeout: Double = 600
    var maxDownloadSize = "1G"

    var storePath: String { store ?? SQLiteUpdateStore.defaultPath() }

    func validate() throws {
        _ = try Self.seconds(repoMaxAge)
        try Limits.checkSeconds(fetchTimeout, "--fetch-timeout")
        try Limits.checkSeconds(downloadTimeout, "--download-timeout")
        _ = try Limits.bytes(maxDownloadSize, "--max-download-size")
    }

    static func seconds(_ text: String) throws -> TimeInterval {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        if let unit = text.last, let factor = units[unit], let n = Double(text.dropLast()), n >= 0 { return n * factor }
        if let n = Double(text), n >= 0 { return n }
        throw ValidationError("--repo-max-age takes a duration like 90s, 30m, 4h or 1d, not \(text).")
    }

    func mirrorRules() throws -> MirrorRules {
        var rules = try MirrorRules(parsing: mirror)
        let env = ProcessInfo.processInfo.environment
        let defaultFile = (env["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? Paths.homeDirectory + "/.config") + "/imgsec/mirrors"
        let file = mirrorFile ?? (FileManager.default.fileExists(atPath: defaultFile) ? defaultFile : nil)
        if let file {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw ValidationError("Cannot read the mirror file \(file).")
            }
            rules = rules.merging(try MirrorRules.parse(configFile: text, file: file))
        }
        return rules
    }

    func makeChecker(logger: Logger) throws -> (Checker, SQLiteUpdateStore) {
        let maxAge = try Self.seconds(repoMaxAge)
        let store = try SQLiteUpdateStore(path: storePath)
        let http = HTTPFetcher(options: .init(timeout: .milliseconds(Int64(fetchTimeout * 1000)),
                                              totalTimeout: .milliseconds(Int64(downloadTimeout * 1000)),
                                              limit: try Limits.bytes(maxDownloadSize, "--max-download-size")))
        let fetcher = CachingFetcher(store: store, options: .init(maxAge: .seconds(maxAge), offline: offline, mirrors: try mirrorRules()),
                                     network: http)
        var options = CheckerOptions()
        options.repoMaxAge = maxAge
        options.resultMaxAge = maxAge
        options.ignoreValidUntil = ignoreValidUntil
        options.indexLimit = try Limits.bytes(maxDownloadSize, "--max-download-size")
        return (Checker(store: store, fetcher: fetcher, options: options, logger: logger), store)
    }
}

/// Where the store is and how repositories are fetched: the options.
struct CheckerOptionsGroup: ParsableArguments {
    @Option(name: .long, help: "The store (default: $IMGSEC_STORE, else $XDG_DATA_HOME/imgsec/imgsec.sqlite).")
    var store: String?

    @Option(name: .long, help: "How long fetched repository files and computed answers are reused: 90s, 30m, 4h, 1d.")
    var repoMaxAge: String = CheckerSettings().repoMaxAge

    @Option(name: .long, help: "Rewrite repository URLs: FROM=TO (prefix). Repeatable.")
    var mirror: [String] = []

    @Option(name: .long, help: "A file of FROM=TO mirror rules, one per line (default: $XDG_CONFIG_HOME/imgsec/mirrors if it exists).")
    var mirrorFile: String?

    @Flag(name: .long, help: "Accept apt Release files past their Valid-Until.")
    var ignoreValidUntil = false

    @Flag(name: .long, help: "Never use the network: answer from the repository cache only.")
    var offline = false

    @Option(name: .long, help: ArgumentHelp("Seconds a repository server may send nothing (connecting or mid-transfer) before the attempt fails; 3 attempts.", valueName: "seconds"))
    var fetchTimeout: Double = CheckerSettings().fetchTimeout

    @Option(name: .long, help: ArgumentHelp("Seconds one whole download may take (a server that sends a byte a second is stopped here).", valueName: "seconds"))
    var downloadTimeout: Double = CheckerSettings().downloadTimeout

    @Option(name: .long, help: ArgumentHelp("Largest repository file downloaded, and largest index once decompressed: bytes, or with K, M, G.", valueName: "size"))
    var maxDownloadSize: String = CheckerSettings().maxDownloadSize

    var settings: CheckerSettings {
        CheckerSettings(store: store, repoMaxAge: repoMaxAge, mirror: mirror, mirrorFile: mirrorFile,
                        ignoreValidUntil: ignoreValidUntil, offline: offline, fetchTimeout: fetchTimeout,
                        downloadTimeout: downloadTimeout, maxDownloadSize: maxDownloadSize)
    }

    func validate() throws { try settings.validate() }

    var storePath: String { settings.storePath }

    func makeChecker(logger: Logger) throws -> (Checker, SQLiteUpdateStore) {
        try settings.makeChecker(logger: logger)
    }
}

/// Which machines to import, and who owns them.
struct MachineInputs: ParsableArguments {
    @OptionGroup var sources: MachineSources
    @OptionGroup var ownership: OwnershipOptions

    func pipeline(verbose: Bool, logger: Logger) -> MachinePipeline {
        var options = sources.pipelineOptions(verbose: verbose)
        ownership.apply(to: &options)
        return MachinePipeline(options: options, logger: logger)
    }
}

/// Who owns the machines imported, and their labels.
struct OwnershipOptions: ParsableArguments {
    @Option(name: .long, help: "The owner's e-mail address (for notifications).")
    var owner: String?

    @Option(name: .long, help: "A label K=V. Repeatable.")
    var label: [String] = []

    func validate() throws {
        for l in label where !l.contains("=") { throw ValidationError("--label takes K=V, not \(l).") }
    }

    func apply(to options: inout PipelineOptions) {
        options.owner = owner
        for l in label {
            let kv = l.split(separator: "=", maxSplits: 1).map(String.init)
            if kv.count == 2 { options.labels[kv[0]] = kv[1] }
        }
    }
}

/// Exit codes: 0 nothing pending, 100 updates pending (as `dnf check-update`), 1 when something failed.
enum CheckExit {
    static let pending: Int32 = 100

    static func code(_ checks: [MachineCheck], errors: [Diagnostic]) -> ExitCode {
        if errors.contains(where: { $0.severity == .error }) || checks.contains(where: \.failed) { return .failure }
        if checks.contains(where: { $0.total > 0 }) { return ExitCode(pending) }
        return .success
    }
}

struct RegisterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "register", abstract: "Inspects images or root directories (batched) and stores their packages and repositories.")

    @OptionGroup var inputs: MachineInputs
    @OptionGroup var checker: CheckerOptionsGroup
    @Option(name: .long, help: "Output format: table or json.") var format: OutputFormat = .table
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let logger = global.bootstrapLogging()
        let (c, _) = try checker.makeChecker(logger: logger)
        let (outcomes, failures) = await inputs.pipeline(verbose: global.verbose >= 3, logger: logger).register(inputs.sources.sources, with: c)
        let errors = failures + outcomes.compactMap(\.failure)
        DiagnosticOutput.write(errors)
        let machines = outcomes.compactMap(\.record)
        switch format {
        case .json: print(try CheckReport.json(RegisterJSON(machines: machines.map(MachineJSON.init), errors: errors)))
        case .table: for m in machines { printTable("registered \(m.name)  \(CheckReport.osLine(m.facts))") }
        }
        if errors.contains(where: { $0.severity == .error }) { throw ExitCode.failure }
    }
}

struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Pending updates of registered machines: counts per significance, or every update with --details.",
        discussion: "Exit codes: 0 nothing pending, 100 updates pending, 1 a machine or repository failed (the others are still reported).")

    @Argument(help: "Registered machine names (as `imgsec machines` lists them).") var machines: [String] = []
    @Flag(name: .long, help: "Every registered machine.") var all = false
    @Flag(name: .long, help: "Every pending update, not just the counts.") var details = false
    @Flag(name: .long, help: "Recompute even when the result cache holds a fresh answer.") var refresh = false
    @OptionGroup var checker: CheckerOptionsGroup
    @Option(name: .long, help: "Output format: table or json.") var format: OutputFormat = .table
    @OptionGroup var global: GlobalOptions

    var request: CheckRequest {
        CheckRequest(machines: machines, all: all, details: details, refresh: refresh, checker: checker.settings,
                     format: format, log: global.settings)
    }

    func validate() throws { try request.validate() }

    func run() async throws { try await request.run() }
}

/// What `imgsec check` was asked, read by ArgumentParser (``CheckCommand``) or by ``QuickStart``.
struct CheckRequest: Equatable {
    var machines: [String] = []
    var all = false
    var details = false
    var refresh = false
    var checker = CheckerSettings()
    var format = OutputFormat.table
    var log = LogSettings()

    func validate() throws {
        if machines.isEmpty && !all { throw ValidationError("Name machines, or pass --all.") }
        try checker.validate()
    }

    /// `note` is logged at debug level once logging is set up.
    func run(note: String? = nil) async throws {
        let logger = log.bootstrapLogging()
        if let note { logger.debug("\(note)") }
        let (c, store) = try checker.makeChecker(logger: logger)
        var records: [MachineRecord] = []
        var errors: [Diagnostic] = []
        if all {
            records = try await store.machines().map(\.machine)
        } else {
            for name in machines {
                if let m = try await store.machine(named: name) {
                    records.append(m)
                } else {
                    errors.append(Diagnostic(.machineNotRegistered, subject: DiagnosticSubject(machine: name), "no such machine in the store (see `imgsec machines`)."))
                }
            }
        }
        let checks = await c.check(records, force: refresh, detail: details ? .updates : .counts)
        CheckReport.emit(checks, errors: errors, details: details, format: format)
        throw CheckExit.code(checks, errors: errors)
    }
}

struct ScanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan", abstract: "Registers images or root directories and checks them in one go.",
        discussion: "Exit codes: 0 nothing pending, 100 updates pending, 1 an image, machine or repository failed (the others are still reported).")

    @OptionGroup var inputs: MachineInputs
    @Flag(name: .long, help: "Every pending update, not just the counts.") var details = false
    @OptionGroup var checker: CheckerOptionsGroup
    @Option(name: .long, help: "Output format: table or json.") var format: OutputFormat = .table
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let logger = global.bootstrapLogging()
        let (c, _) = try checker.makeChecker(logger: logger)
        let (outcomes, failures) = await inputs.pipeline(verbose: global.verbose >= 3, logger: logger).scan(inputs.sources.sources, with: c)
        let errors = failures + outcomes.compactMap(\.failure)
        let checks = outcomes.compactMap(\.check)
        CheckReport.emit(checks, errors: errors, details: details, format: format)
        throw CheckExit.code(checks, errors: errors)
    }
}

struct WhyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "why", abstract: "Every version of a package the machine's repositories offer, and why the candidate was chosen.")

    @Argument(help: "A registered machine.") var machine: String
    @Argument(help: "A package name.") var package: String
    @OptionGroup var checker: CheckerOptionsGroup
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let logger = global.bootstrapLogging()
        let (c, store) = try checker.makeChecker(logger: logger)
        guard let record = try await store.machine(named: machine) else {
            throw ValidationError("\(machine): no such machine in the store (see `imgsec machines`).")
        }
        printTable(try await c.explain(record, package: package))
    }
}

struct MachinesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "machines", abstract: "The registry: machines with their last import and last check.")

    @OptionGroup var checker: CheckerOptionsGroup
    @Option(name: .long, help: "Output format: table or json.") var format: OutputFormat = .table
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        _ = global.bootstrapLogging()
        let store = try SQLiteUpdateStore(path: checker.storePath)
        let machines = try await store.machines()
        switch format {
        case .json:
            print(try CheckReport.json(machines.map { s -> MachineJSON in
                var j = MachineJSON(s.machine)
                j.packageCount = s.packageCount
                j.lastCheckedAt = s.lastCheckedAt
                return j
            }))
        case .table:
            printTable(CheckReport.pad(["MACHINE", "OS", "PACKAGES", "IMPORTED", "CHECKED"], [40, 24, 9, 21, 21]))
            for s in machines {
                printTable(CheckReport.pad([s.machine.name, CheckReport.osLine(s.machine.facts), "\(s.packageCount)",
                                       CheckReport.time(s.machine.importedAt), s.lastCheckedAt.map(CheckReport.time) ?? "never"], [40, 24, 9, 21, 21]))
            }
        }
    }
}
