import Foundation
import Testing
@testable import UpdateEngine

/// An HTTP fetcher that gives up fast, for tests.
private func quickHTTP(attempts: Int = 3) -> HTTPFetcher {
    HTTPFetcher(options: .init(timeout: .seconds(5), attempts: attempts, backoff: .milliseconds(10)))
}

@Suite("Fetching over HTTP")
struct FetchHTTPTests {
    @Test("A download carries validators, and a conditional request with them is answered 304")
    func conditionalRequest() async throws {
        let server = try FetchTestServer(files: ["dists/Release": "Suite: bookworm\n"])
        defer { server.stop() }
        let http = quickHTTP()
        guard case .content(let bytes, let etag, let lastModified) = try await http.fetch(server.url("dists/Release"), validators: nil) else {
            Issue.record("expected content")
            return
        }
        #expect(bytes == Array("Suite: bookworm\n".utf8))
        #expect(etag != nil && lastModified != nil)
        #expect(try await http.fetch(server.url("dists/Release"), validators: Validators(etag: etag)) == .notModified)
        #expect(try await http.fetch(server.url("dists/Release"), validators: Validators(lastModified: lastModified)) == .notModified)
        #expect(server.requests().map(\.status) == [200, 304, 304])
        #expect(server.requests()[1].if_none_match == etag)
    }

    @Test("5xx answers are retried with back-off until one succeeds")
    func retriesServerErrors() async throws {
        let server = try FetchTestServer(files: ["a": "A"], fail: ["/a=2"])
        defer { server.stop() }
        #expect(try await quickHTTP().fetch(server.url("a")) == Array("A".utf8))
        #expect(server.requests().map(\.status) == [500, 500, 200])
    }

    @Test("Retries are bounded: after the last attempt the error names the URL")
    func retriesAreBounded() async throws {
        let server = try FetchTestServer(files: ["a": "A"], fail: ["/a=5"])
        defer { server.stop() }
        await #expect {
            _ = try await quickHTTP(attempts: 3).fetch(server.url("a"))
        } throws: { error in
            guard let e = error as? FetchError else { return false }
            return e.url == server.url("a") && e.detail.contains("HTTP 500") && e.detail.contains("3 attempts")
        }
        #expect(server.requests().count == 3)
    }

    @Test("404 and 410 answer nil; other 4xx are errors")
    func missingFiles() async throws {
        let server = try FetchTestServer(files: ["a": "A"])
        defer { server.stop() }
        let http = quickHTTP()
        #expect(try await http.fetch(server.url("nope")) == nil)
        #expect(try await http.fetch(server.url("gone/x")) == nil)
        await #expect {
            _ = try await http.fetch(server.url("forbidden/x"))
        } throws: { error in
            (error as? FetchError)?.detail.contains("HTTP 403") == true
        }
        #expect(server.requests().map(\.status) == [404, 410, 403])
    }

    @Test("Redirects are followed")
    func followsRedirects() async throws {
        let server = try FetchTestServer(files: ["pool/a.deb": "deb"])
        defer { server.stop() }
        #expect(try await quickHTTP().fetch(server.url("redirect/pool/a.deb")) == Array("deb".utf8))
        #expect(server.requests().map(\.status) == [302, 200])
    }

    @Test("A refused connection is retried, then reported")
    func connectionRefused() async throws {
        let server = try FetchTestServer(files: [:])
        let url = server.url("a")
        server.stop()
        await #expect(throws: FetchError.self) {
            _ = try await quickHTTP(attempts: 2).fetch(url)
        }
    }

    @Test("Non-HTTP URLs are refused by the HTTP fetcher")
    func refusesOtherSchemes() async throws {
        await #expect(throws: FetchError.self) { _ = try await quickHTTP().fetch("ftp://example.org/x") }
    }
}

@Suite("Repository cache")
struct FetchCacheTests {
    /// A store in a temporary directory and a caching fetcher over it.
    struct Setup {
        let dir: TemporaryDirectory
        let store: SQLiteUpdateStore
        init() throws {
            dir = try TemporaryDirectory()
            store = try SQLiteUpdateStore(path: dir.file("s.sqlite"))
        }
        func fetcher(maxAge: Duration = .seconds(3600), offline: Bool = false, mirrors: MirrorRules = MirrorRules()) -> CachingFetcher {
            CachingFetcher(store: store, options: .init(maxAge: maxAge, offline: offline, mirrors: mirrors), network: quickHTTP())
        }
    }

    @Test("A cached file younger than maxAge is returned without any request")
    func freshCacheMakesNoRequest() async throws {
        let server = try FetchTestServer(files: ["Packages": "Package: a\n"])
        defer { server.stop() }
        let setup = try Setup()
        defer { setup.dir.remove() }
        #expect(try await setup.fetcher().fetch(server.url("Packages")) == Array("Package: a\n".utf8))
        // A new fetcher (a new process, in effect) answers from the store.
        #expect(try await setup.fetcher().fetch(server.url("Packages")) == Array("Package: a\n".utf8))
        #expect(server.requests().count == 1)
    }

    @Test("An expired file is revalidated with one conditional request and not downloaded again")
    func expiredCacheRevalidates() async throws {
        let server = try FetchTestServer(files: ["Packages": "Package: a\n"])
        defer { server.stop() }
        let setup = try Setup()
        defer { setup.dir.remove() }
        _ = try await setup.fetcher(maxAge: .zero).fetch(server.url("Packages"))
        let before = try #require(try await setup.store.repositoryFile(url: server.url("Packages")))
        #expect(try await setup.fetcher(maxAge: .zero).fetch(server.url("Packages")) == Array("Package: a\n".utf8))
        let requests = server.requests()
        #expect(requests.map(\.status) == [200, 304])
        #expect(requests.map(\.bytes) == [11, 0])
        #expect(requests[1].if_none_match == before.etag && requests[1].if_none_match != nil)
        let after = try #require(try await setup.store.repositoryFile(url: server.url("Packages")))
        #expect(after.validatedAt > before.validatedAt && after.fetchedAt == before.fetchedAt)

        // Changed on the server: downloaded again.
        try server.write("Packages", "Package: b\n")
        #expect(try await setup.fetcher(maxAge: .zero).fetch(server.url("Packages")) == Array("Package: b\n".utf8))
        #expect(server.requests().map(\.status) == [200, 304, 200])
    }

    @Test("A missing file is cached as missing")
    func missingIsCached() async throws {
        let server = try FetchTestServer(files: [:])
        defer { server.stop() }
        let setup = try Setup()
        defer { setup.dir.remove() }
        #expect(try await setup.fetcher().fetch(server.url("Packages.xz")) == nil)
        #expect(try await setup.fetcher().fetch(server.url("Packages.xz")) == nil)
        #expect(server.requests().count == 1)
    }

    @Test("Concurrent fetches of one URL share one request")
    func concurrentFetchesShareOneRequest() async throws {
        let server = try FetchTestServer(files: ["Packages": String(repeating: "x", count: 10_000)])
        defer { server.stop() }
        let setup = try Setup()
        defer { setup.dir.remove() }
        let fetcher = setup.fetcher()
        let url = server.url("Packages")
        let sizes = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<8 { group.addTask { try await fetcher.fetch(url)?.count ?? -1 } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(sizes == Array(repeating: 10_000, count: 8))
        #expect(server.requests().count == 1)
    }

    @Test("Mirror rules rewrite URLs before fetching")
    func mirrorRewriting() async throws {
        let server = try FetchTestServer(files: ["debian/dists/bookworm/Release": "R"])
        defer { server.stop() }
        let setup = try Setup()
        defer { setup.dir.remove() }
        let mirrors = try MirrorRules(parsing: ["http://deb.debian.org/debian=\(server.base)/debian"])
        let fetcher = setup.fetcher(mirrors: mirrors)
        #expect(try await fetcher.fetch("http://deb.debian.org/debian/dists/bookworm/Release") == Array("R".utf8))
        #expect(server.requests().map(\.path) == ["/debian/dists/bookworm/Release"])
    }

    @Test("Offline mode answers from the cache with the server stopped, and fails clearly for what is not cached")
    func offlineMode() async throws {
        let server = try FetchTestServer(files: ["Release": "R"])
        let setup = try Setup()
        defer { setup.dir.remove() }
        let url = server.url("Release")
        _ = try await setup.fetcher().fetch(url)
        server.stop()
        #expect(try await setup.fetcher(maxAge: .zero, offline: true).fetch(url) == Array("R".utf8))
        await #expect {
            _ = try await setup.fetcher(offline: true).fetch(url + ".gpg")
        } throws: { error in
            (error as? FetchError)?.detail.contains("offline") == true
        }
    }

    @Test("A guest's file:// URL or other scheme is refused; a host copy is read only through an operator's mirror rule")
    func localURLsOnlyThroughMirrorRules() async throws {
        let setup = try Setup()
        defer { setup.dir.remove() }
        try Data("local".utf8).write(to: URL(fileURLWithPath: setup.dir.file("Release")))
        // As a guest names them: refused, not read from this host.
        for url in ["file://" + setup.dir.file("Release"), setup.dir.file("Release"), "file:///etc/passwd",
                    "ftp://127.0.0.1/debian/Release", "cdrom:[Debian 12]/dists/bookworm/Release", "copy:/etc/passwd"] {
            for offline in [false, true] {
                await #expect {
                    _ = try await setup.fetcher(offline: offline).fetch(url)
                } throws: { error in
                    (error as? FetchError)?.refused == true && (error as? FetchError)?.url == url
                }
            }
        }
        // Through a mirror rule, the operator's host copy is read (a missing file is nil, as a 404 is).
        let rules = try MirrorRules(parsing: ["http://repo.test/debian=file://" + setup.dir.path])
        #expect(try await setup.fetcher(mirrors: rules).fetch("http://repo.test/debian/Release") == Array("local".utf8))
        #expect(try await setup.fetcher(mirrors: rules).fetch("http://repo.test/debian/nope") == nil)
        // A guest cannot climb out of the rule's directory.
        await #expect {
            _ = try await setup.fetcher(mirrors: rules).fetch("http://repo.test/debian/../../../etc/passwd")
        } throws: { error in
            (error as? FetchError)?.refused == true
        }
    }
}

@Suite("Mirror rules")
struct FetchMirrorRuleTests {
    @Test("Rules apply at path boundaries, the longest FROM wins, and scheme and host ignore case")
    func applying() throws {
        let rules = try MirrorRules(parsing: [
            "http://deb.debian.org/debian=http://mirror.local/debian",
            "http://deb.debian.org/debian/pool=http://pool.local/p",
            "https://cdn.example.org/=file:///srv/cdn/",
        ])
        #expect(rules.apply("http://deb.debian.org/debian/dists/bookworm/InRelease") == "http://mirror.local/debian/dists/bookworm/InRelease")
        #expect(rules.apply("http://deb.debian.org/debian") == "http://mirror.local/debian")
        #expect(rules.apply("http://DEB.debian.org/debian/x") == "http://mirror.local/debian/x")
        #expect(rules.apply("http://deb.debian.org/debian-security/x") == "http://deb.debian.org/debian-security/x")
        #expect(rules.apply("http://deb.debian.org/debian/pool/main/a.deb") == "http://pool.local/p/main/a.deb")
        #expect(rules.apply("https://cdn.example.org/repo/x") == "file:///srv/cdn/repo/x")
        #expect(rules.apply("http://other.org/debian/x") == "http://other.org/debian/x")
    }

    @Test("A configuration file holds one rule per line, with comments and blank lines")
    func configFile() throws {
        let text = "# mirrors for the lab\n\nhttp://deb.debian.org/debian = http://m/debian  # main\r\n  https://a.org/x=https://b.org/y\n"
        let rules = try MirrorRules.parse(configFile: text, file: "/etc/imgsec/mirrors")
        #expect(rules.rules == [.init(from: "http://deb.debian.org/debian", to: "http://m/debian"),
                                .init(from: "https://a.org/x", to: "https://b.org/y")])
        #expect(throws: MirrorRuleError(source: "/etc/imgsec/mirrors", line: 2, text: "nonsense", detail: "is not FROM=TO")) {
            try MirrorRules.parse(configFile: "# c\nnonsense\n", file: "/etc/imgsec/mirrors")
        }
        #expect(throws: MirrorRuleError.self) { try MirrorRules(parsing: ["=http://x"]) }
        #expect(throws: MirrorRuleError.self) { try MirrorRules(parsing: ["deb.debian.org=http://x"]) }
    }

    @Test("Repository URLs are normalised", arguments: [
        ("HTTP://Deb.Debian.org:80/debian/", "http://deb.debian.org/debian"),
        ("https://example.org:443//a//b/", "https://example.org/a/b"),
        ("http://example.org:8080/a", "http://example.org:8080/a"),
        ("file:///srv/repo/", "file:///srv/repo"),
        (" http://x.org ", "http://x.org"),
    ])
    func normalisation(input: String, expected: String) {
        #expect(RepositoryURL.normalised(input) == expected)
    }
}
