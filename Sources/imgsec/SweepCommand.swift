import ArgumentParser
import Foundation
import ImageInspect
import Logging
import Pipeline
import UpdateEngine

struct SweepCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Finds the disk images under folders (by their headers), inspects, registers and checks them all; unchanged images are not reopened.",
        discussion: """
        An image whose size, modification time and first MiB are what the last sweep of the same store recorded is \
        not opened again: its stored machines and answers are reused. Interrupted, the next sweep resumes: finished \
        images are not redone. Exit codes: 0 nothing pending, 100 updates pending, 1 an image, machine or repository \
        failed (every other image is still reported).
        """)

    @Argument(help: "Folders (walked recursively) and image files.") var paths: [String] = []
    @Option(name: .long, help: "A libvirt storage pool whose volumes are swept (with or instead of paths).") var pool: String?
    @Option(name: .long, help: "The libvirt URI of --pool (default: libvirt's, qemu:///system for root); read-only.") var connect: String?
    @Option(name: .long, help: "Appliances run at once (default: one per core).") var jobs: Int?
    @Flag(name: .long, help: "Reopen every image, even those unchanged since the last sweep.") var reinspect = false
    @OptionGroup var inspection: InspectionOptions
    @OptionGroup var ownership: OwnershipOptions
    @OptionGroup var checker: CheckerOptionsGroup
    @Option(name: .long, help: "Output format: table or json.") var format: OutputFormat = .table
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if paths.isEmpty && pool == nil { throw ValidationError("Name at least one folder or image, or a --pool.") }
        if connect != nil && pool == nil { throw ValidationError("--connect names the libvirt of a --pool; give --pool too.") }
        if let jobs, jobs < 1 || jobs > 64 { throw ValidationError("--jobs must be between 1 and 64.") }
    }

    func run() async throws {
        let logger = global.bootstrapLogging()
        let (c, store) = try checker.makeChecker(logger: logger)
        var found = ImageDiscovery.find(paths)
        if let pool {
            let volumes = await LibvirtSources.pool(pool, uri: connect)
            let known = Set(found.images)
            found.images += volumes.images.filter { !known.contains($0) }
            found.ignored += volumes.ignored
            found.failures += volumes.failures
            logger.info("storage pool read", metadata: ["pool": "\(pool)", "volumes": "\(volumes.images.count)"])
        }
        logger.info("images found", metadata: ["images": "\(found.images.count)", "ignored": "\(found.ignored.count)"])
        for file in found.ignored { logger.debug("not a disk image, left alone", metadata: ["file": "\(file)"]) }
        var options = SweepOptions()
        options.pipeline = inspection.pipelineOptions(verbose: global.verbose >= 3)
        if let jobs { options.pipeline.inspect.parallelAppliances = jobs }
        ownership.apply(to: &options.pipeline)
        options.reinspect = reinspect
        let rows = try await SweepFrontEnd.run(found.images, options: options, checker: c, store: store, logger: logger, quiet: global.quiet)
        SweepReport.emit(rows, found: found, format: format)
        throw SweepReport.exitCode(rows, failures: found.failures)
    }
}

/// Runs a sweep with a progress line on the terminal.
enum SweepFrontEnd {
    static func run(_ images: [String], options: SweepOptions, checker: Checker, store: SQLiteUpdateStore, logger: Logger,
                    quiet: Bool) async throws -> [SweepRow] {
        let (stream, continuation) = AsyncStream<SweepEvent>.makeStream()
        let sweep = ImageSweep(options: options, logger: logger, events: continuation)
        let result: Result<[SweepRow], any Error> = await withTaskGroup(of: Void.self) { group in
            group.addTask {
                let progress = Progress.shown(quiet: quiet)
                for await event in stream { progress?.update(event) }
                progress?.finish()
            }
            let result: Result<[SweepRow], any Error>
            do { result = .success(try await sweep.run(images, checker: checker, store: store)) } catch { result = .failure(error) }
            continuation.finish()
            await group.waitForAll()
            return result
        }
        return try result.get()
    }

    /// The progress line on stderr: done/total, images per minute, time left, failures. Only when stdout and
    /// stderr are terminals, `NO_COLOR` is unset and `--quiet` is not given.
    final class Progress {
        private var total = 0
        private var done = 0
        private var failed = 0
        private var unchanged = 0
        private var opened = 0
        private let started = Date()

        static func shown(quiet: Bool) -> Progress? {
            let env = ProcessInfo.processInfo.environment
            guard !quiet, env["NO_COLOR"] == nil, isatty(1) == 1, isatty(2) == 1 else { return nil }
            return Progress()
        }

        func update(_ event: SweepEvent) {
            switch event {
            case .started(let images, let unchanged):
                total = images
                self.unchanged = unchanged
            case .finished(let row):
                done += 1
                if row.failed { failed += 1 }
                if !row.unchanged { opened += 1 }
            }
            draw()
        }

        private func draw() {
            // The rate of images opened: unchanged ones finish at once and say nothing about the time left.
            let minutes = max(Date().timeIntervalSince(started), 0.001) / 60
            let rate = Double(opened) / minutes
            var line = "sweep: \(done)/\(total) images"
            if unchanged > 0 { line += " (\(unchanged) unchanged)" }
            if opened > 0 { line += String(format: ", %.1f/min", rate) }
            if done > 0, done < total, rate > 0 {
                let left = Int(Double(total - done) / rate * 60)
                line += ", about \(left / 60)m\(String(format: "%02d", left % 60))s left"
            }
            if failed > 0 { line += ", \(failed) failed" }
            FileHandle.standardError.write(Data("\r\u{1b}[K\(line)".utf8))
        }

        func finish() {
            guard total > 0 || done > 0 else { return }
            FileHandle.standardError.write(Data("\r\u{1b}[K".utf8))
        }
    }
}

/// A sweep's results: a table or JSON on stdout, diagnostics on stderr, and the exit code.
enum SweepReport {
    struct ImageJSON: Codable {
        var image: String
        var unchanged: Bool
        var machines: [CheckJSON]
        var packageCounts: [String: Int]
        var errors: [Diagnostic]
    }

    struct SummaryJSON: Codable {
        var images: Int
        var unchanged: Int
        var failed: Int
        var machines: Int
        var pending: Int
        var pendingBySignificance: [String: Int]
    }

    struct SweepJSON: Codable {
        var images: [ImageJSON]
        var summary: SummaryJSON
        var ignored: [String]
        var errors: [Diagnostic]
    }

    static func emit(_ rows: [SweepRow], found: ImageDiscovery.Found, format: OutputFormat) {
        DiagnosticOutput.write(found.failures + rows.flatMap { $0.diagnostics + $0.machines.flatMap(\.check.failures) }, minimum: .warning)
        let checks = rows.flatMap(\.machines).map(\.check)
        var bySignificance: [Significance: Int] = [:]
        for c in checks { for (s, n) in c.counts { bySignificance[s, default: 0] += n } }
        let summary = SummaryJSON(images: rows.count, unchanged: rows.filter(\.unchanged).count, failed: rows.filter(\.failed).count,
                                  machines: checks.count, pending: checks.reduce(0) { $0 + $1.total },
                                  pendingBySignificance: Dictionary(uniqueKeysWithValues: bySignificance.map { ($0.key.rawValue, $0.value) }))
        switch format {
        case .json:
            let images = rows.map { r in
                ImageJSON(image: r.image, unchanged: r.unchanged, machines: r.machines.map { CheckReport.row($0.check, details: false) },
                          packageCounts: Dictionary(r.machines.map { ($0.check.machine.name, $0.packageCount) }, uniquingKeysWith: { a, _ in a }),
                          errors: r.diagnostics)
            }
            print((try? CheckReport.json(SweepJSON(images: images, summary: summary, ignored: found.ignored, errors: found.failures))) ?? "{}")
        case .table:
            let widths = [48, 18, 9, 34, 0]
            printTable(CheckReport.pad(["IMAGE", "OS", "PACKAGES", "PENDING", "STATUS"], widths))
            for r in rows {
                let status = r.unchanged ? "unchanged" : "read"
                let errors = r.diagnostics.filter { $0.severity == .error }
                if r.machines.isEmpty {
                    printTable(CheckReport.pad([r.image, "-", "-", "-", "error " + (errors.first?.code.rawValue ?? "")], widths))
                }
                for m in r.machines {
                    let c = m.check
                    let failure = c.failures.first { $0.severity == .error } ?? errors.first
                    printTable(CheckReport.pad([c.machine.name, CheckReport.osLine(c.machine.facts), "\(m.packageCount)", pending(c.counts, total: c.total),
                                                failure.map { "error " + $0.code.rawValue } ?? status], widths))
                }
            }
            var line = "\(summary.images) image\(summary.images == 1 ? "" : "s"), \(summary.machines) machine\(summary.machines == 1 ? "" : "s")"
            line += " (\(summary.unchanged) unchanged), \(summary.failed) failed; \(pending(bySignificance, total: summary.pending)) pending"
            if !found.ignored.isEmpty { line += "; \(found.ignored.count) other file\(found.ignored.count == 1 ? "" : "s") left alone" }
            printTable(line)
        }
    }

    /// "12 (security 3, updates 9)", most significant first.
    static func pending(_ counts: [Significance: Int], total: Int) -> String {
        let parts = Significance.allCases.compactMap { s in counts[s].flatMap { $0 > 0 ? "\(s.rawValue) \($0)" : nil } }
        return parts.isEmpty ? "\(total)" : "\(total) (\(parts.joined(separator: ", ")))"
    }

    /// `scan`'s exit codes (``CheckExit``) over every image's machines and diagnostics.
    static func exitCode(_ rows: [SweepRow], failures: [Diagnostic]) -> ExitCode {
        CheckExit.code(rows.flatMap(\.machines).map(\.check), errors: failures + rows.flatMap(\.diagnostics))
    }
}
