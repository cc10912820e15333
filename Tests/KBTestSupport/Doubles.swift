import Foundation
@testable import KBCore
#if canImport(Glibc)
import Glibc
#endif

// Test doubles shared by every test target: deterministic components that stand in for the real ones where a test
// is about something else. None of them is used by kb itself.

/// A deterministic embedder for tests: hashed word and CJK-character features, L2-normalised.
/// Texts sharing words get similar vectors. It counts the texts it embeds.
public final class HashingEmbedder: Embedder, @unchecked Sendable {
    public let model: String
    public let dimension: Int
    public let maxTokens = 512
    private let lock = NSLock()
    public private(set) var embeddedTexts = 0
    /// What `unknownTokenShare` reports (simulates a model blind to a script).
    public let unknownShare: Double

    public init(model: String = "hashing-test", dimension: Int = 64, unknownShare: Double = 0) {
        self.model = model
        self.dimension = dimension
        self.unknownShare = unknownShare
    }

    public func unknownTokenShare(_ text: String) -> Double { unknownShare }

    public func embed(_ texts: [String], kind: EmbeddingKind) throws(KBError) -> EmbeddingBatch {
        lock.lock(); embeddedTexts += texts.count; lock.unlock()
        return EmbeddingBatch(vectors: texts.map(vector), truncated: 0)
    }

    public func vector(_ text: String) -> [Float] {
        var v = [Float](repeating: 0, count: dimension)
        for token in TextAnalyzer.tokenize(text) {
            var hash: UInt64 = 1469598103934665603
            for byte in token.term.utf8 { hash = (hash ^ UInt64(byte)) &* 1099511628211 }
            v[Int(hash % UInt64(dimension))] += 1
        }
        Kernels.l2Normalize(&v)
        return v
    }
}

/// A language model that replies with a fixed text (in pieces), and records what it was asked.
public final class ScriptedModel: LanguageModel, @unchecked Sendable {
    public let backend = "scripted"
    public let model = "scripted"
    public let contextTokens: Int
    public let templateOverheadTokens = 10
    private let lock = NSLock()
    private let respond: @Sendable ([ChatMessage]) -> String
    private var recorded: [[ChatMessage]] = []

    public init(reply: String, contextTokens: Int = 4096) {
        self.respond = { _ in reply }
        self.contextTokens = contextTokens
    }

    /// Replies with what `respond` makes of the messages.
    public init(contextTokens: Int = 4096, respond: @escaping @Sendable ([ChatMessage]) -> String) {
        self.respond = respond
        self.contextTokens = contextTokens
    }

    public var calls: [[ChatMessage]] { lock.withLock { recorded } }

    public func countTokens(_ text: String) -> Int { TokenEstimator.count(text) }

    public func complete(_ messages: [ChatMessage], sampling: SamplingOptions,
                  onText: @escaping @Sendable (String) -> Bool) async throws(KBError) -> (text: String, stats: CompletionStats) {
        lock.withLock { recorded.append(messages) }
        let reply = respond(messages)
        let middle = reply.index(reply.startIndex, offsetBy: reply.count / 2)
        for piece in [String(reply[..<middle]), String(reply[middle...])] where !piece.isEmpty { _ = onText(piece) }
        var stats = CompletionStats()
        stats.generatedTokens = TokenEstimator.count(reply)
        return (reply, stats)
    }
}

/// A one-shot HTTP server on loopback that answers every request with a canned response.
public final class CannedHTTPServer: @unchecked Sendable {
    public let port: UInt16
    private let socketFD: Int32
    private let response: String
    private let thread: Thread
    public private(set) var lastRequest = ""

    public convenience init(status: String = "200 OK", body: String) {
        self.init(status: status, contentType: "application/json", parts: [body], contentLength: true)
    }

    /// Answers with `parts` written one after another, 20 ms apart (a stream when `contentLength` is false).
    public init(status: String = "200 OK", contentType: String, parts: [String], contentLength: Bool = false) {
        let body = parts.joined()
        response = "HTTP/1.1 \(status)\r\nContent-Type: \(contentType)\r\n"
            + (contentLength ? "Content-Length: \(body.utf8.count)\r\n" : "") + "Connection: close\r\n\r\n"
        let pieces = parts
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        socketFD = fd
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        listen(fd, 8)
        var bound = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &bound) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        port = UInt16(bigEndian: bound.sin_port)
        let reply = response
        let box = RequestBox()
        requestBox = box
        thread = Thread {
            while true {
                let client = accept(fd, nil, nil)
                if client < 0 { return }
                var buffer = [UInt8](repeating: 0, count: 65536)
                var received = Data()
                // Read headers and the body announced by Content-Length.
                while true {
                    let n = read(client, &buffer, buffer.count)
                    if n <= 0 { break }
                    received.append(contentsOf: buffer[0..<n])
                    let text = String(decoding: received, as: UTF8.self)
                    if let headerEnd = text.range(of: "\r\n\r\n") {
                        let headers = text[..<headerEnd.lowerBound].lowercased()
                        let length = headers.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                            .flatMap { Int($0.dropFirst(15).trimmingCharacters(in: .whitespaces)) } ?? 0
                        if text.utf8.count - text[..<headerEnd.upperBound].utf8.count >= length { break }
                    }
                }
                box.value = String(decoding: received, as: UTF8.self)
                _ = reply.withCString { write(client, $0, strlen($0)) }
                for piece in pieces {
                    _ = piece.withCString { write(client, $0, strlen($0)) }
                    if pieces.count > 1 { usleep(20_000) }
                }
                close(client)
            }
        }
        thread.start()
    }

    private let requestBox: RequestBox
    public var request: String { requestBox.value }

    public var baseURL: String { "http://127.0.0.1:\(port)/v1" }

    deinit { shutdown(socketFD, Int32(SHUT_RDWR)); close(socketFD) }
}

public final class RequestBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stored = ""
    public var value: String {
        get { lock.lock(); defer { lock.unlock() }; return stored }
        set { lock.lock(); stored = newValue; lock.unlock() }
    }
}

/// A fresh temporary folder, removed when the value is deinitialised.
public final class TemporaryFolder: @unchecked Sendable {
    public let path: String

    public init() {
        path = NSTemporaryDirectory() + "kb-tests-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes a file (creating folders) and returns its absolute path.
    @discardableResult
    public func write(_ relative: String, _ text: String) -> String { write(relative, Data(text.utf8)) }

    @discardableResult
    public func write(_ relative: String, _ data: Data) -> String {
        let full = path + "/" + relative
        try! FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try! data.write(to: URL(fileURLWithPath: full))
        return full
    }

    /// The absolute path of `relative` in this folder, with its parent folders created (for tools that write files).
    public func path(_ relative: String) -> String {
        let full = path + "/" + relative
        try! FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        return full
    }

    public func remove(_ relative: String) { try! FileManager.default.removeItem(atPath: path + "/" + relative) }

    public func move(_ from: String, _ to: String) {
        let target = path + "/" + to
        try! FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try! FileManager.default.moveItem(atPath: path + "/" + from, toPath: target)
    }

    /// A knowledge base with its database in this folder's `.kb`.
    /// A knowledge base over `docs/`; answers come from the deterministic extractive generator unless one is given.
    public func knowledgeBase(chunking: ChunkingOptions = ChunkingOptions(),
                       generator: any AnswerGenerator = ExtractiveGenerator()) throws -> KnowledgeBase {
        try KnowledgeBase(configuration: Configuration(databasePath: path + "/.kb/kb.sqlite", knowledgeFolders: [path + "/docs"],
                                                       chunking: chunking), create: true, generator: generator)
    }

    /// A knowledge base over `docs/` whose configuration `configure` adjusts first.
    public func knowledgeBase(_ configure: (inout Configuration) -> Void) throws -> KnowledgeBase {
        var configuration = Configuration(databasePath: path + "/.kb/kb.sqlite", knowledgeFolders: [path + "/docs"])
        configure(&configuration)
        return try KnowledgeBase(configuration: configuration, create: true, generator: ExtractiveGenerator())
    }
}

