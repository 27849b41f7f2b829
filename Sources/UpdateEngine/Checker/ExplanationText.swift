/// `apt-cache policy`-style text for an apt explanation.
extension AptPolicyExplanation: CustomStringConvertible {
    public var description: String {
        var out = "\(name):\(arch)\n  Installed: \(installed ?? "(none)")\n  Candidate: \(candidate ?? "(none)")\n  Version table:\n"
        for offer in offers {
            out += " \(offer.isInstalled ? "***" : "   ") \(offer.version) \(offer.priority)\(offer.pin.map { "  (pinned by \($0))" } ?? "")\n"
            for source in offer.sources {
                out += "        \(source.priority) \(source.repository)  — \(source.why)\n"
            }
        }
        return out + "  Why: \(reason)"
    }
}
