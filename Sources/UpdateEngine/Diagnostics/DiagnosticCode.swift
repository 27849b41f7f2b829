/// A diagnostic's stable code: `domain.what`, documented in the README's table with an example each.
/// Codes are never renamed once released; new ones are added here.
public struct DiagnosticCode: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible, ExpressibleByStringLiteral {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }
    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }

    // Images (ImageInspect).
    public static let imageMissing: DiagnosticCode = "image.missing"
    public static let imageUnreadable: DiagnosticCode = "image.unreadable"
    public static let imageNotAnImage: DiagnosticCode = "image.not-an-image"
    public static let imageUnsupportedFormat: DiagnosticCode = "image.unsupported-format"
    public static let imageBackingFile: DiagnosticCode = "image.backing-file"
    public static let imageNoOS: DiagnosticCode = "image.no-os"
    public static let imageEncrypted: DiagnosticCode = "image.encrypted"
    public static let imageTimeout: DiagnosticCode = "image.timeout"
    public static let imageReadFailed: DiagnosticCode = "image.read-failed"
    public static let applianceFailed: DiagnosticCode = "appliance.failed"
    public static let imageNote: DiagnosticCode = "image.note"

    // A machine and its files.
    public static let machineMissing: DiagnosticCode = "machine.missing"
    public static let machineNotRegistered: DiagnosticCode = "machine.not-registered"
    public static let machineNoPackageDatabase: DiagnosticCode = "machine.no-package-database"
    public static let machineNoRepositories: DiagnosticCode = "machine.no-repositories"
    public static let machineNoPackages: DiagnosticCode = "machine.no-packages"
    public static let fileTooLarge: DiagnosticCode = "file.too-large"
    public static let fileLinkLoop: DiagnosticCode = "file.link-loop"
    public static let fileUnreadable: DiagnosticCode = "file.unreadable"
    public static let fileNote: DiagnosticCode = "file.note"

    // Package databases.
    public static let dpkgStatusMissing: DiagnosticCode = "dpkg.status-missing"
    public static let dpkgStatusInvalid: DiagnosticCode = "dpkg.status-invalid"
    public static let dpkgStatusWarning: DiagnosticCode = "dpkg.status-warning"
    public static let rpmdbInvalid: DiagnosticCode = "rpmdb.invalid"
    public static let rpmdbUnsupported: DiagnosticCode = "rpmdb.unsupported"
    public static let rpmdbTooLarge: DiagnosticCode = "rpmdb.too-large"

    // Package-manager configuration.
    public static let aptSourcesInvalid: DiagnosticCode = "apt.sources-invalid"
    public static let aptConfigInvalid: DiagnosticCode = "apt.config-invalid"
    public static let yumConfigInvalid: DiagnosticCode = "yum.config-invalid"

    // Repositories.
    public static let repoUnreachable: DiagnosticCode = "repo.unreachable"
    public static let repoNotFound: DiagnosticCode = "repo.not-found"
    public static let repoBadSignature: DiagnosticCode = "repo.bad-signature"
    public static let repoNotSigned: DiagnosticCode = "repo.not-signed"
    public static let repoExpired: DiagnosticCode = "repo.expired"
    public static let repoHashMismatch: DiagnosticCode = "repo.hash-mismatch"
    public static let repoMalformed: DiagnosticCode = "repo.malformed"
    public static let repoNoMirror: DiagnosticCode = "repo.no-mirror"
    public static let repoRefusedURL: DiagnosticCode = "repo.refused-url"

    // libvirt (storage pools, the hook's domain).
    public static let libvirtFailed: DiagnosticCode = "libvirt.failed"
    public static let libvirtUnsupportedDisk: DiagnosticCode = "libvirt.unsupported-disk"

    // The store and the rest.
    public static let storeFailed: DiagnosticCode = "store.failed"
    public static let internalError: DiagnosticCode = "internal"

    /// Every code, for the README table and its test.
    public static let all: [DiagnosticCode] = [
        imageMissing, imageUnreadable, imageNotAnImage, imageUnsupportedFormat, imageBackingFile, imageNoOS, imageEncrypted,
        imageTimeout, imageReadFailed, applianceFailed, imageNote,
        machineMissing, machineNotRegistered, machineNoPackageDatabase, machineNoRepositories, machineNoPackages, fileTooLarge, fileLinkLoop, fileUnreadable, fileNote,
        dpkgStatusMissing, dpkgStatusInvalid, dpkgStatusWarning, rpmdbInvalid, rpmdbUnsupported, rpmdbTooLarge,
        aptSourcesInvalid, aptConfigInvalid, yumConfigInvalid,
        repoUnreachable, repoNotFound, repoBadSignature, repoNotSigned, repoExpired, repoHashMismatch, repoMalformed,
        repoNoMirror, repoRefusedURL, libvirtFailed, libvirtUnsupportedDisk, storeFailed, internalError,
    ]
}

// MARK: The parsers' errors, each as its diagnostic

extension AptRepositoryError: DiagnosticConvertible {
    public var diagnosticCode: DiagnosticCode {
        switch code {
        case .fetchFailed: .repoUnreachable
        case .notFound, .missingRelease: .repoNotFound
        case .badSignature: .repoBadSignature
        case .notSigned: .repoNotSigned
        case .expired, .notYetValid: .repoExpired
        case .hashMismatch, .sizeMismatch: .repoHashMismatch
        case .malformedRelease, .malformedIndex, .missingIndexEntry, .decompressionFailed: .repoMalformed
        case .refusedURL: .repoRefusedURL
        }
    }

    public var diagnostic: Diagnostic {
        Diagnostic(diagnosticCode, subject: DiagnosticSubject(line: line, repository: url), detail + ".")
    }
}

extension AptRepositoryFailure: DiagnosticConvertible {
    public var diagnostic: Diagnostic {
        Diagnostic(code, subject: DiagnosticSubject(file: file, line: line, repository: "\(uri) \(suite)\(index.map { " " + $0 } ?? "")"),
                   reason)
    }
}

extension RepodataError: DiagnosticConvertible {
    public var diagnostic: Diagnostic {
        let code: DiagnosticCode = switch self.code {
        case .fetch: .repoUnreachable
        case .notFound: .repoNotFound
        case .checksumMismatch: .repoHashMismatch
        case .malformed, .decompression, .missingMetadata: .repoMalformed
        case .noMirror: .repoNoMirror
        case .refusedURL: .repoRefusedURL
        }
        return Diagnostic(code, subject: DiagnosticSubject(repository: url), detail + ".")
    }
}

extension DnfRepositoryLoad {
    /// The failure of this repository as a diagnostic naming its id, or nil when it loaded.
    public var diagnostic: Diagnostic? {
        guard let error else { return nil }
        var d = error.diagnostic
        d.subject.repository = "[\(repository.id)] " + (d.subject.repository ?? "")
        d.subject.file = repository.file
        d.subject.line = repository.line > 0 ? repository.line : nil
        if skipIfUnavailable { d.severity = .warning }
        return d
    }
}

extension RPMDatabaseError: DiagnosticConvertible {
    public var diagnostic: Diagnostic {
        let code: DiagnosticCode = switch self.code {
        case .unsupported: .rpmdbUnsupported
        case .tooLarge: .rpmdbTooLarge
        default: .rpmdbInvalid
        }
        return Diagnostic(code, subject: DiagnosticSubject(file: database), "\(self)")
    }
}

extension DpkgStatusError: DiagnosticConvertible {
    public var diagnostic: Diagnostic {
        Diagnostic(.dpkgStatusInvalid, subject: DiagnosticSubject(file: file, line: line, package: package), "cannot read the dpkg database: \(message).")
    }
}

extension DpkgStatusWarning {
    public var diagnostic: Diagnostic {
        Diagnostic(.dpkgStatusWarning, .warning, subject: DiagnosticSubject(file: file, line: line, package: package), message + ".")
    }
}

extension AptSourcesDiagnostic: DiagnosticConvertible {
    public var diagnostic: Diagnostic {
        // One type serves sources, preferences and apt.conf (`AptConfigDiagnostic`): the file tells which.
        Diagnostic(file.hasPrefix("/etc/apt/sources.list") ? .aptSourcesInvalid : .aptConfigInvalid, .warning,
                   subject: DiagnosticSubject(file: file, line: line), message.hasSuffix(".") ? message : message + ".")
    }
}

extension IniDiagnostic {
    public var diagnostic: Diagnostic {
        Diagnostic(.yumConfigInvalid, .warning, subject: DiagnosticSubject(file: file, line: line), message)
    }
}

extension MachineFilesError: DiagnosticConvertible {
    public var diagnostic: Diagnostic {
        let code: DiagnosticCode = switch self.code {
        case .tooLarge: .fileTooLarge
        case .linkLoop: .fileLinkLoop
        case .io: .fileUnreadable
        }
        return Diagnostic(code, subject: DiagnosticSubject(machine: machine, file: path), detail + ".")
    }
}

extension SQLiteError: DiagnosticConvertible {
    public var diagnostic: Diagnostic { Diagnostic(.storeFailed, subject: DiagnosticSubject(), "\(self)") }
}

extension StoreError: DiagnosticConvertible {
    public var diagnostic: Diagnostic { Diagnostic(.storeFailed, subject: DiagnosticSubject(file: store), detail) }
}
