/// Risk levels of the unified scan report (the paper's summary counts findings per level).
public enum Risk: String, Sendable, Codable, CaseIterable, Comparable {
    case none, low, medium, high, critical

    public static func < (a: Risk, b: Risk) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}
