import Foundation
import HTTPTypes
import Hummingbird
import KBCore
import NIOCore

/// How `kb serve` listens and what it allows.
public struct ServerSettings: Sendable {
    /// Address to bind; loopback by default.
    public var host = "127.0.0.1"
    public var port = 8080
    /// The bearer token every endpoint but `/healthz` requires (`KB_API_TOKEN`, `server.token`); nil: none.
    public var token: String?
    /// Largest request body accepted.
    public var maxBodyBytes = 1 << 20
    /// Requests that may wait for the language model while one runs; more get 429.
    public var maxQueuedGenerations = 4
    /// Seconds an answer may take (queueing excluded) before it is stopped and answered with 504.
    public var requestTimeout = 300.0
    /// Seconds between looks at the knowledge folders for changes to ingest; 0 turns watching off.
    public var watchInterval = 2.0
    /// The knowledge base has user tokens (`kb token create`): every request needs one, so the daemon may listen
    /// beyond loopback without an owner token.
    public var hasUsers = false

    public init() {}

    /// True for 127.0.0.1, ::1 and localhost.
    public var isLoopback: Bool { ["127.0.0.1", "::1", "localhost"].contains(host) || host.hasPrefix("127.") }

    /// Refuses a non-loopback address without a token.
    public func validate() throws(KBError) {
        guard (1...65535).contains(port) || port == 0 else { throw KBError(.invalidArgument, "--port \(port) is not a TCP port.") }
        if !isLoopback && (token ?? "").isEmpty && !hasUsers {
            throw KBError(.configuration, "kb serve will not listen on \(host) without tokens: create users with `kb token create`, set KB_API_TOKEN (or server.token), or bind to 127.0.0.1.")
        }
        if let token, !token.isEmpty, token.count < 16 {
            throw KBError(.configuration, "The API token is too short (\(token.count) characters); use at least 16 random characters.")
        }
    }
}

/// A JSON error response: `{"error":{"message":…,"type":…}}`.
struct APIError: Error, HTTPResponseError {
    let status: HTTPResponse.Status
    let message: String
    let type: String
    var headers: HTTPFields = [:]

    init(_ status: HTTPResponse.Status, _ type: String, _ message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.type = type
        self.message = message
        self.headers = headers
    }

    /// The HTTP status for each kind of library error: mapped here, at the server's edge.
    init(_ error: KBError) {
        var headers: HTTPFields = [:]
        let status: HTTPResponse.Status
        switch error.code {
        case .invalidArgument, .invalidJSON: status = .badRequest
        case .conflict: status = .conflict
        case .outsideKnowledgeFolders, .forbidden: status = .forbidden
        case .unauthorized:
            status = .unauthorized
            headers[.wwwAuthenticate] = "Bearer"
        case .pathNotFound, .noKnowledgeBase, .notFound: status = .notFound
        case .busy:
            status = .tooManyRequests
            headers[.retryAfter] = "2"
        case .databaseLocked, .ingestInProgress: status = .serviceUnavailable
        case .databaseUnavailable, .cannotOpenDatabase:
            status = .serviceUnavailable
            headers[.retryAfter] = "2"
        case .generation, .endpoint: status = .badGateway
        case .model, .configuration: status = .serviceUnavailable
        case .interrupted: status = .serviceUnavailable
        default: status = .internalServerError
        }
        self.init(status, error.code.name, error.message, headers: headers)
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = JSONBody.response(["error": ["message": message, "type": type]], status: status)
        for field in headers { response.headers.append(field) }
        return response
    }
}

/// JSON bodies in and out.
enum JSONBody {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    static func response<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) -> Response {
        let buffer: ByteBuffer
        if let writable = value as? any JSONWritable {
            buffer = ByteBuffer(bytes: JSONWriter.encode(writable))   // the same bytes, without Foundation's encoder
        } else {
            buffer = ByteBuffer(bytes: (try? encoder.encode(value)) ?? Data("{}".utf8))
        }
        return Response(status: status, headers: [.contentType: "application/json; charset=utf-8"],
                        body: ResponseBody(byteBuffer: buffer))
    }

    static func response(_ object: [String: Any], status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json; charset=utf-8"],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// The request body decoded strictly as a service request (unknown fields, wrong types → 400; see
    /// ``RequestDecoder``); a body over `limit` bytes → 413.
    static func decode<T: ServiceRequest>(_ type: T.Type, _ request: Request, limit: Int) async throws -> T {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch {
            throw APIError(.contentTooLarge, "body_too_large", "The request body is larger than \(limit) bytes.")
        }
        do { return try RequestDecoder.decode(T.self, from: Data(buffer.readableBytesView)) } catch { throw APIError(error) }
    }
}

/// Counters and timings for `/metrics`, in the Prometheus text format.
final class ServerMetrics: @unchecked Sendable {
    private let lock = NSLock()
    private var requests: [String: Int] = [:]          // "route|method|status"
    private var durations: [String: (sum: Double, count: Int, buckets: [Int])] = [:]
    private var tokens = 0
    private var answers = 0
    private var abstentions = 0
    private var rejected = 0
    private var ingested: [String: Int] = [:]
    private var watchFailures = 0
    static let bounds: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

    func record(route: String, method: String, status: Int, seconds: Double) {
        lock.withLock {
            requests["\(route)|\(method)|\(status)", default: 0] += 1
            var entry = durations[route] ?? (0, 0, Array(repeating: 0, count: Self.bounds.count))
            entry.sum += seconds
            entry.count += 1
            for (i, bound) in Self.bounds.enumerated() where seconds <= bound { entry.buckets[i] += 1 }
            durations[route] = entry
        }
    }

    func recordAnswer(_ answer: Answer) {
        lock.withLock {
            answers += 1
            if answer.abstained { abstentions += 1 }
            tokens += answer.timings.generatedTokens ?? 0
        }
    }

    func recordRejected() { lock.withLock { rejected += 1 } }

    func recordWatchFailure() { lock.withLock { watchFailures += 1 } }

    func recordIngest(_ summary: IngestSummary) {
        lock.withLock {
            ingested["added", default: 0] += summary.added
            ingested["updated", default: 0] += summary.updated
            ingested["removed", default: 0] += summary.removed
            ingested["failed", default: 0] += summary.failed.count
        }
    }

    func text(documents: Int, chunks: Int, queueDepth: Int) -> String {
        lock.withLock {
            var out = "# HELP kb_http_requests_total HTTP requests by route, method and status.\n# TYPE kb_http_requests_total counter\n"
            for (key, count) in requests.sorted(by: { $0.key < $1.key }) {
                let parts = key.split(separator: "|", omittingEmptySubsequences: false)
                out += "kb_http_requests_total{route=\"\(parts[0])\",method=\"\(parts[1])\",status=\"\(parts[2])\"} \(count)\n"
            }
            out += "# HELP kb_http_request_duration_seconds Request latency by route.\n# TYPE kb_http_request_duration_seconds histogram\n"
            for (route, entry) in durations.sorted(by: { $0.key < $1.key }) {
                for (i, bound) in Self.bounds.enumerated() {
                    out += "kb_http_request_duration_seconds_bucket{route=\"\(route)\",le=\"\(bound)\"} \(entry.buckets[i])\n"
                }
                out += "kb_http_request_duration_seconds_bucket{route=\"\(route)\",le=\"+Inf\"} \(entry.count)\n"
                out += "kb_http_request_duration_seconds_sum{route=\"\(route)\"} \(entry.sum)\n"
                out += "kb_http_request_duration_seconds_count{route=\"\(route)\"} \(entry.count)\n"
            }
            out += "# HELP kb_generated_tokens_total Tokens generated by the language model.\n# TYPE kb_generated_tokens_total counter\nkb_generated_tokens_total \(tokens)\n"
            out += "# HELP kb_answers_total Answers given.\n# TYPE kb_answers_total counter\nkb_answers_total \(answers)\n"
            out += "# HELP kb_abstentions_total Answers where kb abstained.\n# TYPE kb_abstentions_total counter\nkb_abstentions_total \(abstentions)\n"
            out += "# HELP kb_generation_rejected_total Requests turned away because the model queue was full.\n# TYPE kb_generation_rejected_total counter\nkb_generation_rejected_total \(rejected)\n"
            out += "# HELP kb_generation_queue_depth Generations running or waiting.\n# TYPE kb_generation_queue_depth gauge\nkb_generation_queue_depth \(queueDepth)\n"
            out += "# HELP kb_ingested_documents_total Documents ingested through the daemon, by outcome.\n# TYPE kb_ingested_documents_total counter\n"
            for outcome in ["added", "updated", "removed", "failed"] {
                out += "kb_ingested_documents_total{outcome=\"\(outcome)\"} \(ingested[outcome] ?? 0)\n"
            }
            out += "# HELP kb_watch_ingest_failures_total Background ingests of the watched folders that failed (see the log).\n# TYPE kb_watch_ingest_failures_total counter\nkb_watch_ingest_failures_total \(watchFailures)\n"
            out += "# HELP kb_documents Documents in the knowledge base.\n# TYPE kb_documents gauge\nkb_documents \(documents)\n"
            out += "# HELP kb_chunks Chunks in the knowledge base.\n# TYPE kb_chunks gauge\nkb_chunks \(chunks)\n"
            return out
        }
    }
}
