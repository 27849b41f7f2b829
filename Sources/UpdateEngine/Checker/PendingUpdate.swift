/// How much an update matters. Debian: from the archive the candidate comes from (the paper's first
/// approach); rpm: from the `updateinfo.xml` advisory that ships it.
public enum Significance: String, Sendable, Codable, CaseIterable, Comparable {
    case security, updates, backports, bugfix, enhancement, normal

    /// Most significant first.
    public static func < (a: Significance, b: Significance) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!  // internal: every case is in allCases
    }
}

/// One installed package whose candidate version is newer than the installed one — or, for installonly
/// packages such as kernels, a newer version available for installation beside it.
public struct PendingUpdate: Sendable, Hashable, Codable {
    public var name: String
    public var arch: String
    /// Installed version, canonical (dpkg `${Version}`; rpm `[E:]V-R`).
    public var installed: String
    /// The version the package manager would install.
    public var candidate: String
    /// Where the candidate comes from (apt: `URI SUITE/COMPONENT`; dnf: the repository id).
    public var repository: String
    public var significance: Significance
    /// rpm advisories: Critical/Important/Moderate/Low.
    public var severity: String?
    /// Advisory ids (`RHSA-…`, `DSA-…`) and CVE ids, where known.
    public var advisories: [String]
    /// Why this candidate: the priorities, pins, module and exclude rules that decided.
    public var reason: String
    /// True for installonly packages (a new kernel is installed beside the old one, not upgraded).
    public var installOnly: Bool

    public init(name: String, arch: String, installed: String, candidate: String, repository: String,
                significance: Significance, severity: String? = nil, advisories: [String] = [], reason: String,
                installOnly: Bool = false) {
        self.name = name
        self.arch = arch
        self.installed = installed
        self.candidate = candidate
        self.repository = repository
        self.significance = significance
        self.severity = severity
        self.advisories = advisories
        self.reason = reason
        self.installOnly = installOnly
    }
}
