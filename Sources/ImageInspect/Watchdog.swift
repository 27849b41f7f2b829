import Foundation
import Synchronization

/// Time limits for blocking appliance calls: when a call overruns, the appliance's qemu is killed,
/// which makes the blocked libguestfs call return with an error that is then reported as a timeout.
enum Watchdog {
    static func run<T>(seconds: Double, image: String, what: String,
                       kill: @escaping @Sendable () -> Void, _ body: () throws -> T) throws -> T {
        let fired = Atomic<Bool>(false)
        // Once the limit has passed, kill again every second until the call returns: a qemu that was not
        // yet started when the limit passed is stopped as soon as it appears.
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue.global())
        timer.schedule(deadline: .now() + seconds, repeating: 1.0)
        timer.setEventHandler {
            fired.store(true, ordering: .sequentiallyConsistent)
            kill()
        }
        timer.resume()
        defer { timer.cancel() }
        do {
            let value = try body()
            if fired.load(ordering: .sequentiallyConsistent) { throw timeout(seconds, image, what) }
            return value
        } catch {
            if fired.load(ordering: .sequentiallyConsistent) { throw timeout(seconds, image, what) }
            throw error
        }
    }

    private static func timeout(_ seconds: Double, _ image: String, _ what: String) -> ImageInspectError {
        ImageInspectError(.timeout, image: image, "\(what) did not finish within \(Int(seconds)) s; the appliance was stopped.")
    }

    /// Kills this process's own children whose command line has an argument inside `directory` — a
    /// handle's private temporary directory, which its qemu names (its overlays) before `guestfs_get_pid`
    /// can tell the pid. Nothing else is ever touched: not another process's child, not a child whose
    /// command line merely contains the same characters.
    static func killChildren(using directory: String) {
        let prefix = directory.hasSuffix("/") ? directory : directory + "/"
        for pid in children(of: getpid()) {
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { continue }
            let arguments = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            if arguments.contains(where: { $0.contains(prefix) }) { Foundation.kill(pid, SIGKILL) }
        }
    }

    /// The pids whose parent is `parent`, from `/proc/PID/stat` (field 4; the command name in field 2 is
    /// parenthesised and may itself contain spaces or parentheses, so fields are counted after the last `)`).
    static func children(of parent: Int32) -> [Int32] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        var out: [Int32] = []
        for entry in entries {
            guard let pid = Int32(entry), pid != parent,
                  let data = FileManager.default.contents(atPath: "/proc/\(entry)/stat"),
                  let close = data.lastIndex(of: UInt8(ascii: ")")) else { continue }
            let fields = data[data.index(after: close)...].split(separator: UInt8(ascii: " "))
            // After ")": state, ppid, …
            if fields.count > 1, Int32(String(decoding: fields[1], as: UTF8.self)) == parent { out.append(pid) }
        }
        return out
    }
}
