import Foundation
import ImageInspect
import Logging
import UpdateEngine

/// Where machines come from: a disk image (opened read-only through libguestfs) or a root directory.
public enum MachineSource: Sendable, Hashable {
    case image(String)
    case root(String)

    public var path: String {
        switch self {
        case .image(let path), .root(let path): path
        }
    }
}

/// How the pipeline reads and registers machines.
public struct PipelineOptions: Sendable {
    /// How images are inspected (batches, backing files, time limits).
    public var inspect = InspectOptions()
    /// Who owns the machines registered (for notifications).
    public var owner: String?
    public var labels: [String: String] = [:]
    public init() {}
}

/// One machine found in a source, its files collected and parsed once.
public struct FoundMachine: Sendable {
    /// The image path (`path#/dev/sdaN` when the image holds several systems), or the root directory.
    public var name: String
    public var kind: MachineSourceKind
    public var sourcePath: String
    public var diskFormat: String?
    public var facts: OSFacts
    public var parsed: ParsedMachine
    /// The files read, in order, with their sizes.
    public var filesFound: [(path: String, size: Int)]
    /// Remarks about the image or the machine (several roots, a filesystem not mounted, a file left out,
    /// a bad line), with codes.
    public var notes: [Diagnostic]

    public var inventory: MachineInventory { MachineInventory(parsed) }
}

/// What one pipeline step reports as it goes, for a progress line, a sweep's status or a test.
public enum PipelineEvent: Sendable {
    /// The sources to read, before any is read.
    case started(sources: Int)
    /// A machine was read from its source (inspected or read from its root).
    case found(FoundMachine)
    /// A source or a machine failed: the diagnostic says which and why. The others go on.
    case failed(Diagnostic)
    case registered(MachineRecord)
    case checked(MachineCheck)
}

/// What became of the sources: the machines found and the sources that failed.
public struct ReadResult: Sendable {
    public var machines: [FoundMachine]
    public var failures: [Diagnostic]
}

/// What became of one machine in `register` or `scan`.
public struct MachineOutcome: Sendable {
    public var machine: FoundMachine
    /// Nil when registration failed (see ``failure``).
    public var record: MachineRecord?
    /// Set by `scan`.
    public var check: MachineCheck?
    public var failure: Diagnostic?
}

/// The one path every front end takes: sources → batched inspection → one parsed machine → register →
/// check → one outcome per machine. Front ends (the CLI, a sweep, the service) say what to do with the
/// outcomes and the events; one failing source or machine is one diagnostic and the run goes on.
public struct MachinePipeline: Sendable {
    public var options: PipelineOptions
    public var logger: Logger
    /// Receives ``PipelineEvent``s as the work goes on; the front end that made the stream finishes it.
    public var events: AsyncStream<PipelineEvent>.Continuation?

    public init(options: PipelineOptions = PipelineOptions(), logger: Logger, events: AsyncStream<PipelineEvent>.Continuation? = nil) {
        self.options = options
        self.logger = logger
        self.events = events
    }

    // MARK: Read

    /// Reads every root and inspects every image (batched, read-only); one diagnostic per source that
    /// failed, the others still read.
    public func read(_ sources: [MachineSource]) async -> ReadResult {
        events?.yield(.started(sources: sources.count))
        var machines: [FoundMachine] = []
        var failures: [Diagnostic] = []
        func fail(_ d: Diagnostic) {
            failures.append(d)
            events?.yield(.failed(d))
        }
        func found(_ m: FoundMachine) {
            machines.append(m)
            events?.yield(.found(m))
        }
        var images: [String] = []
        for source in sources {
            switch source {
            case .image(let path):
                images.append(path)
            case .root(let dir):
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory), isDirectory.boolValue else {
                    fail(Diagnostic(.machineMissing, subject: DiagnosticSubject(machine: dir), "no such directory."))
                    continue
                }
                let machine = DirectoryMachine(root: dir)
                let collector = options.inspect.collector
                let (collected, arch) = await runOnOwnThread { (collector.collect(from: machine), ELFArchitecture.ofMachine(machine)) }
                let parsed = ParsedMachine(collected)
                found(FoundMachine(name: machine.root, kind: .root, sourcePath: machine.root, diskFormat: nil,
                                   facts: collected.facts(arch: arch), parsed: parsed, filesFound: collected.found,
                                   notes: parsed.diagnostics))
            }
        }
        guard !images.isEmpty else { return ReadResult(machines: machines, failures: failures) }
        for outcome in await Inspector(options: options.inspect, logger: logger).inspect(images) {
            if let error = outcome.error { fail(error.diagnostic) }
            for m in outcome.machines {
                let name = outcome.machines.count > 1 ? "\(m.image)#\(m.facts.rootDevice ?? "")" : m.image
                let parsed = ParsedMachine(m.collected)
                let notes = m.notes.map { Diagnostic(.imageNote, .note, subject: DiagnosticSubject(image: m.image, device: m.facts.rootDevice), $0) }
                found(FoundMachine(name: name, kind: .image, sourcePath: m.image, diskFormat: m.format.rawValue,
                                   facts: m.facts, parsed: parsed, filesFound: m.collected.found,
                                   notes: notes + parsed.diagnostics.map { $0.about(image: m.image) }))
            }
        }
        return ReadResult(machines: machines, failures: failures)
    }

    // MARK: Register and check

    /// Reads the sources, then registers every machine found. `fingerprints` are the images' fingerprints
    /// taken before they were read (a sweep's); an image not in it is fingerprinted when it is registered.
    public func register(_ sources: [MachineSource], with checker: Checker,
                         fingerprints: [String: SourceFingerprint] = [:]) async -> (outcomes: [MachineOutcome], failures: [Diagnostic]) {
        let read = await read(sources)
        var outcomes: [MachineOutcome] = []
        for m in read.machines {
            let fingerprint = m.kind == .image ? fingerprints[m.sourcePath] ?? (try? SourceFingerprint.of(path: m.sourcePath)) : nil
            do throws(Diagnostic) {
                let record = try await checker.register(m.parsed, name: m.name, sourceKind: m.kind, sourcePath: m.sourcePath,
                                                        fingerprint: fingerprint, facts: m.facts, owner: options.owner, labels: options.labels)
                events?.yield(.registered(record))
                outcomes.append(MachineOutcome(machine: m, record: record))
            } catch {
                let d = m.kind == .image ? error.about(machine: m.name == m.sourcePath ? nil : m.name, image: m.sourcePath) : error.about(machine: m.name)
                events?.yield(.failed(d))
                outcomes.append(MachineOutcome(machine: m, record: nil, failure: d))
            }
        }
        return (outcomes, read.failures)
    }

    /// Register + check in one go, each machine's files parsed once for both.
    public func scan(_ sources: [MachineSource], with checker: Checker, fingerprints: [String: SourceFingerprint] = [:],
                     detail: CheckDetail = .updates) async -> (outcomes: [MachineOutcome], failures: [Diagnostic]) {
        var (outcomes, failures) = await register(sources, with: checker, fingerprints: fingerprints)
        let records = outcomes.compactMap(\.record)
        let parsed = Dictionary(outcomes.compactMap { o in o.record.map { ($0.name, o.machine.parsed) } }, uniquingKeysWith: { a, _ in a })
        let checks = await checker.check(records, force: true, detail: detail, parsed: parsed)
        var byName: [String: MachineCheck] = [:]
        for c in checks {
            byName[c.machine.name] = c
            events?.yield(.checked(c))
        }
        for i in outcomes.indices { if let r = outcomes[i].record { outcomes[i].check = byName[r.name] } }
        return (outcomes, failures)
    }
}
