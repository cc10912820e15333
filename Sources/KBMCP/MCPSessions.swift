import Foundation
import KBCore
import Logging
import MCP

/// MCP's Streamable HTTP transport for any HTTP server: one MCP session (a `Server` and its transport) per client,
/// created by its `initialize` request and found again by the `Mcp-Session-Id` header. Framework-free: the
/// daemon adapts its requests and responses to ``handle(_:)``.
public actor MCPSessions {
    struct Session {
        var server: Server
        var transport: StatefulHTTPServerTransport
        var lastUsed: Date
        /// Who opened the session; every later request of the session must come from the same caller.
        var caller: Caller
    }

    let service: KnowledgeService
    let logger: Logger
    let validation: any HTTPRequestValidationPipeline
    private var sessions: [String: Session] = [:]
    /// Sessions kept at most; the least recently used one is closed for a new one.
    public let maximumSessions: Int
    /// A session unused this long is closed (its client must initialize again).
    public let idleTimeout: TimeInterval

    /// - Parameter loopbackOnly: check `Host` and `Origin` against loopback names (DNS-rebinding protection for a
    ///   daemon on 127.0.0.1); a daemon on another address requires a bearer token instead.
    public init(service: KnowledgeService, loopbackOnly: Bool, logger: Logger, maximumSessions: Int = 64, idleTimeout: TimeInterval = 900) {
        self.service = service
        self.logger = logger
        self.maximumSessions = maximumSessions
        self.idleTimeout = idleTimeout
        validation = StandardValidationPipeline(validators: [
            loopbackOnly ? OriginValidator.localhost() : OriginValidator.disabled,
            AcceptHeaderValidator(mode: .sseRequired),
            ContentTypeValidator(),
            ProtocolVersionValidator(),
            SessionValidator(),
        ])
    }

    /// Handles one HTTP request to the MCP endpoint from `caller` (authenticated by the daemon); a session's
    /// tools act as the caller that opened it, and a request for another caller's session is refused.
    public func handle(_ request: HTTPRequest, caller: Caller = .owner) async -> HTTPResponse {
        closeIdleSessions()
        if let id = request.header(HTTPHeaderName.sessionID) {
            guard var session = sessions[id] else {
                return .error(statusCode: 404, .invalidRequest("Unknown or expired MCP session \(id); initialize a new one."))
            }
            guard session.caller == caller else {
                return .error(statusCode: 403, .invalidRequest("MCP session \(id) belongs to another token; initialize a session of your own."))
            }
            session.lastUsed = Date()
            sessions[id] = session
            let response = await session.transport.handleRequest(request)
            if request.method == "DELETE" && response.statusCode == 200 { await close(id) }
            return response
        }
        guard request.method == "POST", let body = request.body, Self.method(in: body) == "initialize" else {
            return .error(statusCode: 400, .invalidRequest("No Mcp-Session-Id header: start a session with an initialize request."))
        }
        if sessions.count >= maximumSessions, let oldest = sessions.min(by: { $0.value.lastUsed < $1.value.lastUsed })?.key {
            await close(oldest)
        }
        let id = UUID().uuidString.lowercased()
        let transport = StatefulHTTPServerTransport(sessionIDGenerator: FixedSessionID(id: id), validationPipeline: validation, logger: logger)
        let server = await KBMCPServer.make(service: service, caller: caller, logger: logger)
        do {
            try await server.start(transport: transport)
        } catch {
            return .error(statusCode: 500, .internalError("Could not start an MCP session: \(error)"))
        }
        sessions[id] = Session(server: server, transport: transport, lastUsed: Date(), caller: caller)
        let response = await transport.handleRequest(request)
        if response.statusCode >= 400 { await close(id) }
        return response
    }

    /// Open sessions.
    public var count: Int { sessions.count }

    /// Stops a tool call whose client went away (its connection closed while the answer was being written).
    public nonisolated func clientLeft(session: String, requestID: String) async {
        await MCPCalls.shared.cancel(CallKey(session: session, request: requestID))
    }

    /// Closes every session.
    public func closeAll() async {
        for id in Array(sessions.keys) { await close(id) }
    }

    private func close(_ id: String) async {
        guard let session = sessions.removeValue(forKey: id) else { return }
        await MCPCalls.shared.cancel(session: id)
        await session.server.stop()
        await session.transport.disconnect()
    }

    private func closeIdleSessions() {
        let cutoff = Date().addingTimeInterval(-idleTimeout)
        for (id, session) in sessions where session.lastUsed < cutoff {
            sessions[id] = nil
            Task { [session] in
                await MCPCalls.shared.cancel(session: id)
                await session.server.stop()
                await session.transport.disconnect()
            }
        }
    }

    /// The JSON-RPC method of a request body, if it is one request.
    static func method(in body: Data) -> String? {
        (try? JSONSerialization.jsonObject(with: body) as? [String: Any])?["method"] as? String
    }

    /// The JSON-RPC id of a request body, as text (`7` or `"abc"`), if it is one request.
    public static func requestID(in body: Data) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any], object["method"] != nil else { return nil }
        switch object["id"] {
        case let text as String: return "s:" + text
        case let number as NSNumber: return "n:" + number.stringValue
        default: return nil
        }
    }
}

/// Gives a new transport the session id the registry chose.
struct FixedSessionID: SessionIDGenerator {
    let id: String
    func generateSessionID() -> String { id }
}
