#if canImport(Glibc)
import Glibc
#endif

/// Why a repository package is, or is not, a candidate.
public enum DnfVisibility: Sendable, Hashable, CustomStringConvertible {
    case visible
    /// `excludepkgs=` of `[main]` matched (pattern).
    case excludedByMain(String)
    /// `excludepkgs=` of its repository matched (pattern).
    case excludedByRepository(String)
    /// Its repository has `includepkgs=` and none matched.
    case notIncluded
    /// It belongs to a module stream that is not active (`name:stream`).
    case inactiveModule(String)
    /// It is not part of the active stream (`name:stream`) of a module that ships a package of this name.
    case replacedByModule(String)

    public var description: String {
        switch self {
        case .visible: "visible"
        case .excludedByMain(let p): "excluded by [main] excludepkgs=\(p)"
        case .excludedByRepository(let p): "excluded by the repository's excludepkgs=\(p)"
        case .notIncluded: "not matched by the repository's includepkgs="
        case .inactiveModule(let s): "hidden: belongs to module stream \(s), which is not enabled or default"
        case .replacedByModule(let s): "hidden: module stream \(s) is active and does not contain this build"
        }
    }
}

/// One version of a package offered by a repository, with the verdict on it.
public struct DnfOffer: Sendable, Hashable {
    public var package: RepoPackage
    public var repository: String
    public var priority: Int
    public var cost: Int
    public var visibility: DnfVisibility
}

/// What `explain` tells about one name (and arch): every version offered, and why the candidate won.
public struct DnfExplanation: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var arch: String?
    /// Installed versions (`name-EVR.arch`).
    public var installed: [String]
    /// Every version offered, highest first.
    public var offers: [DnfOffer]
    /// The candidate (`name-EVR.arch`) and its repository, nil when there is none.
    public var candidate: String?
    public var candidateRepository: String?
    /// Why, in one sentence.
    public var reason: String

    public var description: String {
        var lines = ["\(name)\(arch.map { "." + $0 } ?? ""): \(reason)"]
        lines += installed.map { "  installed  \($0)" }
        for o in offers {
            let mark = o.package.nevra == candidate && o.repository == candidateRepository ? "* " : "  "
            lines.append("\(mark)\(o.package.nevra)  \(o.repository) (priority \(o.priority), cost \(o.cost))  \(o.visibility)")
        }
        return lines.joined(separator: "\n")
    }
}

/// Chooses update candidates the way dnf 4 (libdnf 0.69) does for `dnf check-update`.
///
/// 1. Visibility: `[main]` and per-repository `excludepkgs`, `includepkgs`, then modular filtering —
///    packages listed as artifacts of module streams that are not active are hidden, and so are packages
///    named like an active stream's packages but not part of it; repositories with `module_hotfixes=true`
///    are exempt. A stream is active when `/etc/dnf/modules.d` enables it, or when the module has no state
///    and the metadata names it as the default (and, transitively, the streams an active one requires).
/// 2. Per `name.arch`, only the packages of the best-priority (lowest `priority=`) repositories count.
/// 3. A package upgrades the installed ones of the same name whose arch is the same (or either is
///    `noarch`) when it is newer than every one of them; the highest such per `name.arch` is the candidate.
/// 4. Installonly packages (`installonlypkgs`, by name or provide) are reported as newer versions available
///    for installation beside the installed ones (`installOnly: true`).
/// Significance comes from `updateinfo`: the advisories of the candidate's name.arch that are newer than the
/// installed version and not newer than the candidate.
public struct DnfPolicy: Sendable {
    public let config: DnfMachineConfig
    /// Every offer of every loaded repository, verdicts included, by name.
    let offersByName: [String: [DnfOffer]]
    let advisories: [Advisory]
    let activeStreams: Set<String>

    public init(config: DnfMachineConfig, indexes: DnfIndexes) {
        self.config = config
        let loaded = indexes.repositories.compactMap { load in load.index.map { (load.repository, $0) } }

        // Module streams and which are active.
        var streamsByName: [String: [ModuleStream]] = [:]
        var defaults: [String: String] = [:]
        for (_, index) in loaded {
            for s in index.modules.streams { streamsByName[s.name, default: []].append(s) }
            for (m, d) in index.modules.defaults { if let s = d.stream, defaults[m] == nil { defaults[m] = s } }
        }
        var active = Set<String>()
        var pending: [String] = []
        for module in streamsByName.keys.sorted() {
            let state = config.modules[module]
            switch state?.state {
            case .enabled?: if let s = state?.stream ?? defaults[module] { pending.append("\(module):\(s)") }
            case .disabled?: break
            case .default?, nil: if let s = defaults[module] { pending.append("\(module):\(s)") }
            }
        }
        while let ns = pending.popLast() {
            guard active.insert(ns).inserted else { continue }
            let name = String(ns.prefix(while: { $0 != ":" }))
            for stream in streamsByName[name] ?? [] where stream.nameStream == ns {
                for (dep, streams) in stream.requires where dep != "platform" && streams.count == 1 {
                    if config.modules[dep]?.state != .disabled { pending.append("\(dep):\(streams[0])") }
                }
            }
        }
        activeStreams = active
        var include: [String: String] = [:]   // artifact → active stream
        var exclude: [String: String] = [:]   // artifact → inactive stream
        var activeNames: [String: String] = [:]
        for streams in streamsByName.values {
            for s in streams {
                let isActive = active.contains(s.nameStream)
                for artifact in s.artifacts {
                    if isActive {
                        include[artifact] = s.nameStream
                        if !artifact.hasSuffix(".src") && !artifact.hasSuffix(".nosrc"), let name = Self.artifactName(artifact) {
                            activeNames[name] = s.nameStream
                        }
                    } else if exclude[artifact] == nil {
                        exclude[artifact] = s.nameStream
                    }
                }
            }
        }

        // Verdicts.
        var byName: [String: [DnfOffer]] = [:]
        var advisories: [Advisory] = []
        for (repo, index) in loaded {
            advisories += index.advisories
            for p in index.packages where p.arch != "src" && p.arch != "nosrc" {
                var visibility = DnfVisibility.visible
                if let pattern = Self.firstMatch(config.main.excludePackages, p) {
                    visibility = .excludedByMain(pattern)
                } else if let pattern = Self.firstMatch(repo.excludePackages, p) {
                    visibility = .excludedByRepository(pattern)
                } else if !repo.includePackages.isEmpty && Self.firstMatch(repo.includePackages, p) == nil {
                    visibility = .notIncluded
                } else if !repo.moduleHotfixes {
                    let key = ModuleMetadata.artifactKey(name: p.name, evr: p.evr, arch: p.arch)
                    if include[key] == nil {
                        if let s = exclude[key] { visibility = .inactiveModule(s) }
                        else if let s = activeNames[p.name] { visibility = .replacedByModule(s) }
                    }
                }
                byName[p.name, default: []].append(DnfOffer(package: p, repository: repo.id, priority: repo.priority,
                                                             cost: repo.cost, visibility: visibility))
            }
        }
        offersByName = byName
        self.advisories = advisories
    }

    /// The pending updates of the installed packages (gpg-pubkey entries ignored), sorted by name and arch.
    public func upgrades(for installed: [RPMPackageHeader]) -> [PendingUpdate] {
        var installedByName: [String: [RPMPackageHeader]] = [:]
        for h in installed where h.isPackage {
            let p = RepoPackage(name: h.name, arch: h.arch ?? "", evr: h.evr)
            if Self.firstMatch(config.main.excludePackages, p) != nil { continue }  // [main] excludes hide installed packages too
            installedByName[h.name, default: []].append(h)
        }
        var result: [PendingUpdate] = []
        for name in installedByName.keys.sorted() {
            let have = installedByName[name] ?? []
            for (arch, decision) in decide(name: name, installed: have).sorted(by: { $0.key < $1.key }) {
                guard let winner = decision.winner else { continue }
                let compatible = have.filter { Self.archCompatible($0.arch ?? "", arch) }
                guard let newestInstalled = compatible.max(by: { $0.evr < $1.evr }) else { continue }
                let installOnly = isInstallOnly(have) || winner.package.provides.contains(where: config.main.installOnlyPackages.contains)
                let (significance, severity, ids) = significanceOf(name: name, arch: arch, from: newestInstalled.evr, to: winner.package.evr)
                var reason = decision.reason
                if installOnly {
                    reason = "installonly package: \(winner.package.nevra) would be installed beside \(compatible.count) installed version(s), not replace them; " + reason
                }
                result.append(PendingUpdate(name: name, arch: arch, installed: Self.display(newestInstalled.evr),
                                            candidate: Self.display(winner.package.evr), repository: winner.repository,
                                            significance: significance, severity: severity, advisories: ids,
                                            reason: reason, installOnly: installOnly))
            }
        }
        return result
    }

    /// Every version offered for `name` (optionally one arch), its verdict, and why the candidate won —
    /// like `dnf repoquery --show-duplicates` with reasons.
    public func explain(name: String, arch: String? = nil, installed: [RPMPackageHeader] = []) -> DnfExplanation {
        let have = installed.filter { $0.isPackage && $0.name == name }
        var offers = (offersByName[name] ?? []).filter { arch == nil || $0.package.arch == arch }
        offers.sort { a, b in a.package.evr != b.package.evr ? a.package.evr > b.package.evr : a.priority < b.priority }
        let decisions = decide(name: name, installed: have)
        let chosen = arch.flatMap { decisions[$0] } ?? decisions.values.first { $0.winner != nil } ?? decisions.values.first
        return DnfExplanation(name: name, arch: arch, installed: have.map { "\($0.name)-\(Self.display($0.evr)).\($0.arch ?? "")" },
                              offers: offers, candidate: chosen?.winner?.package.nevra, candidateRepository: chosen?.winner?.repository,
                              reason: chosen?.reason ?? (offers.isEmpty ? "no repository offers it" : "nothing newer than the installed version"))
    }

    /// The per-arch decision for one name: the winning offer (if any) and why.
    struct Decision { var winner: DnfOffer?; var reason: String }

    func decide(name: String, installed: [RPMPackageHeader]) -> [String: Decision] {
        let offers = offersByName[name] ?? []
        var byArch: [String: [DnfOffer]] = [:]
        for o in offers { byArch[o.package.arch, default: []].append(o) }
        var out: [String: Decision] = [:]
        for (arch, group) in byArch {
            let visible = group.filter { $0.visibility == .visible }
            let hidden = group.count - visible.count
            var notes: [String] = []
            if hidden > 0 {
                let kinds = Set(group.filter { $0.visibility != .visible }.map(\.visibility.description)).sorted()
                notes.append("\(hidden) of \(group.count) offered version(s) hidden (\(kinds.joined(separator: "; ")))")
            }
            guard let best = visible.map(\.priority).min() else {
                out[arch] = Decision(winner: nil, reason: notes.isEmpty ? "no repository offers \(name).\(arch)" : notes.joined(separator: "; "))
                continue
            }
            let top = visible.filter { $0.priority == best }
            if top.count < visible.count {
                let repos = Set(visible.filter { $0.priority != best }.map(\.repository)).sorted()
                notes.append("repositories \(repos.joined(separator: ", ")) ignored for \(name).\(arch): priority above \(best)")
            }
            let compatible = installed.filter { Self.archCompatible($0.arch ?? "", arch) }
            guard let newestInstalled = compatible.max(by: { $0.evr < $1.evr }) else {
                out[arch] = Decision(winner: nil, reason: "no installed \(name) of a compatible arch")
                continue
            }
            let upgrades = top.filter { $0.package.evr > newestInstalled.evr }
            guard let maxEVR = upgrades.map(\.package.evr).max() else {
                out[arch] = Decision(winner: nil, reason: (["installed \(Self.display(newestInstalled.evr)) is the newest of \(top.count) visible version(s)"] + notes).joined(separator: "; "))
                continue
            }
            // Among equal versions, the cheapest repository (then configuration order) provides it.
            let winner = upgrades.filter { $0.package.evr == maxEVR }.min { $0.cost < $1.cost } ?? upgrades[0]
            let text = "highest of \(top.count) visible version(s) of \(name).\(arch) in priority-\(best) repositories, newer than installed \(Self.display(newestInstalled.evr))"
            out[arch] = Decision(winner: winner, reason: ([text] + notes).joined(separator: "; "))
        }
        return out
    }

    func isInstallOnly(_ headers: [RPMPackageHeader]) -> Bool {
        let list = Set(config.main.installOnlyPackages)
        return headers.contains { h in list.contains(h.name) || h.provides.contains { list.contains($0.name) } }
    }

    func significanceOf(name: String, arch: String, from installed: RPMEVR, to candidate: RPMEVR) -> (Significance, String?, [String]) {
        var best: (Significance, Int, String?)?
        var ids: [String] = []
        for a in advisories {
            guard a.packages.contains(where: { $0.name == name && ($0.arch == arch || $0.arch.isEmpty) && $0.evr > installed && !($0.evr > candidate) })
            else { continue }
            ids.append(a.id)
            for cve in a.cves where !ids.contains(cve) { ids.append(cve) }
            let sig: Significance
            switch a.type {
            case "security": sig = .security
            case "bugfix": sig = .bugfix
            case "enhancement": sig = .enhancement
            default: sig = .normal
            }
            let rank = Self.severityRank(a.severity)
            if let b = best, !(sig < b.0 || (sig == b.0 && rank > b.1)) { continue }
            best = (sig, rank, a.severity)
        }
        guard let best else { return (.normal, nil, []) }
        return (best.0, best.0 == .security ? best.2.map(Self.capitalized) : nil, ids)
    }

    static func severityRank(_ s: String?) -> Int {
        switch s?.lowercased() {
        case "critical": 4
        case "important": 3
        case "moderate": 2
        case "low": 1
        default: 0
        }
    }

    static func capitalized(_ s: String) -> String { s.prefix(1).uppercased() + s.dropFirst().lowercased() }

    /// dnf's arch rule for upgrades: the same arch, or either side `noarch`.
    static func archCompatible(_ installed: String, _ offered: String) -> Bool {
        installed == offered || installed == "noarch" || offered == "noarch"
    }

    /// `[E:]V-R` as dnf prints it: the epoch only when not 0.
    static func display(_ evr: RPMEVR) -> String {
        RPMEVR(epoch: evr.epoch == 0 ? nil : evr.epoch, version: evr.version, release: evr.release).description
    }

    /// The name part of a `name-epoch:version-release.arch` artifact.
    static func artifactName(_ artifact: String) -> String? {
        guard let colon = artifact.firstIndex(of: ":") else { return nil }
        let head = artifact[..<colon]
        guard let dash = head.lastIndex(of: "-") else { return nil }
        return String(head[..<dash])
    }

    /// The first pattern that matches `p` the way dnf's `Subject(pattern).get_best_query(with_nevra)` does:
    /// a glob over name, name.arch, name-version, name-version-release, name-version-release.arch,
    /// name-epoch:version-release.arch.
    static func firstMatch(_ patterns: [String], _ p: RepoPackage) -> String? {
        guard !patterns.isEmpty else { return nil }
        let v = p.evr.version, r = p.evr.release ?? ""
        let forms = [p.name, "\(p.name).\(p.arch)", "\(p.name)-\(v)", "\(p.name)-\(v)-\(r)", "\(p.name)-\(v)-\(r).\(p.arch)",
                     "\(p.name)-\(p.evr.epoch ?? 0):\(v)-\(r).\(p.arch)", "\(p.name)-\(p.evr.epoch ?? 0):\(v)-\(r)"]
        return patterns.first { pattern in forms.contains { fnmatch(pattern, $0, 0) == 0 } }
    }
}
