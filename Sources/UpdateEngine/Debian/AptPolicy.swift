/// One index file as apt's policy sees it (`pkgCache::PkgFile`): a repository index or the dpkg status file.
struct AptPolicyFile: Sendable {
    var key: AptRepositoryKey?
    /// nil for the status file.
    var release: AptRelease?
    var site: String
    var component: String
    var architecture: String
    /// The file's priority after defaults (`PFPriority`).
    var priority: Int
    /// Why it has that priority.
    var priorityReason: String

    var isStatus: Bool { release == nil }
    var label: String { key?.description ?? "/var/lib/dpkg/status" }
}

/// Every version apt offers for one package, with the priority each gets and where it comes from —
/// what `apt-cache policy PACKAGE` shows — and which one is the candidate and why.
public struct AptPolicyExplanation: Sendable, Hashable {
    public struct Source: Sendable, Hashable {
        /// `URI SUITE/COMPONENT ARCH`, or `/var/lib/dpkg/status`.
        public var repository: String
        /// The file's priority.
        public var priority: Int
        public var why: String
    }
    public struct Offer: Sendable, Hashable {
        public var version: String
        /// The version's priority (what `apt-cache policy` prints before the sources).
        public var priority: Int
        /// The pin that set it, if a package pin did.
        public var pin: String?
        public var sources: [Source]
        public var isInstalled: Bool
    }

    public var name: String
    public var arch: String
    public var installed: String?
    public var candidate: String?
    /// Highest version first.
    public var offers: [Offer]
    /// Why the candidate won (or why there is none).
    public var reason: String
}

/// The versions a machine's loaded indexes offer, per `name:arch`, each with the indices (in
/// `AptIndexes.repositories`) of the indexes that offer it: the part of apt's cache that pins do not change.
/// Machines that load the same indexes for the same architectures share one (see ``AptIndexCache``).
public struct AptOffers: Sendable {
    typealias Offered = [(version: DebianVersion, source: String, files: [Int])]
    /// By package name, then architecture.
    var versions: [String: [String: Offered]] = [:]

    public init(indexes: AptIndexes, nativeArchitecture native: String, architectures: [String]) {
        var byKey: [String: [DebianVersion: Int]] = [:]
        for (fileIndex, repo) in indexes.repositories.enumerated() {
            for r in repo.packages {
                let arch = r.architecture == "all" ? native : r.architecture
                guard architectures.contains(arch) else { continue }
                let k = r.name + ":" + arch
                if let at = byKey[k]?[r.version] {
                    if !versions[r.name, default: [:]][arch, default: []][at].files.contains(fileIndex) {
                        versions[r.name]?[arch]?[at].files.append(fileIndex)
                    }
                } else {
                    byKey[k, default: [:]][r.version] = versions[r.name]?[arch]?.count ?? 0
                    versions[r.name, default: [:]][arch, default: []].append((r.version, r.sourceName, [fileIndex]))
                }
            }
        }
    }

    func offered(_ name: String, arch: String) -> Offered { versions[name]?[arch] ?? [] }

    /// What identifies the offers of `indexes` for these architectures.
    static func key(_ indexes: AptIndexes, nativeArchitecture: String, architectures: [String]) -> String {
        ([nativeArchitecture, architectures.joined(separator: ",")]
            + indexes.repositories.map { "\($0.key.description) \($0.indexSHA256)" }).joined(separator: "\n")
    }
}

/// apt's candidate selection (`pkgPolicy`, apt 2.6) over a machine's configuration and loaded indexes.
///
/// File priorities: 500 by default, 100 for the status file and for `NotAutomatic: yes` +
/// `ButAutomaticUpgrades: yes` archives, 1 for `NotAutomatic: yes` alone; then `APT::Default-Release` (990)
/// and `Package: *` pins, the first that matches a file winning. A package pin (`Package: name`, glob,
/// `/regex/`, `src:name`, `name:arch`) gives the versions it matches its priority, the first matching pin
/// winning; `src:name` reaches every version built from that source (for the installed version, the one
/// the status file's `Source:` names), and its `Pin: version` is matched against the binary version, as in
/// apt 2.6 (`Pin: source-version` came in 2.9.9). The candidate is the version of highest priority (ties:
/// the highest version) among those with non-zero priority, never lower than the installed version unless
/// its priority is ≥ 1000.
/// Packages are per architecture; `Architecture: all` belongs to the native architecture.
public struct AptPolicy: Sendable {
    public let config: AptMachineConfig
    var files: [AptPolicyFile] = []
    /// The versions and the file indices that offer each.
    let offers: AptOffers
    let statusFile: Int
    let matchers: [AptPinMatcher]

    public init(config: AptMachineConfig, indexes: AptIndexes, offers: AptOffers? = nil) {
        self.config = config
        var files: [AptPolicyFile] = []
        for repo in indexes.repositories {
            var priority = 500
            var why = "default priority 500"
            if repo.release.notAutomatic && repo.release.butAutomaticUpgrades {
                priority = 100; why = "NotAutomatic: yes + ButAutomaticUpgrades: yes gives 100"
            } else if repo.release.notAutomatic {
                priority = 1; why = "NotAutomatic: yes gives 1"
            }
            files.append(AptPolicyFile(key: repo.key, release: repo.release, site: repo.key.site, component: repo.key.component,
                                       architecture: repo.key.architecture, priority: priority, priorityReason: why))
        }
        self.offers = offers ?? AptOffers(indexes: indexes, nativeArchitecture: config.nativeArchitecture,
                                          architectures: config.architectures)
        statusFile = files.count
        files.append(AptPolicyFile(key: nil, release: nil, site: "", component: "now", architecture: "", priority: 100,
                                   priorityReason: "the dpkg status file has 100"))
        self.matchers = config.preferences.pins.map(AptPinMatcher.init)

        // Default pins: APT::Default-Release (990) first, then `Package: *` pins in file order.
        var defaults: [(AptPinMatcher, Int, String)] = []
        if let rel = config.defaultRelease {
            let m = AptPinMatcher(kind: .release, data: rel)
            let found = files.contains { f in
                guard let r = f.release else { return false }
                return AptPinMatcher.expressionMatches(rel, r.suite) || AptPinMatcher.expressionMatches(rel, r.codename)
                    || AptPinMatcher.expressionMatches(rel, r.version)
            } || (rel.utf8.count > 2 && Array(rel.utf8)[1] == UInt8(ascii: "="))
            if found { defaults.append((m, 990, "APT::Default-Release \"\(rel)\" gives 990")) }
        }
        for (i, pin) in config.preferences.pins.enumerated() where pin.packages.isEmpty {
            defaults.append((matchers[i], pin.priority, "pin \(pin.description)"))
        }
        var fixed = [Bool](repeating: false, count: files.count)
        for (m, priority, why) in defaults {
            for i in files.indices where (!fixed[i] || priority == AptPin.never) && files[i].priority != AptPin.never && m.matches(files[i]) {
                files[i].priority = priority
                files[i].priorityReason = why
                fixed[i] = true
            }
        }
        self.files = files
    }

    // MARK: Queries

    /// The pending updates of the installed packages: those whose candidate is newer than the installed version.
    ///
    /// Installed means dpkg knows a current version (every state except `not-installed` and
    /// `config-files`), as apt reads the status file. Held packages are listed (apt lists them as
    /// upgradable too; `apt upgrade` then keeps them back) with "held" in the reason. Each update carries
    /// the installed version's architecture, `all` included, as `apt list --upgradable` prints it; the
    /// policy itself files `all` under the native architecture.
    public func upgrades(for installed: DpkgStatus) -> [PendingUpdate] {
        var out: [PendingUpdate] = []
        for e in installed.entries {
            guard let current = e.version, e.status.state != .notInstalled, e.status.state != .configFiles else { continue }
            let arch = policyArchitecture(e.architecture)
            // A package no repository offers has only its installed version: never an upgrade, whatever the pins.
            guard !offers.offered(e.name, arch: arch).isEmpty else { continue }
            // Most installed packages have no newer candidate: their explanation is never written out.
            let (evaluated, chosen, skippedLower) = evaluate(name: e.name, arch: arch, installed: current, installedSource: e.sourceName)
            guard let cand = chosen, DebianVersion.compare(cand.version, current) > 0 else { continue }
            let (repository, significance) = describe(cand.files)
            var reason = explain(name: e.name, arch: arch, installed: current, evaluated: evaluated, chosen: chosen,
                                 skippedLower: skippedLower).reason
            if e.status.want == .hold { reason += " The package is held (dpkg hold): apt upgrade keeps it back." }
            out.append(PendingUpdate(name: e.name, arch: e.architecture.isEmpty ? arch : e.architecture,
                                     installed: current.dpkgDescription, candidate: cand.version.description, repository: repository,
                                     significance: significance, reason: reason))
        }
        return out.sorted { ($0.name, $0.arch) < ($1.name, $1.arch) }
    }

    /// Every version of `package` (for architecture `arch`, default native; `all` means native, as for
    /// `apt-cache policy name:all`), its priority and sources, and the candidate — like `apt-cache policy`.
    /// `installed` is the installed version, if any, built from the source package `installedSource`
    /// (default: the package's own name).
    public func explain(package: String, arch: String?, installed: DebianVersion? = nil,
                        installedSource: String? = nil) -> AptPolicyExplanation {
        explanation(name: package, arch: policyArchitecture(arch), installed: installed, installedSource: installedSource).explanation
    }

    /// `explain` with the installed version (and its source package) taken from a status database.
    public func explain(package: String, arch: String?, status: DpkgStatus) -> AptPolicyExplanation {
        let a = policyArchitecture(arch)
        let current = status.entries.first { e in
            e.name == package && e.status.state != .notInstalled && e.status.state != .configFiles
                && (e.architecture == a || ((e.architecture == "all" || e.architecture.isEmpty) && a == config.nativeArchitecture))
        }
        return explanation(name: package, arch: a, installed: current?.version, installedSource: current?.sourceName).explanation
    }

    /// The architecture of the package apt files versions under: `all` (and no architecture) is native.
    private func policyArchitecture(_ arch: String?) -> String {
        guard let arch, arch != "all", !arch.isEmpty else { return config.nativeArchitecture }
        return arch
    }

    // MARK: The algorithm

    private struct Evaluated {
        var version: DebianVersion
        var files: [Int]
        var priority: Int
        var pin: Int?
    }

    /// `installedSource` is the status file's `Source:` name of the installed version: apt files that version
    /// under it, so a `src:` pin reaches it even when no repository offers it any more.
    private func explanation(name: String, arch: String, installed: DebianVersion?,
                             installedSource: String?) -> (explanation: AptPolicyExplanation, chosen: Evaluated?) {
        let (evaluated, chosen, skippedLower) = evaluate(name: name, arch: arch, installed: installed, installedSource: installedSource)
        return (explain(name: name, arch: arch, installed: installed, evaluated: evaluated, chosen: chosen, skippedLower: skippedLower), chosen)
    }

    /// Every version with its priority, highest version first, and apt's candidate (`GetCandidateVer`).
    private func evaluate(name: String, arch: String, installed: DebianVersion?,
                          installedSource: String?) -> (evaluated: [Evaluated], chosen: Evaluated?, skippedLower: Bool) {
        var list = offers.offered(name, arch: arch)
        if let installed {
            if let i = list.firstIndex(where: { $0.version == installed }) {
                list[i].files.append(statusFile)
            } else {
                list.append((installed, installedSource ?? name, [statusFile]))
            }
        }
        list.sort { DebianVersion.compare($0.version, $1.version) > 0 }
        var evaluated: [Evaluated] = []
        for v in list {
            let isCurrent = installed.map { $0 == v.version } ?? false
            var pinIndex: Int?
            for (i, pin) in config.preferences.pins.enumerated() where !pin.packages.isEmpty {
                guard pin.packages.contains(where: { appliesTo($0, name: name, arch: arch, source: v.source) }) else { continue }
                let m = matchers[i]
                let hit = pin.kind == .version ? m.matchesVersion(v.version.description)
                    : v.files.contains { m.matches(files[$0]) }
                if hit { pinIndex = i; break }
            }
            var priority: Int?
            if let p = pinIndex {
                let pin = config.preferences.pins[p]
                if pin.isNever || v.files.contains(where: { files[$0].priority != AptPin.never }) { priority = pin.priority }
            }
            if priority == nil {
                var best = Int.min
                for f in v.files {
                    best = max(best, files[f].isStatus && !isCurrent ? -1 : files[f].priority)
                }
                priority = best == Int.min ? 0 : best
                pinIndex = nil
            }
            evaluated.append(Evaluated(version: v.version, files: v.files, priority: priority ?? 0, pin: pinIndex))
        }

        // GetCandidateVer.
        var chosen: Evaluated?
        var candPriority = -1
        var skippedLower = false
        for e in evaluated {
            if e.priority == 0 || e.priority <= candPriority { continue }
            if let installed, e.priority < 1000, DebianVersion.compare(e.version, installed) < 0 { skippedLower = true; continue }
            candPriority = e.priority
            chosen = e
        }
        return (evaluated, chosen, skippedLower)
    }

    /// The `apt-cache policy` view of an evaluation, with the reason its candidate won.
    private func explain(name: String, arch: String, installed: DebianVersion?, evaluated: [Evaluated], chosen: Evaluated?,
                         skippedLower: Bool) -> AptPolicyExplanation {
        let offers = evaluated.map { e in
            AptPolicyExplanation.Offer(
                version: e.version.description, priority: e.priority,
                pin: e.pin.map { config.preferences.pins[$0].description },
                sources: e.files.map { f in
                    AptPolicyExplanation.Source(repository: files[f].label, priority: files[f].priority, why: files[f].priorityReason)
                },
                isInstalled: installed.map { $0 == e.version } ?? false)
        }
        var reason: String
        if let c = chosen {
            let best = c.files.max { files[$0].priority < files[$1].priority } ?? statusFile
            let isInstalledVersion = installed.map { $0 == c.version } ?? false
            if let p = c.pin {
                reason = "Candidate \(c.version) has priority \(c.priority) from \(config.preferences.pins[p].description)."
            } else if isInstalledVersion && c.files.allSatisfy({ $0 == statusFile }) {
                reason = "The installed version \(c.version) stays the candidate (priority \(c.priority)): no repository offers a version that wins."
            } else {
                reason = "Candidate \(c.version) has priority \(c.priority) from \(files[best].label) (\(files[best].priorityReason))."
            }
            let beaten = evaluated.filter { $0.version != c.version && $0.priority > 0 }
            if let higher = beaten.first(where: { DebianVersion.compare($0.version, c.version) > 0 }) {
                reason += " The higher version \(higher.version) loses with priority \(higher.priority)."
            }
            if skippedLower { reason += " Lower versions are not taken (no downgrade below priority 1000)." }
            if let installed, DebianVersion.compare(c.version, installed) < 0 {
                reason += " A priority of 1000 or more allows this downgrade from \(installed)."
            }
        } else if evaluated.isEmpty {
            reason = "No repository offers \(name) for \(arch)."
        } else {
            reason = "No version has a usable priority (all are 0, negative or lower than the installed version)."
        }
        return AptPolicyExplanation(name: name, arch: arch, installed: installed?.description, candidate: chosen?.version.description,
                                    offers: offers, reason: reason)
    }

    /// Whether one word of a `Package:` line names this package (apt's `CreatePin`).
    private func appliesTo(_ spec: String, name: String, arch: String, source: String) -> Bool {
        var s = Substring(spec)
        let isSource = s.hasPrefix("src:")
        if isSource { s = s.dropFirst(4) }
        var pinArch = ""
        if let colon = s.lastIndex(of: ":") {
            pinArch = String(s[s.index(after: colon)...])
            s = s[..<colon]
        }
        let matchingArch = pinArch.isEmpty ? config.nativeArchitecture : pinArch
        guard matchingArch == "any" || matchingArch == arch || AptPinMatcher.expressionMatches(matchingArch, arch) else { return false }
        let target = isSource ? source : name
        let pattern = String(s)
        if AptPinMatcher.isPattern(pattern) { return pattern != target && AptPinMatcher.expressionMatches(pattern, target) }
        return pattern == target
    }

    /// The repository to report and the update's significance: the most significant archive offering it.
    private func describe(_ fileIndices: [Int]) -> (String, Significance) {
        var best: (String, Significance)?
        for f in fileIndices where !files[f].isStatus {
            let s = Self.significance(of: files[f].release)
            if let b = best, !(s < b.1) { continue }
            best = (files[f].label, s)
        }
        return best ?? ("/var/lib/dpkg/status", .normal)
    }

    /// The paper's first approach: the archive tells how much an update matters.
    public static func significance(of release: AptRelease?) -> Significance {
        guard let r = release else { return .normal }
        let names = [r.suite, r.codename].compactMap { $0?.lowercased() }
        if r.label == "Debian-Security" || names.contains(where: { $0.hasSuffix("-security") }) { return .security }
        if names.contains(where: { $0.hasSuffix("-updates") }) { return .updates }
        if names.contains(where: { $0.hasSuffix("-backports") }) || (r.notAutomatic && r.butAutomaticUpgrades) { return .backports }
        return .normal
    }
}
