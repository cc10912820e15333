import Foundation
import HTTPTypes
import Hummingbird
import KBCore
import KBMCP
import Logging
import NIOCore

/// kb's question-answer daemon: one knowledge base and one loaded model per process, served over HTTP
/// with kb's REST API and an OpenAI-compatible chat API (see README, "The daemon").
public struct KBServer: Sendable {
    let kb: KnowledgeBase
    /// The service layer the routes adapt to HTTP.
    let service: KnowledgeService
    let settings: ServerSettings
    let metrics = ServerMetrics()
    /// MCP sessions of `/mcp`.
    let mcp: MCPSessions

    public init(kb: KnowledgeBase, settings: ServerSettings) throws(KBError) {
        try settings.validate()
        self.kb = kb
        self.settings = settings
        self.service = try KnowledgeService(knowledgeBase: kb, queue: settings.maxQueuedGenerations)
        var logger = Logger(label: "kb.mcp")
        logger.logLevel = Self.logLevel
        self.mcp = MCPSessions(service: service, loopbackOnly: settings.isLoopback, logger: logger)
    }

    static var logLevel: Logger.Level {
        ProcessInfo.processInfo.environment["KB_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0) } ?? .warning
    }

    /// Runs until SIGINT/SIGTERM (in-flight requests finish first) or until the task is cancelled.
    /// `onRunning` gets the bound port (useful with port 0).
    public func run(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        var logger = Logger(label: "kb.serve")
        logger.logLevel = Self.logLevel
        let app = Application(
            router: router(),
            configuration: ApplicationConfiguration(address: .hostname(settings.host, port: settings.port), serverName: "kb"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
        let watcher = settings.watchInterval > 0 ? Task { [metrics, logger] in
            await FolderWatcher(kb: kb, interval: settings.watchInterval, onIngest: { summary in metrics.recordIngest(summary) },
                                onFailure: { error in
                metrics.recordWatchFailure()
                logger.error("folder watch: ingest failed: \(error.message)")
            }).run()
        } : nil
        defer { watcher?.cancel() }
        try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
    }

    /// The router with every route and middleware. Each route decodes its request, calls the service layer and
    /// encodes the reply; nothing else happens here.
    public func router() -> Router<KBRequestContext> {
        let router = Router(context: KBRequestContext.self)
        router.add(middleware: ObservingMiddleware(metrics: metrics))
        router.add(middleware: SameOriginMiddleware(loopbackOnly: settings.isLoopback))
        router.add(middleware: AuthMiddleware(service: service, ownerToken: settings.token, tokenRequired: !settings.isLoopback))
        let service = self.service, limit = settings.maxBodyBytes

        router.get("/healthz") { _, _ in JSONBody.response(["status": "ok"]) }
        // The web page: the same HTML for every view's URL; the script renders the view.
        for path in WebPage.views { router.get(RouterPath(path)) { _, _ in WebPage.page() } }
        router.get("/documents/:id") { _, _ in WebPage.page() }
        router.get("/assets/:name") { _, context in
            guard let asset = WebPage.asset(try context.parameters.require("name")) else { throw HTTPError(.notFound) }
            return asset
        }
        router.get("/metrics") { _, context in
            _ = try context.requireCaller()
            let status = try? await service.status()
            let text = metrics.text(documents: status?.documents ?? 0, chunks: status?.chunks ?? 0,
                                    queueDepth: await service.generation.depth)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
        }
        router.post("/v1/search") { request, _ in
            let body = try await JSONBody.decode(SearchRequest.self, request, limit: limit)
            return JSONBody.response(try await wrap { () async throws(KBError) in try await service.search(body) })
        }
        router.post("/v1/ask") { request, context in try await ask(request, caller: try context.requireCaller()) }
        router.post("/v1/feedback") { request, context in
            let caller = try context.requireCaller()
            let body = try await JSONBody.decode(FeedbackRequest.self, request, limit: limit)
            return JSONBody.response(try await wrap { () async throws(KBError) in try await service.rate(body, caller: caller) }, status: .created)
        }
        router.get("/v1/conversations/:id") { _, context in
            let caller = try context.requireCaller()
            let id = try context.parameters.require("id")
            return JSONBody.response(try await wrap { () async throws(KBError) in try await service.conversation(id: id, caller: caller) })
        }
        router.get("/v1/conversations") { _, context in
            let caller = try context.requireCaller()
            return JSONBody.response(try await wrap { () async throws(KBError) in try await service.conversations(caller: caller) })
        }
        router.get("/v1/feedback") { request, context in
            let caller = try context.requireCaller()
            let worst = request.uri.queryParameters.get("worst").flatMap { Int($0) } ?? 10
            return JSONBody.response(try await wrap { () async throws(KBError) in
                try await service.feedbackReport(worst: min(100, worst), caller: caller)
            })
        }
        router.get("/v1/tokens") { _, context in
            let caller = try context.requireCaller()
            return JSONBody.response(try await wrap { () async throws(KBError) in try await service.users(caller: caller) })
        }
        router.post("/v1/tokens") { request, context in
            let caller = try context.requireCaller()
            let body = try await JSONBody.decode(TokenRequest.self, request, limit: limit)
            return JSONBody.response(try await wrap { () async throws(KBError) in try await service.createToken(body, caller: caller) },
                                     status: .created)
        }
        router.delete("/v1/tokens/:name") { _, context in
            let caller = try context.requireCaller()
            let name = try context.parameters.require("name")
            return JSONBody.response(try await wrap { () async throws(KBError) in try await service.revokeToken(name: name, caller: caller) })
        }
        router.get("/v1/status") { _, _ in
            JSONBody.response(try await wrap { () async throws(KBError) in try await service.status() })
        }
        router.get("/v1/documents") { request, _ in
            let query = request.uri.queryParameters
            let filter = DocumentFilter(folder: query.get("folder"), format: query.get("format"))
            return JSONBody.response(try await wrap { () async throws(KBError) in try await service.documents(filter) })
        }
        router.get("/v1/documents/:id") { _, context in
            guard let id = Int(try context.parameters.require("id")) else {
                throw APIError(.badRequest, "invalid_request", "A document id is an integer.")
            }
            return JSONBody.response(try await wrap { () async throws(KBError) in try await service.document(id: id) })
        }
        router.post("/v1/read") { request, _ in
            let body = try await JSONBody.decode(ReadRequest.self, request, limit: limit)
            return JSONBody.response(try await wrap { () async throws(KBError) in try await service.read(body) })
        }
        router.post("/v1/documents") { request, context in
            let caller = try context.requireCaller()
            let body = try await JSONBody.decode(IngestRequest.self, request, limit: limit)
            let summary = try await wrap { () async throws(KBError) in try await service.ingest(body, caller: caller) }
            metrics.recordIngest(summary)
            return JSONBody.response(summary, status: .ok)
        }
        router.delete("/v1/documents/:id") { _, context in
            guard let id = Int(try context.parameters.require("id")) else {
                throw APIError(.badRequest, "invalid_request", "A document id is an integer.")
            }
            let caller = try context.requireCaller()
            return JSONBody.response(try await wrap { () async throws(KBError) in try await service.removeDocument(id: id, caller: caller) })
        }
        router.get("/v1/models") { _, _ in
            JSONBody.response(["object": "list", "data": [["id": OpenAIChat.modelName, "object": "model", "created": 0, "owned_by": "kb"]]])
        }
        router.post("/v1/chat/completions") { request, context in
            try await OpenAIChat(server: self).complete(request, caller: try context.requireCaller())
        }
        let mcp = MCPEndpoint(sessions: self.mcp, limit: limit)
        router.post("/mcp") { request, context in try await mcp.handle(request, caller: try context.requireCaller()) }
        router.get("/mcp") { request, context in try await mcp.handle(request, caller: try context.requireCaller()) }
        router.delete("/mcp") { request, context in try await mcp.handle(request, caller: try context.requireCaller()) }
        return router
    }

    // MARK: Routes

    func ask(_ request: Request, caller: Caller) async throws -> Response {
        let body = try await JSONBody.decode(AskRequest.self, request, limit: settings.maxBodyBytes)
        let wantsStream = body.stream ?? (request.headers[.accept]?.contains("text/event-stream") == true)
        let service = self.service
        let run: @Sendable (Bool, AnswerSink) async throws(KBError) -> Answer = { reserved, sink in
            try await service.ask(body, caller: caller, reserved: reserved, onText: sink.text, onReplaced: sink.replaced)
        }
        guard wantsStream else { return JSONBody.response(try await generate(run)) }
        // Server-Sent Events: `token` events as the text is generated (a `replaced` event withdraws the tokens so
        // far, with the reason, before the replacement's tokens), then one `answer` event with the checked answer,
        // its citations, quality scores and attempts, then `done`.
        return try await stream(run) { kind, _ in
            switch kind {
            case .text(let text): return ServerSentEvent.encode(event: "token", json: ["text": text])
            case .replaced(let reason): return ServerSentEvent.encode(event: "replaced", json: ["reason": reason])
            case .answer(let answer): return ServerSentEvent.encode(event: "answer", encodable: answer) + ServerSentEvent.encode(event: "done", data: "{}")
            case .error(let error): return ServerSentEvent.encode(event: "error", json: ["error": ["message": error.message, "type": error.type]])
            }
        }
    }

    // MARK: Generation plumbing

    /// Runs a generation (the service layer queues it per generator backend); past the request timeout the
    /// generation is cancelled and the client gets 504.
    func generate(_ body: @escaping @Sendable (Bool, AnswerSink) async throws(KBError) -> Answer) async throws -> Answer {
        let timeout = settings.requestTimeout, metrics = self.metrics
        let answer = try await withThrowingTaskGroup(of: Answer?.self) { group in
            group.addTask {
                do throws(KBError) { return try await body(false, AnswerSink(text: { _ in }, replaced: { _ in })) } catch {
                    if error.code == .busy { metrics.recordRejected() }
                    throw APIError(error)
                }
            }
            group.addTask {
                try await Task.sleep(nanoseconds: UInt64(timeout * 1e9))
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let answer = first else {
                throw APIError(.gatewayTimeout, "timeout", "The answer took longer than the request timeout (\(timeout) s); the generation was stopped.")
            }
            return answer
        }
        metrics.recordAnswer(answer)
        return answer
    }

    /// Where a generation's stream goes: text as it is written, and the withdrawal of the text so far.
    struct AnswerSink: Sendable {
        let text: @Sendable (String) -> Void
        let replaced: @Sendable (String) -> Void
    }

    enum StreamItem: Sendable {
        case text(String)
        /// The text streamed so far is withdrawn (the reason); the replacement follows as text.
        case replaced(String)
        case answer(Answer)
        case error(APIError)
    }

    /// Streams a generation as Server-Sent Events. The generator slot is taken before the response starts (so a
    /// full queue is a plain 429); a client that disconnects cancels the generation.
    func stream(_ body: @escaping @Sendable (Bool, AnswerSink) async throws(KBError) -> Answer,
                event: @escaping @Sendable (StreamItem, Void) -> String) async throws -> Response {
        do throws(KBError) { try await service.generation.acquire() } catch {
            metrics.recordRejected()
            throw APIError(error)
        }
        let (items, continuation) = AsyncStream<StreamItem>.makeStream()
        let metrics = self.metrics, timeout = settings.requestTimeout
        let work = Task {
            do throws(KBError) {
                let answer = try await body(true, AnswerSink(text: { continuation.yield(.text($0)) },
                                                             replaced: { continuation.yield(.replaced($0)) }))
                metrics.recordAnswer(answer)
                continuation.yield(.answer(answer))
            } catch {
                continuation.yield(.error(APIError(error)))
            }
            continuation.finish()
        }
        // Past the request timeout the generation is cancelled and the stream ends with an error event.
        let timer = Task {
            try await Task.sleep(nanoseconds: UInt64(timeout * 1e9))
            continuation.yield(.error(APIError(.gatewayTimeout, "timeout", "The answer took longer than the request timeout (\(timeout) s); the generation was stopped.")))
            continuation.finish()
            work.cancel()
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
                        body: ResponseBody { writer in
            do {
                for await item in items {
                    try await writer.write(ByteBuffer(string: event(item, ())))
                }
                timer.cancel()
                try await writer.finish(nil)
            } catch {
                timer.cancel()
                work.cancel()   // the client went away: stop generating
                throw error
            }
        })
    }
}

/// Runs a service call, turning its ``KBError`` into the JSON error response the edge maps it to.
func wrap<T>(_ body: () async throws(KBError) -> T) async throws -> T {
    do { return try await body() } catch { throw APIError(error) }
}

/// Server-Sent Event framing.
enum ServerSentEvent {
    static func encode(event: String? = nil, data: String) -> String {
        var out = event.map { "event: \($0)\n" } ?? ""
        for line in data.split(separator: "\n", omittingEmptySubsequences: false) { out += "data: \(line)\n" }
        return out + "\n"
    }

    static func encode(event: String? = nil, json: [String: Any]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: json, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return encode(event: event, data: String(decoding: data, as: UTF8.self))
    }

    static func encode<T: Encodable>(event: String? = nil, encodable: T) -> String {
        let data = (try? JSONBody.encoder.encode(encodable)) ?? Data()
        return encode(event: event, data: String(decoding: data, as: UTF8.self))
    }
}

/// A request's context: Hummingbird's, and who is asking (set by ``AuthMiddleware``).
public struct KBRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The authenticated caller; nil on the public routes (`/healthz`, the page and its assets).
    public var caller: Caller?

    public init(source: ApplicationRequestContextSource) { coreContext = .init(source: source) }

    /// The caller, for routes behind authentication.
    func requireCaller() throws -> Caller {
        guard let caller else { throw APIError(.unauthorized, "unauthorized", "This endpoint needs Authorization: Bearer TOKEN.") }
        return caller
    }
}

/// Authentication on every route but `/healthz` and the page's HTML and assets (the page asks for a token and
/// sends it with its API calls). The bearer token is the owner's single token (`KB_API_TOKEN`) or a user's
/// (`kb token create`), looked up by its hash in the database on every request, so a token revoked through any
/// daemon stops working at once in all of them. Without users and without an owner token, everyone is the owner.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = KBRequestContext
    let service: KnowledgeService
    let ownerToken: String?
    /// Beyond loopback a token is always needed, even after the last user was revoked.
    let tokenRequired: Bool

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.uri.path == "/healthz" || WebPage.isPublic(request) { return try await next(request, context) }
        let header = request.headers[.authorization]
        let bearer = header.map { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : "" }
        var context = context
        do {
            context.caller = try await service.authenticate(bearer: bearer, ownerToken: ownerToken, tokenRequired: tokenRequired)
        } catch {
            throw APIError(error)
        }
        return try await next(request, context)
    }
}

/// Outermost middleware: turns every error into a JSON error response and records metrics.
struct ObservingMiddleware: RouterMiddleware {
    typealias Context = KBRequestContext
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = DispatchTime.now().uptimeNanoseconds
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as APIError {
            response = try error.response(from: request, context: context)
        } catch let error as HTTPError {
            let type = error.status == .notFound ? "not_found" : error.status == .methodNotAllowed ? "method_not_allowed" : "http_error"
            let message = error.status == .notFound ? "No such endpoint: \(request.method) \(request.uri.path)." : (error.body ?? "\(error.status)")
            response = try APIError(error.status, type, message).response(from: request, context: context)
        } catch let error as KBError {
            response = try APIError(error).response(from: request, context: context)
        } catch {
            response = try APIError(.internalServerError, "internal_error", "\(error)").response(from: request, context: context)
        }
        let route = Self.route(request.uri.path)
        metrics.record(route: route, method: request.method.rawValue, status: response.status.code,
                       seconds: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
        return response
    }

    /// The route pattern for metrics (ids collapsed so that labels stay few).
    static func route(_ path: String) -> String {
        if path.hasPrefix("/v1/conversations/") { return "/v1/conversations/:id" }
        if path.hasPrefix("/v1/documents/") { return "/v1/documents/:id" }
        if path.hasPrefix("/assets/") { return "/assets/:name" }
        if path.hasPrefix("/v1/tokens/") { return "/v1/tokens/:name" }
        if path.hasPrefix("/documents/") || WebPage.views.contains(path) { return "page" }
        let known = ["/healthz", "/metrics", "/v1/search", "/v1/ask", "/v1/feedback", "/v1/documents", "/v1/models", "/v1/chat/completions",
                     "/v1/status", "/v1/read", "/v1/conversations", "/v1/tokens", "/mcp"]
        return known.contains(path) ? path : "other"
    }
}

