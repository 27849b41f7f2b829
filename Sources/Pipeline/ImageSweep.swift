import Foundation
import ImageInspect
import Logging
import UpdateEngine

/// How a sweep reads, registers and checks an image store.
public struct SweepOptions: Sendable {
    public var pipeline = PipelineOptions()
    /// Images inspected, registered and checked together before the next round starts; nil: one full
    /// appliance per parallel slot (``InspectOptions/parallelAppliances`` × ``InspectOptions/maxDrivesPerAppliance``).
    /// A sweep that is killed redoes at most its current round.
    public var imagesPerRound: Int?
    /// Reopen every image, even those unchanged since the last sweep.
    public var reinspect = false
    /// `.updates` keeps every pending update in the rows (the gate's severities need them).
    public var detail: CheckDetail = .counts
    public init() {}
}

/// One machine a sweep found in an image, with its answer.
public struct SweptMachine: Sendable {
    public var check: MachineCheck
    public var packageCount: Int

    public init(check: MachineCheck, packageCount: Int) {
        self.check = check
        self.packageCount = packageCount
    }
}

/// What a sweep says about one image.
public struct SweepRow: Sendable {
    public var image: String
    /// Its operating systems (several for a multi-boot disk), each checked.
    public var machines: [SweptMachine]
    /// Why it or one of its machines could not be read, and remarks about it; the checks' own failures
    /// (a repository) are in each ``SweptMachine/check``.
    public var diagnostics: [Diagnostic]
    /// True when the image was unchanged since the last sweep and was not opened.
    public var unchanged: Bool

    public init(image: String, machines: [SweptMachine], diagnostics: [Diagnostic], unchanged: Bool) {
        self.image = image
        self.machines = machines
        self.diagnostics = diagnostics
        self.unchanged = unchanged
    }

    /// Something about this image is an error: it was not read, a machine of it was not registered, or a
    /// check failed.
    public var failed: Bool {
        diagnostics.contains { $0.severity == .error } || machines.contains { $0.check.failed }
    }
}

/// What a sweep reports as it goes: for a progress line, a service's sweep status, a test.
public enum SweepEvent: Sendable {
    /// Before any image is read: how many there are, and how many of them are unchanged.
    case started(images: Int, unchanged: Int)
    /// One image is finished (its row is final).
    case finished(SweepRow)
}

/// Sweeps an image store: every image is inspected (batched, read-only), registered and checked, except
/// those whose size, modification time and header are what the last sweep recorded — their stored machines
/// and answers are reused without opening them. Work is done in rounds, each stored before the next starts,
/// so a killed sweep resumes where it stopped; one bad image is one row with its diagnostic and the sweep
/// goes on.
public struct ImageSweep: Sendable {
    public var options: SweepOptions
    public var logger: Logger
    public var events: AsyncStream<SweepEvent>.Continuation?

    public init(options: SweepOptions = SweepOptions(), logger: Logger, events: AsyncStream<SweepEvent>.Continuation? = nil) {
        self.options = options
        self.logger = logger
        self.events = events
    }

    /// Sweeps `images` (paths, as ``ImageDiscovery`` found them); one row per image, in their order.
    public func run(_ images: [String], checker: Checker, store: any UpdateStore) async throws -> [SweepRow] {
        let swept = Dictionary(try await store.sweptSources().map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        var machinesOf: [String: [MachineSummary]] = [:]
        for s in try await store.machines() where s.machine.sourceKind == .image {
            machinesOf[s.machine.sourcePath, default: []].append(s)
        }
        var rows = [SweepRow?](repeating: nil, count: images.count)
        var fingerprints: [String: SourceFingerprint] = [:]
        var unchanged: [Int] = []
        var changed: [Int] = []
        for (i, path) in images.enumerated() {
            guard let fingerprint = try? SourceFingerprint.of(path: path) else {
                rows[i] = SweepRow(image: path, machines: [], diagnostics: [Diagnostic(.imageMissing, subject: DiagnosticSubject(image: path),
                                   "cannot be read (it vanished, or is not readable).")], unchanged: false)
                continue
            }
            fingerprints[path] = fingerprint
            let known = machinesOf[path] ?? []
            if !options.reinspect, let record = swept[path], record.fingerprint == fingerprint,
               known.allSatisfy({ $0.machine.sourceFingerprint == fingerprint }),
               !known.isEmpty || record.diagnostics.contains(where: { $0.severity == .error }) {
                unchanged.append(i)
            } else {
                changed.append(i)
            }
        }
        events?.yield(.started(images: images.count, unchanged: unchanged.count))
        for i in rows.indices { if let row = rows[i] { events?.yield(.finished(row)) } }

        // Unchanged: their stored machines, answered from the result cache (or from their stored files when
        // the answer expired): no appliance.
        if !unchanged.isEmpty {
            let known = unchanged.flatMap { machinesOf[images[$0]] ?? [] }
            let checks = await checker.check(known.map(\.machine), force: false, detail: options.detail)
            var byImage: [String: [SweptMachine]] = [:]
            for (summary, check) in zip(known, checks) {
                byImage[summary.machine.sourcePath, default: []].append(SweptMachine(check: check, packageCount: summary.packageCount))
            }
            for i in unchanged {
                let row = SweepRow(image: images[i], machines: byImage[images[i]] ?? [], diagnostics: swept[images[i]]?.diagnostics ?? [], unchanged: true)
                rows[i] = row
                events?.yield(.finished(row))
            }
        }

        // Changed or new: in rounds, each registered, checked and recorded before the next.
        let inspect = options.pipeline.inspect
        let perRound = max(1, options.imagesPerRound ?? max(1, inspect.parallelAppliances) * inspect.maxDrivesPerAppliance)
        var start = 0
        while start < changed.count {
            let round = Array(changed[start..<min(start + perRound, changed.count)])
            start += round.count
            for row in try await sweepRound(round.map { images[$0] }, fingerprints: fingerprints, known: machinesOf, checker: checker, store: store) {
                if let i = round.first(where: { images[$0] == row.image }) { rows[i] = row }
                events?.yield(.finished(row))
            }
        }
        return rows.enumerated().map { i, row in
            row ?? SweepRow(image: images[i], machines: [], diagnostics: [Diagnostic(.applianceFailed, subject: DiagnosticSubject(image: images[i]),
                            "was not swept (internal error).")], unchanged: false)
        }
    }

    /// Inspects, registers and checks one round of images, then records what was found of each.
    private func sweepRound(_ paths: [String], fingerprints: [String: SourceFingerprint], known: [String: [MachineSummary]],
                            checker: Checker, store: any UpdateStore) async throws -> [SweepRow] {
        let pipeline = MachinePipeline(options: options.pipeline, logger: logger)
        let (outcomes, failures) = await pipeline.scan(paths.map(MachineSource.image), with: checker, fingerprints: fingerprints,
                                                      detail: options.detail)
        var rows: [SweepRow] = []
        for path in paths {
            let mine = outcomes.filter { $0.machine.sourcePath == path }
            let sourceFailures = failures.filter { $0.subject.image == path }
            var diagnostics = sourceFailures
            for o in mine {
                diagnostics += o.machine.notes.filter { $0.severity >= .warning }
                if let failure = o.failure { diagnostics.append(failure) }
            }
            let machines = mine.compactMap { o in o.check.map { SweptMachine(check: $0, packageCount: o.machine.parsed.packages.count) } }
            rows.append(SweepRow(image: path, machines: machines, diagnostics: diagnostics, unchanged: false))
            // Read through: machines the image no longer holds (a root that went away) are dropped.
            if sourceFailures.isEmpty {
                let now = Set(mine.map(\.machine.name))
                for old in known[path] ?? [] where !now.contains(old.machine.name) {
                    try await store.deleteMachine(named: old.machine.name)
                }
            }
            // Recorded last: killed before this, the image is simply swept again. A failure that may pass
            // (the appliance, a time limit, an unreadable file) is not recorded, so the next sweep retries it.
            guard let fingerprint = fingerprints[path], !diagnostics.contains(where: { Self.transient.contains($0.code) }) else { continue }
            try await store.putSweptSource(SweptSourceRecord(path: path, fingerprint: fingerprint, diagnostics: diagnostics))
        }
        return rows
    }

    /// Failures a later attempt may not repeat.
    static let transient: Set<DiagnosticCode> = [.applianceFailed, .imageTimeout, .imageMissing, .imageUnreadable, .imageReadFailed]
}
