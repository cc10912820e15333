import Foundation
import Testing
@testable import KBCore
#if canImport(Glibc)
import Glibc
#endif

/// A one-shot HTTP server on loopback that answers every request with a canned response.
final class CannedHTTPServer: @unchecked Sendable {
    let port: UInt16
    private let socketFD: Int32
    private let response: String
    private let thread: Thread
    private(set) var lastRequest = ""

    convenience init(status: String = "200 OK", body: String) {
        self.init(status: status, contentType: "application/json", parts: [body], contentLength: true)
    }

    /// Answers with `parts` written one after another, 20 ms apart (a stream when `contentLength` is false).
    init(status: String = "200 OK", contentType: String, parts: [String], contentLength: Bool = false) {
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
    var request: String { requestBox.value }

    var baseURL: String { "http://127.0.0.1:\(port)/v1" }

    deinit { shutdown(socketFD, Int32(SHUT_RDWR)); close(socketFD) }
}

final class RequestBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stored = ""
    var value: String {
        get { lock.lock(); defer { lock.unlock() }; return stored }
        set { lock.lock(); stored = newValue; lock.unlock() }
    }
}

@Suite(.serialized) struct EmbeddingEndpointTests {
    @Test func embedsThroughAnOpenAICompatibleServer() throws {
        let server = CannedHTTPServer(body: #"{"object":"list","data":[{"object":"embedding","index":1,"embedding":[0,3,4]},{"object":"embedding","index":0,"embedding":[1,0,0]}],"model":"m"}"#)
        let embedder = OpenAIEmbedder(endpoint: EmbeddingEndpoint(baseURL: server.baseURL, model: "nomic", apiKey: "secret", timeout: 5))
        let batch = try embedder.embed(["first", "second"], kind: .passage)
        #expect(batch.vectors[0] == [1, 0, 0])
        #expect(batch.vectors[1] == [0, 0.6, 0.8])   // normalised, placed by index
        #expect(embedder.model == "endpoint:nomic")
        #expect(embedder.dimension == 3)
        #expect(server.request.hasPrefix("POST /v1/embeddings HTTP/1.1"))
        #expect(server.request.lowercased().contains("authorization: bearer secret"))
        #expect(server.request.contains(#""model":"nomic""#))
    }

    @Test func aServerThatIsDownNamesTheURL() throws {
        // A port nobody listens on (discard, 9).
        let closed = OpenAIEmbedder(endpoint: EmbeddingEndpoint(baseURL: "http://127.0.0.1:9/v1", model: "m", timeout: 5))
        let error = expectKBError(.endpoint) { try closed.embed(["x"], kind: .query) }
        #expect(error?.message.hasPrefix("Cannot reach the embedding endpoint http://127.0.0.1:9/v1/embeddings") == true)
        #expect(error?.message.hasSuffix("Is the server running?") == true)
    }

    @Test func garbageAndErrorsAreReported() throws {
        let garbage = CannedHTTPServer(body: "<html>not json</html>")
        let error = expectKBError(.endpoint) {
            try OpenAIEmbedder(endpoint: EmbeddingEndpoint(baseURL: garbage.baseURL, model: "m", timeout: 5)).embed(["x"], kind: .query)
        }
        #expect(error?.message.contains("returned an unexpected response") == true)
        let failing = CannedHTTPServer(status: "500 Internal Server Error", body: #"{"error":"model not loaded"}"#)
        let status = expectKBError(.endpoint) {
            try OpenAIEmbedder(endpoint: EmbeddingEndpoint(baseURL: failing.baseURL, model: "m", timeout: 5)).embed(["x"], kind: .query)
        }
        #expect(status?.message.contains("answered HTTP 500: {\"error\":\"model not loaded\"}") == true)
    }
}
