import Foundation
import KBCore
import Logging
import MCP

/// kb as a Model Context Protocol server: the tools of ``MCPTools`` over stdio (`kb mcp`) or Streamable HTTP
/// (`/mcp` on `kb serve`, see ``MCPSessions``). One `Server` per client session, all sharing one service layer.
public enum KBMCPServer {
    /// The name and version kb reports in `initialize`.
    public static let name = "kb"
    public static let version = "0.1.0"

    static let instructions = """
        kb answers from the user's own documents (Chinese and English). Use `search` to find passages, `read` to see \
        the text around them, and `ask` for a checked answer with citations (it abstains when the documents do not \
        say). Cite the path and lines kb returns.
        """

    /// A server with kb's tools registered (not started), acting for `caller`.
    public static func make(service: KnowledgeService, caller: Caller = .owner, logger: Logger) async -> Server {
        let server = Server(name: name, version: version, title: "kb knowledge base", instructions: instructions,
                            capabilities: .init(tools: .init(listChanged: false)))
        let tools = MCPTools(service: service, caller: caller)
        let weak = WeakServer(server)
        await server.withMethodHandler(ListTools.self) { _ in ListTools.Result(tools: MCPTools.tools) }
        await server.withMethodHandler(CallTool.self) { (params: CallTool.Parameters) async throws -> CallTool.Result in
            try await handle(params, tools: tools, server: weak)
        }
        return server
    }

    /// Runs one tool call in its own task so that it can be cancelled: by the client (`notifications/cancelled`
    /// cancels the handler) or by the HTTP front end when the client's connection goes away.
    static func handle(_ params: CallTool.Parameters, tools: MCPTools, server: WeakServer) async throws -> CallTool.Result {
        var progress: MCPTools.Progress?
        if let token = params._meta?.progressToken {
            progress = { @Sendable (value: Double, total: Double?, message: String) async -> Void in
                let notification = ProgressNotification.message(.init(progressToken: token, progress: value, total: total, message: message))
                _ = try? await server.server?.notify(notification)
            }
        }
        let call = CallKey.current()
        let name = params.name, arguments = params.arguments, report = progress
        let work = Task { try await tools.call(name, arguments: arguments, progress: report) }
        let registration = call.map { _ in UUID() }
        if let call, let registration { await MCPCalls.shared.register(call, registration, work) }
        let result: CallTool.Result = try await withTaskCancellationHandler {
            do {
                let result = try await work.value
                // A cancelled generation returns what it had; say so rather than pass it off as the answer.
                return work.isCancelled ? cancelled : result
            } catch is CancellationError {
                return cancelled
            }
        } onCancel: { work.cancel() }
        if let call, let registration { await MCPCalls.shared.remove(call, registration) }
        return result
    }

    static let cancelled = CallTool.Result(content: [.text(text: "kb: the call was cancelled.", annotations: nil, _meta: nil)], isError: true)

    /// Serves one client over standard input and output until it closes its end; logs go to standard error.
    public static func runStdio(service: KnowledgeService) async throws {
        var logger = Logger(label: "kb.mcp") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = ProcessInfo.processInfo.environment["KB_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0) } ?? .warning
        let server = await make(service: service, logger: logger)
        try await server.start(transport: StdioTransport(logger: logger))
        await server.waitUntilCompleted()
        await server.stop()
    }
}

/// Lets the tool handler reach its server (for progress) without the server holding itself.
final class WeakServer: @unchecked Sendable {
    weak var server: Server?
    init(_ server: Server) { self.server = server }
}

/// Identifies a tool call over HTTP: its session and JSON-RPC id, read from the request the handler is serving.
struct CallKey: Hashable, Sendable {
    var session: String
    var request: String

    /// The key of the call the current handler serves, when it came over HTTP.
    static func current() -> CallKey? {
        guard let http = Server.currentHandlerContext?.httpContext, let session = http.header(HTTPHeaderName.sessionID),
              let body = http.body, let id = MCPSessions.requestID(in: body) else { return nil }
        return CallKey(session: session, request: id)
    }
}

/// Tool calls in flight over HTTP, so that a client that goes away mid-call stops its generation. A client can
/// leave before its call is registered (the response starts before the handler runs): such a key is remembered
/// and the call is cancelled as it registers.
actor MCPCalls {
    static let shared = MCPCalls()
    private var tasks: [CallKey: (registration: UUID, task: Task<CallTool.Result, any Error>)] = [:]
    private var left: Set<CallKey> = []

    func register(_ key: CallKey, _ registration: UUID, _ task: Task<CallTool.Result, any Error>) {
        if left.remove(key) != nil {
            task.cancel()
            return
        }
        tasks[key] = (registration, task)
    }

    /// Forgets a finished call (only the registration given: a later call may reuse the request id).
    func remove(_ key: CallKey, _ registration: UUID) {
        if tasks[key]?.registration == registration { tasks[key] = nil }
    }

    /// Cancels a call whose client went away; remembers the key when the call has not registered yet.
    func cancel(_ key: CallKey) {
        if let entry = tasks.removeValue(forKey: key) {
            entry.task.cancel()
        } else if left.count < 4096 {   // bounded: a key for a call that had already finished is never used
            left.insert(key)
        }
    }

    /// Cancels every call of a session (and forgets what it remembered for it).
    func cancel(session: String) {
        for (key, entry) in tasks where key.session == session {
            entry.task.cancel()
            tasks[key] = nil
        }
        left = left.filter { $0.session != session }
    }
}
